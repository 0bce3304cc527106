"""Stripe's amount rules: its units per currency, both ways, and its three-decimal steps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.core.money import Money, MoneyError
from plugins.stripe.amounts import (
    STRIPE_THREE_DECIMAL,
    STRIPE_ZERO_DECIMAL,
    from_stripe_amount,
    stripe_exponent,
    stripe_rounded,
    to_stripe_amount,
)


@pytest.mark.parametrize(
    ("money", "stripe_amount"),
    [
        (Money.parse("1500", "JPY"), 1500),
        (Money.parse("10.00", "USD"), 1000),
        (Money.parse("1.500", "KWD"), 1500),
        (Money.parse("25", "MGA"), 25),
        (Money.parse("5", "ISK"), 500),
        (Money.parse("1000", "UGX"), 1000),
        (Money.parse("-3.50", "EUR"), -350),
    ],
)
def test_stripe_amounts_convert_both_ways(money, stripe_amount):
    assert to_stripe_amount(money) == stripe_amount
    assert from_stripe_amount(stripe_amount, money.currency.lower()) == money


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("USD", 2), ("JPY", 0), ("MGA", 0), ("KWD", 3), ("ISK", 2), ("usd", 2)],
)
def test_stripe_exponent(currency, expected):
    assert stripe_exponent(currency) == expected


def test_stripe_zero_decimal_currencies_take_whole_units():
    for code in STRIPE_ZERO_DECIMAL:
        assert stripe_exponent(code) == 0
        assert to_stripe_amount(Money.parse("7", code)) == 7


def test_to_stripe_refuses_amounts_stripe_cannot_carry():
    with pytest.raises(MoneyError, match="cannot be sent to Stripe exactly") as err:
        to_stripe_amount(Money.parse("25.50", "MGA"))
    assert "25.50" in str(err.value) and "MGA" in str(err.value)


def test_from_stripe_refuses_amounts_finer_than_iso_minor_unit():
    with pytest.raises(MoneyError, match="finer than") as err:
        from_stripe_amount(510, "ISK")
    assert "510" in str(err.value) and "ISK" in str(err.value)


@pytest.mark.parametrize("amount", [10.0, "1000", True, Decimal("10")])
def test_from_stripe_accepts_only_int_amounts(amount):
    with pytest.raises(MoneyError, match="Stripe amount must be an int"):
        from_stripe_amount(amount, "USD")


def test_to_stripe_requires_money():
    with pytest.raises(MoneyError, match="not a Money"):
        to_stripe_amount(1000)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("5.124", "5.120"),  # Stripe's own example: 5.124 KWD must be sent as 5120 (or 5130)
        ("5.125", "5.130"),  # half a step goes up
        ("5.126", "5.130"),
        ("5.120", "5.120"),
        ("-5.125", "-5.130"),
    ],
)
def test_stripe_three_decimal_amounts_round_to_the_nearest_ten(amount, expected):
    for code in STRIPE_THREE_DECIMAL:
        rounded = stripe_rounded(Money.parse(amount, code))
        assert rounded == Money.parse(expected, code)
        assert to_stripe_amount(rounded) % 10 == 0


def test_stripe_rounding_never_goes_above_what_stripe_holds():
    # Refunding KWD 5.126 when only 5.126 is left: 5.130 would be more than was taken.
    assert stripe_rounded(
        Money.parse("5.126", "KWD"), at_most=Money.parse("5.126", "KWD")
    ) == Money.parse("5.120", "KWD")
    assert stripe_rounded(
        Money.parse("5.126", "KWD"), at_most=Money.parse("9.000", "KWD")
    ) == Money.parse("5.130", "KWD")


def test_stripe_rounding_leaves_other_currencies_alone():
    for money in (
        Money.parse("5.12", "USD"),
        Money.parse("1501", "JPY"),
        Money.parse("0.125", "LYD"),
    ):
        assert stripe_rounded(money, at_most=Money.zero(money.currency)) == money
