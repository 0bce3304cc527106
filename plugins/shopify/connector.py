"""The Shopify sales channel: Admin REST API pull, verified webhooks, fulfilment and stock push.

What it does against a shop (``https://{shop_domain}/admin/api/{api_version}/…``,
header ``X-Shopify-Access-Token``):

- **pull** (``channel.pull``, every 5 minutes and on "sync now"):
  ``GET orders.json?status=any&updated_at_min=…&limit=250&fields=…``, then the
  ``Link: <…>; rel="next"`` pages as Shopify wrote them (they carry only
  ``limit``/``fields`` and the opaque ``page_info``). Each page is committed
  with its cursor (see :meth:`ShopifyConnector.fetch_orders`).
- **webhooks**: HMAC-SHA256 of the raw body, base64, compared in constant
  time; deduplicated on ``X-Shopify-Webhook-Id``.
- **fulfilment push**: fulfilment orders -> ``POST fulfillments.json`` with the
  tracking, once per tracking number.
- **stock push**: ``POST inventory_levels/set.json`` per (SKU, location).
- **rate limits**: 429 ``Retry-After`` through the shared client; a leaky
  bucket limiter that slows down as ``X-Shopify-Shop-Api-Call-Limit`` nears
  the bucket's size.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates

from hub.core.exceptions import (
    ConfigError,
    ExternalError,
    HubError,
    MalformedPayload,
    NotFound,
    SignatureError,
)
from hub.core.order import OrderData
from hub.integration.connectors import (
    Capability,
    ChannelInfo,
    OrderPage,
    SalesConnector,
    StockLevel,
    WebhookOutcome,
    WebhookReceipt,
)
from hub.integration.http import LeakyBucketLimiter, error_json, json_body, same_origin
from hub.integration.signing import header, matches, sign_base64
from plugins.shopify.mapping import ORDER_FIELDS, format_time, order_from_shopify, parse_time

log = logging.getLogger(__name__)

#: A current Admin API version (Shopify supports each for at least 12 months).
DEFAULT_API_VERSION = "2025-07"

#: Topics whose body is the whole order: upserted as they come.
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)

#: Topics whose body names an order (``order_id``) without being it: the order is fetched.
#: ``orders/edited`` sends ``{"order_edit": {"order_id", "line_items": {"additions", "removals"}}}``.
ORDER_REF_TOPICS = frozenset({"refunds/create", "orders/edited"})

#: What the channel subscribes to (``sync_webhooks``): every topic the hub uses.
#: ``inventory_levels/update`` is left out: the hub is the stock master.
WEBHOOK_TOPICS: tuple[str, ...] = (
    *sorted(ORDER_TOPICS),
    *sorted(ORDER_REF_TOPICS),
    "app/uninstalled",
)

#: The hub's carrier codes (ShipStation's and common ones) -> the names Shopify
#: recognises for tracking links. Others are sent as they are.
TRACKING_COMPANIES = {
    "ups": "UPS",
    "usps": "USPS",
    "stamps_com": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL Express",
    "dhl_express": "DHL Express",
    "dhl_express_worldwide": "DHL Express",
    "canada_post": "Canada Post",
    "royal_mail": "Royal Mail",
    "australia_post": "Australia Post",
    "dpd": "DPD",
    "gls": "GLS",
    "japan_post": "Japan Post (EN)",
    "yamato": "Yamato (EN)",
}

_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
#: A shop's own domain: the Admin API is served on <handle>.myshopify.com only.
_MYSHOPIFY = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
#: Admin API access tokens: a custom app's (shpat_, shpca_) or a private app's (shppa_).
TOKEN_PREFIXES = re.compile(r"^(shpat|shpca|shppa)_")
#: Shopify's tokens are the prefix and 32 hex digits; shorter ones are typing or pasting slips.
MIN_TOKEN_LENGTH = 16
#: The app's API secret key (webhooks are signed with it): 32 hex digits, or shpss_ and 32.
MIN_SECRET_LENGTH = 16
_API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
_LOCATION_PAIR = re.compile(r"^\s*([^=,\s][^=,]*?)\s*=\s*(\d+)\s*$")


def parse_location_map(text: str | None) -> dict[str, int]:
    """``"WH1=655441491, WH2=655441492"`` -> ``{"WH1": 655441491, "WH2": 655441492}``."""
    mapping: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        match = _LOCATION_PAIR.match(part)
        if match is None:
            raise ValueError(f"{part!r} is not CODE=SHOPIFY_LOCATION_ID")
        if match[1] in mapping:
            raise ValueError(f"location {match[1]!r} is mapped twice")
        mapping[match[1]] = int(match[2])
    return mapping


class ShopifyConfig(Schema):
    shop_domain = fields.String(
        required=True,
        metadata={
            "label": "Shop domain",
            "help": "Your store's myshopify.com domain, e.g. my-store.myshopify.com "
            "(the Admin API is served there, not on a custom domain).",
        },
    )
    access_token = fields.String(
        required=True,
        validate=validate.And(
            validate.Regexp(
                TOKEN_PREFIXES,
                error="an Admin API access token starts with shpat_ (a custom app's), "
                "shpca_ or shppa_ (a private app's): copy it from the app's API credentials",
            ),
            validate.Length(
                min=MIN_TOKEN_LENGTH,
                error="too short for an Admin API access token (Shopify's have 38 characters)",
            ),
        ),
        metadata={
            "label": "Admin API access token",
            "secret": True,
            "help": "From your custom app: Settings > Apps and sales channels > Develop apps > "
            "API credentials (starts with shpat_). Scopes: read_orders, "
            "write_fulfillments (or write_merchant_managed_fulfillment_orders), "
            "read_products, write_inventory, read_locations.",
        },
    )
    webhook_secret = fields.String(
        required=True,
        validate=validate.Length(
            min=MIN_SECRET_LENGTH,
            error="too short for the app's API secret key (Shopify's have 32 characters or more)",
        ),
        metadata={
            "label": "Webhook signing secret",
            "secret": True,
            "help": "The app's API secret key (client secret): Shopify signs every "
            "webhook with it.",
        },
    )
    api_version = fields.String(
        load_default=DEFAULT_API_VERSION,
        validate=validate.Regexp(_API_VERSION, error="must look like 2025-07 (or unstable)"),
        metadata={
            "label": "API version",
            "help": f"Admin API version, e.g. {DEFAULT_API_VERSION}. Shopify supports a "
            "version for at least a year.",
        },
    )
    api_base_url = fields.String(
        load_default="",
        metadata={
            "label": "API base URL",
            "help": "Leave empty for https://{shop_domain}. Only for a sandbox or a proxy.",
        },
    )
    locations = fields.String(
        load_default="",
        metadata={
            "label": "Location mapping",
            "help": "Hub location code = Shopify location id, comma separated "
            "(WH1=655441491, WH2=655441492). Empty: all stock goes to the shop's "
            "primary location.",
        },
    )
    payment_reference_attribute = fields.String(
        load_default="",
        metadata={
            "label": "Payment reference note attribute",
            "help": "Only if your checkout authorises payments at a gateway the hub captures "
            "(Stripe, manual capture) and writes the payment's id (pi_…) on the order "
            "as a note attribute: that attribute's name. The hub then captures the "
            "payment through this channel's payment channel. Leave empty when Shopify "
            "collects payment itself.",
        },
    )
    notify_customer = fields.Boolean(
        load_default=False,
        metadata={
            "label": "Shopify emails the customer on fulfilment",
            "help": "Off when the hub sends its own shipping emails.",
        },
    )

    @pre_load
    def _normalise(self, data: dict[str, Any], **kwargs) -> dict[str, Any]:
        data = dict(data)
        domain = data.get("shop_domain")
        if isinstance(domain, str):
            domain = re.sub(r"^https?://", "", domain.strip().lower()).rstrip("/")
            if domain and "." not in domain:
                domain = f"{domain}.myshopify.com"  # "my-store" is what people type
            data["shop_domain"] = domain
        for key in ("api_base_url", "locations", "api_version", "payment_reference_attribute"):
            if isinstance(data.get(key), str):
                data[key] = data[key].strip()
        if data.get("api_version") == "":
            data.pop("api_version")
        if isinstance(data.get("api_base_url"), str):
            data["api_base_url"] = data["api_base_url"].rstrip("/")
        return data

    @validates("shop_domain")
    def _check_domain(self, value: str, **kwargs) -> None:
        if not _HOST.match(value or ""):
            raise ValidationError("must be a host name such as my-store.myshopify.com")
        if not _MYSHOPIFY.match(value):
            raise ValidationError(
                "must be your store's myshopify.com domain (my-store.myshopify.com), not a "
                "custom domain: Shopify serves the Admin API there only"
            )

    @validates("api_base_url")
    def _check_base_url(self, value: str, **kwargs) -> None:
        if value and not re.match(r"^https?://[^/?#\s]+$", value):
            raise ValidationError(
                "must be a scheme and host (and port), e.g. https://my-store.myshopify.com"
            )

    @validates("locations")
    def _check_locations(self, value: str, **kwargs) -> None:
        try:
            parse_location_map(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class ShopifyCallLimiter(LeakyBucketLimiter):
    """Shopify's REST bucket: ``X-Shopify-Shop-Api-Call-Limit: used/size``.

    Standard shops have a bucket of 40 leaking 2 a second; Plus shops a larger
    one leaking faster, at the same ratio. Unless ``leak_rate`` is given, it
    is inferred from the size the shop reports (size / 20 a second).
    """

    def __init__(self, *, leak_rate: float | None = None, threshold: float = 0.8, **kwargs):
        super().__init__(size=40, leak_rate=leak_rate or 2.0, threshold=threshold, **kwargs)
        self.infer_leak = leak_rate is None

    def read_bucket(self, response: requests.Response) -> tuple[float, float] | None:
        value = response.headers.get("X-Shopify-Shop-Api-Call-Limit")
        if not value:
            return None
        used, _, size = value.partition("/")
        try:
            used_n, size_n = float(used), float(size)
        except ValueError:
            return None
        if size_n <= 0:
            return None
        if self.infer_leak:
            self.leak_rate = size_n / 20
        return used_n, size_n


def _requested(
    by_order: list[dict[str, Any]], fulfillment_orders: list[dict[str, Any]]
) -> dict[int, int]:
    """Shopify line item id -> quantity of a ``line_items_by_fulfillment_order`` request."""
    line_item_of = {
        li["id"]: int(li.get("line_item_id") or 0)
        for fo in fulfillment_orders
        for li in fo.get("line_items") or []
    }
    wanted: dict[int, int] = defaultdict(int)
    for group in by_order:
        for item in group["fulfillment_order_line_items"]:
            wanted[line_item_of.get(item["id"], 0)] += int(item["quantity"])
    return dict(wanted)


def _server_time(response: requests.Response) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC) if parsed and parsed.tzinfo else None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _numeric_id(value: Any, what: str) -> str:
    text = str(value or "").strip()
    if not text.isdigit():
        raise NotFound(f"{what} {value!r} is not a Shopify id")
    return text


class ShopifyConnector(SalesConnector):
    name = "shopify"
    label = "Shopify"
    description = "A Shopify store: orders in (pull + webhooks), fulfilments and stock out."
    capabilities = frozenset(
        {
            Capability.WEBHOOKS,
            Capability.PULL_ORDERS,
            Capability.FETCH_ORDER,
            Capability.PUSH_FULFILLMENT,
            Capability.CANCEL_FULFILLMENT,
            Capability.PUSH_STOCK,
            Capability.STOCK_BY_LOCATION,
            Capability.REGISTER_WEBHOOKS,
        }
    )
    config_schema = ShopifyConfig
    scheduled_jobs = {"channel.pull": 300}

    #: Shopify's maximum page size.
    PAGE_SIZE = 250
    #: Each pull asks again for what changed this long before its cursor: an
    #: order committed late (or a clock a little off) is still seen. Re-reading
    #: is harmless, an update not newer than the stored one changes nothing.
    PULL_OVERLAP = timedelta(minutes=2)
    #: A SKU missing from the learnt catalogue re-reads it at most this often.
    CATALOG_REFRESH_SECONDS = 600
    #: Extra HttpClient / ShopifyCallLimiter arguments (tests shorten the waits with them).
    http_options: ClassVar[dict[str, Any]] = {}
    limiter_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, channel: ChannelInfo):
        super().__init__(channel)
        config = self.config
        self.shop_domain = str(config.get("shop_domain") or "")
        self.api_version = str(config.get("api_version") or DEFAULT_API_VERSION)
        self.base_url = str(config.get("api_base_url") or f"https://{self.shop_domain}").rstrip("/")
        self.location_map = parse_location_map(config.get("locations"))
        self.http = self.http_client(
            f"{self.base_url}/admin/api/{self.api_version}",
            error_text=shopify_error_text,
            headers={
                "X-Shopify-Access-Token": str(config.get("access_token") or ""),
                "Accept": "application/json",
            },
            limiter=ShopifyCallLimiter(**self.limiter_options),
            **self.http_options,
        )
        # SKU -> inventory item ids, learnt from the shop's catalogue (products.json)
        # and kept in memory for the life of this connector (the hub keeps one per
        # channel until its config changes). Shopify allows one SKU on several
        # variants; all of them are set.
        self._inventory_items: dict[str, list[int]] = {}
        self._catalog_read_at: float | None = None
        self._primary_location: int | None = None

    def close(self) -> None:
        self.http.close()

    # --- connection -------------------------------------------------------------------

    def check_connection(self) -> str:
        try:
            shop = self._json(self.http.get("shop.json")).get("shop") or {}
        except ExternalError as exc:
            if exc.status == 401:
                raise ConfigError(
                    "Shopify refused the access token (401): check access_token"
                ) from exc
            if exc.status == 403:
                raise ConfigError(
                    "the access token lacks a scope this hub needs (403): "
                    "see the connector's set-up page"
                ) from exc
            if exc.status == 404:
                raise ConfigError(
                    f"no Shopify Admin API at {self.base_url} for version "
                    f"{self.api_version} (404): check shop_domain and api_version"
                ) from exc
            raise
        return f"Connected to {shop.get('name') or self.shop_domain}"

    # --- pull ---------------------------------------------------------------------------

    def fetch_orders(self, cursor: Mapping[str, Any] | None) -> Iterator[OrderPage]:
        """Yield the orders changed since the cursor, a page of up to 250 at a time.

        The cursor is ``{"updated_at": watermark}`` between pulls. Mid-pull,
        each page's cursor also carries the ``next`` page's URL, the time the
        pull started (Shopify's ``Date``) and the newest ``updated_at`` seen,
        so a pull cut short resumes at the page after the last one committed.
        Shopify does not promise any order of the pages by ``updated_at``, so
        the watermark only moves once the last page is committed, to the
        newest ``updated_at`` seen but never past the pull's start (an order
        changed while the pull ran is read again next time). A ``next`` link
        Shopify no longer accepts starts the pull over from the watermark.
        """
        cursor = dict(cursor or {})
        watermark = parse_time(cursor.get("updated_at"))
        next_url = cursor.get("next")
        response = None
        if next_url and same_origin(next_url, self.base_url):
            try:
                response = self.http.get(next_url)
                started = parse_time(cursor.get("run_started"))
                newest = parse_time(cursor.get("max_seen"))
            except ExternalError as exc:
                if exc.retryable:
                    raise
                log.warning(
                    "shopify %s: the saved next page was refused (%s); pulling again from %s",
                    self.channel.slug,
                    exc.status,
                    watermark,
                )
                response = None
        if response is None:
            params: dict[str, Any] = {
                "status": "any",
                "limit": self.PAGE_SIZE,
                "fields": ",".join(ORDER_FIELDS),
            }
            if watermark is not None:
                params["updated_at_min"] = format_time(watermark - self.PULL_OVERLAP)
            started = datetime.now(UTC)
            response = self.http.get("orders.json", params=params)
            started = min(started, _server_time(response) or started)
            newest = None
        while True:
            orders, rejected = [], {}
            for raw in self._json(response).get("orders") or []:
                try:
                    data = self.map_order(raw)
                except HubError as exc:
                    rejected[str(raw.get("id") or "?")] = exc.message
                    continue
                orders.append(data)
                if data.updated_at and (newest is None or data.updated_at > newest):
                    newest = data.updated_at
            next_url = response.links.get("next", {}).get("url")
            if next_url and not same_origin(next_url, self.base_url):
                raise ExternalError(
                    f"shopify: refusing to follow a next page on another host "
                    f"({next_url.split('?')[0]})",
                    retryable=False,
                )
            if next_url:
                page_cursor = {
                    "updated_at": _iso(watermark),
                    "next": next_url,
                    "run_started": _iso(started),
                    "max_seen": _iso(newest),
                }
            else:
                reached = min(newest, started) if newest and started else newest
                final = max(filter(None, (watermark, reached)), default=None)
                page_cursor = {"updated_at": _iso(final)}
            yield OrderPage(orders, page_cursor, rejected)
            del orders  # the page is committed: keep memory flat
            if not next_url:
                return
            response = self.http.get(next_url)

    def fetch_order(self, external_id: str) -> OrderData:
        order_id = _numeric_id(external_id, "order")
        try:
            response = self.http.get(f"orders/{order_id}.json")
        except ExternalError as exc:
            if exc.status == 404:
                raise NotFound(f"Shopify has no order {order_id}") from exc
            raise
        raw = self._json(response).get("order")
        if not raw:
            raise ExternalError(f"shopify: orders/{order_id}.json had no order", retryable=True)
        return self.map_order(raw)

    def map_order(self, raw: Mapping[str, Any]) -> OrderData:
        """A Shopify order as the hub's, with the payment its note attribute names (if configured)."""
        return order_from_shopify(
            raw, payment_attribute=str(self.config.get("payment_reference_attribute") or "")
        )

    # --- webhooks ------------------------------------------------------------------------

    def sign_webhook(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """For tests: ``body`` as this shop's Shopify sends it (base64 HMAC-SHA256, a webhook id)."""
        signed = dict(headers)
        if not header(signed, "X-Shopify-Webhook-Id", "shopify-webhook-id"):
            signed["X-Shopify-Webhook-Id"] = str(uuid.uuid4())
        if not header(signed, "X-Shopify-Shop-Domain", "shopify-shop-domain"):
            signed["X-Shopify-Shop-Domain"] = self.shop_domain
        secret = str(self.config.get("webhook_secret") or "")
        signed["X-Shopify-Hmac-Sha256"] = sign_base64(secret, body)
        return signed, dict(query)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> WebhookReceipt:
        signature = header(headers, "X-Shopify-Hmac-Sha256", "shopify-hmac-sha256")
        if not body:
            raise SignatureError("empty webhook body: nothing was signed")
        if not signature:
            raise SignatureError("missing X-Shopify-Hmac-Sha256 header")
        secret = str(self.config.get("webhook_secret") or "")
        if not secret or not matches(sign_base64(secret, body), signature):
            raise SignatureError("X-Shopify-Hmac-Sha256 does not match the body")
        shop = header(headers, "X-Shopify-Shop-Domain", "shopify-shop-domain")
        if shop and shop.strip().lower() != self.shop_domain:
            # A public app's secret is the same for every shop: a webhook of
            # another shop is authentic but not this channel's.
            raise SignatureError(
                f"webhook of shop {shop} sent to the channel of {self.shop_domain}"
            )
        topic = header(headers, "X-Shopify-Topic", "shopify-topic")
        event_id = header(
            headers,
            "X-Shopify-Webhook-Id",
            "shopify-webhook-id",
            "X-Shopify-Event-Id",
            "shopify-event-id",
        )
        if not topic:
            raise MalformedPayload("missing X-Shopify-Topic header")
        if not event_id:
            raise MalformedPayload("missing X-Shopify-Webhook-Id header")
        try:
            json.loads(body)
        except ValueError as exc:
            raise MalformedPayload(f"webhook body is not JSON: {exc}") from exc
        return WebhookReceipt(event_id=event_id.strip(), topic=topic.strip().lower())

    def handle_webhook(
        self, hub, topic: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        topic = (topic or "").lower()
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise MalformedPayload(f"webhook body is not JSON: {exc}") from exc
        if topic in ORDER_TOPICS:
            order = self.map_order(payload)
            stored = hub.upsert_orders([order])
            return (
                WebhookOutcome.processed()
                if stored
                else WebhookOutcome.rejected(f"order {order.external_id} dead-lettered")
            )
        if topic in ORDER_REF_TOPICS:
            # The refund (or the order edit, under ``order_edit``) names its order;
            # the order as Shopify holds it now carries what is still owed per line,
            # the new totals and the refunds.
            ref = payload.get("order_edit") if topic == "orders/edited" else payload
            order_id = (ref or {}).get("order_id")
            if not order_id:
                raise NotFound(f"the Shopify {topic} webhook names no order_id")
            order = self.fetch_order(str(order_id))
            hub.upsert_orders([order])
            return WebhookOutcome.processed(f"order {order.external_id} refreshed")
        if topic == "inventory_levels/update":
            return WebhookOutcome.ignored(
                "inventory_levels/update (the hub is the stock master; it pushes stock)"
            )
        if topic == "app/uninstalled":
            hub.disable_channel(f"the Shopify app was uninstalled from {self.shop_domain}")
            return WebhookOutcome.processed("channel disabled")
        return WebhookOutcome.ignored(topic)

    # --- webhook subscriptions ---------------------------------------------------------------

    def sync_webhooks(self, callback_url: str) -> list[str]:
        """Subscribe :data:`WEBHOOK_TOPICS` to ``callback_url`` (``POST webhooks.json``), once.

        What is subscribed to that address is read first (``GET
        webhooks.json?address=…``): topics there already are kept, missing
        ones are created (JSON format), and topics the hub no longer uses
        are deleted. A create Shopify refuses because the topic is taken for
        that address (a retry whose first answer was lost) counts as done.
        Subscriptions made by hand in the Shopify admin are not the app's and
        are never seen or touched (Shopify keeps them apart).
        """
        existing = self._subscriptions(callback_url)
        for webhook in existing:
            if webhook["topic"] not in WEBHOOK_TOPICS:
                self._delete_subscription(webhook["id"])
        have = {w["topic"] for w in existing}
        for topic in WEBHOOK_TOPICS:
            if topic in have:
                continue
            body = {"webhook": {"topic": topic, "address": callback_url, "format": "json"}}
            try:
                self.http.post("webhooks.json", json=body)
            except ExternalError as exc:
                if exc.status != 422 or not any(
                    w["topic"] == topic for w in self._subscriptions(callback_url)
                ):
                    raise
        return list(WEBHOOK_TOPICS)

    def remove_webhooks(self, callback_url: str) -> list[str]:
        """Delete every subscription of this app to ``callback_url`` (``DELETE webhooks/{id}.json``).

        One gone already (404) is fine: removed is what was wanted.
        """
        removed = []
        for webhook in self._subscriptions(callback_url):
            self._delete_subscription(webhook["id"])
            removed.append(str(webhook["topic"]))
        return sorted(removed)

    def _subscriptions(self, callback_url: str) -> list[dict[str, Any]]:
        """This app's subscriptions to ``callback_url``, every page (``Link: rel="next"``)."""
        found: list[dict[str, Any]] = []
        url: str | None = "webhooks.json"
        params: dict[str, Any] | None = {"address": callback_url, "limit": self.PAGE_SIZE}
        while url:
            response = self.http.get(url, params=params)
            for webhook in self._json(response).get("webhooks") or []:
                # The filter is Shopify's; checked again so a loose match never deletes another's.
                if webhook.get("address") == callback_url and webhook.get("id"):
                    found.append(webhook)
            url = response.links.get("next", {}).get("url")
            if url and not same_origin(url, self.base_url):
                raise ExternalError(
                    "shopify: refusing to follow a next page on another host", retryable=False
                )
            params = None
        return found

    def _delete_subscription(self, webhook_id: Any) -> None:
        path = f"webhooks/{_numeric_id(webhook_id, 'webhook')}.json"
        self.http.request("DELETE", path, expected=(200, 204, 404))  # 404: gone already

    # --- fulfilment ------------------------------------------------------------------------

    def push_fulfillment(
        self, order: dict[str, Any], shipment: dict[str, Any], *, idempotency_key: str
    ) -> str | None:
        """Create the Shopify fulfilment of a hub shipment, once.

        Shopify's REST fulfilments take no idempotency key, so the fulfilment
        itself is the proof: a fulfilment of the order with the same tracking
        number (or, without one, the same line items) is taken as this one.
        Lines are matched by Shopify line item id (the hub keeps it on each
        line) to the open fulfilment orders' line items.
        """
        order_id = _numeric_id(order.get("external_id"), "order")
        tracking = str(shipment.get("tracking_number") or "").strip()
        wanted: dict[int, int] = defaultdict(int)
        for sl in shipment.get("lines") or []:
            line_item = str(sl.get("external_id") or "")
            if line_item.isdigit() and int(sl.get("quantity") or 0) > 0:
                wanted[int(line_item)] += int(sl["quantity"])
        existing = self._existing_fulfillment(order_id, tracking, wanted)
        if existing is not None:
            log.info(
                "shopify %s: order %s already has fulfilment %s for this shipment",
                self.channel.slug,
                order_id,
                existing,
            )
            return existing
        if not wanted:
            log.info(
                "shopify %s: shipment %s of order %s has no Shopify lines to fulfil",
                self.channel.slug,
                shipment.get("id"),
                order_id,
            )
            return None
        fulfillment_orders = (
            self._json(self.http.get(f"orders/{order_id}/fulfillment_orders.json")).get(
                "fulfillment_orders"
            )
            or []
        )
        by_order: list[dict[str, Any]] = []
        for fo in fulfillment_orders:
            if fo.get("status") not in ("open", "in_progress"):
                continue
            if "supported_actions" in fo and "create_fulfillment" not in (
                fo["supported_actions"] or []
            ):
                continue
            items = []
            for li in fo.get("line_items") or []:
                need = wanted.get(int(li.get("line_item_id") or 0), 0)
                take = min(need, int(li.get("fulfillable_quantity") or 0))
                if take > 0:
                    items.append({"id": li["id"], "quantity": take})
                    wanted[int(li["line_item_id"])] -= take
            if items:
                by_order.append(
                    {"fulfillment_order_id": fo["id"], "fulfillment_order_line_items": items}
                )
        if not by_order:
            log.info(
                "shopify %s: nothing of order %s is open to fulfil (fulfilled on Shopify?)",
                self.channel.slug,
                order_id,
            )
            return None
        left = {k: v for k, v in wanted.items() if v > 0}
        if left:
            log.warning(
                "shopify %s: order %s: line items %s are not open on Shopify; fulfilling the rest",
                self.channel.slug,
                order_id,
                sorted(left),
            )
        body: dict[str, Any] = {
            "notify_customer": bool(self.config.get("notify_customer", False)),
            "line_items_by_fulfillment_order": by_order,
        }
        if tracking:
            carrier = str(shipment.get("carrier") or "")
            info = {
                "number": tracking,
                "company": TRACKING_COMPANIES.get(carrier.lower(), carrier) or None,
            }
            if shipment.get("tracking_url"):
                info["url"] = shipment["tracking_url"]
            body["tracking_info"] = {k: v for k, v in info.items() if v}
        try:
            created = self._json(self.http.post("fulfillments.json", json={"fulfillment": body}))
        except ExternalError as exc:
            if exc.retryable:
                raise
            # A POST whose answer was lost (a timeout, a dropped connection) is sent
            # again by the client; if the first one got through, Shopify refuses the
            # second (nothing left to fulfil). The fulfilment made then is this one.
            made = self._existing_fulfillment(
                order_id, tracking, dict(_requested(by_order, fulfillment_orders))
            )
            if made is None:
                raise
            log.info(
                "shopify %s: order %s: fulfilment %s was made by an earlier try whose answer "
                "was lost",
                self.channel.slug,
                order_id,
                made,
            )
            return made
        fulfillment_id = (created.get("fulfillment") or {}).get("id")
        if not fulfillment_id:
            raise ExternalError(
                "shopify: fulfillments.json answered without a fulfilment", retryable=True
            )
        return str(fulfillment_id)

    def cancel_fulfillment(
        self, order: dict[str, Any], fulfillment_id: str, *, idempotency_key: str
    ) -> None:
        """Cancel a fulfilment whose label was voided (``POST fulfillments/{id}/cancel.json``).

        Shopify answers 422 for one already cancelled (a retry whose first
        answer was lost): the fulfilment is read back, and cancelled is done.
        """
        fid = _numeric_id(fulfillment_id, "fulfillment")
        try:
            self.http.post(f"fulfillments/{fid}/cancel.json", json={})
        except ExternalError as exc:
            if exc.retryable or exc.status != 422:
                raise
            order_id = _numeric_id(order.get("external_id"), "order")
            made = (
                self._json(self.http.get(f"orders/{order_id}/fulfillments.json")).get(
                    "fulfillments"
                )
                or []
            )
            if not any(str(f.get("id")) == fid and f.get("status") == "cancelled" for f in made):
                raise

    def _existing_fulfillment(
        self, order_id: str, tracking: str, wanted: Mapping[int, int]
    ) -> str | None:
        fulfillments = (
            self._json(self.http.get(f"orders/{order_id}/fulfillments.json")).get("fulfillments")
            or []
        )
        for f in fulfillments:
            if f.get("status") in ("cancelled", "error", "failure"):
                continue
            numbers = {str(n) for n in (f.get("tracking_numbers") or []) if n}
            if f.get("tracking_number"):
                numbers.add(str(f["tracking_number"]))
            if tracking and tracking in numbers:
                return str(f["id"])
            if not tracking and not numbers and wanted:
                lines: dict[int, int] = defaultdict(int)
                for li in f.get("line_items") or []:
                    lines[int(li.get("id") or 0)] += int(li.get("quantity") or 0)
                if dict(lines) == {k: v for k, v in wanted.items() if v}:
                    return str(f["id"])
        return None

    # --- stock ------------------------------------------------------------------------------

    def stock_locations(self) -> list[str] | None:
        """The hub locations of the ``locations`` mapping, each pushed on its own; None: the sum."""
        return sorted(self.location_map) if self.location_map else None

    def push_stock(
        self, levels: list[StockLevel], *, state: Mapping[str, Any], idempotency_key: str
    ) -> None:
        """Set Shopify's available quantity for exactly these SKUs.

        Hub locations map to Shopify locations through the ``locations``
        setting (the hub then sends each mapped location's level, see
        :meth:`stock_locations`); without one, the hub sends the sum over its
        locations and it goes to the shop's primary location. Levels that
        land on the same (SKU, Shopify location) are added up: the hub sends
        every mapped location's level of a changed SKU in one call. SKUs the
        shop does not sell and hub locations not mapped are skipped (logged).
        Shopify has no batch endpoint in REST: one ``inventory_levels/set.json``
        per item and location, paced by the rate limiter. A refused item does
        not stop the others; the push then fails, naming them, and its retry
        sets all again. Setting is idempotent and the endpoint takes no
        idempotency key, so ``idempotency_key`` is not sent.
        """
        if not levels:
            return
        totals: dict[tuple[int, str], int] = defaultdict(int)
        skipped_locations: set[str] = set()
        for level in levels:
            location_id = self._shopify_location(level.location_code)
            if location_id is None:
                skipped_locations.add(level.location_code)
                continue
            totals[(location_id, level.sku)] += max(0, int(level.available))
        if skipped_locations:
            log.info(
                "shopify %s: hub locations %s are not mapped to Shopify; not pushed",
                self.channel.slug,
                sorted(skipped_locations),
            )
        items = self._inventory_items_for({sku for _, sku in totals})
        unknown = sorted({sku for _, sku in totals if sku not in items})
        if unknown:
            log.info(
                "shopify %s: %d SKU(s) not sold on Shopify, not pushed: %s",
                self.channel.slug,
                len(unknown),
                ", ".join(unknown[:20]),
            )
        refused: list[str] = []
        for (location_id, sku), available in sorted(totals.items()):
            for item_id in items.get(sku, ()):
                try:
                    self.http.post(
                        "inventory_levels/set.json",
                        json={
                            "location_id": location_id,
                            "inventory_item_id": item_id,
                            "available": available,
                        },
                    )
                except ExternalError as exc:
                    if exc.retryable:
                        raise
                    # The client's message names the status and Shopify's own errors.
                    refused.append(f"{sku} at location {location_id} ({exc})")
        if refused:
            raise ExternalError(
                f"shopify refused stock for {len(refused)} item(s): " + "; ".join(refused[:10]),
                retryable=False,
            )

    def _shopify_location(self, location_code: str) -> int | None:
        if self.location_map:
            return self.location_map.get(location_code)
        if self._primary_location is None:
            shop = self._json(self.http.get("shop.json")).get("shop") or {}
            if not shop.get("primary_location_id"):
                raise ConfigError("the shop reports no primary location: set the location mapping")
            self._primary_location = int(shop["primary_location_id"])
        return self._primary_location

    def _inventory_items_for(self, skus: set[str]) -> dict[str, list[int]]:
        missing = skus - self._inventory_items.keys()
        stale = (
            self._catalog_read_at is None
            or time.monotonic() - self._catalog_read_at > self.CATALOG_REFRESH_SECONDS
        )
        if missing and stale:
            self._read_catalog()
        return {sku: self._inventory_items[sku] for sku in skus if sku in self._inventory_items}

    def _read_catalog(self) -> None:
        """Learn SKU -> inventory item ids from every product's variants, page by page."""
        learnt: dict[str, list[int]] = {}
        url: str | None = "products.json"
        params: dict[str, Any] | None = {"limit": self.PAGE_SIZE, "fields": "id,variants"}
        while url:
            response = self.http.get(url, params=params)
            for product in self._json(response).get("products") or []:
                for variant in product.get("variants") or []:
                    sku = str(variant.get("sku") or "").strip()
                    item = variant.get("inventory_item_id")
                    if sku and item and int(item) not in learnt.setdefault(sku, []):
                        learnt[sku].append(int(item))
            url = response.links.get("next", {}).get("url")
            if url and not same_origin(url, self.base_url):
                raise ExternalError(
                    "shopify: refusing to follow a next page on another host", retryable=False
                )
            params = None  # the next link carries everything
        self._inventory_items = learnt
        self._catalog_read_at = time.monotonic()

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        return json_body(response, "shopify")


def shopify_error_text(response: requests.Response) -> str:
    """Shopify's documented error body as one line: ``{"errors": "…"}``, a list, or per field.

    Anything else in the body is not named: it may not be Shopify's.
    """
    body = error_json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        return "; ".join(str(e) for e in errors if isinstance(e, str))
    if isinstance(errors, dict):
        return "; ".join(
            f"{field}: {' '.join(str(m) for m in (said if isinstance(said, list) else [said]))}"
            for field, said in errors.items()
        )
    return ""
