"""Invoice documents of orders as Shopify sends them (shared/vendor/shopify): tax-exclusive and
tax-inclusive shops, the tax per rate read back from the amounts, totals equal to the order's.

Shopify's EUR example is a tax-exclusive order (3 × 74.99, 6 % state tax 13.50). Shopify
wrote no tax-inclusive example: the test changes the EUR one as the Order resource
reference documents ``taxes_included`` (prices contain the tax: 224.97 holds 12.73 of 6 %).
"""

from __future__ import annotations

import pytest

from hub.channels.manage import ensure_manual_channel
from hub.invoicing import actions
from hub.orders import intake
from hub.testing import vendor_example
from plugins.shopify.mapping import order_from_shopify

SELLER = dict(seller_legal_name="Acme Trading GmbH", seller_tax_id="DE123456789")


@pytest.fixture
def hub(make_hub):
    return make_hub(**SELLER)


def _vendor_order(**changes) -> dict:
    raw = vendor_example("shopify/order_create_eur.response.json")["order"]
    raw.update(changes)
    return raw


def _invoice(hub, raw: dict) -> dict:
    data = order_from_shopify(raw)
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        order_id = intake.upsert_order(session, channel, data, actor="test").order.id
    with hub.db.transaction() as session:
        return actions.issue_invoice(session, order_id, hub.settings, actor="test").document


def test_a_tax_exclusive_shopify_order_is_invoiced_with_its_rate_on_top(hub):
    doc = _invoice(hub, _vendor_order())
    assert (doc["currency"], doc["exponent"], doc["taxes_included"]) == ("EUR", 2, False)
    [line] = doc["lines"]
    assert (line["quantity"], line["unit_price"], line["tax"], line["tax_rate"]) == (
        3,
        "74.99",
        "13.50",
        "6%",
    )
    assert line["total"] == "224.97"  # net: the tax comes on top
    assert doc["taxes"] == [{"rate": "6%", "base": "224.97", "amount": "13.50"}]
    assert (doc["subtotal"], doc["tax"], doc["shipping"], doc["total"]) == (
        "224.97",
        "13.50",
        "0.00",
        "238.47",  # Shopify's total_price
    )


def test_a_tax_inclusive_shopify_order_shows_the_tax_inside_and_the_net_base(hub):
    raw = _vendor_order(
        taxes_included=True,
        total_tax="12.73",
        current_total_tax="12.73",
        total_price="224.97",
        current_total_price="224.97",
    )
    for item in raw["line_items"]:
        item["tax_lines"] = [{"price": "12.73", "rate": 0.06, "title": "VAT"}]
    doc = _invoice(hub, raw)
    assert doc["taxes_included"] is True
    [line] = doc["lines"]
    assert (line["total"], line["tax"], line["tax_rate"]) == ("224.97", "12.73", "6%")
    # The base is the net amount in a tax-inclusive shop too: 224.97 - 12.73.
    assert doc["taxes"] == [{"rate": "6%", "base": "212.24", "amount": "12.73"}]
    assert (doc["tax"], doc["total"]) == ("12.73", "224.97")
    # Shopify says it is paid (financial_status), and the hub holds no payment of it.
    assert (doc["amount_paid"], doc["amount_due"], doc["payment_terms"]) == (
        "224.97",
        "0.00",
        "Paid",
    )
