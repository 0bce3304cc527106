"""The WooCommerce sales channel: REST API v3 pull, signed webhooks, fulfilment notes and stock.

What it calls on a store (``{store_url}/wp-json/wc/v3/…``, authenticated as
:mod:`plugins.woocommerce.auth` says):

- **pull** (``channel.pull``, every 5 minutes and on "sync now"):
  ``GET orders?orderby=modified&order=asc&modified_after=…&dates_are_gmt=true
  &per_page=100&page=…``, ``X-WP-TotalPages`` saying how many pages there are;
  ``GET orders/<id>/refunds`` for an order with refunds. Each page is committed
  with its cursor (see :meth:`WooCommerceConnector.fetch_orders`).
- **webhooks**: base64 HMAC-SHA256 of the raw body in ``X-WC-Webhook-Signature``,
  compared in constant time; WooCommerce's unsigned ping (``webhook_id=<n>``)
  is taken and ignored. Event ids: see :meth:`WooCommerceConnector.event_id`.
- **webhook registration** (``channel.webhooks``, when the channel is created,
  changed, enabled or disabled): ``GET webhooks``, then ``POST webhooks`` for a
  topic missing and ``DELETE webhooks/<id>?force=true`` for what is stale (see
  :meth:`WooCommerceConnector.sync_webhooks`).
- **fulfilment**: ``POST orders/<id>/notes`` with carrier and tracking, then
  ``PUT orders/<id>`` status ``completed`` once everything shipped; the
  Shipment Tracking extension's ``/wp-json/wc-shipment-tracking/v3`` when the
  store has it.
- **stock**: ``GET products?sku=…`` (products and variations by SKU, kept), then
  ``POST products/batch`` and ``POST products/<parent>/variations/batch``, up to
  100 items a request.

Each HTTP call sits in a small method of its own (``_list_orders``,
``_add_note``, ``_create_webhook`` …).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from marshmallow import Schema, ValidationError, fields, pre_load, validates, validates_schema

from hub.core.exceptions import (
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
from hub.integration.http import error_json, json_body
from hub.integration.signing import header, matches, sign_base64
from plugins.woocommerce import auth
from plugins.woocommerce.mapping import (
    Handling,
    format_time,
    handling,
    order_from_woocommerce,
    parse_time,
)

log = logging.getLogger(__name__)

API_PATH = "/wp-json/wc/v3"
#: The Shipment Tracking extension's own REST namespace.
TRACKING_PATH = "/wp-json/wc-shipment-tracking/v3"

#: Topics whose body is an order as ``/wc/v3/orders/<id>`` shows it.
ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
#: ``order.deleted`` sends ``{"id": <n>}`` only: the order is read back (a trashed one still is).
DELETED_TOPIC = "order.deleted"
#: What the channel subscribes to (``sync_webhooks``): exactly the topics it handles.
WEBHOOK_TOPICS: tuple[str, ...] = tuple(sorted(ORDER_TOPICS | {DELETED_TOPIC}))
#: What :meth:`WooCommerceConnector.verify_webhook` calls the unsigned ping.
PING_TOPIC = "ping"
_PING = re.compile(rb"webhook_id=(\d{1,20})")

#: The hub's carrier codes -> the Shipment Tracking extension's provider names.
#: Others go as a custom provider with the shipment's tracking link.
TRACKING_PROVIDERS = {
    "ups": "UPS",
    "usps": "USPS",
    "stamps_com": "USPS",
    "fedex": "Fedex",
    "canada_post": "Canada Post",
    "royal_mail": "Royal Mail",
    "australia_post": "Australia Post",
    "dpd": "DPD",
}
#: Carrier names shown in the order note.
CARRIER_NAMES = {
    **TRACKING_PROVIDERS,
    "fedex": "FedEx",
    "dhl": "DHL",
    "dhl_express": "DHL Express",
    "dhl_express_worldwide": "DHL Express",
    "gls": "GLS",
}

_URL = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")


class WooCommerceConfig(Schema):
    store_url = fields.String(
        required=True,
        metadata={
            "label": "Store URL",
            "help": "Your WordPress site's address, e.g. https://shop.example.com "
            "(Settings > General > Site Address). The REST API is under /wp-json/wc/v3 there.",
        },
    )
    consumer_key = fields.String(
        required=True,
        validate=lambda v: bool(v.strip()),
        metadata={
            "label": "Consumer key",
            "secret": True,
            "help": "WooCommerce > Settings > Advanced > REST API > Add key, "
            "permissions Read/Write (starts with ck_).",
        },
    )
    consumer_secret = fields.String(
        required=True,
        validate=lambda v: bool(v.strip()),
        metadata={
            "label": "Consumer secret",
            "secret": True,
            "help": "Shown once, beside the consumer key (starts with cs_).",
        },
    )
    webhook_secret = fields.String(
        load_default="",
        metadata={
            "label": "Webhook secret",
            "secret": True,
            "help": "Any long random text: the hub gives it to the webhooks it registers at "
            "the store and checks every delivery with it (webhooks added by hand in "
            "WooCommerce > Settings > Advanced > Webhooks take the same Secret). Empty: the "
            "hub registers no webhooks, refuses any, and pulls only.",
        },
    )
    credentials_in_query = fields.Boolean(
        load_default=False,
        metadata={
            "label": "Send the key in the query string",
            "help": "Only if WooCommerce answers 'Consumer key is missing' although it is "
            "set: some servers drop the Authorization header. HTTPS stores only.",
        },
    )
    payment_reference_meta = fields.String(
        load_default="",
        metadata={
            "label": "Payment reference order meta",
            "help": "Only if your checkout authorises payments the hub captures (Stripe, "
            "manual capture): the order meta key holding the payment's id "
            "(WooCommerce Stripe writes _stripe_intent_id). Such orders, on hold "
            "at WooCommerce, are captured through this channel's payment channel.",
        },
    )
    customer_note = fields.Boolean(
        load_default=False,
        metadata={
            "label": "Tracking note to the customer",
            "help": "On: the shipping note is a customer note, which WooCommerce emails. "
            "Off when the hub sends its own shipping emails.",
        },
    )
    orders_since = fields.String(
        load_default="",
        metadata={
            "label": "Orders changed since",
            "help": "The first pull takes orders changed on or after this date "
            "(YYYY-MM-DD, UTC). Empty: every order. Set it to the day you start "
            "shipping through the hub, so orders completed before are not taken again.",
        },
    )

    @pre_load
    def _normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data = dict(data)
        for key in ("store_url", "payment_reference_meta", "orders_since"):
            if isinstance(data.get(key), str):
                data[key] = data[key].strip()
        url = data.get("store_url")
        if isinstance(url, str) and url:
            if "://" not in url:
                url = f"https://{url}"  # "shop.example.com" is what people type
            data["store_url"] = url.rstrip("/")
        return data

    @validates("store_url")
    def _check_url(self, value: str, **kwargs: Any) -> None:
        if not _URL.match(value or "") or urlsplit(value).path.endswith("/wp-json/wc/v3"):
            raise ValidationError(
                "must be the site's address, e.g. https://shop.example.com (no /wp-json path)"
            )

    @validates("orders_since")
    def _check_since(self, value: str, **kwargs: Any) -> None:
        if value:
            try:
                datetime.strptime(value, "%Y-%m-%d")
            except ValueError:
                raise ValidationError("must be a date such as 2026-01-31") from None

    @validates_schema
    def _check_query_auth(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("credentials_in_query") and str(data.get("store_url", "")).startswith(
            "http://"
        ):
            raise ValidationError(
                "over HTTP the secret would travel in the clear; WooCommerce takes OAuth "
                "1.0a there, which the hub uses on its own",
                "credentials_in_query",
            )


@dataclass(frozen=True)
class ProductRef:
    """Where a SKU lives at WooCommerce: a product, or a variation of ``parent_id``."""

    id: int
    parent_id: int = 0


@dataclass(frozen=True, order=True)
class Mark:
    """A place in the orders sorted by modification: ``date_modified_gmt``, then id."""

    modified: datetime
    id: int

    def as_dict(self) -> dict[str, Any]:
        return {"modified": self.modified.isoformat(), "id": self.id}

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Mark | None:
        """The order's place; None for one without a readable date or id (it is rejected)."""
        try:
            modified = parse_time(raw.get("date_modified_gmt"))
            return cls(modified, int(raw.get("id") or 0)) if modified else None
        except (HubError, TypeError, ValueError):
            return None


