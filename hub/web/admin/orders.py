"""Orders: the list with filters and paging, an order's page, its transition buttons."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from hub.core.exceptions import HubError, NotFound, ValidationError
from hub.core.lifecycle import EVENT_NAMES, STATUSES, OrderStatus, allowed_events
from hub.core.status import FINANCIAL_STATUSES, FULFILLMENT_STATUSES, PaymentStatus
from hub.integration.erp import spreadsheet_cell
from hub.inventory import backorders
from hub.orders import carrier_events, commands, edits, records
from hub.orders.hold_reasons import HOLD_REASON_WORDS, hold_reason_words
from hub.orders.payments import request_refund
from hub.orders.queries import DEFAULT_SORT, SORTS, OrderFilters, search_orders
from hub.orders.serialize import money, order_detail
from hub.pipeline.order_steps import check_order
from hub.queue import jobs
from hub.queue.kinds import JobKind
from hub.routing import late as late_orders
from hub.routing import promise
from hub.routing.audit import decision_lines
from hub.store.models import Channel, Job, JobStatus, Order, Payment
from hub.web import get_hub
from hub.web.admin import bp, order_entry
from hub.web.admin.backoffice import order_deliveries
from hub.web.admin.helpers import PAGE_SIZE, Page, flash_error, page_of, safe_next
from hub.web.admin.returns import returns_panel
from hub.web.api_schemas import TransitionInSchema
from hub.web.track import shipping_service_name, tracking_link

log = logging.getLogger(__name__)

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
    """The events a person can press for an order in ``status``: never one that only
    follows from facts (returns are opened below the buttons, shipments recorded)."""
    return [e for e in allowed_events(status, person=True) if e not in SHIPMENT_EVENTS]


#: The admin's sort links: a column shown, and the sort its header asks for first.
SORT_HEADERS = {"number": "number", "placed": "-placed", "total": "-total", "status": "status"}
SORT_HEADERS["channel"] = "channel"
#: Bulk actions: the event each runs (None: retry the order's failed or dead jobs) and its words.
BULK_ACTIONS: dict[str, tuple[str | None, str]] = {
    "hold": ("hold", "Hold"),
    "release": ("release", "Release"),
    "cancel": ("cancel", "Cancel"),
    "retry": (None, "Retry failed jobs of"),
}
#: At most this many orders in one bulk action.
BULK_LIMIT = 200
#: Orders read at a time while the CSV streams.
CSV_BATCH = 500
CSV_HEADER = (
    "id",
    "number",
    "channel",
    "status",
    "payment",
    "fulfilment",
    "hold reasons",
    "customer",
    "email",
    "total",
    "currency",
    "placed (UTC)",
)


def list_filters() -> tuple[OrderFilters, str]:
    """The orders list's filters and sort from the query string (what it cannot read, it ignores)."""
    filters = OrderFilters(
        status=_choice("status", STATUSES),
        channel=request.args.get("channel") or None,
        financial_status=_choice("financial_status", FINANCIAL_STATUSES),
        fulfillment_status=_choice("fulfillment_status", FULFILLMENT_STATUSES),
        q=(request.args.get("q") or "").strip() or None,
        placed_from=_day("placed_from"),
        placed_to=_day("placed_to"),
        hold_reason=_choice("hold_reason", tuple(HOLD_REASON_WORDS)),
        late=request.args.get("late") == "1",
        carrier_problem=request.args.get("carrier_problem") == "1",
    )
    return filters, _choice("sort", SORTS) or DEFAULT_SORT


def _day(name: str) -> date | None:
    """A date input's day (``2026-12-04``), else None."""
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filter_args(filters: OrderFilters, sort: str) -> dict[str, Any]:
    """The query string that shows this list again (for the CSV link and the bulk form)."""
    args = {
        "status": filters.status,
        "channel": filters.channel,
        "financial_status": filters.financial_status,
        "fulfillment_status": filters.fulfillment_status,
        "q": filters.q,
        "placed_from": filters.placed_from.isoformat() if filters.placed_from else None,
        "placed_to": filters.placed_to.isoformat() if filters.placed_to else None,
        "hold_reason": filters.hold_reason,
        "late": "1" if filters.late else None,
        "carrier_problem": "1" if filters.carrier_problem else None,
        "sort": sort if sort != DEFAULT_SORT else None,
    }
    return {k: v for k, v in args.items() if v}


