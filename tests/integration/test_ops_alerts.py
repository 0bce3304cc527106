"""Alerts: dead jobs and failing channels email the admins, once per hour per cause, over real SMTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.channels.manage import create_channel
from hub.pipeline.alerts import queue_alert_emails
from hub.queue.jobs import Worker, dead_letter, enqueue
from hub.queue.kinds import JobKind
from hub.store.models import Job, User, utcnow
from plugins.email.tests.conftest import SmtpServer


def add_email_channel(hub, port: int) -> int:
    config = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from_address": "orders@shop.example",
        "from_name": "Example Shop",
        "timeout_seconds": 5,
    }
    with hub.db.transaction() as session:
        session.add(User(email="owner@shop.example", password_hash="x"))
        return create_channel(hub, session, name="Mail", connector="email", config=config).id


def bury(hub, kind: str, n: int, channel_id: int | None = None) -> None:
    with hub.db.transaction() as session:
        for i in range(n):
            dead_letter(
                session, kind, {"i": i}, error="the receiver answered 500", channel_id=channel_id
            )


def test_a_burst_of_dead_jobs_sends_one_email_and_not_another_within_the_hour(any_hub, run_jobs):
    hub = any_hub
    server = SmtpServer().start()
    try:
        add_email_channel(hub, server.port)
        bury(hub, "notify", 5)
        bury(hub, "channel.pull", 2)
        with hub.db.transaction() as session:  # the periodic check, as the scheduler adds it
            enqueue(session, JobKind.OPS_ALERT, {})
        run_jobs(hub)
        assert len(server.messages) == 1
        mail = server.messages[0]
        assert mail["To"] == "owner@shop.example"
        assert mail["Subject"] == "hub: 7 jobs gave up in the last hour"
        text = mail.get_content()
        assert "5 × notify" in text and "2 × channel.pull" in text
        assert "hub jobs retry --all --kind" in text

        bury(hub, "notify", 3)  # more die in the same hour: no second email
        with hub.db.transaction() as session:
            enqueue(session, JobKind.OPS_ALERT, {})
        run_jobs(hub)
        assert len(server.messages) == 1

        # An hour on, deaths of that hour are a new cause to write about.
        with hub.db.transaction() as session:
            queued = queue_alert_emails(session, utcnow() + timedelta(minutes=61))
        assert queued == []  # nothing died in that later hour
        bury(hub, "notify", 1)
        with hub.db.transaction() as session:
            for job in session.scalars(select(Job).where(Job.kind == "notify")):
                job.updated_at = job.updated_at + timedelta(hours=1)
            queued = queue_alert_emails(session, utcnow() + timedelta(hours=1))
        assert queued == ["dead-jobs"]
        run_jobs(hub)
        assert len(server.messages) == 2
    finally:
        server.stop()


def test_a_channel_that_keeps_failing_is_emailed_about(hub, run_jobs):
    server = SmtpServer().start()
    try:
        add_email_channel(hub, server.port)
        with hub.db.transaction() as session:
            shop = create_channel(hub, session, name="Corner shop", connector="manual", config={})
            for _ in range(3):
                job_id = enqueue(session, "channel.pull", {}, channel_id=shop.id)
                session.get(Job, job_id).status = "failed"
            queue_alert_emails(session)
        Worker(hub, kinds=(JobKind.OPS_ALERT_EMAIL.value,), worker_id="t").run_until_idle()
        subjects = [m["Subject"] for m in server.messages]
        assert subjects == ["hub: channel Corner shop keeps failing"]
        assert "3 jobs failed in the last hour" in server.messages[0].get_content()
    finally:
        server.stop()


def test_without_an_email_channel_nothing_is_sent(hub):
    bury(hub, "notify", 2)
    with hub.db.transaction() as session:
        assert queue_alert_emails(session) == []
        kinds = list(session.scalars(select(Job.kind)))
    assert JobKind.OPS_ALERT_EMAIL not in kinds


def test_the_alert_check_is_scheduled_every_five_minutes(hub):
    scheduled = {job.kind: job.every_seconds for job in hub.periodic_jobs()}
    assert scheduled[JobKind.OPS_ALERT] == 300
