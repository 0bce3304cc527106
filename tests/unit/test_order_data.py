import pytest

from hub.core.exceptions import ValidationError
from hub.core.order import Line, expected_total, revise_lines
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
