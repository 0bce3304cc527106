"""The demo's replenishment: a year of sales history, forecasts, suggestions and one
purchase order cycle (suggest → draft → send → receive → backorders released).

It runs after the order flow is counted, in the demo's hub and database:

1. :func:`seed_history`: a year of daily sales of the demo's SKUs, bulk-inserted
   as completed orders of the manual channel tagged ``demo-history`` (numbers
   ``#H…``), bought by one "Demo history" customer. They go through no connector
   and start no job: they are the past the forecast reads.
2. The ``replenishment.forecast`` job's work (:func:`hub.replenishment.forecasts.run_forecasts`);
   then the history goes (:func:`drop_history`): the forecasts stay, and the
   dashboard, the ERP export and the order lists keep to the demo's own orders.
3. Suppliers for the SKUs, each preferred, and the suggestions
   (:func:`hub.purchasing.suggestions.suggestions`): after the flow every SKU is
   nearly sold out, so each is below its reorder point.
4. One SKU allows backorders; an order for more than is left is confirmed
   backordered from the purchase order drafted from the suggestions and sent.
5. The purchase order is received; the ``stock.received`` job gives the stock
   to the backorder, which is released to fulfilment.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from hub.channels.manage import ensure_manual_channel
from hub.core.events import ORDER_DELAYED
from hub.core.order import Address, Line, OrderData
from hub.core.order import Customer as Buyer
from hub.inventory import backorders
from hub.orders import intake
from hub.pipeline.order_steps import check_order
from hub.purchasing import orders as purchase_orders
from hub.purchasing import suggestions as suggesting
from hub.purchasing import suppliers
from hub.purchasing.receiving import receive
from hub.queue.jobs import Worker
from hub.queue.kinds import JobKind
from hub.replenishment.forecasts import run_forecasts
from hub.runtime.hub import Hub
from hub.store.models import (
    Customer,
    DemandForecast,
    Order,
    OrderAuditEvent,
    OrderLine,
    StockLevel,
    StockReservation,
    utcnow,
)

HISTORY_DAYS = 365
HISTORY_TAG = "demo-history"
HISTORY_EMAIL = "history@demo.example"
SEED = 21
ACTOR = "demo"
#: How the delay emails' subjects end (the email channel's ``delayed`` template, in English).
DELAY_SUBJECT_ENDS = (
    "some items are on their way to us",
    "some items are out of stock",
    "is running late",
)


@dataclass
class ReplenishmentSummary:
    history_orders: int = 0
    history_lines: int = 0
    forecasts: int = 0
    suggestions: int = 0
    purchase_order: str = ""
    purchase_order_status: str = ""
    backordered_order: str = ""
    backordered_units: int = 0
    backorders_released: bool = False
    #: Delay notices (order.delayed) the backordered order's customer was sent.
    delay_notices: int = 0
    #: What each delay notice told ("#B2 out of stock").
    delays: list[str] = field(default_factory=list)
    #: The order held out of stock (no backorder allowed, nothing ordered), and its status.
    held_order: str = ""
    held_status: str = ""
    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def seed_history(hub: Hub, demand: Counter, *, days: int = HISTORY_DAYS) -> tuple[int, int]:
    """A year of daily sales of the SKUs in ``demand`` (busier at weekends); (orders, lines)."""
    rng = random.Random(SEED)
    today = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    n_orders = n_lines = 0
    with hub.db.transaction() as session:
        channel_id = ensure_manual_channel(hub, session).id
        buyer = Customer(email=HISTORY_EMAIL, name="Demo history")
        session.add(buyer)
        session.flush()
        rows, sold = [], []
        for n in range(days, 0, -1):
            day = today - timedelta(days=n)
            weekend = 1.6 if day.weekday() >= 5 else 1.0
            # Every third SKU sells most days (a smooth series); the others now and then
            # (intermittent), as in a small shop.
            lines = [
                (sku, units)
                for k, sku in enumerate(sorted(demand))
                if (k % 3 == 0 or rng.random() < 0.3)
                and (units := round(rng.expovariate(1.0) * weekend * (1 + demand[sku] / 4))) > 0
            ]
            if not lines:
                continue
            rows.append(
                {
                    "channel_id": channel_id,
                    "external_id": f"H{day:%Y%m%d}",
                    "number": f"#H{day:%Y%m%d}",
                    "status": "completed",
                    "currency": "USD",
                    "placed_at": day,
                    "created_at": day,
                    "updated_at": day,
                    "tracking_token": f"history-{day:%Y%m%d}",
                    "version": 1,
                    "hold_reasons": [],
                    "tags": [HISTORY_TAG],
                    "customer_id": buyer.id,
                }
            )
            sold.append(lines)
        ids = session.scalars(
            insert(Order).returning(Order.id, sort_by_parameter_order=True), rows
        ).all()
        placed = {order_id: row["placed_at"] for order_id, row in zip(ids, rows, strict=True)}
        line_rows = [
            {
                "order_id": order_id,
                "position": p,
                "sku": sku,
                "name": sku,
                "quantity": units,
                "unit_price": 1000,
            }
            for order_id, lines in zip(ids, sold, strict=True)
            for p, (sku, units) in enumerate(lines)
        ]
        line_ids = session.scalars(
            insert(OrderLine).returning(OrderLine.id, sort_by_parameter_order=True), line_rows
        ).all()
        # Shipped from where each SKU is stocked: the history of each location, too.
        where = _stocked_at(session)
        session.execute(
            insert(StockReservation),
            [
                {
                    "order_id": row["order_id"],
                    "order_line_id": line_id,
                    "location_id": where[row["sku"]],
                    "sku": row["sku"],
                    "quantity": row["quantity"],
                    "status": "consumed",
                    "created_at": day,
                    "updated_at": day,
                }
                for row, line_id, day in zip(
                    line_rows, line_ids, (placed[row["order_id"]] for row in line_rows), strict=True
                )
                if row["sku"] in where
            ],
        )
        n_orders, n_lines = len(ids), len(line_rows)
    return n_orders, n_lines


def drop_history(hub: Hub) -> None:
    """Remove the history orders once forecast: the forecasts stay, and the dashboard, the
    ERP export and the order lists show the demo's own orders only."""
    with hub.db.transaction() as session:
        ids = select(Order.id).where(Order.external_id.like("H%"), Order.number.like("#H%"))
        session.execute(delete(StockReservation).where(StockReservation.order_id.in_(ids)))
        session.execute(delete(OrderLine).where(OrderLine.order_id.in_(ids)))
        session.execute(delete(Order).where(Order.id.in_(ids)))
        session.execute(delete(Customer).where(Customer.email == HISTORY_EMAIL))


