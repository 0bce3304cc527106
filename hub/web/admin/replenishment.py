"""The Replenishment page: what to buy now, ticked rows made into draft purchase orders,
the top bar's low-stock badge, and a SKU's "allow backorders" switch (issue 21).

The rows are :func:`hub.purchasing.suggestions.suggestions`, the same the API
answers; the drafts are :func:`hub.purchasing.suggestions.draft_orders`' (one per
supplier and location, all or none).
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.core.exceptions import HubError
from hub.inventory import backorders
from hub.purchasing import suggestions
from hub.replenishment import demand
from hub.replenishment.low_stock import low_count
from hub.store.models import Supplier
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, whole_number


@bp.app_context_processor
def low_stock_badge() -> dict[str, object]:
    """The top bar's "N low on stock" badge, on every admin page, signed in."""
    if getattr(g, "user", None) is None or not (request.endpoint or "").startswith("admin."):
        return {}
    with get_hub().db.read() as db:
        return {"low_stock": low_count(db)}


def _row_key(sku: str, location_id: int) -> str:
    return f"{location_id}:{sku}"


@bp.get("/replenishment")
def replenishment():
    with get_hub().db.read() as db:
        rows = suggestions.suggestions(db)
        names = dict(db.execute(select(Supplier.id, Supplier.name)).all())
    for row in rows:
        row["key"] = _row_key(row["sku"], row["location_id"])
        row["supplier"] = names.get(row["supplier_id"])
    return render_template("admin/replenishment.html", rows=rows)


@bp.post("/replenishment")
def replenishment_draft():
    form = request.form
    picks = []
    for key in form.getlist("pick"):
        location_id, _, sku = key.partition(":")
        if not location_id.isdigit() or not sku:
            abort(400)
        quantity = whole_number((form.get(f"qty-{key}") or "").strip())
        picks.append((sku, int(location_id), quantity))
    try:
        with get_hub().db.transaction() as db:
            made = suggestions.draft_orders(db, picks, actor=g.user.actor)  # type: ignore[arg-type]
            told = [f"{po.number} ({po.supplier.name})" for po in made]
    except HubError as exc:
        flash_error(exc)
        return redirect(url_for("admin.replenishment"))
    flash(
        f"Draft purchase order{'s' if len(told) != 1 else ''} made: {', '.join(told)}. "
        "Check and send them from Purchasing.",
        "success",
    )
    return redirect(url_for("admin.purchase_orders", status="draft"))


@bp.post("/skus/<sku>/backorders")
def sku_backorders(sku: str):
    allow = request.form.get("allow_backorder") == "1"
    location = request.form.get("location") or None
    try:
        with get_hub().db.transaction() as db:
            demand.known_sku(db, sku)
            backorders.set_allow_backorder(db, sku, allow, actor=g.user.actor)
    except HubError as exc:
        flash_error(exc)
    else:
        flash(
            f"Orders for {sku} {'may now wait' if allow else 'no longer wait'} for stock on "
            "purchase orders.",
            "success",
        )
    return redirect(url_for("admin.sku_page", sku=sku, location=location))
