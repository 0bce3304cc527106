"""Stock: levels per SKU and location, setting a level with a reason, locations."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from hub.core.exceptions import ValidationError
from hub.inventory import levels as inventory
from hub.inventory.queries import LevelFilters, levels_statement
from hub.purchasing.queries import incoming
from hub.routing.places import ADDRESS_PARTS, set_location_place
from hub.store.models import Location, StockLevel, StockMovement
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, paginate, whole_number
from hub.web.api_schemas import LocationCreateSchema, StockSetSchema


@bp.get("/stock")
def stock():
    q = (request.args.get("q") or "").strip()
    location = request.args.get("location", "")
    with get_hub().db.read() as db:
        try:
            query = levels_statement(db, LevelFilters(q=q or None, location=location or None))
        except ValidationError as exc:  # a location since removed: show every location's
            flash_error(exc)
            location, query = "", levels_statement(db, LevelFilters(q=q or None))
        query = query.order_by(StockLevel.sku, Location.priority.desc(), Location.code)
        page = paginate(db, query)
        locations = list(
            db.scalars(select(Location).order_by(Location.priority.desc(), Location.code))
        )
        movements = list(
            db.scalars(select(StockMovement).order_by(StockMovement.id.desc()).limit(15))
        )
        codes = {loc.id: loc.code for loc in locations}
        on_the_way = incoming(db, {level.sku for level in page.items})
        return render_template(
            "admin/stock.html",
            page=page,
            locations=locations,
            movements=movements,
            codes=codes,
            incoming=on_the_way,
            q=q,
            location=location,
        )


@bp.post("/stock/levels")
def stock_set():
    """Sets one level, loaded by the API's ``StockSetSchema``; the page also wants a reason."""
    form = request.form
    back = url_for("admin.stock", q=form.get("q") or None)
    raw = (form.get("on_hand") or "").strip()
    data = {
        "levels": [
            {
                "sku": (form.get("sku") or "").strip(),
                "location": form.get("location") or "",
                "on_hand": whole_number(raw),
            }
        ],
        "reason": (form.get("reason") or "").strip(),
    }
    try:
        body = StockSetSchema().load(data)
    except SchemaError as exc:
        body, errors = None, exc.normalized_messages()
    else:
        errors = {}
    levels = errors.get("levels")
    line = levels.get(0, {}) if isinstance(levels, dict) else {}
    problems = [
        text
        for field, text in (
            ("sku", "a SKU (at most 100 characters)"),
            ("location", "a location"),
            (
                "on_hand",
                f"the quantity on hand (not {raw!r}: it must be a whole number of 0 or more)",
            ),
        )
        if field in line
    ]
    if not data["reason"]:  # the API may leave it out; a person says why
        problems.append("a reason (it goes into the stock history)")
    elif "reason" in errors:
        problems.append("a reason of at most 2000 characters")
    if problems or body is None:
        flash(
            "To set a stock level, give " + ", ".join(problems or ["valid values"]) + ".", "error"
        )
        return redirect(back)
    [level] = body["levels"]
    sku, code, on_hand = level["sku"], level["location"], level["on_hand"]
    try:
        with get_hub().db.transaction() as db:
            changed = inventory.set_on_hand(
                db,
                [inventory.LevelChange(sku=sku, location_code=code, on_hand=on_hand)],
                actor=g.user.actor,
                reason=body["reason"],
                source="ui",
            )
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        if changed:
            flash(f"{sku} at {code}: on hand is now {on_hand}.", "success")
        else:
            flash(f"{sku} at {code} already had {on_hand} on hand; nothing changed.", "info")
    return redirect(back)


@bp.post("/stock/locations")
def location_save():
    """Adds or changes a location, loaded by the API's ``LocationCreateSchema``."""
    form = request.form
    data = {
        "code": (form.get("code") or "").strip(),
        "name": (form.get("name") or "").strip(),
        "priority": whole_number((form.get("priority") or "0").strip()),
        "active": form.get("active") == "on",
    }
    try:
        body = LocationCreateSchema().load(data)
    except SchemaError as exc:
        errors = exc.normalized_messages()
        problems = []
        if "code" in errors:
            problems.append(f"a code: {' '.join(errors['code'])}")
        if "name" in errors:
            problems.append("a name of at most 200 characters")
        if "priority" in errors:
            problems.append("a priority as a whole number (higher ships first)")
        flash("To save a location, give " + ", ".join(problems) + ".", "error")
        return redirect(url_for("admin.stock"))
    try:
        with get_hub().db.transaction() as db:
            inventory.upsert_location(
                db,
                body["code"],
                name=body["name"],
                priority=body["priority"],
                active=body["active"],
            )
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        flash(f"Location {body['code']} saved.", "success")
    return redirect(url_for("admin.stock"))


@bp.post("/stock/locations/<code>/place")
def location_place_save(code: str):
    """Says where a location is: its address, and its coordinates (or placed by its address)."""
    form = request.form
    changes: dict[str, object] = {
        part: form.get(part, "") for part in ADDRESS_PARTS if part in form
    }
    lat, lon = (form.get("latitude") or "").strip(), (form.get("longitude") or "").strip()
    try:
        with get_hub().db.transaction() as db:
            current = inventory.get_location(db, code)
            shown = (
                "" if current.latitude is None else str(current.latitude),
                "" if current.longitude is None else str(current.longitude),
            )
            if form.get("clear_coordinates") == "on":
                changes.update(latitude=None, longitude=None)
            elif (lat or lon) and (lat, lon) != shown:
                # Typed by the person. The form shows the current ones: sent back
                # unchanged, they leave a moved address to be placed anew.
                changes.update(latitude=lat or None, longitude=lon or None)
            outcome = set_location_place(db, code, changes)
    except Exception as exc:  # noqa: BLE001  (bad input is said in words; nothing is saved)
        flash_error(exc)
    else:
        flash(f"Location {code} saved: {outcome.note}.", "success")
    return redirect(url_for("admin.stock") + "#locations")
