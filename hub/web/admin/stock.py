"""Stock: levels per SKU and location, setting a level with a reason, locations."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from hub.inventory import levels as inventory
from hub.store.models import Location, StockLevel, StockMovement
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, paginate


@bp.get("/stock")
def stock():
    q = (request.args.get("q") or "").strip()
    location = request.args.get("location", "")
    query = (
        select(StockLevel)
        .join(Location, Location.id == StockLevel.location_id)
        .options(contains_eager(StockLevel.location))
        .order_by(StockLevel.sku, Location.priority.desc(), Location.code)
    )
    if q:
        query = query.where(StockLevel.sku.ilike(f"%{q}%"))
    if location:
        query = query.where(Location.code == location)
    with get_hub().db.read() as db:
        page = paginate(db, query)
        locations = list(
            db.scalars(select(Location).order_by(Location.priority.desc(), Location.code))
        )
        movements = list(
            db.scalars(select(StockMovement).order_by(StockMovement.id.desc()).limit(15))
        )
        codes = {loc.id: loc.code for loc in locations}
        return render_template(
            "admin/stock.html",
            page=page,
            locations=locations,
            movements=movements,
            codes=codes,
            q=q,
            location=location,
        )


@bp.post("/stock/levels")
def stock_set():
    sku = (request.form.get("sku") or "").strip()
    code = request.form.get("location") or ""
    reason = (request.form.get("reason") or "").strip()
    raw = (request.form.get("on_hand") or "").strip()
    back = url_for("admin.stock", q=request.form.get("q") or None)
    problems = []
    if not sku:
        problems.append("a SKU")
    if not code:
        problems.append("a location")
    if not raw.lstrip("-").isdigit():
        problems.append("the quantity on hand as a whole number")
    if not reason:
        problems.append("a reason (it goes into the stock history)")
    if problems:
        flash("To set a stock level, give " + ", ".join(problems) + ".", "error")
        return redirect(back)
    try:
        with get_hub().db.transaction() as db:
            changed = inventory.set_on_hand(
                db,
                [inventory.LevelChange(sku=sku, location_code=code, on_hand=int(raw))],
                actor=g.user.actor,
                reason=reason,
                source="ui",
            )
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        if changed:
            flash(f"{sku} at {code}: on hand is now {int(raw)}.", "success")
        else:
            flash(f"{sku} at {code} already had {int(raw)} on hand; nothing changed.", "info")
    return redirect(back)


@bp.post("/stock/locations")
def location_save():
    code = (request.form.get("code") or "").strip()
    raw_priority = (request.form.get("priority") or "0").strip()
    if not raw_priority.lstrip("-").isdigit():
        flash("Priority is a whole number (higher ships first).", "error")
        return redirect(url_for("admin.stock"))
    try:
        with get_hub().db.transaction() as db:
            inventory.upsert_location(
                db,
                code,
                name=(request.form.get("name") or "").strip(),
                priority=int(raw_priority),
                active=request.form.get("active") == "on",
            )
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        flash(f"Location {code} saved.", "success")
    return redirect(url_for("admin.stock"))
