"""The purchase order life cycle as a table, and what a receipt may bring."""

from __future__ import annotations

import pytest

from hub.core.exceptions import ValidationError
from hub.core.purchasing import (
    InvalidPurchaseOrderTransition,
    check_receipt,
    next_status,
    receipt_event,
)


@pytest.mark.parametrize(
    ("status", "event", "to"),
    [
        ("draft", "send", "sent"),
        ("sent", "receive_partial", "partially_received"),
        ("partially_received", "receive_partial", "partially_received"),
        ("sent", "receive", "received"),
        ("partially_received", "receive", "received"),
        ("draft", "cancel", "cancelled"),
        ("sent", "cancel", "cancelled"),
        ("sent", "send", "sent"),  # the same move again is a no-op
    ],
)
def test_allowed_moves(status, event, to):
    assert next_status("PO-2026-000001", status, event) == to


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("draft", "receive_partial"),  # a draft was never ordered
        ("received", "receive_partial"),
        ("cancelled", "send"),
        ("partially_received", "cancel"),  # units arrived: close it by receiving
        ("received", "cancel"),
        ("draft", "ship"),
    ],
)
def test_illegal_moves_name_the_po_status_and_what_is_allowed(status, event):
    with pytest.raises(InvalidPurchaseOrderTransition) as caught:
        next_status("PO-2026-000007", status, event)
    assert f"purchase order PO-2026-000007 is {status}: cannot {event}" in caught.value.message


def test_an_over_receipt_is_refused_naming_the_line_unless_forced():
    ordered, received = {"A": 10, "B": 5}, {"A": 8, "B": 0}
    with pytest.raises(ValidationError) as caught:
        check_receipt(ordered, received, {"A": 3, "B": 5}, force=False)
    assert "A: 3 received but only 2 of 10 still open" in caught.value.message
    assert list(caught.value.details["lines"]) == ["A"]
    check_receipt(ordered, received, {"A": 3, "B": 5}, force=True)
    with pytest.raises(ValidationError, match="C: not on this purchase order"):
        check_receipt(ordered, received, {"C": 1}, force=True)


def test_a_receipt_completes_the_po_only_when_every_line_is_in():
    assert receipt_event({"A": 10, "B": 5}, {"A": 10, "B": 4}) == "receive_partial"
    assert receipt_event({"A": 10, "B": 5}, {"A": 11, "B": 5}) == "receive"
