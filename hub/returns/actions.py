"""Returns: goods coming back, and the refund that ends them.

A return moves ``requested -> approved -> received -> refunded``; a person may
``reject`` it before it is received. Each step is one function taking the
caller's session (the API, the admin UI and the CLI call the same ones), and
each records an audit event on the order — ``order.return_requested``,
``order.return_approved``, ``order.return_rejected``, ``order.return_received``,
``order.return_refunded`` — that notification channels and plugins hear.

- **Create**: lines and quantities are checked against what shipped minus
  what other returns (not rejected) already take back. The refund is worked
  out then: each line's share of the order total (tax and discounts
  included), so returning everything refunds exactly the total; shipping is
  added when asked for, once per order.
- **Receive**: each line is restocked to a location (a stock movement) or
  written off.
- **Refund**: through the order's payment channels, one ``payment.refund`` job
  per payment (partial, several, never more than captured minus refunded
  minus refunds still on their way); then the order moves to
  ``partially_returned`` or ``returned``. The gateway's answer updates
  ``financial_status`` and records ``order.refunded``; a refusal is a dead
  job, shown on the return (:func:`refund_progress`) and in the jobs list.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from hub.core import lifecycle
from hub.core.exceptions import Conflict, NotFound, ValidationError
from hub.core.money import Money, MoneyError
from hub.core.status import units_shipped
from hub.inventory import levels as inventory
from hub.orders import records, transitions
from hub.orders.payments import request_refund
from hub.orders.serialize import money, return_json
from hub.returns import exchanges
from hub.returns.policy import policy_for
from hub.returns.queries import refund_jobs
from hub.store.models import (
    Job,
    JobStatus,
    Location,
    Order,
    OrderLine,
    Payment,
    Return,
    ReturnLine,
    StockReservation,
    utcnow,
)

STATUSES = ("requested", "approved", "received", "refunded", "rejected")
RESOLUTIONS = ("refund", "exchange")
#: Order statuses a return can be made in: those the life cycle can return from.
RETURNABLE_STATUSES = tuple(lifecycle.TRANSITIONS["return"])

WRITE_OFF = "write_off"


@dataclass
class ReturnLineRequest:
    line_id: int
    quantity: int
    #: Where the line goes back on receipt (a location code), unless written off.
    restock_location: str | None = None
    write_off: bool = False
    #: An exchange: the variant sent in place of these units (see :mod:`hub.returns.exchanges`).
    exchange_sku: str = ""


@dataclass
class ReturnRequest:
    """What a person asks for (see :class:`hub.returns.schemas.ReturnCreateSchema`)."""

    lines: list[ReturnLineRequest]
    reason: str
    note: str = ""
    refund_shipping: bool = False
    #: A refund other than the lines' worth (e.g. less a restocking fee): minor
    #: units, or a decimal string in the order's currency.
    refund_amount: int | str | None = None
    #: "refund", or "exchange": every line names its ``exchange_sku`` and nothing is refunded.
    resolution: str = "refund"


# --- reading ------------------------------------------------------------------------------


def get_return(session: Session, return_id: int) -> Return:
    """Load a return with its order locked (every return step changes what the order allows)."""
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"return {return_id} does not exist")
    records.get_order(session, ret.order_id)
    session.refresh(ret)
    return ret


def refund_progress(session: Session, ret: Return, jobs: list[Job] | None = None) -> dict[str, Any]:
    """How the refund of a return is going at the gateways, from its ``payment.refund`` jobs.

    ``status``: ``none`` (not refunded, or refunded with 0), ``pending`` (a job
    is still to run or retrying), ``failed`` (a job is dead: the gateway
    refused; see its error, retry it from the jobs list) or ``succeeded``.

    :param jobs: the order's refund jobs when already read (:func:`hub.returns.queries.refund_jobs`).
    """
    suffix = f":return:{ret.id}"
    if jobs is None:
        jobs = refund_jobs(session, ret.order_id)
    jobs = [j for j in jobs if j.order_id == ret.order_id and (j.dedupe_key or "").endswith(suffix)]
    if not jobs:
        status = "none"
    elif any(j.status == JobStatus.DEAD for j in jobs):
        status = "failed"
    elif all(j.status == JobStatus.SUCCEEDED for j in jobs):
        status = "succeeded"
    else:
        status = "pending"
    return {
        "status": status,
        "jobs": [
            {
                "id": j.id,
                "status": j.status,
                "amount": money(int(j.payload["amount"]), ret.currency),
                "payment_id": j.payload["payment_id"],
                "error": j.last_error,
            }
            for j in jobs
        ],
    }


def return_detail(ret: Return, *, jobs: list[Job] | None = None) -> dict[str, Any]:
    """A return as the API shows it: money as decimal strings, and how its refund is going.

    :param jobs: the order's refund jobs when already read (:func:`hub.returns.queries.refund_jobs`).
    """
    session = object_session(ret)
    return {
        **return_json(ret),
        "refund": refund_progress(session, ret, jobs) if session is not None else None,
    }


def _open_returns(session: Session, order_id: int, *, exclude: int | None = None) -> list[Return]:
    query = select(Return).where(Return.order_id == order_id, Return.status != "rejected")
    if exclude is not None:
        query = query.where(Return.id != exclude)
    return list(session.scalars(query.order_by(Return.id)))


def returned_quantities(returns: list[Return]) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for ret in returns:
        for rl in ret.lines:
            out[rl.order_line_id] += rl.quantity
    return dict(out)


def returnable_quantities(session: Session, order: Order) -> dict[int, int]:
    """Units of each line that can still be returned: shipped minus taken back by other returns."""
    shipped = units_shipped(order.shipments)
    taken = returned_quantities(_open_returns(session, order.id))
    return {
        line_id: qty - taken.get(line_id, 0)
        for line_id, qty in shipped.items()
        if qty - taken.get(line_id, 0) > 0
    }


# --- money --------------------------------------------------------------------------------


def line_values(order: Order) -> dict[int, int]:
    """What each line is worth of the order total without shipping (tax and discounts spread by value)."""
    merchandise = max(0, order.total - order.shipping)
    weights = [max(0, line.unit_price * line.quantity) for line in order.lines]
    if not order.lines or not any(weights):
        return {line.id: 0 for line in order.lines}
    shares = Money(merchandise, order.currency).allocate(weights)
    return {line.id: share.amount for line, share in zip(order.lines, shares, strict=True)}


def _refund_for(
    order: Order, values: dict[int, int], line_id: int, before: int, quantity: int
) -> int:
    # Counted cumulatively, so the units of a line refunded over several
    # returns add up to exactly the line's worth.
    line = next(x for x in order.lines if x.id == line_id)
    if line.quantity <= 0:
        return 0
    worth = values[line_id]
    return worth * (before + quantity) // line.quantity - worth * before // line.quantity


def pending_refunds(session: Session, order_id: int) -> dict[int, int]:
    """Refunds enqueued but not yet answered by the gateway, per payment id."""
    pending: dict[int, int] = defaultdict(int)
    for job in refund_jobs(session, order_id):
        if job.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED):
            pending[int(job.payload["payment_id"])] += int(job.payload["amount"])
    return dict(pending)


def refundable_by_payment(session: Session, order: Order) -> list[tuple[Payment, int]]:
    """Each payment the hub can refund through, with what it can still give back."""
    pending = pending_refunds(session, order.id)
    out = []
    for payment in order.payments:
        if payment.channel_id is None:
            continue
        # Refunds the gateway has not settled yet count as given: never over-refund.
        unsettled = sum(r.amount for r in payment.refunds if r.status == "pending")
        left = (
            payment.captured_amount
            - payment.refunded_amount
            - pending.get(payment.id, 0)
            - unsettled
        )
        if left > 0:
            out.append((payment, left))
    return out


# --- the steps ------------------------------------------------------------------------------


def create_return(session: Session, order_id: int, request: ReturnRequest, *, actor: str) -> Return:
    """Open a return for some shipped units of an order (status ``requested``)."""
    order = records.get_order(session, order_id)
    if order.status not in RETURNABLE_STATUSES:
        raise ValidationError(
            f"order {order.label} is {order.status}: only orders that shipped "
            f"({', '.join(RETURNABLE_STATUSES)}) take returns",
            details={"status": order.status},
        )
    if not (request.reason or "").strip():
        raise ValidationError("a return needs a reason", details={"reason": ["is required"]})
    if not request.lines:
        raise ValidationError(
            "a return needs at least one line", details={"lines": ["is required"]}
        )
    lines = {line.id: line for line in order.lines}
    returnable = returnable_quantities(session, order)
    errors: dict[str, Any] = {}
    seen: set[int] = set()
    locations: dict[str, Location] = {}
    for i, item in enumerate(request.lines):
        if item.line_id not in lines:
            errors[f"lines.{i}.line_id"] = [f"order {order.label} has no line {item.line_id}"]
        elif item.line_id in seen:
            errors[f"lines.{i}.line_id"] = ["line listed twice"]
        elif not isinstance(item.quantity, int) or item.quantity <= 0:
            errors[f"lines.{i}.quantity"] = ["must be 1 or more"]
        elif item.quantity > returnable.get(item.line_id, 0):
            errors[f"lines.{i}.quantity"] = [
                f"{returnable.get(item.line_id, 0)} of line {item.line_id} "
                f"({lines[item.line_id].sku}) can be returned"
            ]
        if item.restock_location and item.write_off:
            errors[f"lines.{i}.restock_location"] = ["a written-off line is not restocked"]
        elif item.restock_location and item.restock_location not in locations:
            try:
                locations[item.restock_location] = inventory.get_location(
                    session, item.restock_location
                )
            except NotFound as exc:
                errors[f"lines.{i}.restock_location"] = [exc.message]
        seen.add(item.line_id)
    if request.resolution not in RESOLUTIONS:
        errors["resolution"] = [f"one of {', '.join(RESOLUTIONS)}"]
    elif request.resolution == "exchange":
        _check_exchanges(session, request, lines, errors)
    elif any(item.exchange_sku for item in request.lines):
        errors["resolution"] = ["a line names a variant in exchange: the resolution is exchange"]
    override = request.refund_amount
    if isinstance(override, str):
        try:
            override = Money.parse(override, order.currency).amount
        except MoneyError as exc:
            errors["refund_amount"] = [str(exc)]
            override = None
    if override is not None and (not isinstance(override, int) or override < 0):
        errors["refund_amount"] = ["must be an amount of 0 or more"]
    elif override is not None and override > order.total:
        # More than the whole order could never be refunded (and would not fit a column).
        errors["refund_amount"] = [
            f"must be at most the order's total, {money(order.total, order.currency)}"
        ]
    if errors:
        summary = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in errors.items())
        raise ValidationError(
            f"the return for order {order.label} is not valid: {summary}", details=errors
        )

    others = _open_returns(session, order.id)
    before = returned_quantities(others)
    values = line_values(order)
    worth = sum(
        _refund_for(order, values, item.line_id, before.get(item.line_id, 0), item.quantity)
        for item in request.lines
    )
    shipping = 0
    if request.refund_shipping:
        shipping = max(0, order.shipping - sum(r.shipping_refund for r in others))
    if request.resolution == "exchange":
        worth, shipping = 0, 0  # goods for goods: nothing is refunded
    ret = Return(
        order_id=order.id,
        status="requested",
        resolution=request.resolution,
        reason=request.reason.strip(),
        note=request.note or "",
        currency=order.currency,
        refund_amount=worth if override is None else override,
        shipping_refund=shipping,
        refunded_amount=0,
        created_by=actor,
        created_at=utcnow(),
        updated_at=utcnow(),
        lines=[
            ReturnLine(
                order_line_id=item.line_id,
                quantity=item.quantity,
                location=locations[item.restock_location] if item.restock_location else None,
                write_off=bool(item.write_off),
                disposition="",
                exchange_sku=item.exchange_sku or "",
            )
            for item in request.lines
        ],
    )
    session.add(ret)
    session.flush()
    _record(session, order, ret, "order.return_requested", actor=actor, reason=ret.reason)
    return ret


def _check_exchanges(
    session: Session,
    request: ReturnRequest,
    lines: dict[int, OrderLine],
    errors: dict[str, Any],
) -> None:
    """Each line of an exchange names another variant of its product, in stock for its units."""
    for i, item in enumerate(request.lines):
        line = lines.get(item.line_id)
        if line is None or f"lines.{i}.quantity" in errors:
            continue
        if not item.exchange_sku:
            errors[f"lines.{i}.exchange_sku"] = ["choose the variant you want instead"]
            continue
        offered = {
            v.sku for v in exchanges.variants_in_stock(session, line, at_least=item.quantity)
        }
        if item.exchange_sku not in offered:
            errors[f"lines.{i}.exchange_sku"] = [
                f"{item.exchange_sku} is not another variant of {line.name or line.sku} "
                f"in stock for {item.quantity}"
            ]


def approve_return(session: Session, return_id: int, *, actor: str, note: str = "") -> Return:
    ret = get_return(session, return_id)
    if ret.status == "approved":
        return ret
    _expect(ret, "requested", "approve")
    data: dict[str, Any] = {}
    if ret.resolution == "exchange" and ret.exchange_order_id is None:
        wait = policy_for(session, ret.order.channel_id).exchange_ships == "on_receipt"
        replacement = exchanges.reserve_replacement(session, ret, wait=wait, actor=actor)
        data = {"exchange_order_id": replacement.id, "exchange_order": replacement.label}
    ret.status, ret.approved_at = "approved", utcnow()
    if note:
        ret.note = f"{ret.note}\n{note}".strip()
    _record(session, ret.order, ret, "order.return_approved", actor=actor, reason=note, data=data)
    return ret


def reject_return(session: Session, return_id: int, *, actor: str, reason: str) -> Return:
    """Refuse a return before its goods are received; its units can be returned again."""
    if not (reason or "").strip():
        raise ValidationError(
            "rejecting a return needs a reason", details={"reason": ["is required"]}
        )
    ret = get_return(session, return_id)
    if ret.status == "rejected":
        return ret
    _expect(ret, ("requested", "approved"), "reject")
    exchanges.cancel_replacement(session, ret, actor=actor, reason=f"return {ret.id} rejected")
    ret.status, ret.rejected_at = "rejected", utcnow()
    _record(session, ret.order, ret, "order.return_rejected", actor=actor, reason=reason)
    return ret


def receive_return(
    session: Session,
    return_id: int,
    *,
    actor: str,
    location: str | None = None,
    write_off: bool = False,
    lines: dict[int, str] | None = None,
) -> Return:
    """Take the goods in: restock each line to a location, or write it off.

    Where a line goes, first that applies: ``lines[line_id]`` (a location code
    or ``"write_off"``), what the return was created with, ``write_off`` for
    all, ``location`` for all, the location the line shipped from. While the
    hub tracks no stock (no location exists), nothing is restocked.
    """
    ret = get_return(session, return_id)
    if ret.status == "received":
        return ret
    _expect(ret, "approved", "receive")
    order = ret.order
    lines = {int(k): v for k, v in (lines or {}).items()}
    unknown = set(lines) - {rl.order_line_id for rl in ret.lines}
    if unknown:
        raise ValidationError(
            f"return {ret.id} has no line {sorted(unknown)[0]}", details={"lines": sorted(unknown)}
        )
    tracked = inventory.tracking_enabled(session)
    plan: list[tuple[ReturnLine, Location | None]] = []
    for rl in ret.lines:
        choice = lines.get(rl.order_line_id)
        if choice == WRITE_OFF or (
            choice is None and (rl.write_off or (write_off and not rl.location_id))
        ):
            plan.append((rl, None))
            continue
        if not tracked:
            plan.append((rl, None))
            continue
        code = (
            choice
            or (rl.location.code if rl.location else None)
            or location
            or _shipped_from(session, order, rl.order_line_id)
        )
        if code is None:
            raise ValidationError(
                f"say where line {rl.order_line_id} ({rl.order_line.sku}) of return {ret.id} goes: "
                f"a location, or write it off",
                details={"lines": {str(rl.order_line_id): "location?"}},
            )
        try:
            plan.append((rl, inventory.get_location(session, code)))
        except NotFound as exc:  # a code the person gave: their input is wrong, not the URL
            raise ValidationError(
                exc.message, details={f"lines.{rl.order_line_id}": [exc.message]}
            ) from None
    source = f"return:{ret.id}"
    for rl, loc in sorted(plan, key=lambda p: (p[0].order_line.sku, p[1].id if p[1] else 0)):
        if loc is None:
            rl.disposition = "written_off" if tracked else "untracked"
            rl.location = None
            rl.write_off = tracked
            continue
        inventory.adjust_on_hand(
            session,
            rl.order_line.sku,
            loc.code,
            rl.quantity,
            actor=actor,
            reason=f"returned with return {ret.id} of order {order.label}",
            source=source,
        )
        rl.location, rl.write_off, rl.disposition = loc, False, "restocked"
    ret.status, ret.received_at = "received", utcnow()
    exchanges.release_replacement(session, ret, actor=actor)
    _record(
        session,
        order,
        ret,
        "order.return_received",
        actor=actor,
        data={
            "lines": [
                {
                    "line_id": rl.order_line_id,
                    "quantity": rl.quantity,
                    "disposition": rl.disposition,
                    "location": loc.code if loc else None,
                }
                for rl, loc in plan
            ]
        },
    )
    return ret


def _shipped_from(session: Session, order: Order, line_id: int) -> str | None:
    row = session.execute(
        select(Location.code)
        .join(StockReservation, StockReservation.location_id == Location.id)
        .where(StockReservation.order_line_id == line_id, StockReservation.status == "consumed")
        .order_by(Location.priority.desc(), Location.code)
        .limit(1)
    ).first()
    return row[0] if row else None


def refund_return(
    session: Session, return_id: int, *, actor: str, amount: int | None = None
) -> Return:
    """Refund a received return through the order's payment channels; the order is then (partially) returned.

    :param amount: what to give back in minor units, shipping included;
        default: the return's refund amount plus its shipping refund. Zero
        closes the return without money (e.g. refunded on the sales channel).
    :raises ValidationError: more than the payments can still give back
        (captured − refunded − refunds on their way); nothing is changed.
    """
    ret = get_return(session, return_id)
    if ret.status == "refunded":
        return ret
    _expect(ret, "received", "refund")
    order = ret.order
    total = ret.refund_amount + ret.shipping_refund if amount is None else amount
    if not isinstance(total, int) or total < 0:
        raise ValidationError("a refund amount is 0 or more", details={"amount": ["must be >= 0"]})
    payments = refundable_by_payment(session, order)
    refundable = sum(left for _, left in payments)
    if total > refundable:
        cur = order.currency
        raise ValidationError(
            f"cannot refund {money(total, cur)} {cur} for return {ret.id}: only "
            f"{money(refundable, cur)} {cur} of order {order.label} can still be refunded through "
            f"its payments"
            + (
                ""
                if payments
                else " (no payment the hub can refund; refund on the sales channel and record 0)"
            ),
            details={
                "amount": [f"at most {money(refundable, cur)}"],
                "refundable": money(refundable, cur),
                "currency": cur,
            },
        )
    left = total
    requested = []
    for payment, can in payments:
        take = min(left, can)
        if take <= 0:
            break
        request_refund(
            session,
            payment,
            take,
            key=f"return:{ret.id}",
            reason=f"return {ret.id}: {ret.reason}"[:500],
        )
        requested.append({"payment": payment.reference, "amount": money(take, order.currency)})
        left -= take
    ret.status, ret.refunded_at, ret.refunded_amount = "refunded", utcnow(), total
    _record(
        session,
        order,
        ret,
        "order.return_refunded",
        actor=actor,
        data={"amount": money(total, order.currency), "payments": requested},
    )
    done = returned_quantities(
        [r for r in _open_returns(session, order.id) if r.status == "refunded"]
    )
    everything = all(
        done.get(line.id, 0) >= line.quantity for line in order.lines if line.quantity > 0
    )
    transitions.apply_event(
        session,
        order,
        "return" if everything else "return_partial",
        actor=actor,
        reason=ret.reason,
        data={"return_id": ret.id},
    )
    return ret


def _expect(ret: Return, statuses: str | tuple[str, ...], step: str) -> None:
    # A step the return's status does not allow clashes with its state (HTTP 409), like
    # an order's invalid transition; the details say what it is and what would do.
    statuses = (statuses,) if isinstance(statuses, str) else statuses
    if ret.status not in statuses:
        raise Conflict(
            f"return {ret.id} is {ret.status}: cannot {step} it "
            f"(only when {' or '.join(statuses)})",
            details={
                "return_id": ret.id,
                "status": ret.status,
                "step": step,
                "allowed_from": list(statuses),
            },
        )


def _record(
    session: Session,
    order: Order,
    ret: Return,
    name: str,
    *,
    actor: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    ret.updated_at = utcnow()
    session.flush()
    records.record(
        session,
        order,
        name,
        actor=actor,
        reason=reason,
        data={"return_id": ret.id, "status": ret.status, **(data or {})},
    )
