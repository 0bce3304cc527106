"""Orders: the list with filters and paging, an order's page, its transition buttons."""

from __future__ import annotations

from functools import partial

from flask import abort, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from hub.core.exceptions import ValidationError
from hub.core.lifecycle import EVENT_NAMES, STATUSES, allowed_events
from hub.core.status import FINANCIAL_STATUSES, FULFILLMENT_STATUSES
from hub.orders import commands, records
from hub.orders.queries import OrderFilters, search_orders
from hub.orders.serialize import order_detail
from hub.store.models import Channel, Order
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.backoffice import order_deliveries
from hub.web.admin.helpers import PAGE_SIZE, Page, flash_error, page_of
from hub.web.admin.returns import returns_panel
from hub.web.api_schemas import TransitionInSchema
from hub.web.track import tracking_link

#: Events that follow from recording or voiding a shipment, not from a button.
SHIPMENT_EVENTS = frozenset({"ship_partial", "unship", "unship_partial"})
#: Events whose button asks "are you sure?" first.
DANGEROUS_EVENTS = frozenset({"cancel", "return", "return_partial"})

EVENT_LABELS = {
    "confirm": "Confirm",
    "hold": "Hold",
    "release": "Release hold",
    "start_fulfillment": "Start fulfilment",
    "ship": "Mark shipped",
    "deliver": "Mark delivered",
    "complete": "Complete",
    "cancel": "Cancel order",
    "return_partial": "Partly returned",
    "return": "Returned",
}


def button_events(status: str) -> list[str]:
    """The events a person can press for an order in ``status``."""
    return [e for e in allowed_events(status) if e not in SHIPMENT_EVENTS]


@bp.get("/orders")
def orders():
    filters = OrderFilters(
        status=_choice("status", STATUSES),
        channel=request.args.get("channel") or None,
        financial_status=_choice("financial_status", FINANCIAL_STATUSES),
        fulfillment_status=_choice("fulfillment_status", FULFILLMENT_STATUSES),
        q=(request.args.get("q") or "").strip() or None,
    )
    with get_hub().db.read() as db:
        channels = list(db.scalars(select(Channel).order_by(Channel.name)))
        try:
            page = page_of(partial(search_orders, db, filters))
        except ValidationError as exc:  # a channel that is no more: say so, list nothing
            flash(exc.message, "error")
            page = Page([], 1, PAGE_SIZE, 0)
        return render_template(
            "admin/orders.html",
            page=page,
            channels=channels,
            statuses=STATUSES,
            financial_statuses=FINANCIAL_STATUSES,
            fulfillment_statuses=FULFILLMENT_STATUSES,
            status=filters.status or "",
            channel=filters.channel or "",
            financial_status=filters.financial_status or "",
            fulfillment_status=filters.fulfillment_status or "",
            q=filters.q or "",
            filtered=filters.any,
        )


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    """A select's value when it is one of ``allowed`` (anything else filters nothing)."""
    value = request.args.get(name, "")
    return value if value in allowed else None


@bp.get("/orders/<int:order_id>")
def order(order_id: int):
    with get_hub().db.read() as db:
        found = db.scalars(records.order_query().where(Order.id == order_id)).one_or_none()
        if found is None:
            abort(404)
        detail = order_detail(found)
        channel = found.channel
        shipment_totals = {s.id: sum(sl.quantity for sl in s.lines) for s in found.shipments}
        return render_template(
            "admin/order.html",
            order=detail,
            channel=channel,
            shipment_totals=shipment_totals,
            events=button_events(detail["status"]),
            event_labels=EVENT_LABELS,
            dangerous=DANGEROUS_EVENTS,
            event_names=EVENT_NAMES,
            tracking_link=tracking_link,
            **returns_panel(db, found),
            **order_deliveries(db, found.id),
        )


@bp.post("/orders/<int:order_id>/transition")
def transition(order_id: int):
    event = request.form.get("event", "")
    reason = (request.form.get("reason") or "").strip()
    if event == "hold" and not reason:
        flash("A hold needs a reason: say what a person must look at.", "error")
        return redirect(url_for("admin.order", order_id=order_id))
    try:
        body = TransitionInSchema().load({"event": event, "reason": reason})
    except SchemaError as exc:  # the API's schema: an event a person may send, a short reason
        flash(
            f"Order {order_id}: cannot {event or 'do nothing'} — not a step a person takes here."
            if "event" in exc.normalized_messages()
            else "The reason is too long: at most 2000 characters.",
            "error",
        )
        return redirect(url_for("admin.order", order_id=order_id))
    try:
        with get_hub().unit_of_work() as work:
            changed = commands.transition(
                work, order_id, body["event"], actor=g.user.actor, reason=body["reason"]
            )
            label, status = changed.label, changed.status
    except Exception as exc:  # noqa: BLE001  (shown to the person, logged when unexpected)
        flash_error(exc)
    else:
        flash(
            f"Order {label}: {EVENT_LABELS.get(event, event)} done — it is now "
            f"{status.replace('_', ' ')}.",
            "success",
        )
    return redirect(url_for("admin.order", order_id=order_id))
