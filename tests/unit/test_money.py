"""Money: exact parsing, formatting, arithmetic and allocation (Stripe's units: plugins/stripe/tests/test_amounts.py)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.money import CURRENCY_EXPONENTS, Money, MoneyError, exponent

CURRENCIES = sorted(CURRENCY_EXPONENTS)

currencies = st.sampled_from(CURRENCIES)
amounts = st.integers(min_value=-(10**30), max_value=10**30)
moneys = st.builds(Money, amounts, currencies)
# At least one positive weight: an all-zero list gets a 1 in its last place.
weight_lists = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).map(
    lambda ws: ws if any(ws) else [*ws[:-1], 1]
)


# -- currencies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("XOF", 0),
        ("MGA", 2),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
    ],
)
def test_exponent_follows_iso_4217(currency, expected):
    assert exponent(currency) == expected


def test_exponent_normalises_case_and_whitespace():
    assert exponent(" usd ") == 2
    assert Money(100, " eur").currency == "EUR"


def test_currency_table_holds_only_three_letter_codes_with_sane_exponents():
    assert len(CURRENCY_EXPONENTS) > 150
    for code, exp in CURRENCY_EXPONENTS.items():
        assert len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()
        assert exp in (0, 2, 3, 4)


@pytest.mark.parametrize("code", ["XAU", "XAG", "XTS", "XXX", "XDR"])
def test_codes_without_a_minor_unit_are_not_currencies(code):
    with pytest.raises(MoneyError, match=f"unknown currency '{code}'"):
        exponent(code)


def test_exponent_rejects_unknown_currency():
    with pytest.raises(MoneyError, match="unknown currency 'ABC'"):
        exponent("ABC")


@pytest.mark.parametrize("code", ["", "US", "USDX", "U$D", "12A", "ÜSD", None, 840])
def test_exponent_rejects_malformed_codes(code):
    with pytest.raises(MoneyError, match="invalid currency"):
        exponent(code)


# -- construction ----------------------------------------------------------------


@pytest.mark.parametrize("amount", [1.0, Decimal("1"), "100", True, None])
def test_constructor_accepts_only_int_minor_units(amount):
    with pytest.raises(MoneyError, match="amount must be an int") as err:
        Money(amount, "USD")
    assert "USD" in str(err.value)


def test_constructor_rejects_unknown_currency():
    with pytest.raises(MoneyError, match="unknown currency 'ABC'"):
        Money(1, "ABC")


def test_zero_and_of_minor_are_readable_constructors():
    assert Money.zero("JPY") == Money(0, "JPY")
    assert Money.of_minor(40994, "usd") == Money(40994, "USD")


def test_money_is_immutable_and_hashable():
    m = Money(100, "USD")
    with pytest.raises(AttributeError):
        m.amount = 5  # type: ignore[misc]
    assert {m, Money(100, "usd")} == {m}


# -- parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("409.94", "USD", 40994),
        ("1500", "JPY", 1500),
        ("1500.00", "JPY", 1500),
        ("-3.50", "USD", -350),
        ("+3.50", "USD", 350),
        ("  12.3\n", "USD", 1230),
        ("0.5", "KWD", 500),
        ("1.2345", "CLF", 12345),
        ("0", "EUR", 0),
        ("-0.00", "EUR", 0),
        ("007.10", "EUR", 710),
        (".5", "EUR", 50),
        ("5.", "EUR", 500),
        ("12345678901234567890123456789.99", "USD", 1234567890123456789012345678999),
        (5, "USD", 500),
        (-2, "KWD", -2000),
        (1500, "JPY", 1500),
        (Decimal("409.94"), "USD", 40994),
        (Decimal("1.500"), "KWD", 1500),
        (Decimal("1E+3"), "USD", 100000),
        (Decimal("-0.10"), "USD", -10),
    ],
)
def test_parse_reads_decimal_amounts_exactly(text, currency, minor):
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("1.005", "USD", "has more decimals than USD allows (2)"),
        ("1500.5", "JPY", "has more decimals than JPY allows (0)"),
        ("0.0001", "KWD", "has more decimals than KWD allows (3)"),
        (Decimal("0.001"), "USD", "has more decimals than USD allows (2)"),
    ],
)
def test_parse_rejects_more_decimals_than_currency_allows(text, currency, message):
    with pytest.raises(MoneyError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        Money.parse(text, currency)
    assert repr(text) in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "1e3", "1E3", "NaN", "nan", "Infinity", "-inf", "1,000.00", "1 000",
     "1_000", "12.34.56", ".", "-", "+-1", "$5", "5 USD", "٣"],
)  # fmt: skip
def test_parse_rejects_text_that_is_not_a_plain_decimal(text):
    with pytest.raises(MoneyError, match="cannot parse") as err:
        Money.parse(text, "USD")
    assert repr(text) in str(err.value)
    assert "USD" in str(err.value)


@pytest.mark.parametrize("value", [1.5, 0.1, 10.0, float("nan"), float("inf")])
def test_parse_refuses_floats_because_floats_are_never_money(value):
    with pytest.raises(MoneyError, match="floats are never money") as err:
        Money.parse(value, "USD")
    assert repr(value) in str(err.value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")])
def test_parse_rejects_non_finite_decimals(value):
    with pytest.raises(MoneyError, match="not a finite number") as err:
        Money.parse(value, "USD")
    assert repr(value) in str(err.value)


@pytest.mark.parametrize("value", [True, None, [1], b"1"])
def test_parse_rejects_other_types(value):
    with pytest.raises(MoneyError) as err:
        Money.parse(value, "USD")
    assert repr(value) in str(err.value)


def test_parse_rejects_absurdly_large_amounts_without_building_them():
    # What json.loads(..., parse_float=Decimal) makes of "1e999999999".
    with pytest.raises(MoneyError, match="too large"):
        Money.parse(Decimal("1E+999999999"), "USD")
    with pytest.raises(MoneyError, match="too large"):
        Money.parse("9" * 60, "USD")


def test_parse_rejects_unknown_currency():
    with pytest.raises(MoneyError, match="unknown currency 'ABC'"):
        Money.parse("1.00", "abc")


# -- formatting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(40994, "USD"), "409.94"),
        (Money(1500, "JPY"), "1500"),
        (Money(500, "KWD"), "0.500"),
        (Money(-350, "USD"), "-3.50"),
        (Money(-5, "USD"), "-0.05"),
        (Money(0, "USD"), "0.00"),
        (Money(12345, "CLF"), "1.2345"),
    ],
)
def test_str_has_exactly_the_currency_decimals(money, text):
    assert str(money) == text
    assert money.format() == text
    assert Money.parse(text, money.currency) == money


def test_repr_shows_decimal_amount_and_currency():
    assert repr(Money(40994, "USD")) == "Money('409.94', 'USD')"


@pytest.mark.parametrize(
    ("money", "expected"),
    [
        (Money(40994, "USD"), Decimal("409.94")),
        (Money(1500, "JPY"), Decimal("1500")),
        (Money(-500, "KWD"), Decimal("-0.500")),
        (Money(10**40 + 1, "USD"), Decimal("1" + "0" * 37 + "0.01")),
    ],
)
def test_to_decimal_is_exact(money, expected):
    result = money.to_decimal()
    assert result == expected
    assert result.as_tuple() == expected.as_tuple()


@given(moneys)
def test_parse_of_str_round_trips(m):
    assert Money.parse(str(m), m.currency) == m


@given(moneys)
def test_parse_of_to_decimal_round_trips(m):
    assert Money.parse(m.to_decimal(), m.currency) == m


# -- arithmetic ------------------------------------------------------------------


def test_arithmetic_within_one_currency():
    a, b = Money(1000, "USD"), Money(250, "USD")
    assert a + b == Money(1250, "USD")
    assert a - b == Money(750, "USD")
    assert -b == Money(-250, "USD")
    assert abs(Money(-250, "USD")) == b
    assert b * 3 == Money(750, "USD")
    assert 3 * b == Money(750, "USD")
    assert a > b and b < a and a >= a and b <= b
    assert bool(b) and not Money.zero("USD")


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_is_an_error(operation):
    usd, eur = Money(100, "USD"), Money(100, "EUR")
    with pytest.raises(MoneyError, match="different currencies") as err:
        operation(usd, eur)
    assert "USD" in str(err.value) and "EUR" in str(err.value)


def test_amounts_in_different_currencies_are_never_equal():
    assert Money(100, "USD") != Money(100, "EUR")


@pytest.mark.parametrize("factor", [1.5, 2.0, Decimal("2"), True])
def test_multiplying_by_anything_but_int_is_an_error(factor):
    with pytest.raises(MoneyError, match="int only"):
        _ = Money(100, "USD") * factor
    with pytest.raises(MoneyError, match="int only"):
        _ = factor * Money(100, "USD")


def test_adding_a_plain_number_is_a_type_error():
    with pytest.raises(TypeError):
        _ = Money(100, "USD") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Money(100, "USD") < 1  # type: ignore[operator]


def test_sum_totals_one_currency_and_starts_at_zero():
    items = [Money(100, "USD"), Money(250, "USD"), Money(-50, "USD")]
    assert Money.sum(items, "USD") == Money(300, "USD")
    assert Money.sum([], "JPY") == Money.zero("JPY")
    assert Money.sum(iter(items), "usd") == Money(300, "USD")


def test_sum_rejects_a_different_currency():
    with pytest.raises(MoneyError, match="different currency") as err:
        Money.sum([Money(100, "USD"), Money(100, "EUR")], "USD")
    assert "EUR" in str(err.value)


@given(moneys, amounts)
def test_adding_then_subtracting_gives_back_the_original(a, other):
    b = Money(other, a.currency)
    assert a + b - b == a


# -- allocation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "weights", "shares"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (5, [0, 1, 1, 0], [0, 3, 2, 0]),
        (100, [1], [100]),
        (0, [1, 2, 3], [0, 0, 0]),
        (10, [3, 7], [3, 7]),
        (7, [1, 1, 1, 1], [2, 2, 2, 1]),
        (1, [1, 1, 1], [1, 0, 0]),
        # 11 by [1, 2]: exact parts 3.67, 7.33 -> the larger fraction (first) wins.
        (11, [1, 2], [4, 7]),
        # 10 by [1, 2, 3]: exact 1.67, 3.33, 5.0 -> leftover unit to index 0.
        (10, [1, 2, 3], [2, 3, 5]),
    ],
)
def test_allocate_uses_largest_remainder_with_ties_to_earliest(amount, weights, shares):
    result = Money(amount, "USD").allocate(weights)
    assert [m.amount for m in result] == shares
    assert all(m.currency == "USD" for m in result)


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1], [1.5], [True, 1], ["1"], "12", None, 3])
def test_allocate_rejects_bad_weights(weights):
    with pytest.raises(MoneyError, match="cannot allocate") as err:
        Money(100, "USD").allocate(weights)
    assert "USD" in str(err.value)


def test_split_shares_evenly_with_extra_units_first():
    assert [m.amount for m in Money(1000, "JPY").split(3)] == [334, 333, 333]
    assert Money(1000, "JPY").split(1) == [Money(1000, "JPY")]


@pytest.mark.parametrize("n", [0, -1, 1.0, True])
def test_split_rejects_a_non_positive_or_non_int_count(n):
    with pytest.raises(MoneyError, match="cannot split"):
        Money(100, "USD").split(n)


@given(moneys, weight_lists)
def test_allocate_sums_exactly_and_each_share_is_within_one_unit(m, weights):
    shares = m.allocate(weights)
    assert len(shares) == len(weights)
    assert Money.sum(shares, m.currency) == m
    total_weight = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(m.amount * weight, total_weight)
        assert abs(share.amount - exact) < 1
        if weight == 0:
            assert share.amount == 0


@given(moneys, weight_lists)
def test_allocate_is_deterministic_and_mirrors_negative_amounts(m, weights):
    assert m.allocate(weights) == m.allocate(list(weights))
    assert (-m).allocate(weights) == [-share for share in m.allocate(weights)]
