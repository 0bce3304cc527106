"""Orders people enter: the admin's New order and Edit order pages (issue 19).

Both pages work without JavaScript: a new order starts with :data:`BLANK_ROWS`
empty line rows and "Add another line" sends the form back with one more
(nothing is saved). What a person types is loaded by the API's own schemas
(:class:`~hub.orders.schemas.ManualOrderSchema`,
:class:`~hub.orders.schemas.OrderEditSchema`) and handed to the one function
of ``hub.orders`` the API and the CLI call
(:func:`hub.orders.manual.create_manual_order`,
:func:`hub.orders.edits.edit_order`); their messages are shown next to the
fields, and nothing is stored while any remains.

The routes are declared in :mod:`hub.web.admin.orders` beside the order's page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from hub.channels.manage import ensure_manual_channel
from hub.core.exceptions import ConcurrencyError, HubError, ValidationError
from hub.core.lifecycle import OrderStatus
from hub.core.money import CURRENCY_EXPONENTS, Money
from hub.core.order import PaymentData
from hub.core.status import PaymentStatus
from hub.inventory import reservations
from hub.inventory.levels import available_by_sku
from hub.orders import edits, manual, records, validation
from hub.orders.hold_reasons import hold_reason_words
from hub.orders.schemas import ManualOrderSchema, OrderEditSchema
from hub.orders.serialize import order_detail
from hub.pipeline.order_steps import check_order
from hub.routing.geocode import geocoder_for
from hub.store.models import Channel, Order
from hub.web import get_hub
from hub.web.admin.helpers import flash_error

log = logging.getLogger(__name__)

#: Empty line rows a new order starts with.
BLANK_ROWS = 3
#: At most this many line rows in one form (the API takes up to 1000 lines).
MAX_ROWS = 200
#: An address's inputs: (field, label, autocomplete token).
ADDRESS_FIELDS = (
    ("name", "Name", "name"),
    ("company", "Company", "organization"),
    ("address1", "Street and number", "address-line1"),
    ("address2", "Street, line 2", "address-line2"),
    ("zip", "Postal code", "postal-code"),
    ("city", "City", "address-level2"),
    ("province", "State or region", "address-level1"),
    ("country_code", "Country (two letters: US, DE)", "country"),
    ("phone", "Phone", "tel"),
)
#: How the money of a new order is taken: form value -> words.
PAYMENT_CHOICES = {
    "paid": "Paid outside the hub (cash, card terminal): nothing to wait for, shows as paid",
    "invoice": "Invoice: paid later, outside the hub; nothing to wait for, shows as pending",
    "gateway": "Authorised at a payment gateway: the hub captures it when the order is confirmed",
}


@dataclass
class LineRow:
    """One line row of the form, as typed (strings), with the stock of its SKU."""

    sku: str = ""
    name: str = ""
    quantity: str = ""
    unit_price: str = ""
    tax: str = "0"
    discount: str = "0"
    requires_shipping: str = "1"
    available: int | None = None
    #: Units of this SKU the order being edited holds already (reserved for it).
    held: int = 0

    @property
    def blank(self) -> bool:
        return not (self.sku or self.name or self.quantity or self.unit_price)


# --- reading the form ------------------------------------------------------------------------


def _text(form: MultiDict, name: str) -> str:
    return (form.get(name) or "").strip()


def _rows(form: MultiDict) -> list[LineRow]:
    try:
        count = int(form.get("line_rows", BLANK_ROWS))
    except ValueError:
        count = BLANK_ROWS
    count = max(1, min(count, MAX_ROWS))
    return [_row(form, i) for i in range(count)]


def _row(form: MultiDict, i: int) -> LineRow:
    def typed(name: str, default: str = "") -> str:
        key = f"lines.{i}.{name}"
        return _text(form, key) if key in form else default

    return LineRow(
        sku=typed("sku"),
        name=typed("name"),
        quantity=typed("quantity"),
        unit_price=typed("unit_price"),
        tax=typed("tax", "0"),
        discount=typed("discount", "0"),
        requires_shipping=typed("requires_shipping", "1"),
    )


def _lines(rows: list[LineRow]) -> tuple[list[dict[str, Any]], list[int]]:
    """The lines the rows make (blank rows and quantity 0 left out) and each one's row."""
    lines, at = [], []
    for i, row in enumerate(rows):
        if row.blank or row.quantity == "0":
            continue
        line: dict[str, Any] = {
            "sku": row.sku,
            "name": row.name,
            "quantity": int(row.quantity) if row.quantity.isdigit() else row.quantity,
            "unit_price": row.unit_price,
            "tax": row.tax or "0",
            "discount": row.discount or "0",
            "requires_shipping": row.requires_shipping != "0",
        }
        lines.append({k: v for k, v in line.items() if v != ""})
        at.append(i)
    return lines, at


