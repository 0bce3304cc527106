"""The Shipping rules page: the ordered service-level rules, each location's cut-off and
working days, the transit table, and a CSV import of SKU attributes (issue 22).

Every form goes through the same checks the API uses (:mod:`hub.routing.service_levels`,
:mod:`hub.routing.promise`, :mod:`hub.inventory.attributes`); a refused form says
which field and why, and nothing is saved.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.core.exceptions import HubError, ValidationError
from hub.inventory import attributes
from hub.routing import promise, service_levels
from hub.store.models import Location, ServiceLevelRule
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, whole_number

log = logging.getLogger(__name__)

#: Refused rows of a CSV import shown on the page, at most.
REFUSED_SHOWN = 50


def _rule_form(form: Any) -> dict[str, Any]:
    """A rule's form fields as the rule schema takes them (unchecked boxes are False)."""
    data: dict[str, Any] = {
        name: (form.get(name) or "").strip()
        for name in (
            "name",
            "method_contains",
            "method_equals",
            "action",
            "carrier_code",
            "service_code",
        )
    }
    for name in ("any_hazardous", "any_fragile"):
        data[name] = form.get(name) == "on"
    # The change form shows the box (an unticked box sends nothing); the add form does not.
    data["enabled"] = form.get("enabled") == "on" or not form.get("enabled_shown")
    for name in ("weight_over_grams", "weight_under_grams"):
        raw = (form.get(name) or "").strip()
        data[name] = whole_number(raw) if raw else None
    raw_countries = (form.get("countries") or "").replace(";", ",").replace(" ", ",")
    data["countries"] = [c for c in raw_countries.split(",") if c]
    return data


def _as_form(rule: ServiceLevelRule) -> dict[str, Any]:
    """A stored rule as its change form shows it."""
    return {
        "name": rule.name,
        "method_contains": rule.method_contains,
        "method_equals": rule.method_equals,
        "any_hazardous": rule.any_hazardous,
        "any_fragile": rule.any_fragile,
        "weight_over_grams": "" if rule.weight_over_grams is None else rule.weight_over_grams,
        "weight_under_grams": "" if rule.weight_under_grams is None else rule.weight_under_grams,
        "countries": ", ".join(rule.countries or []),
        "action": rule.action,
        "carrier_code": rule.carrier_code,
        "service_code": rule.service_code,
    }


def _page(*, form: dict[str, Any] | None = None, imported: Any = None, status: int = 200):
    with get_hub().db.read() as db:
        rules = service_levels.ordered_rules(db)
        rows = [
            {
                "rule": r,
                "words": service_levels.rule_words(r),
                "conditions": service_levels.conditions_in_words(r),
                "action": service_levels.action_in_words(r),
                "form": _as_form(r),
            }
            for r in rules
        ]
        days = promise.shipping_days(db)
        locations = list(db.scalars(select(Location).order_by(Location.code)))
        transit = promise.transit_table(db)
    return render_template(
        "admin/shipping_rules.html",
        rows=rows,
        actions=service_levels.ACTIONS,
        locations=[(loc, days.get(loc.code, promise.ShippingDays())) for loc in locations],
        transit=transit,
        form=form or {},
        imported=imported,
        refused_shown=REFUSED_SHOWN,
        csv_columns=attributes.CSV_COLUMNS,
    ), status


@bp.get("/shipping-rules")
def shipping_rules():
    return _page()


@bp.post("/shipping-rules")
def shipping_rule_add():
    data = _rule_form(request.form)
    try:
        with get_hub().db.transaction() as db:
            rule = service_levels.add_rule(db, data, actor=g.user.actor)
            words = service_levels.rule_words(rule)
    except HubError as exc:
        flash_error(exc)
        return _page(form=dict(request.form), status=422)
    log.info("service-level %s added by %s", words, g.user.email)
    flash(f"Added {words}.", "success")
    return redirect(url_for("admin.shipping_rules"))


