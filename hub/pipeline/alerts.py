"""Alerts for the people who run the hub: jobs that died, channels that keep failing.

Two surfaces read one function, :func:`current_alarm`:

- the admin's top bar shows a red badge with the dead jobs and failing channels
  (:mod:`hub.web.admin.jobs` puts it on every admin page);
- the periodic ``ops.alert`` job (:func:`check_alerts`, every
  :data:`CHECK_EVERY_SECONDS`) emails every admin user about each cause, at
  most once per hour per cause: each email is an ``ops.alert.email`` job whose
  dedupe key names the cause and the hour, so a second check in the same hour
  adds nothing, and an SMTP hiccup is retried like any job.

The email goes through the SMTP settings of an enabled ``email`` notification
channel (the first by id): the hub has no SMTP settings of its own. With no
such channel, there is only the badge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Protocol, runtime_checkable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.store.models import Channel, Job, JobStatus, User, utcnow

log = logging.getLogger(__name__)

#: How often ``ops.alert`` looks for trouble.
CHECK_EVERY_SECONDS = 300
#: A channel "keeps failing" with this many failed or dead jobs in :data:`WINDOW`.
FAILING_AFTER = 3
#: Deaths and failures this recent raise an email; one email per cause per window.
WINDOW = timedelta(hours=1)
#: The connector whose channels' SMTP settings carry the alert.
EMAIL_CONNECTOR = "email"


@dataclass(frozen=True)
class FailingChannel:
    id: int
    name: str
    #: Why, in words: "5 jobs failed in the last hour", "disabled: <reason>".
    reason: str


@dataclass(frozen=True)
class Alarm:
    """What needs a person now: the dead jobs (all of them) and the channels failing."""

    dead_jobs: int = 0
    failing: list[FailingChannel] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.dead_jobs or self.failing)


def current_alarm(session: Session, now: datetime | None = None) -> Alarm:
    """The dead jobs waiting for a person and the channels failing now."""
    now = now or utcnow()
    dead = session.scalar(select(func.count(Job.id)).where(Job.status == JobStatus.DEAD)) or 0
    return Alarm(dead_jobs=dead, failing=failing_channels(session, now))


def failing_channels(session: Session, now: datetime) -> list[FailingChannel]:
    """Enabled channels with :data:`FAILING_AFTER` failed or dead jobs in the last hour,
    and channels the hub disabled itself (they say why in ``last_error``)."""
    failures = dict(
        session.execute(
            select(Job.channel_id, func.count(Job.id))
            .where(
                Job.status.in_((JobStatus.FAILED, JobStatus.DEAD)),
                Job.channel_id.is_not(None),
                Job.updated_at >= now - WINDOW,
            )
            .group_by(Job.channel_id)
        ).all()
    )
    found = []
    for channel in session.scalars(select(Channel).order_by(Channel.name)):
        if channel.enabled and failures.get(channel.id, 0) >= FAILING_AFTER:
            n = failures[channel.id]
            found.append(
                FailingChannel(channel.id, channel.name, f"{n} jobs failed in the last hour")
            )
        elif not channel.enabled and channel.last_error:
            found.append(
                FailingChannel(channel.id, channel.name, f"disabled: {channel.last_error}")
            )
    return found


@dataclass(frozen=True)
class Cause:
    """One reason to email: its key (for the hourly dedupe), subject and text."""

    key: str
    subject: str
    body: str


def causes(session: Session, now: datetime) -> list[Cause]:
    """What is worth an email now: jobs that died in the last hour, each failing channel."""
    died = session.execute(
        select(Job.kind, func.count(Job.id))
        .where(
            Job.status == JobStatus.DEAD,
            Job.updated_at >= now - WINDOW,
            Job.kind != JobKind.OPS_ALERT_EMAIL,  # a broken SMTP server must not mail about itself
        )
        .group_by(Job.kind)
        .order_by(Job.kind)
    ).all()
    found = []
    if died:
        total = sum(n for _, n in died)
        lines = [f"- {n} × {kind}" for kind, n in died]
        found.append(
            Cause(
                key="dead-jobs",
                subject=f"hub: {total} job{'s' if total != 1 else ''} gave up in the last hour",
                body="These jobs will not run again by themselves:\n"
                + "\n".join(lines)
                + "\n\nFix the cause (the jobs page shows each error), then retry them: "
                "the jobs page, dead letters, one kind at a time, or "
                "`hub jobs retry --all --kind KIND`.",
            )
        )
    for channel in failing_channels(session, now):
        found.append(
            Cause(
                key=f"channel-{channel.id}",
                subject=f"hub: channel {channel.name} keeps failing",
                body=f"Channel {channel.name}: {channel.reason}.\n\n"
                "Its page in the admin shows the errors; the jobs page lists its jobs.",
            )
        )
    return found


def alert_email_key(cause: str, now: datetime) -> str:
    """The dedupe key of the email about ``cause`` in the hour of ``now``."""
    return JobKind.OPS_ALERT_EMAIL.key(cause, now.strftime("%Y-%m-%dT%H"))


def email_channel_id(session: Session) -> int | None:
    """The enabled ``email`` channel whose SMTP settings carry alerts (the first), or None."""
    return session.scalar(
        select(Channel.id)
        .where(Channel.connector == EMAIL_CONNECTOR, Channel.enabled.is_(True))
        .order_by(Channel.id)
        .limit(1)
    )


def queue_alert_emails(session: Session, now: datetime | None = None) -> list[str]:
    """Queue one email per cause not yet emailed this hour; return the causes queued."""
    now = now or utcnow()
    channel_id = email_channel_id(session)
    if channel_id is None:
        return []  # the badge only
    return [
        cause.key for cause in causes(session, now) if queue_email(session, cause, channel_id, now)
    ]


def queue_email(session: Session, cause: Cause, channel_id: int, now: datetime) -> bool:
    """Queue the admins' email about ``cause`` unless it was queued this hour; True if queued.

    Other alerts (low stock: :mod:`hub.pipeline.replenishment`) send through here too.
    """
    job_id = enqueue(
        session,
        JobKind.OPS_ALERT_EMAIL,
        {"cause": cause.key, "subject": cause.subject, "body": cause.body},
        channel_id=channel_id,
        dedupe_key=alert_email_key(cause.key, now),
        max_attempts=5,
    )
    return job_id is not None


def check_alerts(ctx: JobContext) -> None:
    """``ops.alert``: queue the emails about what went wrong since the last check."""
    with ctx.hub.db.transaction() as session:
        queued = queue_alert_emails(session)
    if queued:
        log.warning("alert emails queued: %s", ", ".join(queued))


@runtime_checkable
class SendsEmail(Protocol):
    """A connector that hands a ready message to its SMTP server (the ``email`` plugin's)."""

    def send(self, message: EmailMessage) -> None: ...


def send_alert_email(ctx: JobContext) -> None:
    """``ops.alert.email``: send one alert to every admin user through the channel's SMTP."""
    connector = ctx.connector()
    if not isinstance(connector, SendsEmail):
        log.warning("channel %s cannot send email: alert dropped", ctx.channel_id)
        return
    with ctx.hub.db.read() as session:
        admins = list(session.scalars(select(User.email).order_by(User.id)))
    if not admins:
        return
    config = connector.config
    sender = config.get("from_address") or "hub@localhost"
    message = EmailMessage()
    message["Subject"] = ctx.payload["subject"]
    message["From"] = formataddr((config.get("from_name") or "hub", sender))
    message["To"] = ", ".join(admins)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Hub-Alert"] = ctx.payload["cause"]
    message.set_content(ctx.payload["body"] + "\n")
    connector.send(message)
