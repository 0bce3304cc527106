import pytest

from hub.core.exceptions import ValidationError
from hub.core.order import Line
from hub.testing import order_data


def test_computed_total_is_lines_plus_shipping_plus_tax_minus_discount():
    data = order_data(lines=[Line("A", "a", 2, 1999), Line("B", "b", 1, 500)], shipping=500, tax=300,
                      discount=250)
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
