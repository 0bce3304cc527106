"""A channel's webhook subscriptions at its provider, kept in step with the channel.

A connector that declares :attr:`~hub.integration.connectors.Capability.REGISTER_WEBHOOKS`
subscribes its channel's webhooks itself (``sync_webhooks``) and removes them
(``remove_webhooks``). The hub asks it to from a ``channel.webhooks`` job,
enqueued in the same transaction as the change that calls for it — a channel
created, its config changed, enabled, disabled or deleted — never from the
web request (see :func:`announce`). The job does what the channel is *now*
(enabled: subscribe; disabled: remove), so a retry or a late run always
converges on the latest change. What came of it is kept in the channel's
state under :data:`STATE_KEY` (:class:`Registration`) and shown on the
channel's admin page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.integration.connectors import Capability, Connector, can
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.store.models import Channel, Job, JobStatus

#: Where a channel's state keeps its :class:`Registration`.
STATE_KEY = "webhooks"


class RegistrationStatus(StrEnum):
    """What the last ``channel.webhooks`` run did."""

    REGISTERED = "registered"
    REMOVED = "removed"
    REGISTER_FAILED = "register_failed"
    REMOVE_FAILED = "remove_failed"


@dataclass(frozen=True)
class Registration:
    """A channel's webhook subscriptions as the last ``channel.webhooks`` run left them."""

    status: RegistrationStatus
    #: The hub's address the provider sends them to (``<HUB_PUBLIC_URL>/webhooks/<slug>``).
    address: str
    at: datetime
    #: Topics subscribed (registered) or removed (removed); empty when it failed.
    topics: tuple[str, ...] = ()
    #: Why it failed: the connector's error, as a merchant reads it.
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status in (
            RegistrationStatus.REGISTER_FAILED,
            RegistrationStatus.REMOVE_FAILED,
        )

    @property
    def may_be_subscribed(self) -> bool:
        """Whether the provider may still send webhooks to :attr:`address` (nothing removed them)."""
        return self.status in (
            RegistrationStatus.REGISTERED,
            RegistrationStatus.REGISTER_FAILED,
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "address": self.address,
            "at": self.at.isoformat(),
            "topics": list(self.topics),
            "error": self.error,
        }

    @classmethod
    def of(cls, channel: Channel) -> Registration | None:
        """The channel's registration as its state keeps it; None when none was ever made."""
        kept = (channel.state or {}).get(STATE_KEY)
        if not isinstance(kept, dict) or kept.get("status") not in set(RegistrationStatus):
            return None
        return cls(
            status=RegistrationStatus(kept["status"]),
            address=str(kept.get("address") or ""),
            at=datetime.fromisoformat(kept["at"]),
            topics=tuple(kept.get("topics") or ()),
            error=str(kept.get("error") or ""),
        )


def callback_url(public_url: str, slug: str) -> str:
    """The address a provider posts a channel's webhooks to (``hub.web.webhooks`` serves it)."""
    return f"{public_url.rstrip('/')}/webhooks/{slug}"


def registers_webhooks(cls: type[Connector] | None) -> bool:
    return cls is not None and can(cls, Capability.REGISTER_WEBHOOKS)


def pending_job(session: Session, channel_id: int) -> Job | None:
    """The channel's ``channel.webhooks`` job still to run (queued, running or awaiting a retry)."""
    return session.scalars(
        select(Job)
        .where(
            Job.kind == JobKind.CHANNEL_WEBHOOKS,
            Job.channel_id == channel_id,
            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)),
        )
        .order_by(Job.id.desc())
        .limit(1)
    ).first()


def announce(session: Session, channel: Channel) -> int | None:
    """Have a ``channel.webhooks`` job bring the provider in step with ``channel``, after commit.

    Written in the caller's transaction, so the job exists if and only if the
    change commits. A job of the channel still queued is reused: it reads
    the channel when it runs, so it will see this change too. Returns the
    job's id. Callers check the connector registers webhooks
    (:func:`registers_webhooks`).
    """
    session.flush()
    queued = session.scalars(
        select(Job.id).where(
            Job.kind == JobKind.CHANNEL_WEBHOOKS,
            Job.channel_id == channel.id,
            Job.status == JobStatus.QUEUED,
        )
    ).first()
    if queued is not None:
        return queued
    return enqueue(session, JobKind.CHANNEL_WEBHOOKS, {}, channel_id=channel.id)
