"""The connector against recorded Shopify answers (``responses``): requests, cursors, checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from hub.core.exceptions import (
    ConfigError,
    ExternalError,
    MalformedPayload,
    SignatureError,
    ValidationError,
)
from hub.integration.connectors import ChannelInfo, StockLevel
from hub.integration.signing import sign_base64
from plugins.shopify.connector import ShopifyCallLimiter, ShopifyConnector
from plugins.shopify.sandbox import webhook_request
from plugins.shopify.tests.fixtures import shopify_order

SHOP = "https://bobs-store.myshopify.com"
API = f"{SHOP}/admin/api/2025-07"
SECRET = "hush-hush-0123456789"


def connector(**config) -> ShopifyConnector:
    values = ShopifyConnector.validate_config(
        {
            "shop_domain": "bobs-store.myshopify.com",
            "access_token": "shpat_bobs_store_token_0001",
            "webhook_secret": SECRET,
            **config,
        }
    )
    return ShopifyConnector(
        ChannelInfo(id=1, slug="bobs", name="Bob's", connector="shopify", config=values)
    )


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# --- configuration ---------------------------------------------------------------------------


def test_config_defaults_and_normalises_the_shop_domain():
    config = ShopifyConnector.validate_config(
        {
            "shop_domain": " https://Bobs-Store/ ",
            "access_token": "shpat_bobs_store_token_0001",
            "webhook_secret": SECRET,
        }
    )
    assert config["shop_domain"] == "bobs-store.myshopify.com"
    assert config["api_version"] == "2025-07"
    assert config["api_base_url"] == ""
    assert ShopifyConnector.secret_fields() == {"access_token", "webhook_secret"}
    assert connector().http.base_url == f"{SHOP}/admin/api/2025-07"
    assert (
        connector(api_base_url="http://127.0.0.1:9/").http.base_url
        == "http://127.0.0.1:9/admin/api/2025-07"
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("shop_domain", "not a host"),
        ("api_version", "2025-08"),
        ("api_base_url", "ftp://x"),
        ("locations", "WH1=abc"),
        ("locations", "WH1=1, WH1=2"),
        ("access_token", ""),
        ("shop_domain", "shop.example.com"),  # a custom domain: the Admin API is not there
        ("access_token", "abc"),
        ("access_token", "pat_0123456789abcdef0123"),  # no shpat_/shpca_/shppa_
        ("access_token", "shpat_12"),
        ("webhook_secret", "s"),
    ],
)
def test_bad_config_is_refused_naming_the_field(field, value):
    base = {
        "shop_domain": "bobs-store.myshopify.com",
        "access_token": "shpat_bobs_store_token_0001",
        "webhook_secret": SECRET,
    }
    with pytest.raises(ValidationError) as info:
        ShopifyConnector.validate_config({**base, field: value})
    assert field in info.value.details


def test_every_config_field_has_a_label_and_help():
    for name, field in ShopifyConnector.config_schema().fields.items():
        assert field.metadata.get("label") and field.metadata.get("help"), name


# --- connection ----------------------------------------------------------------------------------


@responses.activate
def test_check_connection_names_the_shop_and_sends_the_token():
    responses.get(
        f"{API}/shop.json", json={"shop": {"name": "Bob's Store", "primary_location_id": 1}}
    )
    assert connector().check_connection() == "Connected to Bob's Store"
    assert (
        responses.calls[0].request.headers["X-Shopify-Access-Token"]
        == "shpat_bobs_store_token_0001"
    )


@responses.activate
@pytest.mark.parametrize(
    "status, message", [(401, "access token"), (403, "scope"), (404, "api_version")]
)
def test_check_connection_explains_what_to_fix(status, message):
    responses.get(f"{API}/shop.json", status=status, json={"errors": "nope"})
    with pytest.raises(ConfigError, match=message):
        connector().check_connection()


@responses.activate
@pytest.mark.parametrize(
    "status, body, said",
    [
        (402, {"errors": "Unavailable Shop"}, "answered 402: Unavailable Shop"),
        (422, {"errors": {"base": ["Shop is frozen"]}}, "answered 422: base: Shop is frozen"),
        (423, {"errors": ["Shop locked", "Try later"]}, "answered 423: Shop locked; Try later"),
        (418, {"message": "not Shopify's shape"}, "answered 418"),
    ],
)
def test_an_error_answer_names_shopifys_own_errors_and_nothing_else(status, body, said):
    responses.get(f"{API}/shop.json", status=status, json=body)
    with pytest.raises(ExternalError) as caught:
        connector().check_connection()
    assert caught.value.message == f"shopify: GET /admin/api/2025-07/shop.json {said}"
    assert caught.value.details == {}


# --- pull -------------------------------------------------------------------------------------------


@responses.activate
def test_pull_asks_for_every_status_since_the_cursor_and_follows_link_verbatim():
    next_url = f"{API}/orders.json?limit=250&page_info=abc123"
    responses.get(
        f"{API}/orders.json",
        match=[responses.matchers.query_param_matcher({"page_info": "abc123", "limit": "250"})],
        json={"orders": [shopify_order(id=2, updated_at="2024-05-01T10:00:00-04:00")]},
        headers={
            "Link": f'<{API}/orders.json?limit=250&page_info=prev1>; rel="previous"',
            "Date": "Wed, 01 May 2024 15:00:00 GMT",
        },
    )
    responses.get(
        f"{API}/orders.json",
        json={"orders": [shopify_order(id=1, updated_at="2024-05-01T09:00:00-04:00")]},
        headers={"Link": f'<{next_url}>; rel="next"', "Date": "Wed, 01 May 2024 15:00:00 GMT"},
    )
    pages = list(connector().fetch_orders({"updated_at": "2024-05-01T12:00:00+00:00"}))
    first = query(responses.calls[0])
    assert first["status"] == ["any"] and first["limit"] == ["250"]
    # The cursor minus the overlap, with an offset.
    assert first["updated_at_min"] == ["2024-05-01T11:58:00+00:00"]
    assert "id" in first["fields"][0].split(",")
    assert responses.calls[1].request.url == next_url  # only limit + page_info
    assert [[o.external_id for o in p.orders] for p in pages] == [["1"], ["2"]]
    # Mid-pull the watermark holds and the next page is remembered ...
    assert pages[0].cursor["updated_at"] == "2024-05-01T12:00:00+00:00"
    assert pages[0].cursor["next"] == next_url
    # ... and at the end it moves to the newest update seen (before the pull began).
    assert pages[1].cursor == {"updated_at": "2024-05-01T14:00:00+00:00"}


@responses.activate
def test_the_watermark_never_passes_the_start_of_the_pull():
    # An order changed while the pull ran must be read again next time.
    responses.get(
        f"{API}/orders.json",
        json={"orders": [shopify_order(updated_at="2024-05-01T16:30:00Z")]},
        headers={"Date": "Wed, 01 May 2024 16:00:00 GMT"},
    )
    [page] = connector().fetch_orders(None)
    assert "updated_at_min" not in query(responses.calls[0])
    assert page.cursor == {"updated_at": "2024-05-01T16:00:00+00:00"}


@responses.activate
def test_an_empty_pull_keeps_the_watermark():
    responses.get(f"{API}/orders.json", json={"orders": []})
    [page] = connector().fetch_orders({"updated_at": "2024-05-01T12:00:00+00:00"})
    assert page.orders == [] and page.cursor == {"updated_at": "2024-05-01T12:00:00+00:00"}


@responses.activate
def test_an_unreadable_order_is_rejected_alone():
    responses.get(
        f"{API}/orders.json",
        json={
            "orders": [
                shopify_order(id=1),
                shopify_order(id=2, currency="JPY", total_price="10.50"),
                shopify_order(id=3),
            ]
        },
    )
    [page] = connector().fetch_orders(None)
    assert [o.external_id for o in page.orders] == ["1", "3"]
    assert list(page.rejected) == ["2"] and "more decimals than JPY" in page.rejected["2"]


@responses.activate
def test_a_pull_resumes_at_the_saved_next_page():
    saved = f"{API}/orders.json?limit=250&page_info=p3"
    responses.get(saved, json={"orders": [shopify_order(id=9, updated_at="2024-05-01T09:00:00Z")]})
    cursor = {
        "updated_at": "2024-04-01T00:00:00+00:00",
        "next": saved,
        "run_started": "2024-05-01T10:00:00+00:00",
        "max_seen": "2024-05-01T09:30:00+00:00",
    }
    [page] = connector().fetch_orders(cursor)
    assert len(responses.calls) == 1 and responses.calls[0].request.url == saved
    assert page.cursor == {"updated_at": "2024-05-01T09:30:00+00:00"}


@responses.activate
def test_a_refused_saved_page_starts_over_from_the_watermark():
    saved = f"{API}/orders.json?limit=250&page_info=expired"
    responses.get(saved, status=400, json={"errors": {"page_info": ["Invalid value."]}})
    responses.get(f"{API}/orders.json", json={"orders": [shopify_order()]})
    cursor = {"updated_at": "2024-04-01T00:00:00+00:00", "next": saved}
    [page] = connector().fetch_orders(cursor)
    assert query(responses.calls[1])["updated_at_min"] == ["2024-03-31T23:58:00+00:00"]
    assert [o.external_id for o in page.orders] == ["450789469"]


@responses.activate
def test_a_next_page_on_another_host_is_not_followed():
    responses.get(
        f"{API}/orders.json",
        json={"orders": [shopify_order()]},
        headers={"Link": '<https://evil.example/steal?page_info=x>; rel="next"'},
    )
    with pytest.raises(ExternalError, match="another host"):
        list(connector().fetch_orders(None))
    assert len(responses.calls) == 1


@responses.activate
def test_fetch_order_reads_one_order():
    responses.get(f"{API}/orders/450789469.json", json={"order": shopify_order()})
    assert connector().fetch_order("450789469").number == "#1001"


def test_fetch_order_refuses_an_id_that_is_not_shopifys():
    from hub.core.exceptions import NotFound

    with pytest.raises(NotFound):
        connector().fetch_order("../shop")


# --- webhooks ------------------------------------------------------------------------------------------


def signed(topic="orders/create", payload=None, **kwargs):
    return webhook_request(
        topic,
        payload or shopify_order(),
        secret=SECRET,
        shop_domain="bobs-store.myshopify.com",
        **kwargs,
    )


def test_a_signed_webhook_is_verified_with_its_id_and_topic():
    headers, body = signed(webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    receipt = connector().verify_webhook(headers, body, {})
    assert (receipt.event_id, receipt.topic) == (
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "orders/create",
    )


def test_lower_case_header_names_are_accepted():
    headers, body = signed(lowercase=True)
    assert "shopify-hmac-sha256" in headers
    assert connector().verify_webhook(headers, body, {}).topic == "orders/create"


def test_header_names_match_in_any_case():
    headers, body = signed(webhook_id="abc")
    shouting = {k.upper(): v for k, v in headers.items()}
    assert connector().verify_webhook(shouting, body, {}).event_id == "abc"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),  # body changed
        lambda h, b: ({**h, "X-Shopify-Hmac-Sha256": sign_base64("other", b)}, b),  # other secret
        lambda h, b: ({k: v for k, v in h.items() if "Hmac" not in k}, b),  # no signature
        lambda h, b: (h, b""),  # empty body
        lambda h, b: ({**h, "X-Shopify-Shop-Domain": "other.myshopify.com"}, b),  # another shop's
    ],
)
def test_bad_signatures_are_refused(tamper):
    headers, body = tamper(*signed())
    with pytest.raises(SignatureError):
        connector().verify_webhook(headers, body, {})


def test_a_verified_body_that_is_not_json_is_malformed():
    body = b"{not json"
    headers = {
        "X-Shopify-Hmac-Sha256": sign_base64(SECRET, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "1",
    }
    with pytest.raises(MalformedPayload):
        connector().verify_webhook(headers, body, {})


def test_the_event_id_stands_in_for_a_missing_webhook_id():
    headers, body = signed()
    del headers["X-Shopify-Webhook-Id"]
    assert connector().verify_webhook(headers, body, {}).event_id == headers["X-Shopify-Event-Id"]
    del headers["X-Shopify-Event-Id"]
    with pytest.raises(MalformedPayload):
        connector().verify_webhook(headers, body, {})


# --- stock -------------------------------------------------------------------------------------------------


@responses.activate
def test_stock_push_sets_only_the_given_skus_at_the_primary_location():
    responses.get(
        f"{API}/shop.json", json={"shop": {"name": "Bob's", "primary_location_id": 905684977}}
    )
    responses.get(
        f"{API}/products.json",
        json={
            "products": [
                {
                    "id": 1,
                    "variants": [
                        {"id": 11, "sku": "IPOD2008GREEN", "inventory_item_id": 808950810},
                        {"id": 12, "sku": "IPOD2008RED", "inventory_item_id": 808950811},
                    ],
                },
                {"id": 2, "variants": [{"id": 21, "sku": "", "inventory_item_id": 808950812}]},
            ]
        },
    )
    responses.post(f"{API}/inventory_levels/set.json", json={"inventory_level": {}})
    c = connector()
    c.push_stock(
        [StockLevel("IPOD2008RED", "WH1", 5), StockLevel("NOT-ON-SHOPIFY", "WH1", 9)],
        state={},
        idempotency_key="test-push",
    )
    sets = [
        json.loads(call.request.body) for call in responses.calls if call.request.method == "POST"
    ]
    # Unwrapped body, as inventory_levels/set.json takes it.
    assert sets == [{"location_id": 905684977, "inventory_item_id": 808950811, "available": 5}]


@responses.activate
def test_stock_push_follows_the_location_mapping_and_adds_up_shared_locations():
    responses.get(
        f"{API}/products.json",
        json={
            "products": [{"id": 1, "variants": [{"id": 11, "sku": "A", "inventory_item_id": 100}]}]
        },
    )
    responses.post(f"{API}/inventory_levels/set.json", json={"inventory_level": {}})
    c = connector(locations="WH1=7, WH2=7, WH3=8")
    c.push_stock(
        [
            StockLevel("A", "WH1", 2),
            StockLevel("A", "WH2", 3),
            StockLevel("A", "WH3", 4),
            StockLevel("A", "UNMAPPED", 50),
        ],
        state={},
        idempotency_key="test-push",
    )
    sets = sorted(
        (b["location_id"], b["available"])
        for b in (json.loads(c.request.body) for c in responses.calls if c.request.method == "POST")
    )
    assert sets == [(7, 5), (8, 4)]


@responses.activate
def test_a_refused_item_does_not_stop_the_others_and_fails_the_push():
    responses.get(
        f"{API}/products.json",
        json={
            "products": [
                {
                    "id": 1,
                    "variants": [
                        {"id": 11, "sku": "A", "inventory_item_id": 100},
                        {"id": 12, "sku": "B", "inventory_item_id": 200},
                    ],
                }
            ]
        },
    )
    responses.post(
        f"{API}/inventory_levels/set.json",
        status=422,
        json={"errors": ["Inventory item does not have inventory tracking enabled"]},
        match=[
            responses.matchers.json_params_matcher(
                {"location_id": 7, "inventory_item_id": 100, "available": 1}
            )
        ],
    )
    responses.post(f"{API}/inventory_levels/set.json", json={"inventory_level": {}})
    with pytest.raises(ExternalError, match="A at location 7") as info:
        connector(locations="WH1=7").push_stock(
            [StockLevel("A", "WH1", 1), StockLevel("B", "WH1", 2)],
            state={},
            idempotency_key="test-push",
        )
    assert info.value.retryable is False
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 2


# --- rate limit ----------------------------------------------------------------------------------------------


class _Answer:
    def __init__(self, used: str):
        self.headers = {"X-Shopify-Shop-Api-Call-Limit": used}


def test_the_limiter_slows_down_as_the_bucket_fills():
    now = [100.0]
    limiter = ShopifyCallLimiter(clock=lambda: now[0])
    assert limiter.before_request() == 0
    limiter.after_response(_Answer("10/40"))
    assert limiter.before_request() == 0
    limiter.after_response(_Answer("38/40"))
    # 39 would pass 80% of 40: wait for (39 - 32) / 2 per second.
    assert limiter.before_request() == pytest.approx(3.5)
    # A second caller queues behind the first.
    assert limiter.before_request() == pytest.approx(4.0)
    now[0] += 60  # the bucket drained meanwhile
    assert limiter.before_request() == 0


def test_the_limiter_infers_a_plus_shops_faster_leak():
    limiter = ShopifyCallLimiter(clock=lambda: 0.0)
    limiter.after_response(_Answer("390/400"))
    assert limiter.leak_rate == 20
    assert limiter.before_request() == pytest.approx((391 - 320) / 20)


def test_the_limiter_ignores_answers_without_the_header():
    limiter = ShopifyCallLimiter(clock=lambda: 0.0)
    limiter.after_response(type("A", (), {"headers": {}})())
    limiter.after_response(_Answer("garbage"))
    assert limiter.before_request() == 0


def test_a_utc_datetime_round_trips_through_the_cursor():
    from plugins.shopify.mapping import format_time, parse_time

    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_time(format_time(moment)) == moment
