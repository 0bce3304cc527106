"""A person edits an order that has not gone to the warehouse: its lines, amounts and addresses.

:func:`edit_order` is the one way (``PATCH /api/v1/orders/<id>`` and the
admin's edit page). An edit

- is refused (:class:`~hub.core.exceptions.Conflict`, HTTP 409) once any of
  the order went towards a warehouse (fulfilment started: a group planned or
  sent, a shipment recorded) or it is cancelled or done; and when the person
  read an older ``version`` of the order than the stored one
  (:class:`~hub.core.exceptions.ConcurrencyError`, 409): a stale form never
  overwrites what changed since;
- changes only the address of an order from an external sales channel (its
  lines and amounts belong to the channel, which sends them again on its next
  update);
- recomputes the totals from the new lines, gives back the stock reserved for
  the old lines and has the order checked and reserved again: a confirmed
  order is revised to pending (``order.revised``) and its ``order.process``
  job queued; a held one stays held until a person releases it;
- records one ``order.edited`` audit event whose reason says what changed
  in words ("2 x SKU-1 -> 3 x SKU-1; address changed"), with the new total
  and what the payments now cover (:func:`payment_notes`): a capture takes at
  most what was authorised and never more than the total, so a total above
  the authorisation, or below what was already captured, is said, never
  silently mis-captured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from hub.core import lifecycle
from hub.core.exceptions import ConcurrencyError, Conflict, ValidationError
from hub.core.money import Money, MoneyError
from hub.core.order import Address, Line, OrderData, amount_errors, expected_total
from hub.core.status import PaymentStatus
from hub.inventory import reservations
from hub.orders import intake, records, validation
from hub.orders.transitions import apply_event
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.routing import geocode
from hub.store.models import Order

#: A person changed the order (``reason``: what, in words; ``data``: the changes, the new
#: total, what the payments cover). Past tense, as every event; apart from ``order.updated``,
#: which is what a sales channel changed.
ORDER_EDITED = "order.edited"
#: The connector of the hub's own channel for orders people enter: their lines are the hub's.
MANUAL_CONNECTOR = "manual"
#: Statuses in which an order may still be edited (nothing of it went to a warehouse).
EDITABLE_STATUSES = frozenset({lifecycle.PENDING, lifecycle.ON_HOLD, lifecycle.CONFIRMED})
#: The amounts of an order an edit may set, besides its lines.
AMOUNT_FIELDS = ("shipping", "tax", "discount")


@dataclass
class EditOutcome:
    """What an edit did: the order as it is now, and the changes and money notes in words."""

    order: Order
    changes: list[str] = field(default_factory=list)
    #: What the payments cover of the new total, when it differs (see :func:`payment_notes`).
    payment_notes: list[str] = field(default_factory=list)
    #: The lines changed: the order is checked and its stock reserved again.
    relined: bool = False


# --- may it be edited? ------------------------------------------------------------------


def lines_editable(order: Order) -> bool:
    """Whether the order's lines and amounts are the hub's to change (its manual channel's)."""
    return order.channel.connector == MANUAL_CONNECTOR


def why_not_editable(order: Order) -> str | None:
    """Why ``order`` can no longer be edited, in words; None while it can."""
    label = order.label
    if order.status == lifecycle.CANCELLED:
        return f"order {label} is cancelled: there is nothing left to edit"
    if order.shipments:
        return f"order {label} has shipped (some or all of it): it can no longer be edited"
    if order.status not in EDITABLE_STATUSES or any(
        g.status != "cancelled" for g in order.fulfillment_groups
    ):
        return (
            f"order {label} is {order.status.replace('_', ' ')}: it has gone to the warehouse "
            "and can no longer be edited here (cancel it, or change it at the warehouse)"
        )
    return None


# --- the edit ------------------------------------------------------------------------------


def edit_order(
    session: Session,
    order_id: int,
    changes: Mapping[str, Any],
    *,
    actor: str,
    version: int | None = None,
    geocoder: geocode.Geocoder | None = None,
) -> EditOutcome:
    """Apply ``changes`` (as :class:`~hub.orders.schemas.OrderEditSchema` loads them) to an order.

    :param version: the order's version as the person read it (None: not checked).
    :param geocoder: places a changed shipping address (None: without the plugins).
    :raises ConcurrencyError: the order changed since ``version``.
    :raises Conflict: it went to the warehouse, or its lines are an external channel's.
    :raises ValidationError: an amount or address that cannot be, naming the field;
        nothing is changed.
    """
    order = records.get_order(session, order_id)
    if version is not None and version != order.version:
        raise ConcurrencyError(
            f"order {order.label} was changed by someone else after you opened it "
            f"(version {version}, now {order.version}): look at it again and redo your edit",
            details={"version": order.version},
        )
    refusal = why_not_editable(order)
    if refusal:
        raise Conflict(refusal, details={"status": order.status})
    own = lines_editable(order)
    channel_owned = [k for k in ("lines", *AMOUNT_FIELDS) if k in changes]
    if channel_owned and not own:
        raise Conflict(
            f"order {order.label} came from {order.channel.name}: its lines and amounts belong "
            "to that channel (change them there); only its addresses can be edited here",
            details=dict.fromkeys(channel_owned, "set by the sales channel"),
        )
    new = _planned(order, changes)
    words = _describe(order, new)
    if not words:
        return EditOutcome(order)
    relined = new["line_keys"] != [intake.line_key(line) for line in order.lines]
    total_before = order.total
    ship_before = order.shipping_address
    for name in ("shipping_address", "billing_address", "notes", *AMOUNT_FIELDS):
        setattr(order, name, new[name])
    if _address_differs(ship_before, order.shipping_address):
        geocode.move_order(order, ship_before, geocoder)
    if relined:
        # The stock reserved for the old lines goes back; the checks reserve the new ones.
        reservations.release(session, order, actor=actor, reason="order lines edited")
        intake.replace_lines(order, new["lines"])
    if own:  # an external channel's order keeps the totals its channel gave
        order.subtotal = sum(line.subtotal for line in new["lines"])
        order.total = expected_total(
            order.subtotal,
            order.shipping,
            order.tax,
            order.discount,
            taxes_included=order.taxes_included,
        )
        records.refresh_derived(order)
    notes = payment_notes(order, total_before)
    audit = records.record(
        session,
        order,
        ORDER_EDITED,
        actor=actor,
        reason="; ".join(words),
        data={
            "changes": words,
            "total": str(Money(order.total, order.currency).to_decimal()),
            "payment": notes,
        },
    )
    if relined and order.status == lifecycle.CONFIRMED:
        apply_event(session, order, "revise", actor=actor, reason="order lines edited")
    if relined and order.status == lifecycle.PENDING:
        enqueue(
            session,
            JobKind.ORDER_PROCESS,
            {},
            order_id=order.id,
            dedupe_key=JobKind.ORDER_PROCESS.key(order.id, "edited", audit.id),
        )
    return EditOutcome(order, words, notes, relined)


def _planned(order: Order, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The order's fields after ``changes``, checked; raises naming every field that cannot be."""
    currency = order.currency
    errors: dict[str, str] = {}

    def minor(key: str, text: Any) -> int:
        try:
            return Money.parse(str(text), currency).amount
        except MoneyError as exc:
            errors[key] = str(exc)
            return 0

    new: dict[str, Any] = {
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "notes": order.notes,
    }
    if "shipping_address" in changes:
        address = _address(changes["shipping_address"])
        missing = validation.missing_address_fields(address)
        for name in missing:
            errors[f"shipping_address.{name}"] = "is required"
        new["shipping_address"] = address
    if "billing_address" in changes:
        given = changes["billing_address"]
        new["billing_address"] = _address(given) if given else None
    if "notes" in changes:
        new["notes"] = str(changes["notes"] or "")
    for name in AMOUNT_FIELDS:
        new[name] = minor(name, changes[name]) if name in changes else getattr(order, name)
    if "lines" in changes:
        lines = [
            Line(
                sku=str(x["sku"]).strip(),
                name=str(x.get("name") or "").strip() or str(x["sku"]).strip(),
                quantity=int(x["quantity"]),
                unit_price=minor(f"lines.{i}.unit_price", x["unit_price"]),
                tax=minor(f"lines.{i}.tax", x.get("tax", "0")),
                discount=minor(f"lines.{i}.discount", x.get("discount", "0")),
                requires_shipping=bool(x.get("requires_shipping", True)),
            )
            for i, x in enumerate(changes["lines"])
        ]
    else:
        lines = [
            Line(
                sku=x.sku,
                name=x.name,
                quantity=x.quantity,
                unit_price=x.unit_price,
                tax=x.tax,
                discount=x.discount,
                external_id=x.external_id,
                requires_shipping=x.requires_shipping,
                removed_quantity=x.removed_quantity,
            )
            for x in order.lines
        ]
    # The money rule every order is held to (no amount below 0, no discount above what it
    # discounts), on the order as it would be; an amount that did not parse counts as 0 here.
    money_errors = amount_errors(
        OrderData(
            external_id=order.external_id,
            currency=currency,
            lines=lines,
            shipping=new["shipping"],
            tax=new["tax"],
            discount=new["discount"],
        )
    )
    for key, message in money_errors.items():
        errors.setdefault(key, message)
    if errors:
        raise ValidationError(
            f"order {order.label} cannot be changed so: "
            + "; ".join(f"{k} {v}" for k, v in errors.items()),
            details=errors,
        )
    new["lines"] = lines
    new["line_keys"] = [intake.line_key(line) for line in lines]
    return new


def _address(given: Mapping[str, Any]) -> dict[str, str]:
    address = Address.from_dict({k: str(v or "").strip() for k, v in dict(given).items()})
    assert address is not None  # the schema gives every key
    values = address.to_dict()
    values["country_code"] = values["country_code"].upper()
    return values


# --- what changed, in words -----------------------------------------------------------------


def _describe(order: Order, new: Mapping[str, Any]) -> list[str]:
    """Each change an edit makes, as a person says it: ``2 x SKU-1 -> 3 x SKU-1``."""
    cur = order.currency

    def shown(minor: int) -> str:
        return str(Money(minor, cur).to_decimal())

    words = describe_lines(order.lines, new["lines"], shown)
    for name in AMOUNT_FIELDS:
        if new[name] != getattr(order, name):
            words.append(f"{name} {shown(getattr(order, name))} -> {shown(new[name])}")
    if _address_differs(order.shipping_address, new["shipping_address"]):
        words.append("address changed")
    if _address_differs(order.billing_address, new["billing_address"]):
        words.append("billing address changed")
    if (order.notes or "") != (new["notes"] or ""):
        words.append("note changed")
    return words


def describe_lines(old: Iterable[Any], new: Iterable[Any], shown: Any = str) -> list[str]:
    """How the lines changed, per SKU in the order they appear: added, removed, re-counted, re-priced."""
    old, new = list(old), list(new)
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for line in old:
        before[line.sku] += line.quantity
    for line in new:
        after[line.sku] += line.quantity
    words = []
    for sku in dict.fromkeys([x.sku for x in old] + [x.sku for x in new]):
        was, now = before.get(sku, 0), after.get(sku, 0)
        if sku not in after:
            words.append(f"removed {was} x {sku}")
        elif sku not in before:
            words.append(f"added {now} x {sku}")
        elif was != now:
            words.append(f"{was} x {sku} -> {now} x {sku}")
        if sku in before and sku in after:
            price = next(x.unit_price for x in old if x.sku == sku)
            price_now = next(x.unit_price for x in new if x.sku == sku)
            if price != price_now:
                words.append(f"{sku} price {shown(price)} -> {shown(price_now)}")
            if was == now and price == price_now and _others(old, sku) != _others(new, sku):
                words.append(f"{sku} line changed (name, tax or discount)")
    return words


def _others(lines: list[Any], sku: str) -> list[tuple]:
    return [(x.name, x.tax, x.discount, bool(x.requires_shipping)) for x in lines if x.sku == sku]


def same_address(one: Mapping[str, Any] | None, other: Mapping[str, Any] | None) -> bool:
    """Whether two addresses say the same (a part left out and an empty one are alike)."""

    def clean(a: Mapping[str, Any] | None) -> dict[str, str]:
        return {k: str(v) for k, v in (a or {}).items() if v not in (None, "")}

    return clean(one) == clean(other)


def _address_differs(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    return not same_address(before, after)


# --- what the payments cover ----------------------------------------------------------------


def payment_notes(order: Order, total_before: int | None = None) -> list[str]:
    """What the order's payments cover of its total, in words, when it is not exactly that.

    A capture (``hub.pipeline.payments.capture_payment``) takes at most what a
    payment authorised and never more than the order's total less what is
    captured elsewhere. So after an edit:

    - a total above what the payments hold is partly unpaid: the rest must be taken another way;
    - a total below what was already captured owes the customer a refund;
    - a total below an authorisation is captured as the new total (the gateway lets the rest go).

    An order paid outside the hub (no payments, shown as paid) whose total
    changed is said too: the difference is settled with the customer by hand.
    """
    cur = order.currency

    def shown(minor: int) -> str:
        return f"{Money(minor, cur).to_decimal()} {cur}"

    live = [
        p for p in order.payments if p.status in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED)
    ]
    if not live:
        if (
            not order.payments
            and order.channel_financial_status == "paid"
            and total_before is not None
            and total_before != order.total
        ):
            return [
                f"paid outside the hub: the total went from {shown(total_before)} to "
                f"{shown(order.total)}; settle the difference with the customer"
            ]
        return []
    captured = sum(p.captured_amount - p.refunded_amount for p in live)
    held = sum(p.amount - p.captured_amount for p in live if p.status == PaymentStatus.AUTHORIZED)
    covered = captured + held
    if order.total > covered:
        return [
            f"the payments cover {shown(covered)} of the new total {shown(order.total)}: "
            f"{shown(order.total - covered)} is not covered (a capture takes at most what was "
            "authorised); take the rest another way"
        ]
    if order.total < captured:
        return [
            f"{shown(captured)} was captured but the order now totals {shown(order.total)}: "
            f"refund {shown(captured - order.total)} to the customer"
        ]
    if held and order.total < covered:
        return [
            f"{shown(covered)} is authorised; the capture will take {shown(order.total)} "
            "and the gateway lets the rest go"
        ]
    return []


def was_edited(order: Order) -> bool:
    """Whether a person edited the order (its trail has an ``order.edited``)."""
    return any(e.name == ORDER_EDITED for e in order.events)
