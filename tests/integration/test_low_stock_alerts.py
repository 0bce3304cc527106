"""Low-stock alerts: the admins hear once per crossing below the reorder point, over real SMTP."""

from __future__ import annotations

from sqlalchemy import select

from hub.inventory.levels import LevelChange, get_location, set_on_hand, upsert_location
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.replenishment.low_stock import low_count
from hub.replenishment.policies import set_policy
from hub.store.models import LowStockState
from plugins.email.tests.conftest import SmtpServer
from tests.integration.test_ops_alerts import add_email_channel

FIXED = {
    "kind": "fixed",
    "min_quantity": 5,
    "max_quantity": 20,
    "service_level": 0.95,
    "lead_time_days": 7,
    "review_days": 7,
}


def on_hand(hub, quantity: int) -> None:
    with hub.db.transaction() as session:
        set_on_hand(session, [LevelChange("A", "wh", quantity)], actor="test", reason="count")


def check(hub, run_jobs) -> None:
    with hub.db.transaction() as session:  # the periodic check, as the scheduler adds it
        enqueue(session, JobKind.LOW_STOCK_CHECK, {})
    run_jobs(hub)


def test_low_stock_is_emailed_once_per_crossing_and_again_after_it_recovered(any_hub, run_jobs):
    """On SQLite and PostgreSQL."""
    hub = any_hub
    server = SmtpServer().start()
    try:
        add_email_channel(hub, server.port)
        with hub.db.transaction() as session:
            upsert_location(session, "wh")
            set_policy(session, "A", get_location(session, "wh").id, FIXED, actor="user:ann")
        on_hand(hub, 10)
        check(hub, run_jobs)
        assert server.messages == []

        on_hand(hub, 3)  # below the reorder point of 5: one email
        check(hub, run_jobs)
        assert len(server.messages) == 1
        mail = server.messages[0]
        assert mail["To"] == "owner@shop.example"
        assert mail["Subject"] == "hub: 1 SKU low on stock"
        assert "A at wh: available 3 + incoming 0 is below the reorder point 5" in (
            mail.get_content()
        )
        with hub.db.read() as session:
            assert low_count(session) == 1

        on_hand(hub, 2)  # still below: nothing more
        check(hub, run_jobs)
        assert len(server.messages) == 1

        on_hand(hub, 8)  # back above: re-armed, no email
        check(hub, run_jobs)
        assert len(server.messages) == 1
        with hub.db.read() as session:
            assert low_count(session) == 0
            assert session.scalars(select(LowStockState.below)).all() == [False]

        on_hand(hub, 4)  # a new crossing: one more email
        check(hub, run_jobs)
        assert len(server.messages) == 2
    finally:
        server.stop()
