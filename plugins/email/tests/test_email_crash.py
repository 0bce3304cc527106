"""The one window SMTP cannot close: the hub dies after the server accepted an email.

The retry sends a second copy; the hub keeps that visible (the attempt it died
in stays ``sending``, the resend says so) and both copies carry one Message-ID.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from hub.notifications import outbox as notifications
from hub.store.models import Job, utcnow
from plugins.email import EmailConnector
from plugins.email.tests.test_email import add_channel, attempts, notify_jobs


class Crash(BaseException):
    """The process dies here: nothing after it runs and nothing catches it (like kill -9)."""


def test_a_crash_after_the_server_accepted_is_on_record_and_the_resend_has_the_same_message_id(
    hub, smtp_server, make_order, run_jobs, monkeypatch
):
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed")
    make_order(hub)
    send = EmailConnector.send

    def send_then_die(self, message):
        send(self, message)
        raise Crash

    monkeypatch.setattr(EmailConnector, "send", send_then_die)
    with pytest.raises(Crash):
        run_jobs(hub)
    monkeypatch.setattr(EmailConnector, "send", send)
    assert [a["outcome"] for a in attempts(hub)] == ["sending"]
    # The dead worker's lease runs out; the job runs again.
    with hub.db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.status == "running")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    run_jobs(hub)
    run_jobs(hub)  # and again: the ledger has it now, nothing more is sent

    assert [j.status for j in notify_jobs(hub)] == ["succeeded"]
    assert len(smtp_server.messages) == 2
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 1
    first, second = attempts(hub)
    assert (first["outcome"], second["outcome"]) == ("sending", "sent")
    assert second["error"] == notifications.RESEND_NOTE
    with hub.db.read() as session:
        assert notifications.in_doubt(session, second["idempotency_key"]) == 1
        [sent] = notifications.list_sent(session)
    assert sent["message_id"] == smtp_server.messages[0]["Message-ID"]
