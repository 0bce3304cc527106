"""The SKU page: sales history and the forecast band, days of cover, where it is stocked,
and its reorder policy with the arithmetic (issue 21).

The figures are :func:`hub.replenishment.demand.sku_demand`'s, the same the API
answers; the policy form loads through the API's schema
(:class:`hub.replenishment.schemas.ReorderPolicyInSchema`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from hub.core.exceptions import HubError, NotFound
from hub.inventory import attributes, backorders
from hub.inventory.levels import available_by_sku
from hub.orders import substitutes
from hub.purchasing.queries import with_incoming
from hub.replenishment import demand, policies
from hub.replenishment.schemas import ReorderPolicyInSchema
from hub.store.models import Location
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, whole_number
from hub.web.charts import demand_band

#: Days of history the page shows.
PAGE_HISTORY_DAYS = 90


def _page(sku: str, location: str | None, *, form: dict[str, Any], errors: dict, status: int = 200):
    with get_hub().db.read() as db:
        try:
            figures = demand.sku_demand(db, sku, location=location, days=PAGE_HISTORY_DAYS)
        except NotFound:
            abort(404)
        with_incoming(db, figures["stock"], sku=sku)  # units on their way on purchase orders
        locations = list(db.scalars(select(Location).order_by(Location.code)))
        allow_backorder = sku in backorders.allows_backorder(db, [sku])
        sku_attributes = attributes.as_json(sku, attributes.get(db, sku))
        alternatives = substitutes.substitutes_of(db, sku)
        in_stock = available_by_sku(db, alternatives)
    forecast = figures["forecast"]
    chart = demand_band(
        [(d["date"], d["quantity"]) for d in figures["history"]],
        [(d["date"], d["quantity"], d["lower"], d["upper"]) for d in forecast["days"]]
        if forecast
        else [],
    )
    policy = figures["policy"]
    values = {
        "kind": policy["kind"],
        "min_quantity": policy["min_quantity"],
        "max_quantity": policy["max_quantity"],
        "service_level": policy["service_level"],
        "lead_time_days": policy["lead_time_days"],
        "review_days": policy["review_days"],
        **form,
    }
    return render_template(
        "admin/sku.html",
        sku=sku,
        d=figures,
        chart=chart,
        locations=locations,
        location=location,
        allow_backorder=allow_backorder,
        attributes=sku_attributes,
        substitutes=[{"sku": s, "available": in_stock.get(s, 0)} for s in alternatives],
        values=values,
        errors=errors,
        sold=sum(max(0, day["quantity"]) for day in figures["history"]),
    ), status


@bp.get("/skus/<sku>")
def sku_page(sku: str):
    return _page(sku, request.args.get("location") or None, form={}, errors={})


def _number(raw: str | None) -> Any:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return raw


@bp.post("/skus/<sku>/policy")
def sku_policy(sku: str):
    form = request.form
    location = form.get("location") or None
    data: dict[str, Any] = {"kind": form.get("kind") or "", "location": location}
    for name in ("min_quantity", "max_quantity", "lead_time_days", "review_days"):
        raw = (form.get(name) or "").strip()
        if raw:
            data[name] = whole_number(raw)
    level = _number(form.get("service_level"))
    if level is not None:
        data["service_level"] = level
    if data["kind"] == "computed":  # the fixed figures' boxes are left as they were
        data.pop("min_quantity", None)
        data.pop("max_quantity", None)
    try:
        body = ReorderPolicyInSchema().load(data)
    except SchemaError as exc:
        errors = exc.normalized_messages()
        assert isinstance(errors, dict)
        flash("The policy was not saved: check " + ", ".join(sorted(errors)) + ".", "error")
        return _page(sku, location, form=dict(form), errors=errors, status=422)
    try:
        with get_hub().db.transaction() as db:
            demand.known_sku(db, sku)
            policies.set_policy(
                db, sku, demand.location_id_of(db, location), body, actor=g.user.actor
            )
    except HubError as exc:
        flash_error(exc)
        return redirect(url_for("admin.sku_page", sku=sku, location=location))
    flash(f"Reorder policy of {sku} saved ({body['kind']}).", "success")
    return redirect(url_for("admin.sku_page", sku=sku, location=location))


@bp.post("/skus/<sku>/attributes")
def sku_attributes(sku: str):
    """Weight, dimensions, hazardous, fragile: checked as the API checks them."""
    form = request.form
    values: dict[str, Any] = {
        "hazardous": form.get("hazardous") == "on",
        "fragile": form.get("fragile") == "on",
    }
    for name in ("weight_grams", "length_mm", "width_mm", "height_mm"):
        raw = (form.get(name) or "").strip()
        values[name] = whole_number(raw) if raw else None
    try:
        with get_hub().db.transaction() as db:
            demand.known_sku(db, sku)
            attributes.set_attributes(db, sku, values, actor=g.user.actor)
    except HubError as exc:
        flash_error(exc)
    else:
        flash(f"Attributes of {sku} saved.", "success")
    return redirect(url_for("admin.sku_page", sku=sku) + "#attributes")


@bp.post("/skus/<sku>/substitutes")
def sku_substitutes(sku: str):
    """The alternatives a delay notice offers, best first (as ``PUT /api/v1/skus/<sku>/substitutes``)."""
    raw = (request.form.get("substitutes") or "").replace(",", "\n")
    wanted = [s.strip() for s in raw.splitlines() if s.strip()]
    try:
        with get_hub().db.transaction() as db:
            demand.known_sku(db, sku)
            substitutes.set_substitutes(db, sku, wanted, actor=g.user.actor)
    except HubError as exc:
        flash_error(exc)
    else:
        flash(f"Substitutes of {sku} saved ({', '.join(wanted) or 'none'}).", "success")
    return redirect(url_for("admin.sku_page", sku=sku) + "#substitutes")
