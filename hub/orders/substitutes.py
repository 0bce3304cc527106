"""Substitutes: the alternatives a merchant sets for a SKU, offered when it is missing, and
the customer's choice on the tracking page (issue 23).

- :func:`set_substitutes` / :func:`substitutes_of`: per SKU, the alternatives best
  first (``PUT``/``GET /api/v1/skus/<sku>/substitutes``, the admin's SKU page).
- :func:`offers`: for the lines an out-of-stock notice names, the first
  substitute (by rank) with enough units available for the missing units.
  :mod:`hub.pipeline.delays` puts them, with a signed link (:mod:`hub.aftercare.links`),
  in ``order.delayed``; the email offers them.
- :func:`choose`: the customer's answer, recorded once per order
  (``order.delay_answered``, with the order's row locked; a second click changes
  nothing and is shown what was chosen):

  - ``wait``: nothing changes; the order waits for stock.
  - ``substitute``: each missing unit becomes a unit of its substitute **at the
    price the customer paid for the missing one** (the line's unit price; its tax
    and discount go with the units in proportion), so the total does not change.
    The order is changed through :func:`hub.orders.edits.edit_order` (audited as
    ``order.edited``) and released from its out-of-stock hold: its checks run
    again, reserve the substitute and send it to fulfilment.
  - ``cancel``: the missing units are taken off the order
    (:func:`~hub.orders.edits.edit_order`), the rest released to fulfilment; what
    the payments captured above the new total is refunded through the payment
    gateway (:func:`hub.orders.payments.request_refund`, once per order); an
    authorisation not captured yet is captured for the new total only. An order
    with nothing left is cancelled (its payments voided or refunded as any
    cancellation).

Substitution and cancellation change lines, so they are offered only while the
order still waits as the notice said (held out of stock; or confirmed with
backordered lines, not yet gone to the warehouse: its backorders are cancelled
and it is checked and reserved again) and its lines are the hub's
(:func:`~hub.orders.edits.lines_editable`; an external sales channel's lines
are that channel's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core.exceptions import Conflict, NotFound, ValidationError
from hub.core.lifecycle import ON_HOLD
from hub.core.money import Money
from hub.inventory import backorders
from hub.inventory.levels import available_by_sku
from hub.inventory.reservations import HOLD_OUT_OF_STOCK
from hub.orders import edits, records, transitions
from hub.orders.payments import request_refund
from hub.store.models import Order, OrderAuditEvent, SkuSubstitute

#: The customer answered a delay notice (``data``: ``choice``, the ``notice_id``, the
#: ``lines`` it concerned with their ``substitute_sku`` when one was taken, ``refund``).
DELAY_ANSWERED = "order.delay_answered"
WAIT = "wait"
SUBSTITUTE = "substitute"
CANCEL = "cancel"
CHOICES = (WAIT, SUBSTITUTE, CANCEL)
#: ``order.delayed``'s cause of an order confirmed with lines waiting on a purchase order.
BACKORDERED = "backordered"
#: What the timeline and the admin say of each choice.
CHOICE_WORDS = {
    WAIT: "chose to wait for the stock",
    SUBSTITUTE: "took the alternative",
    CANCEL: "cancelled the missing items for a refund",
}
#: At most this many alternatives per SKU.
MAX_SUBSTITUTES = 10
_SKU_MAX = 100


# --- the merchant's substitutes ----------------------------------------------------------------


def substitutes_of(session: Session, sku: str) -> list[str]:
    """The SKU's alternatives, best first."""
    return list(
        session.scalars(
            select(SkuSubstitute.substitute_sku)
            .where(SkuSubstitute.sku == sku)
            .order_by(SkuSubstitute.rank, SkuSubstitute.id)
        )
    )


def set_substitutes(session: Session, sku: str, substitutes: list[str], *, actor: str) -> list[str]:
    """Replace the SKU's alternatives by ``substitutes`` (best first); [] clears them.

    :raises ValidationError: an empty or too long SKU, the SKU itself, one named twice, too
        many; nothing is changed.
    """
    sku = (sku or "").strip()
    wanted = [str(s or "").strip() for s in substitutes]
    errors: dict[str, str] = {}
    if not sku or len(sku) > _SKU_MAX:
        errors["sku"] = f"must be 1 to {_SKU_MAX} characters"
    if len(wanted) > MAX_SUBSTITUTES:
        errors["substitutes"] = f"at most {MAX_SUBSTITUTES} alternatives per SKU"
    for i, sub in enumerate(wanted):
        if not sub or len(sub) > _SKU_MAX:
            errors[f"substitutes.{i}"] = f"must be 1 to {_SKU_MAX} characters"
        elif sub == sku:
            errors[f"substitutes.{i}"] = "a SKU cannot be its own alternative"
        elif sub in wanted[:i]:
            errors[f"substitutes.{i}"] = f"{sub} is named twice"
    if errors:
        raise ValidationError(
            f"the alternatives of {sku or 'this SKU'} cannot be set so: "
            + "; ".join(f"{k} {v}" for k, v in errors.items()),
            details=errors,
        )
    session.execute(delete(SkuSubstitute).where(SkuSubstitute.sku == sku))
    session.add_all(
        SkuSubstitute(sku=sku, substitute_sku=sub, rank=rank, updated_by=actor)
        for rank, sub in enumerate(wanted, start=1)
    )
    session.flush()
    return wanted


