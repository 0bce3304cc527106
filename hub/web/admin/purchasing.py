"""Purchasing in the admin UI: suppliers (a form with field errors, their SKUs with cost and
preferred), purchase orders (a list, a new draft, one PO with send, cancel and receive).

Every change goes through :mod:`hub.purchasing`, the functions the API calls.
"""

from __future__ import annotations

import logging
from functools import partial

from flask import abort, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from hub.core.exceptions import HubError, ValidationError
from hub.core.money import Money
from hub.core.purchasing import STATUSES
from hub.inventory.levels import list_locations
from hub.purchasing import orders, receiving, suppliers
from hub.purchasing.schemas import SupplierInSchema
from hub.purchasing.serialize import po_detail, po_summary
from hub.store.models import PurchaseOrder, Supplier
from hub.web import forms, get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, paginate, whole_number

log = logging.getLogger(__name__)


# --- suppliers -------------------------------------------------------------------------------------


@bp.get("/suppliers")
def suppliers_list():
    with get_hub().db.read() as db:
        rows = suppliers.list_suppliers(db)
        return render_template("admin/suppliers.html", rows=rows)


@bp.route("/suppliers/new", methods=["GET", "POST"])
@bp.route("/suppliers/<int:supplier_id>", methods=["GET", "POST"])
def supplier_edit(supplier_id: int | None = None):
    hub = get_hub()
    if supplier_id is not None:
        with hub.db.read() as db:
            if db.get(Supplier, supplier_id) is None:
                abort(404)
    errors: dict = {}
    submitted = None
    if request.method == "POST":
        submitted = forms.parse(SupplierInSchema, request.form)
        try:
            data = SupplierInSchema().load(submitted)
            with hub.db.transaction() as db:
                if supplier_id is None:
                    supplier_id = suppliers.create_supplier(db, data).id
                else:
                    suppliers.update_supplier(db, supplier_id, data)
        except SchemaError as exc:
            errors = exc.normalized_messages()
        except HubError as exc:
            errors = exc.details or {"_schema": [exc.message]}
            if not exc.details:
                flash_error(exc)
        else:
            flash("Supplier saved.", "success")
            return redirect(url_for("admin.supplier_edit", supplier_id=supplier_id))
    with hub.db.read() as db:
        supplier = suppliers.get_supplier(db, supplier_id) if supplier_id else None
        skus = suppliers.supplier_skus(db, supplier_id) if supplier_id else []
        stored = {name: getattr(supplier, name) for name in suppliers.FIELDS} if supplier else None
        fields = forms.build(SupplierInSchema, stored=stored, submitted=submitted, errors=errors)
        html = render_template(
            "admin/supplier.html",
            supplier=supplier,
            skus=skus,
            fields=fields,
            errors=errors,
            general=forms.schema_level_errors(errors, SupplierInSchema),
        )
    return html, (422 if errors else 200)


@bp.post("/suppliers/<int:supplier_id>/skus")
def supplier_sku_set(supplier_id: int):
    sku = request.form.get("sku", "").strip()
    try:
        if not 1 <= len(sku) <= 100:
            raise ValidationError("a SKU is 1 to 100 characters")
        with get_hub().db.transaction() as db:
            supplier = suppliers.get_supplier(db, supplier_id)
            cost = Money.parse(request.form.get("cost_price", "").strip(), supplier.currency)
            if cost.amount < 0:
                raise ValidationError("a cost price may not be negative")
            suppliers.set_supplier_sku(
                db,
                supplier_id,
                sku,
                cost_price=cost.amount,
                supplier_sku=request.form.get("supplier_sku", "").strip()[:100],
                preferred=request.form.get("preferred") == "on",
            )
    except HubError as exc:
        flash_error(exc)
    else:
        flash(f"Cost price of {sku} saved.", "success")
    return redirect(url_for("admin.supplier_edit", supplier_id=supplier_id) + "#skus")


# --- purchase orders -------------------------------------------------------------------------------


@bp.get("/purchase-orders")
def purchase_orders():
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    with get_hub().db.read() as db:
        query = select(PurchaseOrder).order_by(PurchaseOrder.id.desc())
        if status:
            query = query.where(PurchaseOrder.status == status)
        page = paginate(db, query)
        rows = [po_summary(po) for po in page.items]
        return render_template(
            "admin/purchase_orders.html",
            page=page,
            rows=rows,
            status=status,
            statuses=STATUSES,
            suppliers=suppliers.list_suppliers(db, active=True),
            locations=[loc for loc in list_locations(db) if loc.active],
        )


