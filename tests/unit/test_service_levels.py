"""Service level by rules, as the merchant writes them: the first matching service wins, and a
ground-only restriction keeps hazardous goods off planes whatever the customer chose."""

from __future__ import annotations

from hub.routing.service_levels import (
    GROUND_ONLY,
    SERVICE,
    ParcelFacts,
    choose,
    is_air_service,
    parcel_of,
)
from hub.store.models import ServiceLevelRule, SkuAttributes


def rule(position: int, action: str = SERVICE, **values) -> ServiceLevelRule:
    values.setdefault("name", "")
    for name in ("method_contains", "method_equals", "carrier_code", "service_code"):
        values.setdefault(name, "")
    values.setdefault("any_hazardous", False)
    values.setdefault("any_fragile", False)
    values.setdefault("countries", [])
    return ServiceLevelRule(id=position, position=position, action=action, enabled=True, **values)


EXPRESS = rule(
    1, name="Express chosen", method_contains="express", carrier_code="ups",
    service_code="ups_next_day_air",
)  # fmt: skip
HAZARDOUS = rule(2, GROUND_ONLY, name="Hazardous by road", any_hazardous=True)
HEAVY = rule(
    3, name="Heavy goes freight", weight_over_grams=30_000, carrier_code="xpo",
    service_code="xpo_ltl_freight",
)  # fmt: skip
DEFAULT = rule(4, name="Everything else", carrier_code="ups", service_code="ups_ground")
TABLE = [EXPRESS, HAZARDOUS, HEAVY, DEFAULT]


def test_express_chosen_gets_next_day_air():
    choice = choose(TABLE, method="UPS Express", parcel=ParcelFacts(1000), country="US")
    assert (choice.carrier_code, choice.service_code) == ("ups", "ups_next_day_air")
    assert choice.rule_id == 1 and "Express chosen" in choice.reason


def test_a_hazardous_item_never_gets_an_air_service_even_when_express_was_chosen():
    choice = choose(TABLE, method="Express", parcel=ParcelFacts(1000, hazardous=True), country="US")
    assert not is_air_service(choice.service_code)
    assert (choice.carrier_code, choice.service_code) == ("ups", "ups_ground")
    assert choice.ground_only
    # The decision says what was passed over, and why.
    assert "ups_next_day_air flies" in choice.reason and "Hazardous by road" in choice.reason


def test_a_ground_only_rule_applies_even_placed_after_the_air_rule_and_uses_its_own_service():
    table = [EXPRESS, rule(2, GROUND_ONLY, any_hazardous=True, carrier_code="fedex",
                           service_code="fedex_ground")]  # fmt: skip
    choice = choose(table, method="express", parcel=ParcelFacts(500, hazardous=True), country="DE")
    assert (choice.carrier_code, choice.service_code) == ("fedex", "fedex_ground")


def test_ground_only_with_no_ground_service_named_leaves_the_warehouse_a_ground_choice():
    choice = choose(
        [EXPRESS, HAZARDOUS], method="express", parcel=ParcelFacts(1, hazardous=True), country=""
    )
    assert choice.service_code == "" and choice.ground_only
    assert "the warehouse picks a ground service" in choice.reason


def test_over_30_kg_goes_freight_and_the_first_matching_rule_wins():
    heavy = choose(TABLE, method="Standard", parcel=ParcelFacts(31_000), country="US")
    assert heavy.service_code == "xpo_ltl_freight"
    light = choose(TABLE, method="Standard", parcel=ParcelFacts(29_000), country="US")
    assert light.service_code == "ups_ground"


def test_conditions_read_method_equality_fragile_and_destination_country():
    table = [
        rule(1, method_equals="Next Day", countries=["US"], carrier_code="ups",
             service_code="ups_next_day_air"),
        rule(2, any_fragile=True, carrier_code="fedex", service_code="fedex_home_delivery"),
    ]  # fmt: skip
    assert choose(table, method="next day", parcel=ParcelFacts(1), country="us").rule_id == 1
    assert (
        choose(table, method="Next Day Saver", parcel=ParcelFacts(1), country="US").rule_id is None
    )
    assert choose(table, method="Next Day", parcel=ParcelFacts(1), country="DE").rule_id is None
    fragile = choose(table, method="", parcel=ParcelFacts(1, fragile=True), country="DE")
    assert fragile.service_code == "fedex_home_delivery"


def test_a_disabled_rule_is_skipped_and_no_match_leaves_the_service_to_the_warehouse():
    off = rule(1, carrier_code="ups", service_code="ups_ground")
    off.enabled = False
    choice = choose([off], method="", parcel=ParcelFacts(1), country="US")
    assert choice.service_code == "" and choice.rule_id is None
    assert choice.reason == "no rule matched: the warehouse picks the service"


def test_air_services_are_told_from_ground_ones_by_their_codes():
    for code in ("ups_next_day_air", "fedex_2day", "fedex_priority_overnight",
                 "usps_priority_mail_express", "dhl_express_worldwide"):  # fmt: skip
        assert is_air_service(code), code
    for code in ("ups_ground", "fedex_ground", "fedex_home_delivery", "usps_parcel_select"):
        assert not is_air_service(code), code


def test_a_parcel_weighs_its_units_and_stacks_their_sizes():
    attrs = {
        "MUG": SkuAttributes(sku="MUG", weight_grams=350, length_mm=120, width_mm=90,
                             height_mm=100, hazardous=False, fragile=True),
        "SPRAY": SkuAttributes(sku="SPRAY", weight_grams=400, length_mm=60, width_mm=60,
                               height_mm=200, hazardous=True, fragile=False),
    }  # fmt: skip
    parcel = parcel_of([("MUG", 2), ("SPRAY", 1)], attrs)
    assert parcel.weight_grams == 2 * 350 + 400
    assert parcel.dimensions_mm == (120, 90, 2 * 100 + 200)
    assert parcel.dimensions_cm == (12.0, 9.0, 40.0)
    assert parcel.hazardous and parcel.fragile and parcel.unweighed == ()
    unknown = parcel_of([("MUG", 1), ("NEW", 1)], attrs)
    assert unknown.unweighed == ("NEW",) and unknown.dimensions_mm is None
