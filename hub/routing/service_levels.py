"""Service level by rules: which carrier service a fulfilment group ships with, and why.

The merchant keeps an ORDERED table of rules (:class:`~hub.store.models.ServiceLevelRule`,
edited on the admin's Shipping rules page). Each rule has conditions (the
customer's chosen shipping method contains or equals a text, any item is
hazardous or fragile, the parcel weighs over or under some grams, the
destination country is one of a list; an empty condition matches anything) and
an action:

- ``service``: ship with this carrier and service. The first matching rule wins.
- ``ground_only``: a restriction, never an air service. Every matching
  restriction applies, whatever its place: a ``service`` rule whose service
  flies is passed over, and when no other rule names a ground service, the
  restriction's own service (if it names one) is used.

:func:`choose` applies the table to one group (a pure function of the rules and
the group's facts); :func:`assign` does it for an order's pending groups and
records the outcome on each (``carrier_code``, ``service_code``, the rule in
words), which the shipping connector sends to the warehouse. :func:`parcel_for`
weighs and measures a shipment from the SKUs' attributes
(:class:`~hub.store.models.SkuAttributes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.store.models import FulfillmentGroup, Order, ServiceLevelRule, SkuAttributes, utcnow

#: A rule's actions.
SERVICE = "service"
GROUND_ONLY = "ground_only"
ACTIONS = (SERVICE, GROUND_ONLY)

#: Parts of a carrier's service code that mean the parcel flies (ShipStation's codes:
#: ``ups_next_day_air``, ``fedex_2day``, ``fedex_priority_overnight``, ``usps_priority_mail_express``,
#: ``dhl_express_worldwide``). Everything else (``ups_ground``, ``fedex_home_delivery``,
#: ``usps_parcel_select``, freight) goes by road.
AIR_MARKERS = (
    "air",
    "next_day",
    "nextday",
    "overnight",
    "2day",
    "2_day",
    "second_day",
    "3_day_select",
    "express",
    "priority",
    "worldwide",
)


def is_air_service(service_code: str) -> bool:
    """Whether a carrier service flies (by its code; see :data:`AIR_MARKERS`)."""
    code = service_code.casefold()
    return any(marker in code for marker in AIR_MARKERS)


# --- what a shipment weighs ---------------------------------------------------------------------


@dataclass(frozen=True)
class ParcelFacts:
    """A shipment's goods as the rules and a rate quote see them.

    Weight in grams (the SKUs' unit weights times their units; a SKU with no weight
    counts 0 and is named in ``unweighed``). Dimensions in millimetres, the units
    stacked: the longest length, the widest width, the heights added; None when a
    SKU's dimensions are unknown.
    """

    weight_grams: int = 0
    dimensions_mm: tuple[int, int, int] | None = None
    hazardous: bool = False
    fragile: bool = False
    unweighed: tuple[str, ...] = field(default=())

    @property
    def dimensions_cm(self) -> tuple[float, float, float] | None:
        """The dimensions in centimetres (what carriers' rate calls take)."""
        if self.dimensions_mm is None:
            return None
        length, width, height = self.dimensions_mm
        return (length / 10, width / 10, height / 10)


def attributes_of(session: Session, skus: Iterable[str]) -> dict[str, SkuAttributes]:
    """The stored attributes of these SKUs (a SKU with none is left out)."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    rows = session.scalars(select(SkuAttributes).where(SkuAttributes.sku.in_(wanted)))
    return {row.sku: row for row in rows}


def parcel_of(
    lines: Iterable[tuple[str, int]], attributes: Mapping[str, SkuAttributes]
) -> ParcelFacts:
    """The parcel of ``(sku, units)`` pairs, given the SKUs' attributes."""
    weight = 0
    unweighed: list[str] = []
    hazardous = fragile = False
    length = width = height = 0
    sized = True
    for sku, units in lines:
        if units <= 0:
            continue
        attr = attributes.get(sku)
        if attr is None or attr.weight_grams is None:
            unweighed.append(sku)
        else:
            weight += attr.weight_grams * units
        if attr is None or None in (attr.length_mm, attr.width_mm, attr.height_mm):
            sized = False
        else:
            length = max(length, attr.length_mm or 0)
            width = max(width, attr.width_mm or 0)
            height += (attr.height_mm or 0) * units
        if attr is not None:
            hazardous = hazardous or attr.hazardous
            fragile = fragile or attr.fragile
    return ParcelFacts(
        weight_grams=weight,
        dimensions_mm=(length, width, height) if sized and length else None,
        hazardous=hazardous,
        fragile=fragile,
        unweighed=tuple(sorted(set(unweighed))),
    )


def parcel_for(session: Session, lines: Iterable[tuple[str, int]]) -> ParcelFacts:
    """Weight, dimensions and handling of a shipment of ``(sku, units)`` pairs.

    What routing needs to ask a carrier for a rate and what the rules read.
    """
    pairs = list(lines)
    return parcel_of(pairs, attributes_of(session, (sku for sku, _ in pairs)))


def group_skus(order: Order, group: FulfillmentGroup) -> list[tuple[str, int]]:
    """A fulfilment group's ``(sku, units)`` pairs."""
    by_id = {line.id: line for line in order.lines}
    out = []
    for entry in group.lines:
        line = by_id.get(int(entry["line_id"]))
        if line is not None:
            out.append((line.sku, int(entry["quantity"])))
    return out


# --- the rules ---------------------------------------------------------------------------------


def rule_words(rule: ServiceLevelRule) -> str:
    """How a rule is named in the admin and on a group: its place and its name."""
    name = rule.name or (
        f"{rule.carrier_code} {rule.service_code}".strip()
        if rule.action == SERVICE
        else "ground only"
    )
    return f"rule {rule.position} “{name}”"


def conditions_in_words(rule: ServiceLevelRule) -> str:
    """A rule's conditions as a person reads them (``"any item hazardous, over 30000 g"``)."""
    parts = []
    if rule.method_equals:
        parts.append(f"method is “{rule.method_equals}”")
    if rule.method_contains:
        parts.append(f"method contains “{rule.method_contains}”")
    if rule.any_hazardous:
        parts.append("any item hazardous")
    if rule.any_fragile:
        parts.append("any item fragile")
    if rule.weight_over_grams is not None:
        parts.append(f"over {rule.weight_over_grams} g")
    if rule.weight_under_grams is not None:
        parts.append(f"under {rule.weight_under_grams} g")
    if rule.countries:
        parts.append("to " + ", ".join(rule.countries))
    return ", ".join(parts) or "always"


def action_in_words(rule: ServiceLevelRule) -> str:
    service = f"{rule.carrier_code} / {rule.service_code}" if rule.service_code else ""
    if rule.action == GROUND_ONLY:
        return "ground only" + (f" (else {service})" if service else "")
    return service


def matches(rule: ServiceLevelRule, *, method: str, parcel: ParcelFacts, country: str) -> bool:
    """Whether every condition the rule sets holds for this group."""
    chosen = method.strip().casefold()
    if rule.method_equals and chosen != rule.method_equals.strip().casefold():
        return False
    if rule.method_contains and rule.method_contains.strip().casefold() not in chosen:
        return False
    if rule.any_hazardous and not parcel.hazardous:
        return False
    if rule.any_fragile and not parcel.fragile:
        return False
    if rule.weight_over_grams is not None and not parcel.weight_grams > rule.weight_over_grams:
        return False
    if rule.weight_under_grams is not None and not parcel.weight_grams < rule.weight_under_grams:
        return False
    return not (rule.countries and country.upper() not in {c.upper() for c in rule.countries})


@dataclass(frozen=True)
class ServiceChoice:
    """What the rules chose for a group: the service ("" when the warehouse picks), and why."""

    carrier_code: str = ""
    service_code: str = ""
    rule_id: int | None = None
    #: The decision in words, kept on the group (``"rule 2 “Express”: ups / ups_next_day_air"``).
    reason: str = ""
    ground_only: bool = False


def choose(
    rules: Sequence[ServiceLevelRule], *, method: str, parcel: ParcelFacts, country: str
) -> ServiceChoice:
    """Apply the ordered rules to one group (see the module's docstring)."""
    matching = [
        r for r in rules if r.enabled and matches(r, method=method, parcel=parcel, country=country)
    ]
    restrictions = [r for r in matching if r.action == GROUND_ONLY]
    restricted = ", ".join(rule_words(r) for r in restrictions)
    passed_over: list[str] = []
    for rule in matching:
        if rule.action != SERVICE:
            continue
        if restrictions and is_air_service(rule.service_code):
            passed_over.append(f"{rule_words(rule)} ({rule.service_code} flies)")
            continue
        reason = f"{rule_words(rule)}: {rule.carrier_code} / {rule.service_code}"
        if passed_over:
            reason += f"; ground only by {restricted} passed over " + ", ".join(passed_over)
        return ServiceChoice(
            rule.carrier_code, rule.service_code, rule.id, reason, bool(restrictions)
        )
    if restrictions:
        fallback = next((r for r in restrictions if r.service_code), None)
        skipped = (" passed over " + ", ".join(passed_over)) if passed_over else ""
        if fallback is not None:
            return ServiceChoice(
                fallback.carrier_code,
                fallback.service_code,
                fallback.id,
                f"{rule_words(fallback)}: ground only, {fallback.carrier_code} / "
                f"{fallback.service_code}{';' + skipped if skipped else ''}",
                True,
            )
        return ServiceChoice(
            rule_id=restrictions[0].id,
            reason=f"ground only by {restricted}{';' + skipped if skipped else ''}; "
            "the warehouse picks a ground service",
            ground_only=True,
        )
    return ServiceChoice(reason="no rule matched: the warehouse picks the service")


def ordered_rules(session: Session) -> list[ServiceLevelRule]:
    """Every rule, in the order they are tried."""
    return list(
        session.scalars(
            select(ServiceLevelRule).order_by(ServiceLevelRule.position, ServiceLevelRule.id)
        )
    )


def requested_service(method: str, choice: ServiceChoice) -> str:
    """What the warehouse is told the customer asked for (with a ground-only restriction said)."""
    if choice.ground_only and not choice.service_code:
        return f"{method} (ground only)".strip() if method else "ground only"
    return method


def assign(session: Session, order: Order) -> None:
    """Choose the carrier service of each of the order's pending groups and record it on them."""
    pending = [g for g in order.fulfillment_groups if g.status == "pending"]
    if not pending:
        return
    rules = ordered_rules(session)
    by_group = {g.id: group_skus(order, g) for g in pending}
    attributes = attributes_of(session, (sku for pairs in by_group.values() for sku, _ in pairs))
    country = (order.shipping_address or {}).get("country_code") or ""
    method = order.shipping_method or ""
    for group in pending:
        parcel = parcel_of(by_group[group.id], attributes)
        choice = choose(rules, method=method, parcel=parcel, country=str(country))
        group.carrier_code = choice.carrier_code
        group.service_code = choice.service_code
        group.service_rule_id = choice.rule_id
        group.service_rule = choice.reason[:300]
        group.requested_service = requested_service(method, choice)[:200]


# --- editing the table ---------------------------------------------------------------------------


class RuleSchema(Schema):
    """A rule as the admin form and the API give it."""

    name = fields.String(load_default="", validate=validate.Length(max=200))
    method_contains = fields.String(load_default="", validate=validate.Length(max=200))
    method_equals = fields.String(load_default="", validate=validate.Length(max=200))
    any_hazardous = fields.Boolean(load_default=False)
    any_fragile = fields.Boolean(load_default=False)
    weight_over_grams = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=10_000_000)
    )
    weight_under_grams = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=10_000_000)
    )
    countries = fields.List(
        fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$", error="not a 2-letter code")),
        load_default=list,
        validate=validate.Length(max=250),
    )
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    carrier_code = fields.String(load_default="", validate=validate.Length(max=50))
    service_code = fields.String(load_default="", validate=validate.Length(max=100))
    enabled = fields.Boolean(load_default=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, str] = {}
        if data.get("action") == SERVICE and not (
            data.get("carrier_code") and data.get("service_code")
        ):
            errors["service_code"] = "a service rule names a carrier and a service code"
        if bool(data.get("carrier_code")) != bool(data.get("service_code")):
            errors.setdefault("carrier_code", "give both a carrier and a service code, or neither")
        if (
            data.get("action") == GROUND_ONLY
            and data.get("service_code")
            and is_air_service(data["service_code"])
        ):
            errors["service_code"] = (
                f"{data['service_code']} flies: a ground-only rule needs a ground service"
            )
        over, under = data.get("weight_over_grams"), data.get("weight_under_grams")
        if over is not None and under is not None and under <= over:
            errors["weight_under_grams"] = "must be more than the 'over' weight"
        if errors:
            raise SchemaError(errors)