@bp.post("/shipping-rules/<int:rule_id>")
def shipping_rule_save(rule_id: int):
    data = _rule_form(request.form)
    try:
        with get_hub().db.transaction() as db:
            rule = service_levels.update_rule(db, rule_id, data, actor=g.user.actor)
            words = service_levels.rule_words(rule)
    except HubError as exc:
        flash_error(exc)
        return redirect(url_for("admin.shipping_rules"))
    flash(f"Saved {words}.", "success")
    return redirect(url_for("admin.shipping_rules"))


@bp.post("/shipping-rules/<int:rule_id>/move")
def shipping_rule_move(rule_id: int):
    step = -1 if request.form.get("direction") == "up" else 1
    try:
        with get_hub().db.transaction() as db:
            service_levels.move_rule(db, rule_id, step)
    except HubError as exc:
        flash_error(exc)
    return redirect(url_for("admin.shipping_rules"))


@bp.post("/shipping-rules/<int:rule_id>/delete")
def shipping_rule_delete(rule_id: int):
    try:
        with get_hub().db.transaction() as db:
            service_levels.delete_rule(db, rule_id)
    except HubError as exc:
        flash_error(exc)
    else:
        flash("Rule deleted; the rules after it moved up.", "success")
    return redirect(url_for("admin.shipping_rules"))


@bp.post("/shipping-rules/locations/<code>")
def shipping_days_save(code: str):
    try:
        with get_hub().db.transaction() as db:
            promise.set_shipping_days(
                db,
                code,
                cutoff=request.form.get("cutoff") or "",
                working_days="".join(sorted(request.form.getlist("working_days"))),
                actor=g.user.actor,
            )
    except HubError as exc:
        flash_error(exc)
    else:
        flash(f"Saved when {code} ships.", "success")
    return redirect(url_for("admin.shipping_rules"))


def _days(raw: str | None) -> int | str | None:
    raw = (raw or "").strip()
    return whole_number(raw) if raw else None


@bp.post("/shipping-rules/transit")
def transit_save():
    days, air_days = _days(request.form.get("days")), _days(request.form.get("air_days"))
    try:
        if not isinstance(days, int) or not (air_days is None or isinstance(air_days, int)):
            raise ValidationError("transit days are whole numbers of working days")
        with get_hub().db.transaction() as db:
            row = promise.set_transit(
                db, request.form.get("zone") or "", days, air_days, actor=g.user.actor
            )
            zone = row.zone
    except HubError as exc:
        flash_error(exc)
    else:
        flash(f"Saved the transit time to {zone}.", "success")
    return redirect(url_for("admin.shipping_rules"))


@bp.post("/shipping-rules/transit/<zone>/delete")
def transit_delete(zone: str):
    try:
        with get_hub().db.transaction() as db:
            promise.delete_transit(db, zone)
    except HubError as exc:
        flash_error(exc)
    return redirect(url_for("admin.shipping_rules"))


@bp.post("/shipping-rules/sku-attributes")
def sku_attributes_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a CSV file to import.", "error")
        return redirect(url_for("admin.shipping_rules"))
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        flash("The file is not UTF-8 text: save it as CSV UTF-8 and import it again.", "error")
        return redirect(url_for("admin.shipping_rules"))
    try:
        with get_hub().db.transaction() as db:
            result = attributes.import_csv(db, text, actor=g.user.actor)
    except HubError as exc:
        flash_error(exc)
        return redirect(url_for("admin.shipping_rules"))
    log.info(
        "SKU attributes imported by %s: %d changed, %d refused",
        g.user.email,
        result.changed,
        len(result.refused),
    )
    flash(
        f"Imported {upload.filename}: {result.changed} SKU(s) changed, "
        f"{len(result.refused)} row(s) refused.",
        "success" if not result.refused else "error",
    )
    return _page(imported=result)