def _stocked_at(session: Session) -> dict[str, int]:
    """Each SKU's location: where most of it is on hand (the demo stocks each at one)."""
    best: dict[str, tuple[int, int]] = {}
    for level in session.scalars(select(StockLevel)):
        if level.sku not in best or level.on_hand > best[level.sku][0]:
            best[level.sku] = (level.on_hand, level.location_id)
    return {sku: location_id for sku, (_, location_id) in best.items()}


def _suppliers(hub: Hub, skus: list[str]) -> None:
    """Two suppliers, each the preferred one of half the SKUs (MOQ 10, packs of 5 and 12)."""
    with hub.db.transaction() as session:
        made = [
            suppliers.create_supplier(
                session,
                {
                    "name": name,
                    "email": email,
                    "currency": "USD",
                    "lead_time_days": lead,
                    "minimum_order_quantity": 10,
                    "pack_size": pack,
                },
            )
            for name, email, lead, pack in (
                ("Northwind Supply", "orders@northwind.example", 7, 5),
                ("Contoso Goods", "po@contoso.example", 12, 12),
            )
        ]
        for n, sku in enumerate(skus):
            suppliers.set_supplier_sku(
                session, made[n % 2].id, sku, cost_price=450 + 25 * n, preferred=True
            )


def _backorder(
    hub: Hub,
    sku: str,
    location: str,
    units: int,
    *,
    number: str = "#B1",
    tag: str = "demo-backorder",
) -> int:
    """An order ``number`` for ``units`` of ``sku``, more than is left, checked at once; its id."""
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        order = intake.upsert_order(
            session,
            channel,
            OrderData(
                external_id=f"BACKORDER-{number.lstrip('#B')}",
                number=number,
                currency="USD",
                customer=Buyer(email="patient@demo.example", name="Pat Patient"),
                shipping_address=Address(
                    name="Pat Patient",
                    address1="5 Harbour Rd",
                    city="Springfield",
                    zip="12345",
                    country_code="US",
                ),
                lines=[Line(sku=sku, name=sku, quantity=units, unit_price=1900)],
                shipping=500,
                tags=[tag],
            ),
            actor=ACTOR,
        ).order
        order_id = order.id
    check_order(hub, order_id)  # what order.process does, now
    return order_id