@bp.get("/orders")
def orders():
    filters, sort = list_filters()
    with get_hub().db.read() as db:
        channels = list(db.scalars(select(Channel).order_by(Channel.name)))
        try:
            page = page_of(partial(search_orders, db, filters, sort=sort))
        except ValidationError as exc:  # a channel that is no more: say so, list nothing
            flash(exc.message, "error")
            page = Page([], 1, PAGE_SIZE, 0)
        args = _filter_args(filters, sort)
        return render_template(
            "admin/orders.html",
            page=page,
            channels=channels,
            statuses=STATUSES,
            financial_statuses=FINANCIAL_STATUSES,
            fulfillment_statuses=FULFILLMENT_STATUSES,
            hold_reasons=HOLD_REASON_WORDS,
            status=filters.status or "",
            channel=filters.channel or "",
            financial_status=filters.financial_status or "",
            fulfillment_status=filters.fulfillment_status or "",
            placed_from=filters.placed_from.isoformat() if filters.placed_from else "",
            placed_to=filters.placed_to.isoformat() if filters.placed_to else "",
            hold_reason=filters.hold_reason or "",
            late=filters.late,
            late_ids=late_orders.late_order_ids(db, [o.id for o in page.items]),
            carrier_problem=filters.carrier_problem,
            problem_ids=carrier_events.problem_order_ids(db, [o.id for o in page.items]),
            q=filters.q or "",
            sort=sort,
            sort_links=_sort_links(args, sort),
            csv_args=args,
            back=url_for("admin.orders", **args),
            filtered=filters.any,
            hold_reason_words=hold_reason_words,
            bulk_actions=BULK_ACTIONS,
        )


def _sort_links(args: dict[str, Any], sort: str) -> dict[str, tuple[str, str]]:
    """Each sortable column's header link and its arrow (when the list is sorted by it)."""
    links = {}
    for name, first in SORT_HEADERS.items():
        if sort.lstrip("-") == name:  # pressed again: the other way round
            target = name if sort.startswith("-") else f"-{name}"
            arrow = "↓" if sort.startswith("-") else "↑"
        else:
            target, arrow = first, ""
        query = {k: v for k, v in args.items() if k not in ("sort", "page")}
        if target != DEFAULT_SORT:
            query["sort"] = target
        links[name] = (url_for("admin.orders", **query), arrow)
    return links


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    """A select's value when it is one of ``allowed`` (anything else filters nothing)."""
    value = request.args.get(name, "")
    return value if value in allowed else None


@bp.get("/orders.csv")
def orders_csv():
    """Every order of the current filter and sort (all pages), as CSV, streamed a batch at a time."""
    filters, sort = list_filters()
    hub = get_hub()
    with hub.db.read() as db:  # an unknown channel is said before the download starts
        try:
            search_orders(db, filters, sort=sort, limit=1)
        except ValidationError as exc:
            flash(exc.message, "error")
            return redirect(url_for("admin.orders", **_filter_args(filters, sort)))

    def rows():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        offset = 0
        while True:
            with hub.db.read() as db:
                found = search_orders(db, filters, sort=sort, limit=CSV_BATCH, offset=offset)
                for o in found.rows:
                    writer.writerow([spreadsheet_cell(cell) for cell in _csv_row(o)])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if not found.has_more:
                return
            offset += CSV_BATCH

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="orders-{stamp}.csv"'},
    )


def _csv_row(o: Order) -> list[Any]:
    placed = o.placed_at or o.created_at
    return [
        o.id,
        o.number,
        o.channel.name,
        o.status,
        o.financial_status,
        o.fulfillment_status,
        "; ".join(hold_reason_words(r) for r in o.hold_reasons or []),
        o.customer_name,
        o.email,
        money(o.total, o.currency),
        o.currency,
        placed.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if placed else "",
    ]