def _address(form: MultiDict, prefix: str) -> dict[str, str]:
    values = {name: _text(form, f"{prefix}.{name}") for name, _, _ in ADDRESS_FIELDS}
    values["country_code"] = values["country_code"].upper()
    return values


def field_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """A schema's nested messages by dotted field name (``lines.0.sku``), as the form's inputs are named."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in field_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list | tuple):
        for item in messages:
            for k, v in field_errors(item, prefix).items():
                out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "_form", []).append(str(messages))
    return out


def _to_rows(errors: dict[str, list[str]], at: list[int]) -> dict[str, list[str]]:
    """Messages about the n-th line moved to the row it was typed in."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if (
            parts[0] == "lines"
            and len(parts) > 1
            and parts[1].isdigit()
            and int(parts[1]) < len(at)
        ):
            parts[1] = str(at[int(parts[1])])
            key = ".".join(parts)
        out.setdefault(key, []).extend(messages)
    return out


# --- the stock a person picks from ---------------------------------------------------------------


def _with_stock(
    db, rows: list[LineRow], order_id: int | None = None
) -> tuple[list[manual.PickableSku], list[LineRow]]:
    """What can be picked, and each row's SKU's stock (with what the order holds of it)."""
    pickable = manual.pickable_skus(db)
    held: dict[str, int] = {}
    for r in reservations.active(db, order_id) if order_id else []:
        held[r.sku] = held.get(r.sku, 0) + r.quantity
    known = {p.sku: p.available for p in pickable}
    missing = {r.sku for r in rows if r.sku and r.sku not in known}
    if missing:
        known |= {sku: qty for sku, qty in available_by_sku(db, missing).items() if qty}
    for row in rows:
        row.available = known.get(row.sku) if row.sku else None
        row.held = held.get(row.sku, 0)
    return pickable, rows


def _payment_channels(db) -> list[Channel]:
    hub = get_hub()
    return [
        c
        for c in db.scalars(select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.name))
        if c.connector in hub.connectors and "payment" in hub.connectors[c.connector].roles
    ]


# --- New order ---------------------------------------------------------------------------------


def new_order_page():
    """``GET|POST /orders/new``: the form; a submission creates the order and opens its page."""
    hub = get_hub()
    form = request.form if request.method == "POST" else MultiDict()
    rows = _rows(form) if form else [LineRow() for _ in range(BLANK_ROWS)]
    errors: dict[str, list[str]] = {}
    if form and "add_line" not in form:
        created = _create(form, rows, errors)
        if created is not None:
            return redirect(url_for("admin.order", order_id=created))
    elif "add_line" in form:
        rows.append(LineRow())
    with hub.db.read() as db:
        pickable, rows = _with_stock(db, rows)
        payment_channels = _payment_channels(db)
    currencies = hub.settings.currencies or tuple(sorted(CURRENCY_EXPONENTS))
    values = {
        "external_id": _text(form, "external_id") or uuid.uuid4().hex[:16],
        "currency": _text(form, "currency") or (hub.settings.currencies or ("USD",))[0],
        "payment": _text(form, "payment") or "paid",
        "billing_same": form.get("billing_same") == "1" if form else True,
        "taxes_included": form.get("taxes_included") == "1",
    }
    return (
        render_template(
            "admin/order_new.html",
            form=form,
            rows=rows,
            errors=errors,
            pickable=pickable,
            currencies=currencies,
            payment_choices=PAYMENT_CHOICES,
            payment_channels=payment_channels,
            address_fields=ADDRESS_FIELDS,
            values=values,
        ),
        422 if errors else 200,
    )