def load_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's fields checked; :raises ValidationError: with the fields' errors."""
    try:
        body = RuleSchema().load(dict(data))
    except SchemaError as exc:
        messages = exc.normalized_messages()
        details = {
            k: "; ".join(str(m) for m in v) if isinstance(v, list) else str(v)
            for k, v in (messages.items() if isinstance(messages, dict) else [])
        }
        raise ValidationError(
            "the rule was not saved: " + "; ".join(f"{k} {v}" for k, v in details.items()),
            details=details,
        ) from None
    body["countries"] = sorted({c.upper() for c in body["countries"]})
    for name in ("name", "method_contains", "method_equals", "carrier_code", "service_code"):
        body[name] = body[name].strip()
    return body


def get_rule(session: Session, rule_id: int) -> ServiceLevelRule:
    rule = session.get(ServiceLevelRule, rule_id)
    if rule is None:
        raise NotFound(f"service-level rule {rule_id} does not exist")
    return rule


def add_rule(session: Session, data: Mapping[str, Any], *, actor: str) -> ServiceLevelRule:
    """Add a rule at the end of the table."""
    body = load_rule(data)
    last = session.scalar(select(func.max(ServiceLevelRule.position))) or 0
    rule = ServiceLevelRule(
        position=last + 1, updated_by=actor, created_at=utcnow(), updated_at=utcnow(), **body
    )
    session.add(rule)
    session.flush()
    return rule


def update_rule(
    session: Session, rule_id: int, data: Mapping[str, Any], *, actor: str
) -> ServiceLevelRule:
    """Change a rule's conditions and action (its place stays)."""
    body = load_rule(data)
    rule = get_rule(session, rule_id)
    for name, value in body.items():
        setattr(rule, name, value)
    rule.updated_by = actor
    rule.updated_at = utcnow()
    return rule


def delete_rule(session: Session, rule_id: int) -> None:
    """Remove a rule; those after it move up."""
    session.delete(get_rule(session, rule_id))
    session.flush()
    _renumber(ordered_rules(session))


def move_rule(session: Session, rule_id: int, step: int) -> None:
    """Move a rule ``step`` places (-1: up, earlier; +1: down, later)."""
    rules = ordered_rules(session)
    index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if index is None:
        raise NotFound(f"service-level rule {rule_id} does not exist")
    target = max(0, min(len(rules) - 1, index + step))
    rules.insert(target, rules.pop(index))
    _renumber(rules)


def _renumber(rules: list[ServiceLevelRule]) -> None:
    for position, rule in enumerate(rules, start=1):
        if rule.position != position:
            rule.position = position