def _draft_lines(raw: str) -> list[orders.DraftLine]:
    """``SKU quantity [unit cost]`` per line, as the new-PO form takes them."""
    lines = []
    for number, text in enumerate(raw.splitlines(), start=1):
        parts = text.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise ValidationError(f"line {number}: write 'SKU quantity' or 'SKU quantity cost'")
        quantity = whole_number(parts[1])
        if not isinstance(quantity, int):
            raise ValidationError(f"line {number}: {parts[1]!r} is not a whole number")
        lines.append(orders.DraftLine(parts[0], quantity, parts[2] if len(parts) == 3 else None))
    return lines


@bp.post("/purchase-orders")
def purchase_order_create():
    try:
        supplier_id = whole_number(request.form.get("supplier_id", ""))
        location_id = whole_number(request.form.get("location_id", ""))
        if not isinstance(supplier_id, int) or not isinstance(location_id, int):
            raise ValidationError("choose a supplier and a location")
        with get_hub().db.transaction() as db:
            po = orders.create_draft(
                db,
                supplier_id=supplier_id,
                location_id=location_id,
                lines=_draft_lines(request.form.get("lines", "")),
                actor=g.user.actor,
                notes=request.form.get("notes", "").strip()[:2000],
                send_via=request.form.get("send_via", "").strip() or None,
            )
            po_id, number = po.id, po.number
    except HubError as exc:
        flash_error(exc)
        return redirect(url_for("admin.purchase_orders") + "#new")
    log.info("purchase order %s drafted by %s", number, g.user.email)
    flash(f"Draft {number} made.", "success")
    return redirect(url_for("admin.purchase_order", po_id=po_id))


@bp.get("/purchase-orders/<int:po_id>")
def purchase_order(po_id: int):
    with get_hub().db.read() as db:
        po = db.get(PurchaseOrder, po_id)
        if po is None:
            abort(404)
        return render_template(
            "admin/purchase_order.html",
            po=po_detail(db, po),
            supplier=po.supplier,
            locations=[loc for loc in list_locations(db) if loc.active],
        )


def _act(po_id: int, action, done: str):
    try:
        with get_hub().db.transaction() as db:
            version = whole_number(request.form.get("version", ""))
            po = action(
                db, po_id, actor=g.user.actor, version=version if isinstance(version, int) else None
            )
            number = po.number
    except HubError as exc:
        flash_error(exc)
    else:
        log.info("purchase order %s %s by %s", number, done, g.user.email)
        flash(f"{number} {done}.", "success")
    return redirect(url_for("admin.purchase_order", po_id=po_id))


@bp.post("/purchase-orders/<int:po_id>/send")
def purchase_order_send(po_id: int):
    return _act(
        po_id, partial(orders.send, connectors=get_hub().connectors), "sent to the supplier"
    )


@bp.post("/purchase-orders/<int:po_id>/cancel")
def purchase_order_cancel(po_id: int):
    return _act(po_id, orders.cancel, "cancelled")


@bp.post("/purchase-orders/<int:po_id>/receive")
def purchase_order_receive(po_id: int):
    """The receive form: a quantity per SKU (blank or 0: none of it came), a location."""
    lines = []
    try:
        for key, raw in request.form.items():
            if not key.startswith("qty-") or not raw.strip():
                continue
            quantity = whole_number(raw)
            if not isinstance(quantity, int) or quantity < 0:
                raise ValidationError(f"{key[4:]}: {raw!r} is not a whole number of 0 or more")
            if quantity:
                lines.append((key[4:], quantity))
        location_id = whole_number(request.form.get("location_id", ""))
        with get_hub().db.transaction() as db:
            receipt = receiving.receive(
                db,
                po_id,
                lines,
                location_id if isinstance(location_id, int) else None,
                actor=g.user.actor,
                force=request.form.get("force") == "on",
                source="ui",
            )
            units = sum(line.quantity for line in receipt.lines)
    except HubError as exc:
        flash_error(exc)
    else:
        flash(f"{units} unit{'s' if units != 1 else ''} received.", "success")
    return redirect(url_for("admin.purchase_order", po_id=po_id))