@bp.post("/orders/bulk")
def orders_bulk():
    """A bulk action: first a page asking "Cancel 3 orders?", then, confirmed, each order's outcome."""
    action = request.form.get("action", "")
    reason = (request.form.get("reason") or "").strip()
    back = safe_next(request.form.get("next"), url_for("admin.orders"))
    ids = sorted({int(i) for i in request.form.getlist("order_id") if i.isdigit()})
    if action not in BULK_ACTIONS:
        flash("Pick what to do with the selected orders.", "error")
        return redirect(back)
    if not ids:
        flash("Select one or more orders first (the boxes at the left).", "error")
        return redirect(back)
    if len(ids) > BULK_LIMIT:
        flash(f"At most {BULK_LIMIT} orders at a time.", "error")
        return redirect(back)
    if action == "hold" and not reason:
        flash("A hold needs a reason: say what a person must look at.", "error")
        return redirect(back)
    verb = BULK_ACTIONS[action][1]
    count = f"{len(ids)} order{'s' if len(ids) != 1 else ''}"
    if request.form.get("confirm") != "yes":
        with get_hub().db.read() as db:
            chosen = list(db.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.id)))
            labels = [(o.id, o.label, o.status) for o in chosen]
        return render_template(
            "admin/orders_bulk.html",
            question=f"{verb} {count}?",
            button=f"{verb} {count}",
            action=action,
            reason=reason,
            ids=ids,
            orders=labels,
            back=back,
            outcomes=None,
        )
    outcomes = [_bulk_one(order_id, action, reason) for order_id in ids]
    done = sum(1 for o in outcomes if o["done"])
    return render_template(
        "admin/orders_bulk.html",
        question=f"{verb} {count}: {done} done, {len(outcomes) - done} refused",
        outcomes=outcomes,
        back=back,
    )


def _bulk_one(order_id: int, action: str, reason: str) -> dict[str, Any]:
    """One order's bulk action in its own unit of work: done, or refused with the reason."""
    event = BULK_ACTIONS[action][0]
    label = f"order {order_id}"
    try:
        with get_hub().unit_of_work() as work:
            order = records.get_order(work.session, order_id)
            label = order.label
            if event is None:
                found = list(
                    work.session.scalars(
                        select(Job).where(
                            Job.order_id == order_id,
                            Job.status.in_((JobStatus.FAILED, JobStatus.DEAD)),
                        )
                    )
                )
                if not found:
                    raise ValidationError(f"order {label} has no failed or dead jobs")
                for job in found:
                    jobs.retry(work.session, job.id)
                text = f"{len(found)} job{'s' if len(found) != 1 else ''} queued again"
            else:
                before = order.status
                changed = commands.transition(
                    work, order_id, event, actor=g.user.actor, reason=reason
                )
                now = changed.status.replace("_", " ")
                text = f"already {now}" if changed.status == before else f"now {now}"
    except HubError as exc:
        return {"id": order_id, "label": label, "done": False, "text": exc.message}
    except Exception:  # noqa: BLE001  (each order answers; the log keeps the details)
        log.exception("bulk %s of order %s failed", action, order_id)
        return {"id": order_id, "label": label, "done": False, "text": "unexpected error"}
    if event == "release" and text.startswith("now"):
        text = _checked_after_release(order_id, label)
    return {"id": order_id, "label": label, "done": True, "text": text}


def _checked_after_release(order_id: int, label: str) -> str:
    """A released order's checks, run now (as the order page does): what came of them, in words."""
    detail = order_entry.check_now(order_id)
    if detail is None:
        return "released — now pending; the checks run shortly"
    if detail["status"] == OrderStatus.ON_HOLD:
        return f"released, but held again — {order_entry.held_words(detail)}"
    return f"released — the checks passed, now {detail['status'].replace('_', ' ')}"


@bp.route("/orders/new", methods=["GET", "POST"])
def order_new():
    """A manual order (phone, shop counter): see :mod:`hub.web.admin.order_entry`."""
    return order_entry.new_order_page()


