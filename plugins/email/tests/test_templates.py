"""Every built-in template renders, escapes what customers typed and links what it should."""

from __future__ import annotations

import pytest

from hub.core.events import OrderEvent
from plugins.email.render import EVENT_TEMPLATES, Renderer, carrier_tracking_link, message_id


def order(**overrides):
    base = {
        "id": 7,
        "number": "#1007",
        "currency": "EUR",
        "email": "zoe@example.com",
        "customer": {"email": "zoe@example.com", "name": "Zoë <b>Doe</b>", "phone": ""},
        "lines": [
            {
                "id": 1,
                "sku": "MUG",
                "name": "Mug & Saucer",
                "quantity": 2,
                "unit_price": "12.50",
                "tax": "0.00",
                "discount": "0.00",
            }
        ],
        "subtotal": "25.00",
        "shipping": "4.90",
        "tax": "0.00",
        "discount": "0.00",
        "total": "29.90",
        "financial_status": "paid",
        "tracking_token": "tok123",
        "shipments": [
            {
                "id": 3,
                "status": "shipped",
                "carrier": "DHL",
                "service": "",
                "tracking_number": "JD0123",
                "tracking_url": "",
                "lines": [{"line_id": 1, "quantity": 1}],
            }
        ],
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize("event_name", list(EVENT_TEMPLATES))
def test_every_event_renders_a_subject_a_text_and_an_escaped_html(event_name):
    event = OrderEvent(
        name=event_name,
        order_id=7,
        id=99,
        data={"shipment_id": 3, "amount": 1250, "reason": "customer asked"},
    )

    rendered = Renderer().render(
        event, order(), shop_name="Café Shop", public_url="https://shop.example"
    )

    assert "#1007" in rendered.subject and "\n" not in rendered.subject
    assert "https://shop.example/track/tok123" in rendered.text
    assert 'href="https://shop.example/track/tok123"' in rendered.html
    assert "<b>Doe</b>" not in rendered.html and "Zoë &lt;b&gt;Doe&lt;/b&gt;" in rendered.html
    assert "{{" not in rendered.text + rendered.html


def test_partial_shipments_say_so_and_list_what_shipped():
    event = OrderEvent(name="order.partially_shipped", order_id=7, id=5, data={"shipment_id": 3})
    rendered = Renderer().render(event, order(), public_url="http://hub")
    assert rendered.subject == "Part of your order #1007 has shipped"
    assert "- 1 x Mug & Saucer (MUG)" in rendered.text
    assert (
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id=JD0123"
        in rendered.text
    )


def test_carrier_links_prefer_the_shipments_own_url_and_refuse_other_schemes():
    assert (
        carrier_tracking_link({"tracking_url": "https://t.example/1", "carrier": "ups"})
        == "https://t.example/1"
    )
    assert (
        carrier_tracking_link(
            {"tracking_url": "javascript:alert(1)", "carrier": "ups", "tracking_number": "1Z 9"}
        )
        == "https://www.ups.com/track?tracknum=1Z%209"
    )
    assert carrier_tracking_link({"carrier": "Pigeon Post", "tracking_number": "7"}) is None


def test_the_message_id_depends_on_the_key_only():
    assert message_id("notify:1:2", "a@shop.example") == message_id("notify:1:2", "a@shop.example")
    assert message_id("notify:1:2", "a@shop.example") != message_id("notify:1:3", "a@shop.example")


def test_a_backorder_says_which_items_wait_and_the_day_they_are_expected():
    event = OrderEvent(
        name="order.backordered",
        order_id=7,
        id=6,
        data={
            "lines": [
                {
                    "line_id": 1,
                    "sku": "MUG",
                    "location": "wh",
                    "quantity": 1,
                    "expected_at": "2026-12-20T09:00:00+00:00",
                }
            ],
            "expected_at": "2026-12-20T09:00:00+00:00",
        },
    )
    rendered = Renderer().render(event, order(), public_url="http://hub")
    assert "confirmed" in rendered.subject
    assert "expected on December 20, 2026" in rendered.text
    assert "- 1 × Mug & Saucer" in rendered.text
    assert "<strong>December 20, 2026</strong>" in rendered.html