# --- what a notice offers ----------------------------------------------------------------------


def offers(session: Session, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each missing line (``line_id``, ``sku``, ``quantity``), its first substitute with
    enough units available (units offered for one line are not offered again for another).

    :return: ``{"line_id", "sku", "quantity", "substitute_sku"}`` per line that has one.
    """
    wanted = {str(x.get("sku")): substitutes_of(session, str(x.get("sku"))) for x in lines}
    available = available_by_sku(session, {s for subs in wanted.values() for s in subs})
    out = []
    for line in lines:
        units = int(line.get("quantity") or 0)
        for sub in wanted.get(str(line.get("sku")), []):
            if units > 0 and available.get(sub, 0) >= units:
                available[sub] -= units
                out.append({**line, "substitute_sku": sub})
                break
    return out


# --- the customer's choice ---------------------------------------------------------------------


@dataclass
class Choosing:
    """What the choice page shows: the notice, what it offers, and the answer once given."""

    order: Order
    notice: OrderAuditEvent
    offers: list[dict[str, Any]]
    #: The missing lines (``line_id``, ``sku``, ``quantity``).
    lines: list[dict[str, Any]]
    #: The choices still open (none once answered).
    open: tuple[str, ...]
    #: The answer already given (its ``order.delay_answered``), or None.
    answer: OrderAuditEvent | None


def answer_of(session: Session, order_id: int) -> OrderAuditEvent | None:
    """The customer's answer to a delay notice of the order, if they gave one."""
    return session.scalars(
        select(OrderAuditEvent)
        .where(OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == DELAY_ANSWERED)
        .order_by(OrderAuditEvent.id)
        .limit(1)
    ).first()


def _notice(session: Session, order_id: int) -> OrderAuditEvent:
    """The order's latest delay notice that offered a choice (a later one, e.g. "running
    late", offers none and leaves the link working)."""
    notices = session.scalars(
        select(OrderAuditEvent)
        .where(
            OrderAuditEvent.order_id == order_id,
            OrderAuditEvent.name == ev.ORDER_DELAYED,
        )
        .order_by(OrderAuditEvent.id.desc())
    )
    for notice in notices:
        if (notice.data or {}).get("choice_url"):
            return notice
    raise NotFound("this link is not valid")


def _still_waiting(session: Session, order: Order, cause: str) -> bool:
    """Whether the order still waits as its notice said (held out of stock, or backordered)."""
    if cause == BACKORDERED:
        return edits.why_not_editable(order) is None and backorders.waiting(session, order.id)
    return order.status == ON_HOLD and HOLD_OUT_OF_STOCK in (order.hold_reasons or [])


def choosing(session: Session, order: Order) -> Choosing:
    """The choice the order's signed link opens (:class:`NotFound` when it offered none)."""
    notice = _notice(session, order.id)
    data = notice.data or {}
    answer = answer_of(session, order.id)
    waiting = _still_waiting(session, order, str(data.get("cause")))
    changeable = waiting and edits.lines_editable(order)
    offered = list(data.get("substitutes") or [])
    if answer is not None:
        open_: tuple[str, ...] = ()
    elif not changeable:
        open_ = (WAIT,) if waiting else ()
    else:
        open_ = (WAIT, SUBSTITUTE, CANCEL) if offered else (WAIT, CANCEL)
    return Choosing(order, notice, offered, list(data.get("lines") or []), open_, answer)


@dataclass
class Chosen:
    answer: OrderAuditEvent
    #: False: the customer had answered before; nothing new was done.
    new: bool


def choose(session: Session, order_id: int, choice: str, *, actor: str = "customer") -> Chosen:
    """Record and carry out the customer's ``choice``, once per order.

    :raises ValidationError: an unknown choice.
    :raises Conflict: the choice is no longer open (the order was released, shipped, cancelled,
        or its lines are a sales channel's); nothing is changed.
    """
    if choice not in CHOICES:
        raise ValidationError(
            f"choose one of {', '.join(CHOICES)}", details={"choice": "unknown choice"}
        )
    order = records.get_order(session, order_id)  # locked: one answer per order, ever
    state = choosing(session, order)
    if state.answer is not None:
        return Chosen(state.answer, new=False)
    if choice not in state.open:
        raise Conflict(
            "this choice is no longer open for your order: it has moved on since we wrote",
            details={"choice": "no longer open"},
        )
    data: dict[str, Any] = {"choice": choice, "notice_id": state.notice.id}
    # The items as the customer bought them (before any edit).
    names: dict[Any, str] = {line.id: line.name or line.sku for line in order.lines}
    state.offers = [{**x, "name": names.get(x.get("line_id"), x["sku"])} for x in state.offers]
    state.lines = [{**x, "name": names.get(x.get("line_id"), x["sku"])} for x in state.lines]
    words = CHOICE_WORDS[choice]
    if choice == SUBSTITUTE:
        told = state.notice.data or {}
        if offers(session, list(told.get("lines") or [])) != list(told.get("substitutes") or []):
            raise Conflict(
                "the alternative we offered is no longer in stock: you may wait, or cancel "
                "the missing items",
                details={"choice": "the alternative is no longer in stock"},
            )
        data["lines"] = state.offers
        words += ": " + ", ".join(
            f"{x['quantity']} x {x['substitute_sku']} for {x['sku']}" for x in state.offers
        )
        _relined(session, order, state.offers, substitute=True)
    elif choice == CANCEL:
        data["lines"] = state.lines
        words += ": " + ", ".join(f"{x['quantity']} x {x['sku']}" for x in state.lines)
        refund = _cancel_lines(session, order, state.lines, actor=actor)
        if refund:
            data["refund"] = str(Money(refund, order.currency).to_decimal())
            words += f"; {data['refund']} {order.currency} refunded"
    answer = records.record(session, order, DELAY_ANSWERED, actor=actor, reason=words, data=data)
    session.flush()
    return Chosen(answer, new=True)


def _new_lines(
    order: Order, missing: list[dict[str, Any]], *, substitute: bool
) -> list[dict[str, Any]]:
    """The order's lines as ``edit_order`` takes them, without the missing units (and with
    their substitutes' at the same price, when ``substitute``)."""
    cur = order.currency
    take = {int(x["line_id"]): x for x in missing if x.get("line_id") is not None}

    def shown(minor: int) -> str:
        return str(Money(minor, cur).to_decimal())

    out: list[dict[str, Any]] = []
    for line in order.lines:
        base = {
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": shown(line.unit_price),
            "tax": shown(line.tax),
            "discount": shown(line.discount),
            "requires_shipping": line.requires_shipping,
        }
        gone = take.get(line.id)
        if gone is None:
            out.append(base)
            continue
        units = min(int(gone["quantity"]), line.quantity)
        # The tax and discount go with the units, in proportion (rounded down for those moved).
        moved_tax = line.tax * units // line.quantity
        moved_discount = line.discount * units // line.quantity
        if units < line.quantity:
            out.append(
                {
                    **base,
                    "quantity": line.quantity - units,
                    "tax": shown(line.tax - moved_tax),
                    "discount": shown(line.discount - moved_discount),
                }
            )
        if substitute:
            out.append(
                {
                    **base,
                    "sku": gone["substitute_sku"],
                    "name": gone["substitute_sku"],
                    "quantity": units,
                    "tax": shown(moved_tax),
                    "discount": shown(moved_discount),
                }
            )
    return out


def _release(session: Session, order: Order, *, actor: str, reason: str) -> None:
    """Release the out-of-stock hold (its checks run again and reserve) when it is the only one."""
    if order.status == ON_HOLD and list(order.hold_reasons or []) == [HOLD_OUT_OF_STOCK]:
        transitions.release(session, order.id, actor=actor, reason=reason)


def _relined(
    session: Session, order: Order, missing: list[dict[str, Any]], *, substitute: bool
) -> None:
    lines = _new_lines(order, missing, substitute=substitute)
    # A backordered order's promises of stock on its way go; its checks reserve (or
    # backorder) its new lines again.
    backorders.cancel(session, order)
    edits.edit_order(session, order.id, {"lines": lines}, actor="customer")
    _release(
        session,
        order,
        actor="customer",
        reason="the customer took the alternative" if substitute else "missing items cancelled",
    )


def _cancel_lines(
    session: Session, order: Order, missing: list[dict[str, Any]], *, actor: str
) -> int:
    """Take the missing units off (or cancel the order when nothing is left); the refund asked."""
    lines = _new_lines(order, missing, substitute=False)
    if not lines:
        transitions.cancel(session, order.id, actor=actor, reason="the customer cancelled")
        return 0  # a cancellation voids or refunds the payments itself
    backorders.cancel(session, order)
    edits.edit_order(session, order.id, {"lines": lines}, actor=actor)
    _release(session, order, actor=actor, reason="missing items cancelled")
    left = order.total
    refunded = 0
    for payment in order.payments:
        if payment.channel_id is None:
            continue
        captured = payment.captured_amount - payment.refunded_amount
        over = min(captured, max(0, captured - left))
        left = max(0, left - captured)
        if over > 0:
            request_refund(
                session,
                payment,
                over,
                key=f"delay-cancel:{order.id}",
                reason="missing items cancelled by the customer",
            )
            refunded += over
    return refunded