def run_cycle(hub: Hub, demand: Counter) -> ReplenishmentSummary:
    """History, forecasts, suggestions and one purchase order cycle; what happened."""
    started = time.perf_counter()
    out = ReplenishmentSummary()
    out.history_orders, out.history_lines = seed_history(hub, demand)
    run_forecasts(hub)
    drop_history(hub)
    skus = sorted(demand)
    _suppliers(hub, skus)
    with hub.db.read() as session:
        rows = suggesting.suggestions(session)
        out.forecasts = session.scalar(select(func.count(DemandForecast.id))) or 0
    out.suggestions = len(rows)
    if not rows:
        out.steps.append("nothing below its reorder point: no purchase order")
        return out
    # The first supplier's rows at one location: one draft, as a person would tick them.
    first = rows[0]
    picked = [
        r
        for r in rows
        if r["supplier_id"] == first["supplier_id"] and r["location_id"] == first["location_id"]
    ]
    with hub.db.transaction() as session:
        (po,) = suggesting.draft_orders(
            session,
            [(r["sku"], r["location_id"], r["suggested_quantity"]) for r in picked],
            actor=ACTOR,
        )
        po_id, out.purchase_order = po.id, po.number
        backorders.set_allow_backorder(session, first["sku"], True, actor=ACTOR)
    out.steps.append(f"drafted {out.purchase_order} ({len(picked)} lines)")
    with hub.db.transaction() as session:
        purchase_orders.send(session, po_id, actor=ACTOR, connectors=hub.connectors)
    out.steps.append("sent")
    units = max(first["available"], 0) + min(first["suggested_quantity"], 3)
    order_id = _backorder(hub, first["sku"], first["location"], units)
    with hub.db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        out.backordered_order = order.label
        out.backordered_units = sum(
            w.units for w in backorders.backordered_by_line(session, order_id).values()
        )
    out.steps.append(f"order {out.backordered_order} backordered {out.backordered_units}")
    # The order's events now, as the worker would: its customer hears of the wait
    # (order.delayed, cause backordered: the delay email) before the stock comes.
    if _tell_delays(hub, out, order_id, out.backordered_order):
        out.steps.append("customer told of the delay")
    with hub.db.transaction() as session:
        po = purchase_orders.get_purchase_order(session, po_id)
        receive(
            session,
            po_id,
            [(line.sku, line.quantity) for line in po.lines],
            actor=ACTOR,
            source="demo",
        )
    # The receipt's own job, now: the stock goes to the backorder first.
    Worker(hub, worker_id="demo-receipt", kinds=(JobKind.STOCK_RECEIVED,)).run_until_idle()
    with hub.db.read() as session:
        out.purchase_order_status = purchase_orders.get_purchase_order(session, po_id).status
        out.backorders_released = out.backordered_units > 0 and not backorders.waiting(
            session, order_id
        )
    out.steps.append(out.purchase_order_status)
    if out.backorders_released:
        out.steps.append("backorder released")
    # Another customer wants more of a SKU no purchase order brings than is left, and
    # it allows no backorder: the order is held out of stock, and its customer told.
    on_po = {r["sku"] for r in picked}
    short = next((r for r in rows if r["sku"] not in on_po), rows[-1])
    held_id = _backorder(
        hub,
        short["sku"],
        short["location"],
        max(short["available"], 0) + 2,
        number="#B2",
        tag="demo-out-of-stock",
    )
    with hub.db.read() as session:
        held = session.get(Order, held_id)
        assert held is not None
        out.held_order, out.held_status = held.label, held.status
    _tell_delays(hub, out, held_id, out.held_order)
    out.seconds = round(time.perf_counter() - started, 1)
    return out


def _tell_delays(hub: Hub, out: ReplenishmentSummary, order_id: int, label: str) -> int:
    """Run the order's events as the worker would; its delay notices (order.delayed), counted."""
    Worker(
        hub, worker_id="demo-delays", kinds=(JobKind.ORDER_EVENT, JobKind.NOTIFY)
    ).run_until_idle()
    with hub.db.read() as session:
        causes = [
            str((data or {}).get("cause"))
            for data in session.scalars(
                select(OrderAuditEvent.data).where(
                    OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == ORDER_DELAYED
                )
            )
        ]
    out.delay_notices += len(causes)
    out.delays += [f"{label} {cause.replace('_', ' ')}" for cause in causes]
    return len(causes)
