import pytest

from hub.core.exceptions import ValidationError
from hub.core.money import MAX_AMOUNT
from hub.core.order import ChannelRefund, Line, PaymentData, expected_total, revise_lines
from hub.testing import order_data


def test_computed_total_is_lines_plus_shipping_plus_tax_minus_discount():
    data = order_data(
        lines=[Line("A", "a", 2, 1999), Line("B", "b", 1, 500)], shipping=500, tax=300, discount=250
    )
    assert data.subtotal == 4498
    assert data.computed_total == 4498 + 500 + 300 - 250


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"external_id": ""}, "external_id"),
        ({"currency": "XYZ"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [Line("A", "a", 1.5, 100)]}, "lines.0.quantity"),
    ],
)
def test_an_order_that_cannot_be_stored_is_refused_naming_the_field(overrides, field):
    with pytest.raises(ValidationError) as info:
        order_data(**overrides).check()
    assert field in info.value.details


# --- money that cannot be right ------------------------------------------------------------------


def _line(**overrides):
    values = dict(sku="A", name="a", quantity=1, unit_price=100)
    values.update(overrides)
    return Line(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        # 500.00 off a 1.00 line: an order of -499.00.
        ({"lines": [_line()], "shipping": 0, "discount": 50000}, "discount"),
        ({"lines": [_line()], "shipping": 0, "discount": 101}, "discount"),
        ({"shipping": -500}, "shipping"),
        ({"tax": -1}, "tax"),
        ({"discount": -1}, "discount"),
        ({"total": -1}, "total"),
        ({"total": 12.5}, "total"),
        ({"shipping": 4.99}, "shipping"),
        ({"tax": "1.00"}, "tax"),
        ({"shipping": True}, "shipping"),
        ({"shipping": MAX_AMOUNT + 1}, "shipping"),
        ({"lines": [_line(unit_price=-100)]}, "lines.0.unit_price"),
        ({"lines": [_line(unit_price=9.99)]}, "lines.0.unit_price"),
        ({"lines": [_line(unit_price=MAX_AMOUNT + 1)]}, "lines.0.unit_price"),
        ({"lines": [_line(), _line(tax=-5)]}, "lines.1.tax"),
        ({"lines": [_line(discount=-5)]}, "lines.0.discount"),
        ({"lines": [_line(discount=101)]}, "lines.0.discount"),
        ({"lines": [_line(quantity=-1)]}, "lines.0.quantity"),
        ({"lines": [_line(quantity=2, unit_price=MAX_AMOUNT)]}, "lines"),
        ({"payments": [PaymentData("pi_1", amount=-100)]}, "payments.0.amount"),
        ({"payments": [PaymentData("pi_1", amount=10.0)]}, "payments.0.amount"),
        (
            {"payments": [PaymentData("pi_1", amount=100, captured_amount=-1)]},
            "payments.0.captured_amount",
        ),
        ({"channel_refunds": [ChannelRefund("r1", amount=-100)]}, "channel_refunds.0.amount"),
    ],
)
def test_money_that_cannot_be_right_is_refused_naming_the_field(overrides, field):
    with pytest.raises(ValidationError) as info:
        order_data(**overrides).check()
    assert field in info.value.details
    assert field in info.value.message


def test_an_order_discounted_to_nothing_is_a_valid_order_of_zero():
    data = order_data(lines=[_line(quantity=2, unit_price=1999, discount=3998)], shipping=500)
    data.discount, data.total = 3998 + 500, 0  # free shipping too (Shopify: total_price "0.00")
    data.check()
    assert data.computed_total == 0


def test_a_line_refunded_on_the_channel_keeps_the_discount_it_was_sold_with():
    # Shopify: current_quantity 0, the discount allocation still that of the units ordered.
    data = order_data(lines=[_line(quantity=0, removed_quantity=2, unit_price=1000, discount=500)])
    data.check()


# --- what a channel's new lines change ----------------------------------------------------------


def _lines(*specs):
    return [
        Line(sku=sku, name=sku, quantity=qty, unit_price=price, external_id=ext)
        for sku, qty, price, ext in specs
    ]


def test_units_refunded_on_the_channel_are_a_reduction_not_an_edit():
    stored = _lines(("A", 3, 1000, "11"), ("B", 1, 500, "12"))
    revision = revise_lines(stored, _lines(("A", 1, 1000, "11"), ("B", 1, 500, "12")))
    assert revision.reduced == {0: 1} and not revision.edited


@pytest.mark.parametrize(
    "incoming",
    [
        (("A", 4, 1000, "11"), ("B", 1, 500, "12")),  # raised
        (("A", 3, 900, "11"), ("B", 1, 500, "12")),  # re-priced
        (("A", 3, 1000, "11"),),  # a line dropped
        (("A", 3, 1000, "11"), ("B", 1, 500, "12"), ("C", 1, 100, "13")),  # a line added
        (("A", 3, 1000, "11"), ("X", 1, 500, "12")),  # another SKU
    ],
)
def test_any_other_change_of_lines_is_an_edit(incoming):
    stored = _lines(("A", 3, 1000, "11"), ("B", 1, 500, "12"))
    assert revise_lines(stored, _lines(*incoming)).edited


def test_tax_is_added_on_top_unless_the_prices_include_it():
    assert expected_total(10000, 500, 1900, 1000, taxes_included=False) == 11400
    assert expected_total(10000, 500, 1900, 1000, taxes_included=True) == 9500


def test_lines_sent_in_another_order_are_matched_by_the_channels_line_id():
    stored = _lines(("A", 3, 1000, "11"), ("B", 2, 500, "12"))
    revision = revise_lines(stored, _lines(("B", 1, 500, "12"), ("A", 3, 1000, "11")))
    assert not revision.edited and revision.reduced == {1: 1}
    assert [revision.matches[i].sku for i in (0, 1)] == ["A", "B"]