@bp.route("/orders/<int:order_id>/edit", methods=["GET", "POST"])
def order_edit(order_id: int):
    """Edit an order's lines and address before it goes to the warehouse."""
    return order_entry.edit_order_page(order_id)


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
            service_name=shipping_service_name,
            timeline=timeline(detail),
            editable=edits.why_not_editable(found) is None,
            edit_payment_notes=edits.payment_notes(found) if edits.was_edited(found) else [],
            has_discount=found.discount != 0,
            hold_reason_words=hold_reason_words,
            money_after_cancel=(
                money_after_cancel(db, found) if found.status == OrderStatus.CANCELLED else []
            ),
            **returns_panel(db, found),
            **order_deliveries(db, found.id),
            backordered=backorders.backordered_by_line(db, found.id),
            carrier=carrier_events.carrier_events(db, found.id),
            delivery=promise.delivery_json(db, found),
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
        if event == "release":
            check_released(order_id, label)
        else:
            flash(
                f"Order {label}: {EVENT_LABELS.get(event, event)} done — it is now "
                f"{status.replace('_', ' ')}.",
                "success",
            )
    # The holds queue's buttons come back to the queue.
    return redirect(safe_next(request.form.get("next"), url_for("admin.order", order_id=order_id)))


def check_released(order_id: int, label: str) -> None:
    """Run a released order's checks now and say what came of them: confirmed, or held again and why.

    Called after every release a person makes: the order page's and the holds queue's.

    Without this the page said "now pending" and the worker held the order again a
    moment later, unseen. Should the checks fail to run, the job the release
    enqueued runs them later.
    """
    hub = get_hub()
    try:
        check_order(hub, order_id)
    except Exception:  # noqa: BLE001  (the release stands; the queued job checks again)
        log.exception("checking released order %s failed; its job will check it", label)
        flash(f"Order {label}: released — it is now pending; the checks run shortly.", "success")
        return
    with hub.db.read() as db:
        order = records.get_order(db, order_id)
        detail = order_detail(order)
    if detail["status"] == OrderStatus.ON_HOLD:
        reasons = "; ".join(hold_reason_words(r, detail) for r in detail["hold_reasons"])
        flash(f"Order {label}: released, but held again — {reasons}.", "error")
    else:
        flash(
            f"Order {label}: released — the checks passed and it is now "
            f"{detail['status'].replace('_', ' ')}.",
            "success",
        )


@bp.post("/orders/<int:order_id>/refund")
def refund_cancelled(order_id: int):
    """Ask the gateway to refund what a cancelled order's payment still holds (or retry that ask)."""
    payment_id = request.form.get("payment_id", type=int)
    try:
        with get_hub().unit_of_work() as work:
            db = work.session
            order = records.get_order(db, order_id)
            payment = db.get(Payment, payment_id) if payment_id else None
            if payment is None or payment.order_id != order.id:
                raise NotFound(f"order {order.label} has no payment {payment_id}")
            if order.status != OrderStatus.CANCELLED:
                raise ValidationError(f"order {order.label} is not cancelled: nothing to refund")
            state = _payment_after_cancel(payment, _money_jobs(db, order).get(payment.id))
            if state["action"] is None:
                raise ValidationError(f"payment {payment.reference}: {state['text']}")
            left = payment.captured_amount - payment.refunded_amount
            if state["action"] == "retry":
                jobs.retry(db, state["job"].id)
            else:  # the key the cancellation's own follow-up uses: never two refunds
                request_refund(
                    db, payment, left, key=f"cancel:{order.id}", reason="order cancelled"
                )
            what = f"{money(left, payment.currency)} {payment.currency}"
            label = order.label
    except Exception as exc:  # noqa: BLE001  (shown to the person, logged when unexpected)
        flash_error(exc)
    else:
        flash(f"Order {label}: refund of {what} requested from the payment gateway.", "success")
    return redirect(url_for("admin.order", order_id=order_id))