def _create(form: MultiDict, rows: list[LineRow], errors: dict[str, list[str]]) -> int | None:
    """Create the order the form describes; its id, or None with ``errors`` filled."""
    lines, at = _lines(rows)
    payment = _text(form, "payment")
    body: dict[str, Any] = {
        "external_id": _text(form, "external_id") or None,
        "customer": {
            "email": _text(form, "customer.email"),
            "name": _text(form, "customer.name"),
            "phone": _text(form, "customer.phone"),
        },
        "shipping_address": _address(form, "shipping_address"),
        "billing_address": None
        if form.get("billing_same") == "1"
        else _address(form, "billing_address"),
        "currency": _text(form, "currency").upper(),
        "lines": lines,
        "shipping": _text(form, "shipping") or "0",
        "tax": _text(form, "tax") or "0",
        "discount": _text(form, "discount") or "0",
        "taxes_included": form.get("taxes_included") == "1",
        "notes": _text(form, "notes"),
        "payment_outside": payment if payment in ("paid", "invoice") else None,
    }
    if not body["customer"]["email"]:
        body["customer"].pop("email")  # the schema's own "required" message
    # A person at the desk can complete the address now (the API's caller is held instead).
    for name in validation.missing_address_fields(body["shipping_address"]):
        errors[f"shipping_address.{name}"] = ["is required"]
    if payment not in PAYMENT_CHOICES:
        errors["payment"] = ["pick how the money is taken"]
    reference, pay_channel = _text(form, "payment_reference"), _text(form, "payment_channel")
    if payment == "gateway" and not reference:
        errors["payment_reference"] = ["the gateway's reference of the payment is required"]
    try:
        data = ManualOrderSchema().load(body)
    except SchemaError as exc:
        errors.update(_to_rows(field_errors(exc.normalized_messages()), at))
        if not lines:
            errors["lines"] = [
                "an order needs at least one line: fill in a SKU, quantity and price"
            ]
    if errors:
        return None
    if payment == "gateway":
        data.payments.append(
            PaymentData(
                reference=reference,
                amount=data.computed_total,
                status=PaymentStatus.AUTHORIZED,
                channel=pay_channel or None,
            )
        )
    hub = get_hub()
    try:
        data.check()
        with hub.db.transaction() as db:
            channel = ensure_manual_channel(hub, db)
            result = manual.create_manual_order(
                db, channel, data, actor=g.user.actor, geocoder=geocoder_for(hub)
            )
            order_id, label, created = result.order.id, result.order.label, result.created
    except ValidationError as exc:
        errors.update(_to_rows({k: [str(v)] for k, v in exc.details.items()}, at))
        errors.setdefault("_form", []).append(exc.message)
        return None
    except Exception as exc:  # noqa: BLE001  (shown to the person, logged when unexpected)
        flash_error(exc)
        errors.setdefault("_form", [])
        return None
    if not created:
        flash(f"Order {label} was created already (the form was sent twice).", "info")
        return order_id
    flash(f"Order {label} created. {_checked(order_id)}", "success")
    return order_id


def check_now(order_id: int) -> dict[str, Any] | None:
    """Run a pending order's checks now, as its queued ``order.process`` would.

    :return: the order as the API shows it afterwards; None when the checks could
        not run now (logged: the queued job runs them).
    """
    hub = get_hub()
    try:
        check_order(hub, order_id)
    except Exception:  # noqa: BLE001  (the change stands; the order.process job checks it)
        log.exception("checking order %s now failed; its order.process job will", order_id)
        return None
    with hub.db.read() as db:
        return order_detail(records.get_order(db, order_id, lock=False))


def held_words(detail: Mapping[str, Any]) -> str:
    """Why an order (as the API shows it) is on hold, every reason in words."""
    return "; ".join(hold_reason_words(r, detail) for r in detail["hold_reasons"])


def _checked(order_id: int) -> str:
    """Check a pending order now and say what came of it."""
    detail = check_now(order_id)
    if detail is None:
        return "The checks run shortly."
    if detail["status"] == OrderStatus.ON_HOLD:
        return f"It is on hold: {held_words(detail)}."
    return f"The checks passed: it is {detail['status'].replace('_', ' ')}."


# --- Edit order --------------------------------------------------------------------------------


def edit_order_page(order_id: int):
    """``GET|POST /orders/<id>/edit``: lines, amounts, addresses and note of an order not yet at the warehouse."""
    hub = get_hub()
    form = request.form if request.method == "POST" else None
    errors: dict[str, list[str]] = {}
    with hub.db.read() as db:
        order = db.scalars(records.order_query().where(Order.id == order_id)).one_or_none()
        if order is None:
            flash(f"Order {order_id} does not exist.", "error")
            return redirect(url_for("admin.orders"))
        refusal = edits.why_not_editable(order)
        own = edits.lines_editable(order)
        stored = _stored_values(order)
        label, channel_name = order.label, order.channel.name
    if refusal:
        flash(refusal[0].upper() + refusal[1:] + ".", "error")
        return redirect(url_for("admin.order", order_id=order_id))
    if form is None:
        values, rows = stored, stored["rows"] + ([LineRow()] if own else [])
    else:
        values, rows = _typed_values(form), _rows(form)
        if "add_line" in form:
            rows.append(LineRow())
        else:
            saved = _save_edit(order_id, form, rows, own, errors)
            if saved:
                return redirect(url_for("admin.order", order_id=order_id))
    with hub.db.read() as db:
        pickable, rows = _with_stock(db, rows, order_id)
    return (
        render_template(
            "admin/order_edit.html",
            order_id=order_id,
            label=label,
            channel_name=channel_name,
            own=own,
            rows=rows,
            values=values,
            current=stored,
            errors=errors,
            pickable=pickable,
            address_fields=ADDRESS_FIELDS,
        ),
        422 if errors else 200,
    )


