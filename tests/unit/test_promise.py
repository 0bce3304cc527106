"""The delivery promise's days: a location's cut-off and working days, carriers' weekdays."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from hub.core.exceptions import ValidationError
from hub.routing.promise import (
    ShippingDays,
    add_working_days,
    days_in_words,
    parse_cutoff,
    parse_working_days,
    promise_group,
    ship_date,
)
from hub.store.models import FulfillmentGroup, TransitTime

WEEKDAYS = frozenset({1, 2, 3, 4, 5})
TWO_PM = time(14, 0)
# 2026-12-04 is a Friday.
FRIDAY = date(2026, 12, 4)


def test_before_the_cut_off_on_a_working_day_it_ships_that_day():
    assert ship_date(datetime(2026, 12, 3, 13, 59), TWO_PM, WEEKDAYS) == date(2026, 12, 3)


def test_after_the_cut_off_it_ships_the_next_working_day():
    assert ship_date(datetime(2026, 12, 3, 14, 0), TWO_PM, WEEKDAYS) == date(2026, 12, 4)


def test_friday_after_the_cut_off_and_the_weekend_ship_on_monday():
    monday = date(2026, 12, 7)
    assert ship_date(datetime(2026, 12, 4, 16, 30), TWO_PM, WEEKDAYS) == monday
    assert ship_date(datetime(2026, 12, 5, 9, 0), TWO_PM, WEEKDAYS) == monday
    assert ship_date(datetime(2026, 12, 6, 9, 0), TWO_PM, WEEKDAYS) == monday


def test_a_location_working_saturdays_ships_on_saturday():
    six_days = frozenset({1, 2, 3, 4, 5, 6})
    assert ship_date(datetime(2026, 12, 4, 16, 30), TWO_PM, six_days) == date(2026, 12, 5)


def test_transit_days_skip_the_weekend():
    assert add_working_days(FRIDAY, 0) == FRIDAY
    assert add_working_days(FRIDAY, 1) == date(2026, 12, 7)
    assert add_working_days(FRIDAY, 3) == date(2026, 12, 9)


def test_a_group_gets_both_days_and_says_what_they_came_from():
    group = FulfillmentGroup(key="hub-1", location_code="BER", service_code="ups_ground")
    table = {"DE": TransitTime(zone="DE", days=2, air_days=1), "*": TransitTime(zone="*", days=6)}
    friday_late = datetime(2026, 12, 4, 15, 0)
    promise_group(group, friday_late, ShippingDays("14:00", "12345"), table, "DE")
    assert (group.ship_by, group.deliver_by) == (date(2026, 12, 7), date(2026, 12, 9))
    assert group.promise_basis == (
        "BER: cut-off 14:00, Mon–Fri; 2 day(s) in transit to DE (transit table)"
    )
    group.service_code = "ups_next_day_air"  # flies: the air days
    promise_group(group, friday_late, ShippingDays(), table, "DE")
    assert group.deliver_by == date(2026, 12, 8)
    promise_group(group, friday_late, ShippingDays(), table, "JP")  # the * row
    assert group.deliver_by == add_working_days(date(2026, 12, 7), 6)
    promise_group(group, friday_late, ShippingDays(), table, "DE", quoted=4)  # the quote wins
    assert group.deliver_by == date(2026, 12, 11) and "quoted by the carrier" in group.promise_basis
    promise_group(group, friday_late, ShippingDays(), {}, "DE")
    assert group.deliver_by is None and "no transit time for DE" in group.promise_basis


def test_settings_refuse_what_is_not_a_time_or_a_weekday():
    assert parse_cutoff("09:30") == time(9, 30)
    assert parse_working_days("135") == frozenset({1, 3, 5})
    assert days_in_words({1, 2, 3, 4, 5}) == "Mon–Fri" and days_in_words({1, 3}) == "Mon, Wed"
    for bad in ("25:00", "9", "noon"):
        with pytest.raises(ValidationError):
            parse_cutoff(bad)
    for bad in ("", "8", "1a"):
        with pytest.raises(ValidationError):
            parse_working_days(bad)
