"""A shop whose delivered orders get the satisfaction check: stock, an email channel on a
real SMTP server, the check on (7 days, review links to the shop's product pages), and
orders delivered some days ago (tests/e2e/test_aftercare_browser.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import update

from hub.aftercare import policy as policies
from hub.channels.manage import create_channel, ensure_manual_channel
from hub.core.order import Customer, Line, ShipmentData
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import intake, shipments, transitions
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.store.models import OrderAuditEvent, utcnow
from hub.testing import order_data


def open_shop(hub, smtp, *, review_url_template: str = "{product_url}#reviews") -> None:
    """Stock of two SKUs, a customer email channel, the satisfaction check on (7 days)."""
    with hub.db.transaction() as session:
        upsert_location(session, "wh")
        set_on_hand(
            session,
            [LevelChange("MUG", "wh", 10), LevelChange("TEE", "wh", 10)],
            actor="test",
            reason="set-up",
            source="test",
        )
        create_channel(
            hub,
            session,
            name="Customer email",
            connector="email",
            config={
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "security": "none",
                "from_address": "orders@shop.example",
                "from_name": "Fjord Outfitters",
            },
        )
        policies.save(
            session,
            ensure_manual_channel(hub, session).id,
            {
                "enabled": True,
                "check_days": 7,
                "product_url_template": "https://shop.example/products/{sku}",
                "review_url_template": review_url_template,
            },
            actor="test",
        )


def delivered_order(hub, run_jobs, *, n: int, days_ago: int = 8) -> int:
    """A mug and two tees, shipped and delivered ``days_ago`` days ago."""
    with hub.db.transaction() as session:
        order_id = intake.upsert_order(
            session,
            ensure_manual_channel(hub, session),
            order_data(
                external_id=f"A{n}",
                number=f"#A{n}",
                customer=Customer(email=f"cust{n}@example.com", name=f"Customer {n}"),
                lines=[
                    Line(sku="MUG", name="Blue mug", quantity=1, unit_price=1200),
                    Line(sku="TEE", name="Tee", quantity=2, unit_price=2000),
                ],
                channel_financial_status="paid",
            ),
            actor="test",
        ).order.id
    run_jobs(hub)
    with hub.db.transaction() as session:
        shipments.ship(session, order_id, ShipmentData(external_id=f"s{n}"), actor="test")
    with hub.db.transaction() as session:
        transitions.deliver(session, order_id, actor="test")
        session.execute(
            update(OrderAuditEvent)
            .where(OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == "order.delivered")
            .values(created_at=utcnow() - timedelta(days=days_ago))
        )
    run_jobs(hub)
    return order_id


def run_checks(hub, run_jobs) -> None:
    with hub.db.transaction() as session:
        enqueue(session, JobKind.SATISFACTION_CHECKS, {})
    run_jobs(hub)


def emails_of(smtp, event: str) -> list:
    return [m for m in smtp.messages if m["X-Hub-Event"] == event]


def link_path(message, label: str) -> str:
    """The path of the link after ``label:`` in the email's plain text."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    return urlsplit(re.search(rf"{label}: (\S+)", text).group(1)).path