def _decimal(minor: int, currency: str) -> str:
    return str(Money(minor, currency).to_decimal())


def _stored_values(order: Order) -> dict[str, Any]:
    cur = order.currency
    ship = order.shipping_address or {}
    bill = order.billing_address
    return {
        "version": order.version,
        "currency": cur,
        "status": order.status,
        "shipping_address": {name: ship.get(name) or "" for name, _, _ in ADDRESS_FIELDS},
        "billing_same": not bill or edits.same_address(bill, ship),
        "billing_address": {name: (bill or {}).get(name) or "" for name, _, _ in ADDRESS_FIELDS},
        "shipping": _decimal(order.shipping, cur),
        "tax": _decimal(order.tax, cur),
        "discount": _decimal(order.discount, cur),
        "total": _decimal(order.total, cur),
        "notes": order.notes or "",
        "payments": [(p.reference, p.status, _decimal(p.amount, cur)) for p in order.payments],
        "rows": [
            LineRow(
                sku=line.sku,
                name=line.name,
                quantity=str(line.quantity),
                unit_price=_decimal(line.unit_price, cur),
                tax=_decimal(line.tax, cur),
                discount=_decimal(line.discount, cur),
                requires_shipping="1" if line.requires_shipping else "0",
            )
            for line in order.lines
        ],
    }


def _typed_values(form: MultiDict) -> dict[str, Any]:
    return {
        "version": _text(form, "version"),
        "shipping_address": _address(form, "shipping_address"),
        "billing_same": form.get("billing_same") == "1",
        "billing_address": _address(form, "billing_address"),
        "shipping": _text(form, "shipping"),
        "tax": _text(form, "tax"),
        "discount": _text(form, "discount"),
        "notes": _text(form, "notes"),
    }


def _save_edit(
    order_id: int, form: MultiDict, rows: list[LineRow], own: bool, errors: dict[str, list[str]]
) -> bool:
    """Apply the edit the form describes; True when saved (and said), else ``errors`` are filled."""
    typed = _typed_values(form)
    body: dict[str, Any] = {
        "shipping_address": typed["shipping_address"],
        "billing_address": None if typed["billing_same"] else typed["billing_address"],
        "notes": typed["notes"],
    }
    at: list[int] = []
    if own:
        body["lines"], at = _lines(rows)
        for name in edits.AMOUNT_FIELDS:
            body[name] = typed[name] or "0"
    version = int(typed["version"]) if typed["version"].isdigit() else None
    try:
        changes = OrderEditSchema().load(body)
    except SchemaError as exc:
        errors.update(_to_rows(field_errors(exc.normalized_messages()), at))
        if own and not body["lines"]:
            errors["lines"] = ["an order keeps at least one line (to end it, cancel it)"]
        return False
    hub = get_hub()
    try:
        with hub.db.transaction() as db:
            outcome = edits.edit_order(
                db,
                order_id,
                changes,
                actor=g.user.actor,
                version=version,
                geocoder=geocoder_for(hub),
            )
            label, words = outcome.order.label, outcome.changes
            notes, relined = outcome.payment_notes, outcome.relined
            status = outcome.order.status
    except ConcurrencyError as exc:
        errors["_form"] = [exc.message]
        return False
    except ValidationError as exc:
        errors.update(_to_rows({k: [str(v)] for k, v in exc.details.items()}, at))
        errors.setdefault("_form", []).append(exc.message)
        return False
    except HubError as exc:  # gone to the warehouse meanwhile, an external channel's lines
        errors["_form"] = [exc.message]
        return False
    if not words:
        flash(f"Order {label}: nothing changed.", "info")
        return True
    said = f"Order {label} saved: {'; '.join(words)}."
    if relined and status == OrderStatus.PENDING:
        said += " " + _checked(order_id)
    elif relined and status == OrderStatus.ON_HOLD:
        said += " It stays on hold: release it to check it (and reserve its stock) again."
    flash(said, "success")
    for note in notes:
        flash(f"Payment: {note}.", "error")
    return True
