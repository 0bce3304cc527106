"""The customer's language on an order through the API: kept, shown, and refused when not a tag."""

from __future__ import annotations

ORDER = {
    "external_id": "phone-de-1",
    "customer": {"email": "jonas@example.de", "name": "Jonas"},
    "shipping_address": {
        "name": "Jonas",
        "address1": "Hauptstraße 5",
        "city": "Berlin",
        "zip": "10115",
        "country_code": "DE",
    },
    "lines": [{"sku": "MUG", "name": "Becher", "quantity": 1, "unit_price": "7.50"}],
    "currency": "EUR",
}


def test_an_order_keeps_the_customers_language_and_the_api_shows_it(api):
    created = api.post("/api/v1/orders", json={**ORDER, "locale": "de-DE"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["locale"] == "de-DE"
    again = api.get(f"/api/v1/orders/{created.get_json()['id']}").get_json()
    assert again["locale"] == "de-DE"

    without = api.post("/api/v1/orders", json={**ORDER, "external_id": "phone-2"})
    assert without.get_json()["locale"] == ""  # unknown: the email channel's default language


def test_a_locale_that_is_not_a_language_tag_is_refused_and_nothing_is_stored(api):
    answer = api.post("/api/v1/orders", json={**ORDER, "locale": "<script>"})
    assert answer.status_code == 422
    assert "locale" in str(answer.get_json())
    assert api.get("/api/v1/orders").get_json()["data"] == []
