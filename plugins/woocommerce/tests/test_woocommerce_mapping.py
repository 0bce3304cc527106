"""The mapping on every kind of order the sandbox writes: coupons, fees, lines without a SKU,
tax-inclusive stores. WooCommerce's figures and the hub's parts must agree to the cent."""

from __future__ import annotations

import pytest

from plugins.woocommerce.mapping import Handling, handling, order_from_woocommerce
from plugins.woocommerce.sandbox import WooCommerceSandbox


@pytest.mark.parametrize("prices_include_tax", [False, True])
def test_every_generated_order_adds_up_to_woocommerces_total(prices_include_tax):
    store = WooCommerceSandbox(orders=300, seed=11, prices_include_tax=prices_include_tax)
    kinds: set[str] = set()
    for raw in store.orders.values():
        order = order_from_woocommerce(raw)
        assert order.total == order.computed_total, raw["id"]
        assert order.taxes_included is prices_include_tax
        kinds |= {"coupon"} if raw["coupon_lines"] else set()
        kinds |= {"fee"} if raw["fee_lines"] else set()
        kinds |= {"no sku"} if any(not x["sku"] for x in raw["line_items"]) else set()
    assert {"coupon", "fee", "no sku"} <= kinds


def test_an_order_on_hold_is_taken_only_with_a_payment_the_hub_captures():
    store = WooCommerceSandbox(orders=8, seed=2, clean=True, payment_meta="_stripe_intent_id")
    raw = store.order(store.order_ids[0])
    assert raw["status"] == "on-hold"
    assert handling(raw) is Handling.WAIT  # a bank transfer to confirm, as far as anyone knows
    assert handling(raw, "_stripe_intent_id") is Handling.IMPORT
    [payment] = order_from_woocommerce(raw, payment_meta="_stripe_intent_id").payments
    assert (payment.reference, payment.status, payment.captured_amount) == (
        store.intent_id(raw["id"]),
        "authorized",
        0,
    )
    paid = dict(raw, status="processing")
    [payment] = order_from_woocommerce(paid, payment_meta="_stripe_intent_id").payments
    assert payment.status == "captured" and payment.captured_amount == payment.amount
