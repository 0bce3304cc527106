"""financial_status and fulfillment_status follow from payments and shipments alone."""

from dataclasses import dataclass

import pytest

from hub.core.status import financial_status, fulfillment_status


@dataclass
class P:
    status: str
    amount: int = 1000
    captured_amount: int = 0
    refunded_amount: int = 0


@pytest.mark.parametrize(
    ("payments", "expected"),
    [
        ([], "pending"),
        ([P("pending")], "pending"),
        ([P("authorized")], "authorized"),
        ([P("captured", captured_amount=1000)], "paid"),
        ([P("captured", captured_amount=400)], "partially_paid"),
        ([P("captured", captured_amount=400), P("captured", captured_amount=600)], "paid"),
        ([P("captured", captured_amount=1000, refunded_amount=300)], "partially_refunded"),
        ([P("captured", captured_amount=1000, refunded_amount=1000)], "refunded"),
        ([P("voided")], "voided"),
        ([P("failed")], "failed"),
        ([P("failed"), P("voided")], "voided"),
        ([P("failed"), P("authorized")], "authorized"),
        ([P("failed"), P("captured", captured_amount=1000)], "paid"),
    ],
)
def test_financial_status_follows_the_payments(payments, expected):
    assert financial_status(payments, total=1000) == expected


def test_an_order_paid_outside_the_hub_keeps_what_its_channel_said():
    assert financial_status([], total=1000, fallback="paid") == "paid"
    assert financial_status([], total=1000, fallback="nonsense") == "pending"


@pytest.mark.parametrize(
    ("shipped", "expected"),
    [
        ({}, "unfulfilled"),
        ({1: 1}, "partial"),
        ({1: 2}, "partial"),
        ({1: 2, 2: 1}, "fulfilled"),
        ({1: 5, 2: 1}, "fulfilled"),
    ],
)
def test_fulfillment_status_follows_the_shipped_quantities(shipped, expected):
    assert fulfillment_status({1: 2, 2: 1}, shipped) == expected
