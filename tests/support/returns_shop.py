"""A shop whose customer returns things on the tracking page: stock, an order that shipped,
a variant to exchange for, an email channel on a real SMTP server (the tests of
self-service returns share it: tests/integration/test_self_service_returns.py and the
browser test)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from hub.channels.manage import create_channel, ensure_manual_channel
from hub.core.order import Customer, Line, ShipmentData
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import intake, shipments
from hub.returns import policy
from hub.store.models import Order, Return, Shipment, utcnow
from hub.testing import order_data

#: Two T-shirts of product "P-TEE" and a mug (final sale in some tests).
LINES = [
    Line(sku="TEE-M", name="Tee, size M", quantity=2, unit_price=2000, product_id="P-TEE"),
    Line(sku="MUG", name="Mug", quantity=1, unit_price=1000, product_id="P-MUG"),
]
TOTAL = 2 * 2000 + 1000 + 500  # 55.00 USD with 5.00 shipping


def stock(hub, levels: dict[str, int]) -> None:
    with hub.db.transaction() as session:
        upsert_location(session, "wh")
        set_on_hand(
            session,
            [LevelChange(sku, "wh", qty) for sku, qty in levels.items()],
            actor="test",
            reason="set-up",
            source="test",
        )


def with_email_channel(hub, smtp) -> None:
    with hub.db.transaction() as session:
        create_channel(
            hub,
            session,
            name="Customer email",
            connector="email",
            config={
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "security": "none",
                "from_address": "orders@fjord.example",
                "from_name": "Fjord Outfitters",
            },
        )


def shipped_order(hub, run_jobs, *, payments=(), external_id="R1") -> int:
    """A shipped order of :data:`LINES`; TEE-L was sold before (the variant to exchange for)."""
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        intake.upsert_order(
            session,
            channel,
            order_data(
                external_id=f"{external_id}-earlier",
                number=f"#{external_id}-0",
                customer=Customer(email="bo@example.com", name="Bo"),
                lines=[
                    Line(
                        sku="TEE-L",
                        name="Tee, size L",
                        quantity=1,
                        unit_price=2000,
                        product_id="P-TEE",
                    )
                ],
            ),
            actor="test",
        )
        order_id = intake.upsert_order(
            session,
            channel,
            order_data(
                external_id=external_id,
                number=f"#{external_id}",
                lines=[Line(**{f: getattr(x, f) for f in x.__slots__}) for x in LINES],
                payments=list(payments),
                customer=Customer(email="ann@example.com", name="Ann Smith"),
            ),
            actor="test",
        ).order.id
    run_jobs(hub)
    with hub.db.transaction() as session:
        shipments.ship(session, order_id, ShipmentData(external_id=f"s-{order_id}"), actor="test")
    run_jobs(hub)
    return order_id


def shipped_days_ago(hub, order_id: int, days: int) -> None:
    with hub.db.transaction() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.order_id == order_id)
            .values(shipped_at=utcnow() - timedelta(days=days))
        )


def set_policy(hub, **values) -> None:
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        values.setdefault("window_days", 30)
        policy.set_policy(session, channel.id, **values)


def token(hub, order_id: int) -> str:
    with hub.db.read() as session:
        return session.get(Order, order_id).tracking_token


def line_ids(hub, order_id: int) -> dict[str, int]:
    with hub.db.read() as session:
        return {line.sku: line.id for line in session.get(Order, order_id).lines}


def returns_of(hub, order_id: int) -> list[tuple[str, str, str]]:
    """(status, resolution, created_by) of each return of the order."""
    with hub.db.read() as session:
        return [
            (r.status, r.resolution, r.created_by)
            for r in session.scalars(
                select(Return).where(Return.order_id == order_id).order_by(Return.id)
            )
        ]


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def approval_emails(smtp) -> list:
    return [m for m in smtp.messages if "is approved" in m["Subject"]]
