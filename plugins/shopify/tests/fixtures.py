"""Payloads shaped like the examples in Shopify's Admin REST API reference (Order resource)."""

from __future__ import annotations

import copy
from typing import Any

_ORDER: dict[str, Any] = {
    "id": 450789469,
    "admin_graphql_api_id": "gid://shopify/Order/450789469",
    "name": "#1001",
    "order_number": 1001,
    "email": "bob.norman@mail.example.com",
    "contact_email": "bob.norman@mail.example.com",
    "phone": "+557734881234",
    "currency": "USD",
    "presentment_currency": "USD",
    "created_at": "2008-01-10T11:00:00-05:00",
    "processed_at": "2008-01-10T11:00:00-05:00",
    "updated_at": "2008-01-10T11:00:00-05:00",
    "cancelled_at": None,
    "cancel_reason": None,
    "closed_at": None,
    "financial_status": "partially_refunded",
    "fulfillment_status": None,
    "test": False,
    "tags": "Wholesale, VIP",
    "note": "Leave at the back door",
    "taxes_included": False,
    "total_line_items_price": "597.00",
    "total_discounts": "10.00",
    "subtotal_price": "587.00",
    "total_tax": "11.94",
    "total_price": "602.94",
    "total_shipping_price_set": {
        "shop_money": {"amount": "4.00", "currency_code": "USD"},
        "presentment_money": {"amount": "4.00", "currency_code": "USD"},
    },
    "line_items": [
        {
            "id": 466157049,
            "variant_id": 39072856,
            "product_id": 632910392,
            "title": "IPod Nano - 8gb",
            "variant_title": "green",
            "name": "IPod Nano - 8gb - green",
            "sku": "IPOD2008GREEN",
            "quantity": 1,
            "price": "199.00",
            "total_discount": "0.00",
            "discount_allocations": [{"amount": "10.00", "discount_application_index": 0}],
            "tax_lines": [{"title": "State Tax", "rate": 0.06, "price": "3.98"}],
            "fulfillable_quantity": 1,
            "requires_shipping": True,
            "taxable": True,
        },
        {
            "id": 518995019,
            "variant_id": 49148385,
            "product_id": 632910392,
            "title": "IPod Nano - 8gb",
            "variant_title": "red",
            "name": "IPod Nano - 8gb - red",
            "sku": "IPOD2008RED",
            "quantity": 2,
            "price": "199.00",
            "total_discount": "0.00",
            "discount_allocations": [],
            "tax_lines": [{"title": "State Tax", "rate": 0.02, "price": "7.96"}],
            "fulfillable_quantity": 2,
            "requires_shipping": True,
            "taxable": True,
        },
    ],
    "shipping_lines": [
        {
            "id": 369256396,
            "title": "Free Shipping",
            "code": "Free Shipping",
            "price": "4.00",
            "discounted_price": "4.00",
            "source": "shopify",
            "tax_lines": [],
        },
    ],
    "shipping_address": {
        "first_name": "Bob",
        "last_name": "Norman",
        "name": "Bob Norman",
        "company": None,
        "address1": "Chestnut Street 92",
        "address2": "",
        "city": "Louisville",
        "province": "Kentucky",
        "province_code": "KY",
        "zip": "40202",
        "country": "United States",
        "country_code": "US",
        "phone": "+1(502)-459-2181",
        "latitude": 45.41634,
        "longitude": -75.6868,
    },
    "billing_address": {
        "first_name": "Bob",
        "last_name": "Norman",
        "name": "Bob Norman",
        "company": None,
        "address1": "Chestnut Street 92",
        "address2": "",
        "city": "Louisville",
        "province": "Kentucky",
        "province_code": "KY",
        "zip": "40202",
        "country": "United States",
        "country_code": "US",
        "phone": "+1(502)-459-2181",
    },
    "customer": {
        "id": 207119551,
        "email": "bob.norman@mail.example.com",
        "first_name": "Bob",
        "last_name": "Norman",
        "phone": None,
    },
    "refunds": [],
    "fulfillments": [],
}


def shopify_order(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the reference order with ``changes`` applied at the top level."""
    order = copy.deepcopy(_ORDER)
    order.update(changes)
    return order


def jpy_order(**changes: Any) -> dict[str, Any]:
    """The same order in a Japanese shop: yen have no decimals."""
    order = shopify_order(
        id=820982911946154508,
        name="#9001",
        currency="JPY",
        presentment_currency="JPY",
        total_line_items_price="4500",
        total_discounts="0",
        subtotal_price="4500",
        total_tax="450",
        total_price="5750",
        line_items=[
            {
                "id": 1071823178,
                "variant_id": 457924702,
                "sku": "MUG-BLUE",
                "title": "Mug",
                "name": "Mug - Blue",
                "quantity": 3,
                "price": "1500.00",
                "total_discount": "0",
                "discount_allocations": [],
                "tax_lines": [{"price": "450", "rate": 0.1, "title": "JCT"}],
            }
        ],
        shipping_lines=[{"id": 1, "title": "Yamato", "price": "800"}],
    )
    order.update(changes)
    return order