def _money_jobs(db, order: Order) -> dict[int, Job]:
    """The latest void or refund job of each of ``order``'s payments, by payment id."""
    found: dict[int, Job] = {}
    for job in db.scalars(
        select(Job)
        .where(
            Job.order_id == order.id,
            Job.kind.in_((JobKind.PAYMENT_VOID, JobKind.PAYMENT_REFUND)),
        )
        .order_by(Job.id)
    ):
        payment_id = (job.payload or {}).get("payment_id")
        if isinstance(payment_id, int):
            found[payment_id] = job
    return found


def _payment_after_cancel(payment: Payment, job: Job | None) -> dict[str, Any]:
    """What happened to one payment's money once its order was cancelled, in words.

    ``action`` is what the page's button does: ``"request"`` a refund, ``"retry"``
    the dead one, or None (nothing a person can press here).
    """
    cur = payment.currency
    left = payment.captured_amount - payment.refunded_amount
    shown = f"{money(left, cur)} {cur}"
    state: dict[str, Any] = {"reference": payment.reference, "id": payment.id, "job": job}
    if payment.status == PaymentStatus.VOIDED:
        return state | {"state": "voided", "text": "Voided: nothing was taken.", "action": None}
    if payment.captured_amount == 0:
        if job is not None and job.kind == JobKind.PAYMENT_VOID:
            if job.status == JobStatus.DEAD:
                text = f"Void failed: {job.last_error or 'the gateway refused'}."
                return state | {"state": "void_failed", "text": text, "action": None}
            text = "Void requested: the authorisation is being cancelled."
            return state | {"state": "void_requested", "text": text, "action": None}
        text = "Nothing was taken."
        return state | {"state": "nothing_taken", "text": text, "action": None}
    if left <= 0:
        text = f"Refunded: {money(payment.refunded_amount, cur)} {cur}."
        return state | {"state": "refunded", "text": text, "action": None}
    if payment.channel_id is None:
        text = f"Refund needed: {shown} was paid on the sales channel — refund it there."
        return state | {"state": "refund_needed", "text": text, "action": None}
    if job is not None and job.kind == JobKind.PAYMENT_REFUND:
        if job.status == JobStatus.DEAD:
            text = f"Refund needed: asking the gateway for {shown} failed ({job.last_error})."
            return state | {"state": "refund_needed", "text": text, "action": "retry"}
        if job.status != JobStatus.SUCCEEDED:
            text = f"Refund requested: {shown}, waiting for the gateway."
            return state | {"state": "refund_requested", "text": text, "action": None}
    text = f"Refund needed: {shown} was captured and is not refunded."
    return state | {"state": "refund_needed", "text": text, "action": "request"}


def money_after_cancel(db, order: Order) -> list[dict[str, Any]]:
    """Each payment of a cancelled order: voided, refunded, or what is still owed the customer."""
    by_payment = _money_jobs(db, order)
    return [_payment_after_cancel(p, by_payment.get(p.id)) for p in order.payments]


#: Holds made together (one run of the checks) show as one timeline row.
_SAME_RUN_SECONDS = 5


def timeline(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's events, newest first, each hold with its reasons in words, each routing
    decision with the plans weighed.

    The checks hold an order once per reason they find: holds by the same actor
    a moment apart are one row listing every reason (the audit keeps each).
    """
    held = EVENT_NAMES["hold"]
    rows: list[dict[str, Any]] = []
    for event in detail["events"]:
        words = hold_reason_words(event["reason"], detail) if event.get("reason") else ""
        last = rows[-1] if rows else None
        if (
            event["name"] == held
            and last is not None
            and last["name"] == held
            and last["actor"] == event["actor"]
            and event.get("from") == OrderStatus.ON_HOLD
            and _seconds_between(last["at"], event["at"]) <= _SAME_RUN_SECONDS
        ):
            last["reasons"].append(words)
            continue
        # A confirmation says how the order was routed (hub.routing.audit).
        routing = decision_lines(event.get("data"))
        rows.append(event | {"reasons": ([words] if words else []) + routing})
    return rows[::-1]


def _seconds_between(earlier: str | None, later: str | None) -> float:
    """Seconds from one ISO 8601 time to another (infinite when either is missing)."""
    if not earlier or not later:
        return float("inf")
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
