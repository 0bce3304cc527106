"""financial_status and fulfillment_status follow from payments and shipments alone, by the rules under them."""

from dataclasses import dataclass, field

import pytest

from hub.core.status import (
    PAYMENT_STATUSES,
    blocking_payments,
    financial_status,
    fulfillment_status,
    next_payment_status,
    units_open,
    units_shipped,
)


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


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        ("pending", "authorized", "authorized"),
        ("authorized", "captured", "captured"),
        ("captured", "authorized", "captured"),  # a stale authorisation after the capture
        ("authorized", "pending", "authorized"),
        ("captured", "failed", "captured"),  # money taken stays taken
        ("captured", "voided", "captured"),
        ("authorized", "voided", "voided"),
        ("voided", "failed", "failed"),  # both ends rank alike
        ("failed", "voided", "voided"),
        ("failed", "captured", "failed"),
        ("authorized", None, "authorized"),
        ("authorized", "", "authorized"),
    ],
)
def test_a_payment_never_goes_back_a_step(current, reported, expected):
    assert next_payment_status(current, reported) == expected


def test_the_payment_statuses_keep_their_order():
    assert PAYMENT_STATUSES == ("pending", "authorized", "captured", "voided", "failed")


@dataclass
class Pay:
    reference: str
    status: str
    disputed: bool = False


def test_failed_voided_and_disputed_payments_block_a_confirmation():
    ok, failed = Pay("a", "captured"), Pay("b", "failed")
    voided, disputed = Pay("c", "voided"), Pay("d", "captured", disputed=True)
    assert blocking_payments([ok, failed, voided, disputed]) == [failed, voided, disputed]
    assert blocking_payments([ok, Pay("e", "authorized")]) == []


@dataclass
class ShippedLine:
    order_line_id: int
    quantity: int


@dataclass
class Shipped:
    status: str
    lines: list[ShippedLine] = field(default_factory=list)


@dataclass
class OrderedLine:
    id: int
    quantity: int
    requires_shipping: bool = True


def test_voided_shipments_ship_nothing():
    shipments = [
        Shipped("shipped", [ShippedLine(1, 1), ShippedLine(2, 1)]),
        Shipped("voided", [ShippedLine(1, 1)]),
        Shipped("shipped", [ShippedLine(1, 1)]),
    ]
    assert units_shipped(shipments) == {1: 2, 2: 1}


def test_units_open_are_what_is_owed_and_not_shipped():
    lines = [OrderedLine(1, 3), OrderedLine(2, 1), OrderedLine(3, 2, requires_shipping=False)]
    assert units_open(lines, {1: 1, 2: 1}) == {1: 2, 3: 2}
    assert units_open(lines, {1: 1, 2: 1}, shipping_only=True) == {1: 2}
    assert units_open(lines, {1: 5}) == {2: 1, 3: 2}