def _numeric_id(value: Any, what: str) -> str:
    text = str(value or "").strip()
    if not text.isdigit():
        raise NotFound(f"{what} {value!r} is not a WooCommerce id")
    return text


class WooCommerceConnector(SalesConnector):
    name = "woocommerce"
    label = "WooCommerce"
    description = "A WooCommerce store: orders in (pull + webhooks), fulfilments and stock out."
    capabilities = frozenset(
        {
            Capability.WEBHOOKS,
            Capability.PULL_ORDERS,
            Capability.FETCH_ORDER,
            Capability.PUSH_FULFILLMENT,
            Capability.PUSH_STOCK,
            Capability.REGISTER_WEBHOOKS,
        }
    )
    config_schema = WooCommerceConfig
    scheduled_jobs = {"channel.pull": 300}

    #: WooCommerce's largest ``per_page`` (and the most a batch request takes).
    PAGE_SIZE = 100
    #: A pull asks again for what changed this long before its cursor: an order
    #: saved late (or a clock a little off) is still seen. Reading one again is
    #: harmless: an update not newer than the stored one changes nothing.
    PULL_OVERLAP = timedelta(minutes=2)
    #: Within a pull, each page starts this long before the last order seen:
    #: ``modified_after`` is strict and orders saved in the same second tie.
    TIE = timedelta(seconds=1)
    #: SKUs asked for in one ``GET products?sku=`` (the URL stays short).
    SKU_LOOKUP = 50
    #: A SKU the store did not have is asked for again after this long.
    CATALOG_REFRESH_SECONDS = 600
    #: A store without the Shipment Tracking extension is asked again after this long.
    TRACKING_RECHECK = timedelta(hours=24)
    #: Extra HttpClient arguments (tests shorten the waits with them).
    http_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, channel: ChannelInfo):
        super().__init__(channel)
        config = self.config
        self.store_url = str(config.get("store_url") or "").rstrip("/")
        self.payment_meta = str(config.get("payment_reference_meta") or "")
        credentials = auth.for_site(
            self.store_url,
            str(config.get("consumer_key") or ""),
            str(config.get("consumer_secret") or ""),
            in_query=bool(config.get("credentials_in_query")),
        )
        options = {
            "auth": credentials,
            "error_text": woocommerce_error_text,
            "headers": {"Accept": "application/json"},
            **self.http_options,
        }
        self.http = self.http_client(f"{self.store_url}{API_PATH}", **options)
        self.tracking_http = self.http_client(f"{self.store_url}{TRACKING_PATH}", **options)
        # Adding a note or a tracking item is not idempotent: a POST whose answer was
        # lost is not sent again blindly, the connector looks whether it got through.
        once = {**options, "max_retries": 0}
        self.http_once = self.http_client(f"{self.store_url}{API_PATH}", **once)
        self.tracking_once = self.http_client(f"{self.store_url}{TRACKING_PATH}", **once)
        self._products: dict[str, ProductRef] = {}
        self._unknown_skus: dict[str, float] = {}
        # Whether the store has the Shipment Tracking extension, and when that was
        # learnt: kept with the pull cursor in the channel's state.
        saved = (channel.state.get("cursor") or {}).get("shipment_tracking") or {}
        self._tracking: bool | None = saved.get("present")
        self._tracking_checked = parse_time(saved.get("checked_at"))

    def close(self) -> None:
        for client in (self.http, self.tracking_http, self.http_once, self.tracking_once):
            client.close()

    def check_connection(self) -> str:
        response = self._get_orders({"per_page": 1})
        return f"connected to {self.store_url} ({response.headers.get('X-WP-Total', '?')} orders)"

    # --- orders in ---------------------------------------------------------------------------

    def fetch_orders(self, cursor: Mapping[str, Any] | None) -> Iterator[OrderPage]:
        """Yield the orders changed since ``cursor``, oldest change first, a page at a time.

        The cursor is the last order seen (``modified``, ``id``). Pages are read
        by ``modified_after`` from the newest order of the page before (less
        :attr:`TIE`), not by page number: an order changed during the pull moves
        to the end of the list and would shift later pages under a page number.
        Only when more than a page of orders share one second does the pull turn
        pages (``page``) at the same ``modified_after``. A pull cut short
        resumes where the cursor of the last committed page says (``since``,
        ``page``); a finished one stores the last order seen, and the next pull
        starts :attr:`PULL_OVERLAP` before it.

        Orders awaiting payment are left out (see
        :data:`plugins.woocommerce.mapping.STATUS_RULES`): they come back when
        they change. One that cannot be read is rejected with the page.
        """
        cursor = dict(cursor or {})
        last = self._mark(cursor)
        if self._tracking is None and cursor.get("shipment_tracking"):
            # Learnt by another process (or before a restart): keep it.
            saved = cursor["shipment_tracking"]
            self._tracking = saved.get("present")
            self._tracking_checked = parse_time(saved.get("checked_at"))
        if cursor.get("page"):
            since: datetime | None = parse_time(cursor.get("since"))
            page = int(cursor["page"])
        elif last is not None:
            since, page = last.modified - self.PULL_OVERLAP, 1
        else:
            since, page = self._orders_since(), 1
        while True:
            response = self._list_orders(since, page)
            raws = json_body(response, self.name, want=list)
            orders, rejected, waiting = [], {}, 0
            for raw in raws:
                if not isinstance(raw, Mapping):
                    continue
                mark = Mark.of(raw)
                if mark is not None and (last is None or mark > last):
                    last = mark
                if handling(raw, self.payment_meta) is Handling.WAIT:
                    waiting += 1
                    continue
                try:
                    orders.append(self.map_order(raw))
                except HubError as exc:
                    rejected[str(raw.get("id") or "?")] = exc.message
            if waiting:
                log.info(
                    "woocommerce %s: %d order(s) awaiting payment left for later",
                    self.channel.slug,
                    waiting,
                )
            pages = _int_header(response, "X-WP-TotalPages", default=1)
            more = bool(raws) and page < pages
            page_cursor: dict[str, Any] = last.as_dict() if last else {}
            if more:
                if last is not None and (since is None or last.modified - self.TIE > since):
                    since, page = last.modified - self.TIE, 1
                else:
                    page += 1  # a page of orders saved in the same second: turn it
                page_cursor.update(since=since.isoformat() if since else None, page=page)
            if self._tracking is not None and self._tracking_checked is not None:
                page_cursor["shipment_tracking"] = {
                    "present": self._tracking,
                    "checked_at": self._tracking_checked.isoformat(),
                }
            yield OrderPage(orders, page_cursor, rejected)
            del orders  # the page is committed: keep memory flat
            if not more:
                return

    def _orders_since(self) -> datetime | None:
        day = str(self.config.get("orders_since") or "")
        return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC) if day else None

    @staticmethod
    def _mark(cursor: Mapping[str, Any]) -> Mark | None:
        modified = parse_time(cursor.get("modified"))
        return Mark(modified, int(cursor.get("id") or 0)) if modified else None

    def fetch_order(self, external_id: str) -> OrderData:
        return self.map_order(self._get_order(external_id))

    def map_order(self, raw: Mapping[str, Any]) -> OrderData:
        """A WooCommerce order as the hub's, with its refunds' lines read when it has refunds."""
        refunds = self._list_refunds(str(raw["id"])) if raw.get("refunds") else None
        return order_from_woocommerce(raw, refunds=refunds, payment_meta=self.payment_meta)

    def _list_orders(self, since: datetime | None, page: int) -> requests.Response:
        params: dict[str, Any] = {
            "orderby": "modified",
            "order": "asc",
            "status": "any",
            "per_page": self.PAGE_SIZE,
            "page": page,
        }
        if since is not None:
            params.update(modified_after=format_time(since), dates_are_gmt="true")
        return self._get_orders(params)

    def _get_orders(self, params: Mapping[str, Any]) -> requests.Response:
        return self.http.get("orders", params=dict(params))

    def _get_order(self, external_id: Any) -> dict[str, Any]:
        order_id = _numeric_id(external_id, "order")
        try:
            response = self.http.get(f"orders/{order_id}")
        except ExternalError as exc:
            if exc.status == 404:
                raise NotFound(f"WooCommerce has no order {order_id}") from exc
            raise
        return json_body(response, self.name)

    def _list_refunds(self, order_id: str) -> list[dict[str, Any]]:
        response = self.http.get(f"orders/{order_id}/refunds", params={"per_page": self.PAGE_SIZE})
        return [r for r in json_body(response, self.name, want=list) if isinstance(r, dict)]

    # --- webhooks ----------------------------------------------------------------------------

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> WebhookReceipt:
        signature = header(headers, "X-WC-Webhook-Signature")
        if not signature:
            ping = _PING.fullmatch(body.strip())
            if ping:
                # Sent unsigned when a webhook is saved; answered 200 or WooCommerce
                # says the delivery URL failed. Stored once per webhook, as ignored.
                return WebhookReceipt(event_id=f"ping:{ping[1].decode()}", topic=PING_TOPIC)
            raise SignatureError("missing X-WC-Webhook-Signature header")
        if not body:
            raise SignatureError("empty webhook body: nothing was signed")
        secret = str(self.config.get("webhook_secret") or "")
        if not secret:
            raise SignatureError("this channel has no webhook secret: webhooks are refused")
        if not matches(sign_base64(secret, body), signature):
            raise SignatureError("X-WC-Webhook-Signature does not match the body")
        topic = (header(headers, "X-WC-Webhook-Topic") or "").strip().lower()
        if not topic:
            raise MalformedPayload("missing X-WC-Webhook-Topic header")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise MalformedPayload(f"webhook body is not JSON: {exc}") from exc
        return WebhookReceipt(event_id=self.event_id(topic, payload, headers, body), topic=topic)

    def sign_webhook(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """For tests: ``X-WC-Webhook-Signature`` as WooCommerce computes it with this channel's secret."""
        secret = str(self.config.get("webhook_secret") or "")
        return {**headers, "X-WC-Webhook-Signature": sign_base64(secret, body)}, dict(query)

    @staticmethod
    def event_id(topic: str, payload: Any, headers: Mapping[str, str], body: bytes) -> str:
        """The inbox's dedupe key of a delivery.

        WooCommerce's ``X-WC-Webhook-Delivery-ID`` is a hash of the webhook id
        and the time of sending: a new one for every delivery, so it cannot tell
        a second delivery of the same change. A resource's delivery is named by
        what it carries instead: ``order:<id>:<date_modified_gmt>:<digest of the
        body>``, the same for every delivery of that state of the order (whatever
        topic carried it: ``order.created`` and ``order.updated`` often both fire
        for one save), different for any change, even within the same second.
        A body without a modification date (``order.deleted`` sends ``{"id"}``)
        is named by its delivery id.
        """
        if isinstance(payload, Mapping) and payload.get("id") and payload.get("date_modified_gmt"):
            resource = (
                (header(headers, "X-WC-Webhook-Resource") or topic.partition(".")[0])
                .strip()
                .lower()
            )
            digest = hashlib.sha256(body).hexdigest()[:16]
            return f"{resource}:{payload['id']}:{payload['date_modified_gmt']}:{digest}"
        delivery = (header(headers, "X-WC-Webhook-Delivery-ID") or "").strip()
        if delivery:
            return f"{topic}:delivery:{delivery}"
        return f"{topic}:body:{hashlib.sha256(body).hexdigest()}"

    def handle_webhook(
        self, hub, topic: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        topic = (topic or "").lower()
        if topic == PING_TOPIC:
            return WebhookOutcome.ignored("WooCommerce's ping for a new webhook")
        if topic not in ORDER_TOPICS and topic != DELETED_TOPIC:
            return WebhookOutcome.ignored(topic)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise MalformedPayload(f"webhook body is not JSON: {exc}") from exc
        if not isinstance(payload, Mapping) or not payload.get("id"):
            raise MalformedPayload(f"the {topic} webhook names no order id")
        if topic == DELETED_TOPIC or "line_items" not in payload:
            # A deleted order's body is only its id; one in the bin is still there (status trash).
            try:
                payload = self._get_order(payload["id"])
            except NotFound:
                return WebhookOutcome.ignored(
                    f"order {payload['id']} was deleted for good on WooCommerce: "
                    "cancel it in the hub if it has not shipped"
                )
        what = handling(payload, self.payment_meta)
        if what is Handling.WAIT:
            return WebhookOutcome.ignored(
                f"order {payload['id']} is {payload.get('status')}: awaiting payment, "
                "taken once it is paid"
            )
        external_id = str(payload["id"])
        try:
            order = self.map_order(payload)
        except HubError as exc:
            hub.upsert_orders([], rejected={external_id: exc.message})
            return WebhookOutcome.rejected(f"order {external_id} dead-lettered: {exc.message}")
        stored = hub.upsert_orders([order])
        return (
            WebhookOutcome.processed()
            if stored
            else WebhookOutcome.rejected(f"order {external_id} dead-lettered")
        )

    # --- webhook registration ----------------------------------------------------------------

    def sync_webhooks(self, callback_url: str) -> list[str]:
        """Have the store send :data:`WEBHOOK_TOPICS` to ``callback_url``, each by one webhook.

        The store's webhooks are read first (``GET webhooks``, every page) and
        only those whose ``delivery_url`` is ``callback_url`` are looked at. A
        topic with a current webhook is left alone, so a second sync creates
        nothing. One missing is created (``POST webhooks``: name, topic,
        delivery URL, the channel's webhook secret, ``active``); WooCommerce
        then pings the URL, which the hub keeps as *ignored*. Once each topic
        has its webhook, the rest are deleted (``DELETE webhooks/<id>?force=true``):
        topics the hub does not handle, a second webhook of a topic, and stale
        ones. Stale is one WooCommerce paused or disabled (after five failed
        deliveries), or one not named by :func:`webhook_name` for the current
        secret: WooCommerce never shows a webhook's secret, so the name carries
        a digest of it and a changed secret replaces the webhooks. Webhooks
        made by hand to the hub's address are replaced by these too.

        Without a webhook secret the channel refuses every delivery: nothing is
        subscribed (and what was, is deleted) and the hub pulls only.
        """
        secret = str(self.config.get("webhook_secret") or "")
        existing = self._webhooks_to(callback_url)
        kept: dict[str, dict[str, Any]] = {}
        if secret:
            for webhook in existing:
                topic = str(webhook.get("topic") or "")
                current = (
                    topic in WEBHOOK_TOPICS
                    and topic not in kept
                    and webhook.get("status") == "active"
                    and webhook.get("name") == webhook_name(self.channel.slug, topic, secret)
                )
                if current:
                    kept[topic] = webhook
            for topic in WEBHOOK_TOPICS:
                if topic not in kept:
                    kept[topic] = self._create_webhook(topic, callback_url, secret)
        else:
            log.info(
                "woocommerce %s: no webhook secret, so no webhooks: the hub pulls only",
                self.channel.slug,
            )
        current_ids = {str(w.get("id")) for w in kept.values()}
        for webhook in existing:
            if str(webhook.get("id")) not in current_ids:
                self._delete_webhook(webhook["id"])
        return sorted(kept)

    def remove_webhooks(self, callback_url: str) -> list[str]:
        """Delete every webhook of the store sent to ``callback_url``; their topics.

        One deleted meanwhile (404) is fine: gone is what was wanted.
        """
        removed = []
        for webhook in self._webhooks_to(callback_url):
            self._delete_webhook(webhook["id"])
            removed.append(str(webhook.get("topic") or ""))
        return sorted(removed)

    def _webhooks_to(self, callback_url: str) -> list[dict[str, Any]]:
        """The store's webhooks whose delivery URL is ``callback_url``, oldest first.

        WooCommerce cannot filter by delivery URL: every page is read
        (``X-WP-TotalPages``), by id so that paging is stable.
        """
        found: list[dict[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            response = self._registration_call(
                "GET",
                "webhooks",
                params={"per_page": self.PAGE_SIZE, "page": page, "orderby": "id", "order": "asc"},
            )
            for webhook in json_body(response, self.name, want=list):
                if (
                    isinstance(webhook, Mapping)
                    and webhook.get("delivery_url") == callback_url
                    and webhook.get("id")
                ):
                    found.append(dict(webhook))
            pages = _int_header(response, "X-WP-TotalPages", default=1)
            page += 1
        return found

    def _create_webhook(self, topic: str, callback_url: str, secret: str) -> dict[str, Any]:
        # Sent once: a creation whose answer was lost leaves a webhook the next sync
        # finds (kept, or deleted as a second one of its topic), never two blind POSTs.
        response = self._registration_call(
            "POST",
            "webhooks",
            once=True,
            json={
                "name": webhook_name(self.channel.slug, topic, secret),
                "topic": topic,
                "delivery_url": callback_url,
                "secret": secret,
                "status": "active",
            },
        )
        made = json_body(response, self.name)
        if not made.get("id"):
            raise ExternalError(
                "woocommerce: the webhook was answered without an id", retryable=True
            )
        return made

    def _delete_webhook(self, webhook_id: Any) -> None:
        path = f"webhooks/{_numeric_id(webhook_id, 'webhook')}"
        # force=true: webhooks cannot be trashed (501 without it). 404: gone already.
        self._registration_call("DELETE", path, params={"force": "true"}, expected=(200, 404))

    def _registration_call(
        self, method: str, path: str, *, once: bool = False, **kwargs: Any
    ) -> requests.Response:
        """A call of the webhooks API; a refusal of the key says what the key needs."""
        client = self.http_once if once else self.http
        try:
            return client.request(method, path, **kwargs)
        except ExternalError as exc:
            if exc.status not in (401, 403):
                raise
            raise ExternalError(
                f"{exc.message} (registering webhooks takes a REST API key with Read/Write "
                "permissions, of a user who may manage WooCommerce, e.g. a shop manager; "
                "or add the webhooks by hand, see docs/connectors/woocommerce.md)",
                retryable=False,
                status=exc.status,
            ) from exc

    # --- fulfilment --------------------------------------------------------------------------

    def push_fulfillment(
        self, order: dict[str, Any], shipment: dict[str, Any], *, idempotency_key: str
    ) -> str | None:
        """Tell WooCommerce a shipment left: an order note, tracking, then ``completed``.

        WooCommerce has no fulfilment object and takes no idempotency key: the
        note is the proof. A note naming the tracking number (or, without one,
        the hub's shipment) is taken as this shipment's, so a retry adds none.
        With the Shipment Tracking extension the tracking is added there too
        (once per number). When the hub says everything shipped, the order
        becomes ``completed`` (WooCommerce emails the customer then).

        :return: the note's id.
        """
        order_id = _numeric_id(order.get("external_id"), "order")
        tracking = str(shipment.get("tracking_number") or "").strip()
        marker = tracking or f"hub shipment {shipment.get('id')}"
        note_id = self._find_note(order_id, marker)
        if note_id is None:
            try:
                note_id = self._add_note(order_id, _note_text(order, shipment))
            except ExternalError as exc:
                # Lost on the way back (a timeout, a reset)? Then the note is there.
                note_id = self._find_note(order_id, marker) if exc.retryable else None
                if note_id is None:
                    raise
        else:
            log.info(
                "woocommerce %s: order %s already has note %s for this shipment",
                self.channel.slug,
                order_id,
                note_id,
            )
        if tracking and self._has_tracking_extension(order_id):
            self._add_tracking(order_id, shipment)
        if order.get("fulfillment_status") == "fulfilled":
            self._set_status(order_id, "completed")
        return note_id

    def _find_note(self, order_id: str, marker: str) -> str | None:
        response = self.http.get(f"orders/{order_id}/notes", params={"type": "any"})
        for note in json_body(response, self.name, want=list):
            if isinstance(note, Mapping) and marker in str(note.get("note") or ""):
                return str(note.get("id"))
        return None

    def _add_note(self, order_id: str, text: str) -> str:
        response = self.http_once.post(
            f"orders/{order_id}/notes",
            json={"note": text, "customer_note": bool(self.config.get("customer_note"))},
        )
        note = json_body(response, self.name)
        if not note.get("id"):
            raise ExternalError("woocommerce: the note was answered without an id", retryable=True)
        return str(note["id"])

    def _set_status(self, order_id: str, status: str) -> None:
        self.http.request("PUT", f"orders/{order_id}", json={"status": status})

    def _has_tracking_extension(self, order_id: str) -> bool:
        """Whether the Shipment Tracking extension answers; learnt by a 404 once, asked daily."""
        now = datetime.now(UTC)
        if self._tracking is False and self._tracking_checked is not None:
            if now - self._tracking_checked < self.TRACKING_RECHECK:
                return False
        if self._tracking:
            return True
        try:
            self._list_trackings(order_id)
            present = True
        except ExternalError as exc:
            if exc.status != 404 or not _no_route(exc):
                raise
            present = False
        self._tracking, self._tracking_checked = present, now
        log.info(
            "woocommerce %s: the Shipment Tracking extension is %s",
            self.channel.slug,
            "there" if present else "not installed",
        )
        return present

    def _list_trackings(self, order_id: str) -> list[dict[str, Any]]:
        response = self.tracking_http.get(f"orders/{order_id}/shipment-trackings")
        return [t for t in json_body(response, self.name, want=list) if isinstance(t, dict)]

    def _add_tracking(self, order_id: str, shipment: Mapping[str, Any]) -> None:
        number = str(shipment.get("tracking_number") or "").strip()

        def added() -> bool:
            return any(
                str(t.get("tracking_number")) == number for t in self._list_trackings(order_id)
            )

        if added():
            return
        carrier = str(shipment.get("carrier") or "").strip()
        body: dict[str, Any] = {"tracking_number": number}
        provider = TRACKING_PROVIDERS.get(carrier.lower())
        if provider:
            body["tracking_provider"] = provider
        else:
            body["custom_tracking_provider"] = (
                CARRIER_NAMES.get(carrier.lower(), carrier) or "Carrier"
            )
            if shipment.get("tracking_url"):
                body["custom_tracking_link"] = shipment["tracking_url"]
        shipped = parse_time(shipment.get("shipped_at"))
        if shipped:
            body["date_shipped"] = shipped.strftime("%Y-%m-%d")
        try:
            self.tracking_once.post(f"orders/{order_id}/shipment-trackings", json=body)
        except ExternalError as exc:
            if not (exc.retryable and added()):
                raise

    # --- stock -------------------------------------------------------------------------------

    def push_stock(
        self, levels: list[StockLevel], *, state: Mapping[str, Any], idempotency_key: str
    ) -> None:
        """Set WooCommerce's stock quantity for exactly these SKUs.

        WooCommerce keeps one quantity per product or variation: every hub
        location's level of a SKU is added up. Products are found by SKU
        (``GET products?sku=``, which finds variations too) and kept; a SKU the
        store does not sell is skipped (logged), and asked for again after
        :attr:`CATALOG_REFRESH_SECONDS`. Quantities are set (``manage_stock``
        on, as the hub is the stock master) through the batch endpoints, up to
        100 a request: ``products/batch``, and ``products/<parent>/variations/batch``
        per parent. An item WooCommerce refuses does not stop the others; the
        push then fails naming them, and its retry sets all again (setting is
        idempotent), so ``idempotency_key`` is not needed.
        """
        if not levels:
            return
        totals: dict[str, int] = defaultdict(int)
        for level in levels:
            totals[level.sku] += max(0, int(level.available))
        refs = self._products_for(set(totals))
        unknown = sorted(set(totals) - refs.keys())
        if unknown:
            log.info(
                "woocommerce %s: %d SKU(s) not sold on WooCommerce, not pushed: %s",
                self.channel.slug,
                len(unknown),
                ", ".join(unknown[:20]),
            )
        by_parent: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for sku, quantity in sorted(totals.items()):
            if sku in refs:
                by_parent[refs[sku].parent_id].append((sku, quantity))
        refused: list[str] = []
        stale = False
        for parent, items in sorted(by_parent.items()):
            path = f"products/{parent}/variations/batch" if parent else "products/batch"
            for start in range(0, len(items), self.PAGE_SIZE):
                chunk = items[start : start + self.PAGE_SIZE]
                updates = [
                    {"id": refs[sku].id, "manage_stock": True, "stock_quantity": quantity}
                    for sku, quantity in chunk
                ]
                answered = self._batch_update(path, updates)
                sku_of = {refs[sku].id: sku for sku, _ in chunk}
                for item in answered:
                    error = item.get("error") if isinstance(item, Mapping) else None
                    if not error:
                        continue
                    sku = sku_of.get(int(item.get("id") or 0), f"id {item.get('id')}")
                    code = str(error.get("code") or "")
                    if code.endswith("invalid_id"):
                        # Deleted since it was looked up: look it up afresh on the retry.
                        self._products.pop(sku, None)
                        stale = True
                    refused.append(f"{sku} ({code}: {str(error.get('message') or '')[:120]})")
        if stale:
            raise ExternalError(
                "woocommerce: products were deleted since their SKUs were looked up: "
                + "; ".join(refused[:10]),
                retryable=True,
            )
        if refused:
            raise ExternalError(
                f"woocommerce refused stock for {len(refused)} item(s): " + "; ".join(refused[:10]),
                retryable=False,
            )

    def _batch_update(self, path: str, updates: list[dict[str, Any]]) -> list[Any]:
        response = self.http.post(path, json={"update": updates})
        return list(json_body(response, self.name).get("update") or [])

    def _products_for(self, skus: set[str]) -> dict[str, ProductRef]:
        now = time.monotonic()
        wanted = sorted(
            sku
            for sku in skus - self._products.keys()
            if now - self._unknown_skus.get(sku, -1e18) > self.CATALOG_REFRESH_SECONDS
        )
        for start in range(0, len(wanted), self.SKU_LOOKUP):
            chunk = wanted[start : start + self.SKU_LOOKUP]
            for product in self._find_products(chunk):
                sku = str(product.get("sku") or "").strip()
                if sku in chunk and product.get("id"):
                    parent = int(product.get("parent_id") or 0)
                    is_variation = product.get("type") == "variation" or parent
                    self._products[sku] = ProductRef(
                        int(product["id"]), parent if is_variation else 0
                    )
            for sku in chunk:
                if sku not in self._products:
                    self._unknown_skus[sku] = now
        return {sku: self._products[sku] for sku in skus if sku in self._products}

    def _find_products(self, skus: list[str]) -> list[dict[str, Any]]:
        response = self.http.get(
            "products", params={"sku": ",".join(skus), "per_page": self.PAGE_SIZE}
        )
        return [p for p in json_body(response, self.name, want=list) if isinstance(p, dict)]


def webhook_name(slug: str, topic: str, secret: str) -> str:
    """The name the hub gives the webhook of ``topic`` it registers for channel ``slug``.

    It ends in a digest of the secret (8 hex digits of a SHA-256, not the
    secret): WooCommerce never shows a webhook's secret, and this is how a sync
    tells that a webhook was made with the channel's current one.
    """
    digest = hashlib.sha256(f"hub webhook secret:{secret}".encode()).hexdigest()[:8]
    return f"hub {slug}: {topic} [{digest}]"


def _note_text(order: Mapping[str, Any], shipment: Mapping[str, Any]) -> str:
    """The order note for a shipment: carrier, tracking number and link, and what it holds."""
    carrier = str(shipment.get("carrier") or "").strip()
    shown = CARRIER_NAMES.get(carrier.lower(), carrier) or "the carrier"
    service = str(shipment.get("service") or "").strip()
    tracking = str(shipment.get("tracking_number") or "").strip()
    text = f"Shipped with {shown}" + (f" ({service})" if service else "")
    if tracking:
        text += f", tracking number {tracking}"
    if shipment.get("tracking_url"):
        text += f": {shipment['tracking_url']}"
    names = {
        line.get("id"): line.get("name") or line.get("sku") for line in order.get("lines") or []
    }
    held = [
        f"{line.get('quantity')} × {names.get(line.get('line_id')) or line.get('sku')}"
        for line in shipment.get("lines") or []
    ]
    if held:
        text += ". " + ", ".join(held)
    if not tracking:
        text += f" (hub shipment {shipment.get('id')})"
    return text + "."


def _int_header(response: requests.Response, name: str, *, default: int) -> int:
    try:
        return int(response.headers.get(name, default))
    except (TypeError, ValueError):
        return default


def _no_route(exc: ExternalError) -> bool:
    """A 404 because nothing answers the path (WordPress's ``rest_no_route``), not a missing order."""
    response = getattr(exc, "response", None)
    body = error_json(response) if response is not None else None
    return isinstance(body, dict) and body.get("code") == "rest_no_route"


def woocommerce_error_text(response: requests.Response) -> str:
    """WooCommerce's documented error body as one line: ``{"code", "message", "data"}``.

    Anything else in the body is not named: it may not be WooCommerce's.
    """
    body = error_json(response)
    if not isinstance(body, dict):
        return ""
    code, message = body.get("code"), body.get("message")
    parts = [str(p) for p in (code, message) if isinstance(p, str) and p]
    return ": ".join(parts)
