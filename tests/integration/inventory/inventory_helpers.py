"""Helpers for the order-management tests: stock set-up and fake connectors by role."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import func, select

from hub import hookimpl
from hub.channels.manage import create_channel
from hub.core.order import Line
from hub.integration.connectors import (
    Capability,
    NotificationConnector,
    PaymentConnector,
    RefundResult,
    SalesConnector,
    ShippingConnector,
)
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.store.models import Order, StockLevel, StockReservation


class NoConfig(Schema):
    pass


class FakeShipping(ShippingConnector):
    """A warehouse that accepts every group it is sent."""

    name = "fake-shipping"
    config_schema = NoConfig
    submitted: list = []

    def submit_orders(self, orders):
        FakeShipping.submitted.extend(orders)
        return {o.key: f"wh-{o.key}" for o in orders}


class PayConfig(Schema):
    api_base_url = fields.String(load_default="https://pay.example.test")


class FakeGateway(PaymentConnector):
    """A payment connector that refunds over real HTTP, with an idempotency key, like Stripe."""

    name = "fake-gateway"
    config_schema = PayConfig

    def __init__(self, channel):
        super().__init__(channel)
        # Its documented error body, as Stripe's: {"error": {"message": ...}}.
        self.http = self.http_client(
            self.config["api_base_url"],
            sleep=lambda s: None,
            error_text=lambda response: response.json()["error"]["message"],
        )

    def refund(self, payment, amount, *, idempotency_key, reason=""):
        body = self.http.request(
            "POST",
            "/v1/refunds",
            data={"payment": payment.reference, "amount": amount},
            headers={"Idempotency-Key": idempotency_key},
        ).json()
        return RefundResult(external_id=body["id"], amount=body["amount"], status=body["status"])

    def close(self):
        self.http.close()


class FakeStore(SalesConnector):
    """A sales channel that records the stock it is pushed (and the push's state and key)."""

    name = "fake-store"
    capabilities = frozenset({Capability.PUSH_STOCK})
    config_schema = NoConfig
    pushed: list = []
    calls: list = []

    def push_stock(self, levels, *, state, idempotency_key):
        FakeStore.pushed.append(list(levels))
        FakeStore.calls.append((dict(state), idempotency_key))


class FakeMailer(NotificationConnector):
    """A notification channel that records what it would email."""

    name = "fake-mailer"
    config_schema = NoConfig
    sent: list = []

    def wants(self, event_name):
        return event_name in ("order.refunded", "order.partially_returned", "order.returned")

    def notify(self, event, order, *, idempotency_key):
        FakeMailer.sent.append((event.name, order["id"], order["email"]))


class FakePlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [FakeShipping, FakeGateway, FakeStore, FakeMailer]


def stock(
    hub, levels: dict[tuple[str, str], int], priorities: dict[str, int] | None = None
) -> None:
    """Create locations (with priorities) and set on-hand quantities."""
    priorities = priorities or {}
    with hub.db.transaction() as session:
        for code in sorted({loc for _, loc in levels} | set(priorities)):
            upsert_location(session, code, priority=priorities.get(code, 0))
        set_on_hand(
            session,
            [LevelChange(sku, loc, qty) for (sku, loc), qty in levels.items()],
            actor="test",
            reason="set-up",
            source="test",
        )


def levels(hub) -> dict[tuple[str, str], tuple[int, int]]:
    """{(sku, location code): (on_hand, reserved)}."""
    from hub.inventory.levels import list_levels

    with hub.db.read() as session:
        return {
            (lv.sku, lv.location_code): (lv.on_hand, lv.reserved)
            for lv in list_levels(session, limit=10_000)
        }


def active_reserved(hub) -> dict[tuple[str, int], int]:
    with hub.db.read() as session:
        rows = session.execute(
            select(
                StockReservation.sku,
                StockReservation.location_id,
                func.sum(StockReservation.quantity),
            )
            .where(StockReservation.status == "active")
            .group_by(StockReservation.sku, StockReservation.location_id)
        )
        return {(sku, loc): int(q) for sku, loc, q in rows}


def check_invariants(hub) -> None:
    """Never negative, never more reserved than on hand, reserved == the active reservations."""
    reserved = active_reserved(hub)
    with hub.db.read() as session:
        for lv in session.scalars(select(StockLevel)):
            assert lv.on_hand >= 0 and lv.reserved >= 0, (lv.sku, lv.on_hand, lv.reserved)
            assert lv.reserved <= lv.on_hand, (lv.sku, lv.on_hand, lv.reserved)
            assert lv.reserved == reserved.get((lv.sku, lv.location_id), 0), (
                lv.sku,
                lv.location_id,
            )


def order_state(hub, order_id: int) -> SimpleNamespace:
    """A snapshot of an order: status, hold reasons, lines, events, payments."""
    with hub.db.read() as session:
        o = session.get(Order, order_id)
        return SimpleNamespace(
            id=o.id,
            status=o.status,
            financial_status=o.financial_status,
            hold_reasons=list(o.hold_reasons),
            lines=[SimpleNamespace(id=x.id, sku=x.sku, quantity=x.quantity) for x in o.lines],
            events=[
                SimpleNamespace(name=e.name, reason=e.reason, data=e.data, actor=e.actor)
                for e in o.events
            ],
            payments=[
                SimpleNamespace(
                    id=p.id,
                    reference=p.reference,
                    captured=p.captured_amount,
                    refunded=p.refunded_amount,
                    refunds=len(p.refunds),
                )
                for p in o.payments
            ],
        )


def lines(*items: tuple[str, int], price: int = 1000) -> dict[str, Any]:
    """order_data overrides for these (sku, quantity) lines, with consistent totals."""
    return {"lines": [Line(sku=sku, name=sku, quantity=q, unit_price=price) for sku, q in items]}


def create_channel_for(hub, connector: str, **config):
    with hub.db.transaction() as session:
        return create_channel(hub, session, name=connector, connector=connector, config=config).id
