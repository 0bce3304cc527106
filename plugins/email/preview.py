"""A sample order and each message's event for it: what the admin's preview renders.

The sample is made up (no real customer's data leaves the database for a
preview): two lines, a shipment with a tracking number, a refund, an invoice,
a delay with the expected day, an approved return and the after-delivery links,
so every template shows all it can say.
"""

from __future__ import annotations

from typing import Any

from hub.core.events import OrderEvent

#: The messages in words, for the admin's list (event name → words).
MESSAGE_WORDS: dict[str, str] = {
    "order.confirmed": "Order confirmed",
    "order.partially_shipped": "Part of the order shipped",
    "order.shipped": "Order shipped",
    "order.delivered": "Order delivered",
    "order.delivery_exception": "A problem with the delivery",
    "order.cancelled": "Order cancelled",
    "order.backordered": "Confirmed with items on backorder",
    "order.refunded": "Refund made",
    "order.invoice_issued": "Invoice",
    "order.credit_note_issued": "Credit note",
    "order.satisfaction_check": "Did everything arrive well? (after delivery)",
    "order.review_requested": "Review request",
    "order.return_approved": "Return approved",
    "order.delayed": "Order delayed (out of stock)",
}

SAMPLE_TOKEN = "sample-order"


def sample_order(currency: str = "EUR") -> dict[str, Any]:
    """An order as :func:`hub.orders.serialize.order_detail` gives it, made up."""
    return {
        "id": 1001,
        "number": "#1001",
        "status": "confirmed",
        "financial_status": "paid",
        "currency": currency,
        "locale": "",
        "email": "alex.sample@example.com",
        "customer": {"email": "alex.sample@example.com", "name": "Alex Sample", "phone": ""},
        "tracking_token": SAMPLE_TOKEN,
        "lines": [
            {
                "id": 1,
                "sku": "MUG-BLUE",
                "name": "Stoneware mug, blue",
                "quantity": 2,
                "unit_price": "14.50",
            },
            {
                "id": 2,
                "sku": "TEA-100",
                "name": "Loose-leaf tea, 100 g",
                "quantity": 1,
                "unit_price": "1249.00",
            },
        ],
        "subtotal": "1278.00",
        "shipping": "4.90",
        "discount": "0.00",
        "tax": "204.85",
        "total": "1282.90",
        "shipments": [
            {
                "id": 1,
                "status": "shipped",
                "carrier": "DHL",
                "service": "Paket",
                "tracking_number": "JD014600003",
                "tracking_url": "",
                "lines": [{"line_id": 1, "quantity": 2}],
            }
        ],
        "returns": [
            {
                "id": 7,
                "resolution": "refund",
                "currency": currency,
                "refund_amount": "29.00",
                "shipping_refund": "0.00",
                "lines": [{"line_id": 1, "sku": "MUG-BLUE", "quantity": 2}],
            }
        ],
    }


def sample_event(event_name: str, public_url: str) -> OrderEvent:
    """The event of ``event_name`` for the sample order, with the data its message shows."""
    base = (public_url or "").rstrip("/")
    data: dict[str, Any] = {
        "shipment_id": 1,
        "amount": 2900,
        "reason": "",
        "number": "INV-2026-000123",
        "total": "1282.90",
        "credit_of": "INV-2026-000122",
        "cause": "out_of_stock",
        "expected_at": "2026-12-20T09:00:00+00:00",
        "lines": [{"line_id": 2, "sku": "TEA-100", "quantity": 1}],
        "return_id": 7,
        "yes_url": f"{base}/track/{SAMPLE_TOKEN}/yes",
        "no_url": f"{base}/track/{SAMPLE_TOKEN}/no",
        "unsubscribe_url": f"{base}/unsubscribe/sample",
        "review_links": [{"product": "Stoneware mug, blue", "url": "https://example.com/reviews"}],
    }
    if event_name == "order.delivery_exception":
        data["reason"] = "Addressee not at home; the parcel waits at the post office"
    if event_name == "order.credit_note_issued":
        data["number"], data["total"] = "CN-2026-000004", "29.00"
    return OrderEvent(name=event_name, order_id=1001, id=0, data=data)
