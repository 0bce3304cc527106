"""The WooCommerce connector on what WooCommerce wrote: its REST API v3 reference examples and the
core code's webhook delivery (shared/vendor/woocommerce).

Each example is read from ``shared/vendor`` (``hub.testing.vendor_example``),
never copied here. Where WooCommerce wrote no example of a case (a
tax-inclusive order, a product with a SKU), the test changes a vendor example
as the REST reference documents the field, and says so. HTTP is ``responses``:
what the connector sends is asserted on the requests it made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from hub.core.exceptions import ExternalError, SignatureError, ValidationError
from hub.integration.connectors import ChannelInfo, StockLevel, WebhookStatus
from hub.testing import vendor_example
from plugins.woocommerce import auth
from plugins.woocommerce.connector import (
    WEBHOOK_TOPICS,
    WooCommerceConfig,
    WooCommerceConnector,
)
from plugins.woocommerce.mapping import Handling, handling, order_from_woocommerce
from plugins.woocommerce.sandbox import webhook_request

STORE = "https://example.com"  # the store of WooCommerce's own examples
API = f"{STORE}/wp-json/wc/v3"
SECRET = "woo-webhook-secret"


def woo(name: str):
    return vendor_example(f"woocommerce/{name}")


def connector(**config) -> WooCommerceConnector:
    loaded = WooCommerceConfig().load(
        {
            "store_url": STORE,
            "consumer_key": "ck_example",
            "consumer_secret": "cs_example",
            "webhook_secret": SECRET,
            **config,
        }
    )
    return WooCommerceConnector(
        ChannelInfo(id=1, slug="woo", name="Woo", connector="woocommerce", config=loaded)
    )


class Port:
    """What ``handle_webhook`` hands the hub, kept."""

    def __init__(self):
        self.orders, self.rejected = [], {}

    def upsert_orders(self, orders, *, cursor=None, cursor_key="cursor", rejected=None):
        self.orders += list(orders)
        self.rejected.update(rejected or {})
        return list(range(len(self.orders)))


# --- orders ----------------------------------------------------------------------------------------


def test_the_created_order_maps_field_by_field():
    order = order_from_woocommerce(woo("order.create.response.json"))
    assert (order.external_id, order.number, order.currency) == ("727", "#727", "USD")
    assert (order.customer.email, order.customer.name, order.customer.phone) == (
        "john.doe@example.com",
        "John Doe",
        "(555) 555-5555",
    )
    assert order.customer.external_id == ""  # customer_id 0: a guest
    ship = order.shipping_address
    assert (
        ship.name,
        ship.address1,
        ship.city,
        ship.province_code,
        ship.zip,
        ship.country_code,
    ) == (
        "John Doe",
        "969 Market",
        "San Francisco",
        "CA",
        "94103",
        "US",
    )
    # The first line has no SKU: a stable stand-in from its product id.
    assert [(x.sku, x.quantity, x.unit_price, x.tax, x.discount) for x in order.lines] == [
        ("product-93", 2, 300, 45, 0),
        ("Bar3", 1, 1200, 90, 0),
    ]
    assert (order.shipping, order.tax, order.discount, order.total) == (1000, 135, 0, 2935)
    assert order.computed_total == order.total and not order.taxes_included
    # *_gmt times (the local ones are three hours behind).
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.channel_financial_status == "paid" and not order.cancelled


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("order.create.response.json", None),
        ("orders.list.response.json", None),
        ("orders.batch.response.json", "create"),
        ("orders.batch.response.json", "update"),
        ("orders.batch.response.json", "delete"),
    ],
)
def test_every_vendor_order_maps_with_totals_that_add_up(name, key):
    body = woo(name)
    raws = body[key] if key else (body if isinstance(body, list) else [body])
    refunds = woo("order_refunds.list.response.json")
    for raw in raws:
        order = order_from_woocommerce(raw, refunds=refunds if raw["refunds"] else None)
        assert order.computed_total == (
            order.total if order.total is not None else order.computed_total
        )
        if not raw["refunds"]:
            assert order.total == order.computed_total, raw["id"]


@responses.activate
def test_the_refunded_vendor_order_owes_only_what_was_not_refunded():
    # orders.list's order 723 lists refunds 726 and 724; order_refunds.list is those
    # two refunds, 724 giving back line 311 (Woo Album #2) and 726 money alone.
    raw = woo("orders.list.response.json")[1]
    responses.get(f"{API}/orders/723", json=raw)
    responses.get(f"{API}/orders/723/refunds", json=woo("order_refunds.list.response.json"))
    order = connector().fetch_order("723")
    assert [(x.external_id, x.quantity, x.removed_quantity) for x in order.lines] == [
        ("311", 0, 1),
        ("313", 1, 0),
    ]
    # What is still owed: the album is off; the 10.00 given back alone changes nothing that ships.
    assert order.total is None and order.computed_total == 3000
    assert [(r.external_id, r.amount, r.lines) for r in order.channel_refunds] == [
        ("726", 1000, {}),
        ("724", 900, {"311": 1}),
    ]
    assert order.channel_financial_status == "partially_refunded"


def test_a_tax_inclusive_store_shows_prices_with_their_tax():
    # WooCommerce wrote no prices_include_tax order: its created order, from a store
    # whose prices are entered with tax. WooCommerce still reports net amounts with
    # the tax beside them; the hub shows what the customer paid per unit.
    raw = woo("order.create.response.json")
    raw["prices_include_tax"] = True
    order = order_from_woocommerce(raw)
    assert order.taxes_included
    # (6.00 + 0.45) / 2 = 3.225: 3.23 a unit, the cent it adds counted as discount.
    assert [(x.unit_price, x.tax, x.discount) for x in order.lines] == [(323, 45, 1), (1290, 90, 0)]
    assert (order.tax, order.total) == (135, 2935)
    assert order.computed_total == order.total


def test_the_batch_examples_statuses_decide_what_the_hub_takes():
    batch = woo("orders.batch.response.json")
    statuses = {o["id"]: (o["status"], handling(o)) for o in batch["create"] + batch["update"]}
    assert statuses == {
        728: ("pending", Handling.WAIT),  # not paid: left until it is
        729: ("processing", Handling.IMPORT),
        727: ("completed", Handling.IMPORT),
    }
    raw = dict(batch["update"][0], status="cancelled")
    order = order_from_woocommerce(raw)
    assert order.cancelled and order.cancel_reason == "cancelled on WooCommerce"


def test_an_unreadable_amount_names_the_order():
    raw = woo("order.create.response.json")
    raw["line_items"][0]["total"] = "6.001"
    with pytest.raises(ValidationError, match=r"WooCommerce order 727 .*6\.001' has more decimals"):
        order_from_woocommerce(raw)


# --- webhooks --------------------------------------------------------------------------------------


def _delivery():
    delivery = woo("webhook_delivery.legacy_v2.json")["webhook_delivery"]
    headers = {k: str(v) for k, v in delivery["request_headers"].items()}
    return headers, delivery["request_body"].encode()


def test_the_vendor_delivery_is_refused_under_another_secret_and_taken_under_its_own():
    headers, body = _delivery()
    # WooCommerce's docs do not give that webhook's secret: under ours, its signature fails.
    with pytest.raises(SignatureError, match="does not match"):
        connector().verify_webhook(headers, body, {})
    # Signed as WooCommerce's core signs (base64 HMAC-SHA256 of the raw body), it is taken.
    signed = dict(
        headers,
        **{
            "X-WC-Webhook-Signature": base64.b64encode(
                hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
            ).decode()
        },
    )
    receipt = connector().verify_webhook(signed, body, {})
    assert receipt.topic == "action.woocommerce_add_to_cart"
    # No modification date in an action's body: the delivery id names it.
    assert receipt.event_id == "action.woocommerce_add_to_cart:delivery:378"
    outcome = connector().handle_webhook(Port(), receipt.topic, body, signed)
    assert outcome.status is WebhookStatus.IGNORED


def test_the_sandbox_sends_the_headers_and_signature_woocommerce_core_sends():
    facts = woo("webhook_delivery.core_source_facts.json")
    order = woo("order.create.response.json")
    headers, body = webhook_request("order.updated", order, secret=SECRET)
    assert {k for k in headers if k.startswith("X-WC-")} == set(facts["headers_added"])
    assert headers["Content-Type"] == facts["content_type"]
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert headers["X-WC-Webhook-Signature"] == expected
    receipt = connector().verify_webhook(headers, body, {})
    assert receipt.topic == "order.updated"
    # Named by the order's state, not the delivery: a re-delivery of it is the same event.
    again, _ = webhook_request("order.updated", order, secret=SECRET)
    assert again["X-WC-Webhook-Delivery-ID"] != headers["X-WC-Webhook-Delivery-ID"]
    assert connector().verify_webhook(again, body, {}).event_id == receipt.event_id
    assert receipt.event_id.startswith("order:727:2017-03-22T19:28:08:")
    port = Port()
    assert connector().handle_webhook(port, receipt.topic, body, headers).status is (
        WebhookStatus.PROCESSED
    )
    assert [o.external_id for o in port.orders] == ["727"]


def test_the_unsigned_ping_is_taken_as_a_ping_and_nothing_else_unsigned_is():
    facts = woo("webhook_delivery.core_source_facts.json")
    assert facts["ping_on_create"]["body"] == "webhook_id=<id>"
    receipt = connector().verify_webhook({}, b"webhook_id=142", {})
    assert (receipt.topic, receipt.event_id) == ("ping", "ping:142")
    assert connector().handle_webhook(Port(), "ping", b"webhook_id=142", {}).status is (
        WebhookStatus.IGNORED
    )
    order = json.dumps(woo("order.create.response.json")).encode()
    with pytest.raises(SignatureError, match="missing X-WC-Webhook-Signature"):
        connector().verify_webhook({"X-WC-Webhook-Topic": "order.created"}, order, {})
    # A channel without a webhook secret takes no signed delivery either.
    headers, body = webhook_request("order.created", woo("order.create.response.json"), secret="")
    with pytest.raises(SignatureError, match="no webhook secret"):
        connector(webhook_secret="").verify_webhook(headers, body, {})


@responses.activate
def test_webhooks_are_registered_in_the_shape_of_woocommerces_example_and_read_back():
    address = "https://hub.example.com/webhooks/woo"
    made: list[dict] = []

    def create(request):
        sent = json.loads(request.body)
        # WooCommerce's example answer, as it would be for what was sent (and a new id).
        answer = dict(woo("webhook.create.response.json"), id=142 + len(made))
        answer.update(name=sent["name"], topic=sent["topic"], delivery_url=sent["delivery_url"])
        made.append(answer)
        return 201, {}, json.dumps(answer)

    responses.get(f"{API}/webhooks", json=[], headers={"X-WP-TotalPages": "0"})
    responses.add_callback(responses.POST, f"{API}/webhooks", callback=create)
    assert connector().sync_webhooks(address) == sorted(WEBHOOK_TOPICS)
    posted = [json.loads(c.request.body) for c in responses.calls if c.request.method == "POST"]
    example = woo("webhook.create.request.json")
    assert all(set(example) <= set(body) for body in posted)
    assert sorted(body["topic"] for body in posted) == [
        "order.created",
        "order.deleted",
        "order.restored",
        "order.updated",
    ]
    # Signed with the channel's secret (write-only at WooCommerce), delivered now.
    assert {(body["delivery_url"], body["secret"], body["status"]) for body in posted} == {
        (address, SECRET, "active")
    }
    # Listed back as WooCommerce lists them (its example's fields), nothing is made twice.
    responses.replace(responses.GET, f"{API}/webhooks", json=made, headers={"X-WP-TotalPages": "1"})
    calls = len(responses.calls)
    assert connector().sync_webhooks(address) == sorted(WEBHOOK_TOPICS)
    assert [c.request.method for c in responses.calls[calls:]] == ["GET"]


# --- authentication --------------------------------------------------------------------------------


@responses.activate
def test_an_https_store_gets_basic_auth():
    responses.get(f"{API}/orders", json=[], headers={"X-WP-Total": "0"})
    connector().check_connection()
    sent = responses.calls[0].request
    assert (
        sent.headers["Authorization"]
        == "Basic " + base64.b64encode(b"ck_example:cs_example").decode()
    )
    assert "consumer_secret" not in sent.url


@responses.activate
def test_a_server_dropping_the_authorization_header_gets_the_key_in_the_query():
    responses.get(f"{API}/orders", json=[], headers={"X-WP-Total": "0"})
    connector(credentials_in_query=True).check_connection()
    sent = responses.calls[0].request
    assert "Authorization" not in sent.headers
    query = parse_qs(urlsplit(sent.url).query)
    assert (query["consumer_key"], query["consumer_secret"]) == (["ck_example"], ["cs_example"])


def test_the_key_never_goes_in_the_query_of_a_plain_http_store():
    with pytest.raises(Exception, match="in the clear"):
        WooCommerceConfig().load(
            {
                "store_url": "http://shop.example",
                "consumer_key": "ck",
                "consumer_secret": "cs",
                "credentials_in_query": True,
            }
        )


@responses.activate
def test_a_plain_http_store_gets_oauth_signed_requests_without_the_secret():
    responses.get("http://shop.example/wp-json/wc/v3/orders", json=[])
    connector(store_url="http://shop.example").check_connection()
    sent = responses.calls[0].request
    assert "Authorization" not in sent.headers and "cs_example" not in sent.url
    query = {k: v[0] for k, v in parse_qs(urlsplit(sent.url).query).items()}
    given = query.pop("oauth_signature")
    assert query["oauth_consumer_key"] == "ck_example"
    expected = auth.signature(
        "GET", "http://shop.example/wp-json/wc/v3/orders", query.items(), "cs_example"
    )
    assert given == expected


def test_the_oauth_signature_matches_the_published_oauth_core_vector():
    # OAuth Core 1.0, Appendix A.5.2: the "photos" request, HMAC-SHA1, with a token.
    params = {
        "file": "vacation.jpg",
        "size": "original",
        "oauth_consumer_key": "dpf43f3p2l4k3l03",
        "oauth_token": "nnch734d00sl2jdk",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "1191242096",
        "oauth_nonce": "kllo9940pd9333jh",
        "oauth_version": "1.0",
    }
    assert (
        auth.signature(
            "GET",
            "http://photos.example.net/photos",
            params.items(),
            "kd94hf93k423kf44",
            token_secret="pfkkdhi9sl3r4s00",
            signature_method="HMAC-SHA1",
        )
        == "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
    )


@responses.activate
def test_an_error_names_woocommerces_code_and_message_not_the_body():
    responses.get(
        f"{API}/orders",
        status=401,
        json={
            "code": "woocommerce_rest_cannot_view",
            "message": "Sorry, you cannot list resources.",
            "data": {"status": 401},
        },
    )
    with pytest.raises(ExternalError) as caught:
        connector().check_connection()
    assert "woocommerce_rest_cannot_view: Sorry, you cannot list resources." in caught.value.message
    assert caught.value.retryable is False


# --- stock -----------------------------------------------------------------------------------------


@responses.activate
def test_stock_goes_to_products_and_to_variations_through_their_batch_endpoints():
    # WooCommerce's examples have no SKUs; the products endpoint finds a product by
    # SKU among products and variations, a variation showing its parent_id.
    simple = dict(woo("product.simple.get.response.json"), sku="WOO-SINGLE")
    variation = dict(
        woo("product_variation.create.response.json"),
        sku="SHIP-IDEA-M",
        parent_id=799,
        type="variation",
    )
    responses.get(f"{API}/products", json=[simple, variation])
    batch = woo("products.batch.response.json")
    responses.post(f"{API}/products/batch", json={"update": [batch["update"][0]]})
    responses.post(f"{API}/products/799/variations/batch", json={"update": [variation]})
    connector().push_stock(
        [
            StockLevel("WOO-SINGLE", "EAST", 4),
            StockLevel("WOO-SINGLE", "WEST", 3),
            StockLevel("SHIP-IDEA-M", "", 9),
            StockLevel("NOT-THERE", "", 1),
        ],
        state={},
        idempotency_key="k",
    )
    lookup, products, variations = responses.calls
    assert parse_qs(urlsplit(lookup.request.url).query)["sku"] == [
        "NOT-THERE,SHIP-IDEA-M,WOO-SINGLE"
    ]
    assert json.loads(products.request.body) == {
        "update": [{"id": 794, "manage_stock": True, "stock_quantity": 7}]
    }
    assert json.loads(variations.request.body) == {
        "update": [{"id": 732, "manage_stock": True, "stock_quantity": 9}]
    }


@responses.activate
def test_an_item_the_batch_refuses_fails_the_push_naming_its_sku():
    simple = dict(woo("product.simple.get.response.json"), sku="WOO-SINGLE")
    responses.get(f"{API}/products", json=[simple])
    responses.post(
        f"{API}/products/batch",
        json={
            "update": [
                {
                    "id": 794,
                    "error": {
                        "code": "woocommerce_rest_invalid_product_stock",
                        "message": "Stock quantity is invalid.",
                        "data": {"status": 400},
                    },
                }
            ]
        },
    )
    with pytest.raises(ExternalError, match="WOO-SINGLE") as caught:
        connector().push_stock([StockLevel("WOO-SINGLE", "", 2)], state={}, idempotency_key="k")
    assert caught.value.retryable is False


def test_the_customers_shipping_method_is_the_shipping_lines_method_title():
    """What service-level rules read (hub.routing.service_levels): WooCommerce's own example."""
    order = order_from_woocommerce(woo("order.create.response.json"))
    assert order.shipping_method == "Flat Rate"
