"""A WSGI simulator of the WooCommerce REST API v3 subset the connector uses, with its habits.

For the demo, the connector's tests and the benchmarks::

    from hub.integration.sandbox import serve
    from plugins.woocommerce.sandbox import WooCommerceSandbox

    store = WooCommerceSandbox(orders=30, seed=7)
    with serve(store) as base_url:            # config: store.channel_config(base_url)
        store.faults.plan(500, path="*/orders", times=1)
        headers, body = store.webhook("order.updated", store.order_ids[0])

What it does as WooCommerce does, in the shapes of WooCommerce's own REST
reference examples (``shared/vendor/woocommerce``):

- authentication by the request's scheme: the loopback server is plain HTTP,
  where WooCommerce takes only OAuth 1.0a one-legged (signature, timestamp
  within 15 minutes, each nonce once). With ``tls=True`` it acts as a store
  behind HTTPS and takes HTTP Basic and ``consumer_key``/``consumer_secret`` in
  the query string too. Refusals in WooCommerce's error shape
  (``{"code", "message", "data": {"status"}}``);
- orders with WooCommerce's fields and statuses (amounts as decimal strings,
  ``*_gmt`` times in UTC beside local ones, line ``price`` a number, line
  ``taxes[]``, shipping lines, coupons, fees, refunds with their own records at
  ``orders/<id>/refunds``), deterministic for a ``seed``; ``clean=True`` (the
  demo's store) makes every order paid and shippable;
- ``GET orders`` with ``page``/``per_page`` (≤ 100), ``orderby``/``order``,
  ``modified_after`` (strict; ``dates_are_gmt``) and ``status``, with
  ``X-WP-Total`` and ``X-WP-TotalPages``;
- order notes (``orders/<id>/notes``), status updates (``PUT orders/<id>``), the
  Shipment Tracking extension's endpoints (``tracking_extension=False``: absent,
  404 ``rest_no_route`` as WordPress answers), products and variations found by
  ``sku`` and updated in batches (≤ 100 items);
- webhooks signed as WooCommerce signs them (:meth:`WooCommerceSandbox.webhook`,
  body as ``wp_json_encode`` writes it), and the unsigned ping (:meth:`ping`);
- the webhooks API (``GET``/``POST webhooks``, ``GET``/``DELETE webhooks/<id>``
  with ``force=true``; ``sandbox.webhooks``, each keeping the secret it was
  given): a webhook created through it gets WooCommerce's ping at its delivery
  URL at once (the outcome in ``pings``), and :meth:`deliver` posts a topic to
  the active webhooks of that topic, signed with each one's own secret;
- the REST key's permissions (``key_permissions``: ``read_write``, ``read``,
  ``write``), refused in WooCommerce's words;
- every effect recorded (``notes``, ``statuses``, ``stock_updates``,
  ``trackings``) and counted (``calls``); faults planned with ``faults``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import requests
from werkzeug.wrappers import Request, Response

from hub.core.money import Money
from hub.integration.sandbox import Answer, Sandbox, Strike, route
from hub.integration.signing import sign_base64

DEFAULT_KEY = "ck_sandbox_0123456789abcdef0123456789abcdef01234567"
DEFAULT_SECRET = "cs_sandbox_0123456789abcdef0123456789abcdef01234567"
DEFAULT_WEBHOOK_SECRET = "sandbox-woocommerce-webhook-secret"
API = "/wp-json/wc/v3"
TRACKING_API = "/wp-json/wc-shipment-tracking/v3"
#: The store's time zone: WooCommerce writes local times beside the ``*_gmt`` ones.
STORE_TZ = timezone(timedelta(hours=-3))
MAX_PER_PAGE = 100
ORDER_ID_BASE = 2000
PRODUCT_ID_BASE = 100
#: OAuth timestamps older (or newer) than this are refused, as WooCommerce does.
OAUTH_WINDOW = 15 * 60
WEBHOOK_ID_BASE = 140
#: What a webhook's topic may name (``action.<hook>`` too), as ``wc_is_webhook_valid_topic`` says.
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")
#: The WordPress actions WooCommerce binds to each order topic (shown as ``hooks``).
ORDER_TOPIC_HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order", "woocommerce_delete_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
}
#: How long the ping waits for the delivery URL's answer (WooCommerce does not retry it).
PING_TIMEOUT = 5.0
#: Where a request keeps the pings its endpoint wants sent once the store's lock is let go.
_PINGS = "woocommerce.pings"
TAX_RATE_BP = 800  # 8 %
SHIPPING = 1000  # 10.00 flat rate

FIRST = ("Ana", "Bruno", "Carla", "Diego", "Elif", "Femi", "Grace", "Hugo", "Ines", "Joon")
LAST = ("Silva", "Doe", "Okoro", "Berg", "Yilmaz", "Novak", "Costa", "Lam", "Haddad", "Moreau")
CITIES = (
    ("San Francisco", "CA", "94103", "US", "969 Market"),
    ("Austin", "TX", "78701", "US", "100 Congress Ave"),
    ("Rio de Janeiro", "RJ", "12345-000", "BR", "Av. Brasil, 432"),
    ("Toronto", "ON", "M5H 2N2", "CA", "100 Queen St W"),
)
#: (name, price in cents, sizes: a variable product when given)
CATALOGUE = (
    ("Woo Logo Tee", 1500, ("S", "M", "L")),
    ("Woo Single", 300, ()),
    ("Woo Album", 900, ()),
    ("Woo Ninja Hoodie", 4200, ("M", "L")),
    ("Woo Mug", 1100, ()),
    ("Woo Beanie", 1800, ()),
    ("Woo Poster", 700, ()),
    ("Woo Socks", 650, ("S", "M")),
)


def _money(amount: int, currency: str = "USD") -> str:
    return str(Money(amount, currency))


def _gmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _local(value: datetime) -> str:
    return value.astimezone(STORE_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _number(value: Decimal) -> int | float:
    """A JSON number as PHP writes one: ``3`` when whole, else a float (``3.3333333333333335``)."""
    return int(value) if value == int(value) else float(value)


def _short(rule: str) -> str:
    """A route as ``calls`` counts it: ``orders/<int:order_id>/notes``, ``tracking:orders/…``."""
    if rule.startswith(TRACKING_API):
        return "tracking:" + rule.removeprefix(TRACKING_API + "/")
    return rule.removeprefix(API + "/")


def wp_json(payload: Any) -> bytes:
    """JSON as WordPress's ``wp_json_encode`` writes it: compact, ``\\/`` for slashes, ASCII."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


class _RestError(Answer):
    """WooCommerce's (WordPress's) error answer: ``{"code", "message", "data": {"status"}}``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(
            Sandbox.json({"code": code, "message": message, "data": {"status": status}}, status)
        )


class WooCommerceSandbox(Sandbox):
    """The simulated store: its state, and the WSGI app serving it (the instance is the app)."""

    def __init__(
        self,
        *,
        orders: int = 20,
        seed: int = 1,
        consumer_key: str = DEFAULT_KEY,
        consumer_secret: str = DEFAULT_SECRET,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        clean: bool = False,
        payment_meta: str | None = None,
        tls: bool = False,
        tracking_extension: bool = True,
        prices_include_tax: bool = False,
        key_permissions: str = "read_write",
        start: datetime = datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
        clock: Callable[[], float] = time.time,
        home_url: str = "https://woo-sandbox.example/",
    ):
        super().__init__()
        self.seed, self.clean, self.payment_meta = seed, clean, payment_meta
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.webhook_secret = webhook_secret
        self.tls, self.tracking_extension = tls, tracking_extension
        self.prices_include_tax = prices_include_tax
        #: The REST key's permissions: ``read`` refuses writes, ``write`` refuses reads.
        self.key_permissions = key_permissions
        self.start, self.clock, self.home_url = start, clock, home_url
        self.webhook_id = 42
        #: Requests by ``"METHOD path-pattern"`` (``"GET orders"``), and all of them.
        self.calls: Counter[str] = Counter()
        self.requests = 0
        #: The query of every ``GET orders`` (tests read how the pull paged).
        self.order_queries: list[dict[str, str]] = []
        self._nonces: set[tuple[str, str]] = set()
        # The catalogue: simple products and variations, by id.
        self.products: dict[int, dict[str, Any]] = {}
        self._make_catalogue()
        self._sellable = [p for p in self.products.values() if p["type"] != "variable"]
        # Orders by id; refunds' own records by order id.
        self.orders: dict[int, dict[str, Any]] = {}
        self.refunds: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._generated = 0
        self._next_id = 90_000
        # What the hub did, as the store recorded it.
        self.notes: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.statuses: list[tuple[int, str]] = []
        self.stock_updates: list[tuple[int, int]] = []
        self.trackings: dict[int, list[dict[str, Any]]] = defaultdict(list)
        #: Webhooks made through the API, by id, each with the ``secret`` it was given.
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._next_webhook = WEBHOOK_ID_BASE
        #: Pings sent on creation: (webhook id, delivery URL, HTTP status or the error's name).
        self.pings: list[tuple[int, str, int | str]] = []
        for _ in range(orders):
            body = self._generate(self._generated)
            self._generated += 1
            self.orders[body["id"]] = body

    # --- the catalogue ----------------------------------------------------------------------

    def _make_catalogue(self) -> None:
        pid = PRODUCT_ID_BASE
        for name, cents, sizes in CATALOGUE:
            slug = name.upper().replace("WOO ", "").replace(" ", "-")
            parent: dict[str, Any] = {
                "id": pid,
                "name": name,
                "type": "variable" if sizes else "simple",
                "parent_id": 0,
                "sku": "" if sizes else f"WC-{slug}",
                "price": _money(cents),
                "regular_price": _money(cents),
                "manage_stock": False,
                "stock_quantity": None,
                "stock_status": "instock",
                "variations": [],
            }
            self.products[pid] = parent
            pid += 1
            for size in sizes:
                parent["variations"].append(pid)
                self.products[pid] = {
                    "id": pid,
                    "name": f"{name} - {size}",
                    "type": "variation",
                    "parent_id": parent["id"],
                    "sku": f"WC-{slug}-{size}",
                    "price": _money(cents),
                    "regular_price": _money(cents),
                    "manage_stock": False,
                    "stock_quantity": None,
                    "stock_status": "instock",
                    "attributes": [{"id": 0, "name": "Size", "option": size}],
                }
                pid += 1

    def product_for_sku(self, sku: str) -> dict[str, Any]:
        return next(p for p in self.products.values() if p["sku"] == sku)

    def stock_of(self, sku: str) -> int | None:
        return self.product_for_sku(sku)["stock_quantity"]

    # --- orders -------------------------------------------------------------------------------

    def _generate(self, i: int) -> dict[str, Any]:
        """Order number ``i``, the same for the same seed every time."""
        rng = random.Random(f"{self.seed}:woo:{i}")
        order_id = ORDER_ID_BASE + i
        created = self.start + timedelta(seconds=i * 53 + rng.randint(0, 20))
        modified = created + timedelta(seconds=rng.randint(0, 3600))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, state, postcode, country, street = rng.choice(CITIES)
        email = f"{first}.{last}.{i + 1}@example.com".lower()
        person = {"first_name": first, "last_name": last, "company": ""}
        place = {
            "address_1": street,
            "address_2": "",
            "city": city,
            "state": state,
            "postcode": postcode,
            "country": country,
        }
        coupon = not self.clean and rng.random() < 0.2
        items, subtotal_all, total_all, tax_all, discount_tax = [], 0, 0, 0, 0
        for k in range(rng.randint(1, 3)):
            product = rng.choice(self._sellable)
            cents = Money.parse(product["price"], "USD").amount
            qty = rng.randint(1, 3)
            subtotal = cents * qty
            total = subtotal - (subtotal // 10 if coupon else 0)
            tax = (total * TAX_RATE_BP + 5000) // 10000
            subtotal_tax = (subtotal * TAX_RATE_BP + 5000) // 10000
            no_sku = not self.clean and rng.random() < 0.05
            line_id = order_id * 10 + k
            items.append(
                {
                    "id": line_id,
                    "name": product["name"],
                    "product_id": product["parent_id"] or product["id"],
                    "variation_id": product["id"] if product["parent_id"] else 0,
                    "quantity": qty,
                    "tax_class": "",
                    "subtotal": _money(subtotal),
                    "subtotal_tax": _money(subtotal_tax),
                    "total": _money(total),
                    "total_tax": _money(tax),
                    # WooCommerce's unrounded tax per rate (more decimals than the currency).
                    "taxes": [
                        {
                            "id": 75,
                            "total": str(Decimal(total * TAX_RATE_BP) / 1_000_000),
                            "subtotal": str(Decimal(subtotal * TAX_RATE_BP) / 1_000_000),
                        }
                    ],
                    "meta_data": [],
                    "sku": "" if no_sku else product["sku"],
                    # A JSON number: the line total over the quantity.
                    "price": _number(Decimal(total) / qty / 100),
                }
            )
            subtotal_all += subtotal
            total_all += total
            tax_all += tax
            discount_tax += subtotal_tax - tax
        shipping = 0 if not self.clean and rng.random() < 0.1 else SHIPPING
        fee = 250 if not self.clean and rng.random() < 0.05 else 0
        status = "processing"
        if not self.clean:
            status = rng.choices(
                ["processing", "completed", "pending", "on-hold", "cancelled", "failed"],
                weights=[70, 10, 7, 5, 5, 3],
            )[0]
        body: dict[str, Any] = {
            "id": order_id,
            "parent_id": 0,
            "number": str(order_id),
            "order_key": f"wc_order_{rng.getrandbits(40):010x}",
            "created_via": "checkout",
            "version": "9.4.0",
            "status": status,
            "currency": "USD",
            "date_created": _local(created),
            "date_created_gmt": _gmt(created),
            "date_modified": _local(modified),
            "date_modified_gmt": _gmt(modified),
            "discount_total": _money(subtotal_all - total_all),
            "discount_tax": _money(discount_tax),
            "shipping_total": _money(shipping),
            "shipping_tax": _money(0),
            "cart_tax": _money(tax_all),
            "total": _money(total_all + shipping + tax_all + fee),
            "total_tax": _money(tax_all),
            "prices_include_tax": self.prices_include_tax,
            "customer_id": 0 if rng.random() < 0.3 else 20 + i,
            "customer_ip_address": "127.0.0.1",
            "customer_user_agent": "mozilla/5.0",
            "customer_note": "",
            "billing": {**person, **place, "email": email, "phone": "(555) 555-5555"},
            "shipping": {**person, **place, "phone": ""},
            "payment_method": "bacs",
            "payment_method_title": "Direct bank transfer",
            "transaction_id": "",
            "date_paid": _local(created) if status in ("processing", "completed") else None,
            "date_paid_gmt": _gmt(created) if status in ("processing", "completed") else None,
            "date_completed": _local(modified) if status == "completed" else None,
            "date_completed_gmt": _gmt(modified) if status == "completed" else None,
            "cart_hash": f"{rng.getrandbits(128):032x}",
            "meta_data": [{"id": order_id * 10 + 7, "key": "_order_stock_reduced", "value": "yes"}],
            "line_items": items,
            "tax_lines": [
                {
                    "id": order_id * 10 + 8,
                    "rate_code": "US-STATE TAX",
                    "rate_id": 75,
                    "label": "State Tax",
                    "compound": False,
                    "tax_total": _money(tax_all),
                    "shipping_tax_total": _money(0),
                    "meta_data": [],
                }
            ],
            "shipping_lines": (
                [
                    {
                        "id": order_id * 10 + 9,
                        "method_title": "Flat rate",
                        "method_id": "flat_rate",
                        "total": _money(shipping),
                        "total_tax": _money(0),
                        "taxes": [],
                        "meta_data": [],
                    }
                ]
                if shipping
                else []
            ),
            "fee_lines": (
                [
                    {
                        "id": order_id * 10 + 6,
                        "name": "Gift wrapping",
                        "tax_class": "",
                        "tax_status": "none",
                        "total": _money(fee),
                        "total_tax": _money(0),
                        "taxes": [],
                        "meta_data": [],
                    }
                ]
                if fee
                else []
            ),
            "coupon_lines": (
                [
                    {
                        "id": order_id * 10 + 5,
                        "code": "tenoff",
                        "discount": _money(subtotal_all - total_all),
                        "discount_tax": _money(0),
                        "meta_data": [],
                    }
                ]
                if coupon
                else []
            ),
            "refunds": [],
            "_links": {},
        }
        if self.payment_meta and status == "processing":
            # The demo's store: WooCommerce Stripe, authorise at checkout and capture later,
            # which leaves the order on hold with the PaymentIntent's id in its meta.
            body.update(
                status="on-hold",
                payment_method="stripe",
                payment_method_title="Credit card (Stripe)",
                transaction_id=self.intent_id(order_id),
                date_paid=None,
                date_paid_gmt=None,
            )
            body["meta_data"].append(
                {
                    "id": order_id * 10 + 4,
                    "key": self.payment_meta,
                    "value": self.intent_id(order_id),
                }
            )
        self._link(body)
        return body

    def _link(self, body: dict[str, Any]) -> None:
        base = self.home_url.rstrip("/") + API
        body["_links"] = {
            "self": [{"href": f"{base}/orders/{body['id']}"}],
            "collection": [{"href": f"{base}/orders"}],
        }

    def intent_id(self, order_id: int) -> str:
        """The PaymentIntent id order ``order_id`` carries (with ``payment_meta``): stable per seed."""
        digest = hashlib.sha256(f"{self.seed}:woo-intent:{order_id}".encode()).hexdigest()
        return f"pi_{digest[:24]}"

    @property
    def order_ids(self) -> list[int]:
        """Every order id, oldest first."""
        with self.lock:
            return sorted(self.orders)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as the API shows it now (a copy)."""
        with self.lock:
            return copy.deepcopy(self.orders[int(order_id)])

    def upcoming(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` orders :meth:`add_orders` will place (to stock for them)."""
        with self.lock:
            return [self._generate(self._generated + k) for k in range(count)]

    def add_orders(self, count: int) -> list[int]:
        """New orders placed now (created and modified now)."""
        added = []
        with self.lock:
            for _ in range(count):
                body = self._generate(self._generated)
                self._generated += 1
                now = self._now()
                body.update(
                    date_created=_local(now),
                    date_created_gmt=_gmt(now),
                    date_modified=_local(now),
                    date_modified_gmt=_gmt(now),
                )
                if body["date_paid"]:
                    body.update(date_paid=_local(now), date_paid_gmt=_gmt(now))
                if body["date_completed"]:
                    body.update(date_completed=_local(now), date_completed_gmt=_gmt(now))
                self.orders[body["id"]] = body
                added.append(body["id"])
        return added

    def _now(self, after: str | None = None) -> datetime:
        now = datetime.fromtimestamp(int(self.clock()), UTC)
        if after:
            # Every save moves date_modified forward, by a second at least.
            now = max(now, datetime.fromisoformat(after).replace(tzinfo=UTC) + timedelta(seconds=1))
        return now

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change an order as the merchant would; ``date_modified`` moves forward. Returns it."""
        with self.lock:
            body = self.orders[int(order_id)]
            body.update(copy.deepcopy(changes))
            if "date_modified_gmt" not in changes:
                now = self._now(body["date_modified_gmt"])
                body.update(date_modified=_local(now), date_modified_gmt=_gmt(now))
            return copy.deepcopy(body)

    def set_status(self, order_id: int, status: str) -> dict[str, Any]:
        changes: dict[str, Any] = {"status": status}
        if status == "completed":
            now = self._now()
            changes.update(date_completed=_local(now), date_completed_gmt=_gmt(now))
        return self.update_order(order_id, **changes)

    def refund(
        self,
        order_id: int,
        *,
        line_items: dict[int, int] | None = None,
        amount: str | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Refund units of lines (``{line item id: units}``) and/or an amount; returns the refund.

        As WooCommerce records it: a refund of its own (``orders/<id>/refunds``)
        whose line items carry negative quantities and amounts and point at the
        order's line with ``_refunded_item_id``; the order lists it in ``refunds``.
        """
        with self.lock:
            body = self.orders[int(order_id)]
            refund_id = self._next_id
            self._next_id += 1
            lines: list[dict[str, Any]] = []
            worth = 0
            for item in body["line_items"]:
                units = (line_items or {}).get(item["id"], 0)
                if not units:
                    continue
                total = Money.parse(item["total"], "USD").amount * units // item["quantity"]
                tax = Money.parse(item["total_tax"], "USD").amount * units // item["quantity"]
                worth += total + tax
                lines.append(
                    {
                        "id": refund_id * 10 + len(lines),
                        "name": item["name"],
                        "product_id": item["product_id"],
                        "variation_id": item["variation_id"],
                        "quantity": -units,
                        "tax_class": "",
                        "subtotal": _money(-total),
                        "subtotal_tax": _money(-tax),
                        "total": _money(-total),
                        "total_tax": _money(-tax),
                        "taxes": [],
                        "meta_data": [
                            {
                                "id": refund_id * 10 + 9,
                                "key": "_refunded_item_id",
                                "value": str(item["id"]),
                            }
                        ],
                        "sku": item["sku"],
                        "price": _number(-Decimal(total) / units / 100),
                    }
                )
            value = Money.parse(amount, "USD").amount if amount else worth
            now = self._now()
            record = {
                "id": refund_id,
                "date_created": _local(now),
                "date_created_gmt": _gmt(now),
                "amount": _money(value),
                "reason": reason,
                "refunded_by": 1,
                "refunded_payment": False,
                "meta_data": [],
                "line_items": lines,
            }
            self.refunds[body["id"]].append(record)
            refunds = [
                {"id": refund_id, "reason": reason, "total": _money(-value)},
                *body["refunds"],
            ]
            self.update_order(body["id"], refunds=refunds)
            return copy.deepcopy(record)

    def trash(self, order_id: int) -> dict[str, Any]:
        return self.set_status(order_id, "trash")

    def delete(self, order_id: int) -> None:
        """Delete an order for good (``force=true``): it is gone from the API."""
        with self.lock:
            self.orders.pop(int(order_id))

    # --- webhooks ---------------------------------------------------------------------------------

    def channel_config(self, base_url: str) -> dict[str, Any]:
        """The config of a hub channel on this store served at ``base_url`` (demo, tests)."""
        return {
            "store_url": base_url,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "webhook_secret": self.webhook_secret,
        }

    def webhook(
        self, topic: str, payload: dict[str, Any] | int, *, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a webhook this store would send (``payload``: a body or an order id).

        ``order.deleted`` carries ``{"id": …}`` only, as WooCommerce sends it.
        """
        if isinstance(payload, int):
            payload = {"id": payload} if topic.endswith(".deleted") else self.order(payload)
        return webhook_request(
            topic,
            payload,
            secret=self.webhook_secret if secret is None else secret,
            webhook_id=self.webhook_id,
            source=self.home_url,
        )

    def ping(self, webhook_id: int | None = None) -> tuple[dict[str, str], bytes]:
        """What WooCommerce posts to a delivery URL when a webhook is saved: unsigned, a form body."""
        return (
            {
                "User-Agent": USER_AGENT,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            f"webhook_id={self.webhook_id if webhook_id is None else webhook_id}".encode(),
        )

    def send_webhook(
        self, url: str, topic: str, payload: dict[str, Any] | int
    ) -> requests.Response:
        headers, body = self.webhook(topic, payload)
        return requests.post(url, data=body, headers=headers, timeout=5)

    def deliver(self, topic: str, payload: dict[str, Any] | int) -> list[requests.Response]:
        """Post ``topic`` to every active webhook of it made through the API, as WooCommerce
        would: each signed with its own secret and carrying its own id."""
        if isinstance(payload, int):
            payload = {"id": payload} if topic.endswith(".deleted") else self.order(payload)
        with self.lock:
            targets = [
                copy.deepcopy(w)
                for _, w in sorted(self.webhooks.items())
                if w["topic"] == topic and w["status"] == "active"
            ]
        answers = []
        for webhook in targets:
            headers, body = webhook_request(
                topic,
                payload,
                secret=webhook["secret"],
                webhook_id=webhook["id"],
                source=self.home_url,
            )
            answers.append(
                requests.post(webhook["delivery_url"], data=body, headers=headers, timeout=5)
            )
        return answers

    def _send_ping(self, webhook_id: int, url: str) -> None:
        """WooCommerce's ``deliver_ping``: its outcome is logged, never fails the creation."""
        headers, body = self.ping(webhook_id)
        outcome: int | str
        try:
            outcome = requests.post(
                url, data=body, headers=headers, timeout=PING_TIMEOUT, allow_redirects=False
            ).status_code
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        with self.lock:
            self.pings.append((webhook_id, url, outcome))

    # --- authentication ---------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> None:
        """Refuse a request WooCommerce would refuse, in its words."""
        self._check_key(request)
        writes = request.method in ("POST", "PUT", "PATCH", "DELETE")
        if writes and self.key_permissions not in ("write", "read_write"):
            raise _RestError(
                401,
                "woocommerce_rest_authentication_error",
                "The API key provided does not have write permissions.",
            )
        if not writes and self.key_permissions not in ("read", "read_write"):
            raise _RestError(
                401,
                "woocommerce_rest_authentication_error",
                "The API key provided does not have read permissions.",
            )

    def _check_key(self, request: Request) -> None:
        """The key itself, taken as WooCommerce takes it by the request's scheme."""
        if self.tls:
            given = request.authorization
            if given is not None and given.type == "basic":
                if (given.username, given.password) != (self.consumer_key, self.consumer_secret):
                    raise _RestError(
                        401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
                    )
                return
            if "consumer_key" in request.args:
                if (request.args.get("consumer_key"), request.args.get("consumer_secret")) != (
                    self.consumer_key,
                    self.consumer_secret,
                ):
                    raise _RestError(
                        401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
                    )
                return
        self._check_oauth(request)

    def _check_oauth(self, request: Request) -> None:
        """OAuth 1.0a one-legged, checked the way WooCommerce's REST authentication does it."""
        params = dict(parse_qsl(request.query_string.decode(), keep_blank_values=True))
        if "oauth_consumer_key" not in params:
            # Over HTTP WooCommerce reads no other credentials.
            raise _RestError(
                401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
            )
        for name in ("oauth_signature", "oauth_signature_method", "oauth_nonce", "oauth_timestamp"):
            if not params.get(name):
                raise _RestError(
                    401, "woocommerce_rest_authentication_error", f"{name} parameter is missing."
                )
        if params["oauth_consumer_key"] != self.consumer_key:
            raise _RestError(
                401, "woocommerce_rest_authentication_error", "Consumer key is invalid."
            )
        given = params.pop("oauth_signature")
        method = params["oauth_signature_method"]
        algorithm = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}.get(method)
        if algorithm is None:
            raise _RestError(
                401,
                "woocommerce_rest_authentication_error",
                "Invalid signature - signature method is invalid.",
            )
        # WooCommerce: every parameter rawurlencode(rawurldecode()), sorted by name,
        # "name=value" each encoded again and joined with %26.
        pairs = sorted(
            (quote(unquote(k), safe="-._~"), quote(unquote(v), safe="-._~"))
            for k, v in params.items()
        )
        query = "%26".join(quote(f"{k}={v}", safe="-._~") for k, v in pairs)
        base_uri = quote(
            f"{'https' if self.tls else 'http'}://{request.host}{request.path}", safe="-._~"
        )
        to_sign = f"{request.method}&{base_uri}&{query}"
        key = f"{self.consumer_secret}&".encode()
        expected = base64.b64encode(hmac.new(key, to_sign.encode(), algorithm).digest()).decode()
        if not hmac.compare_digest(expected, given):
            raise _RestError(
                401,
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
            )
        try:
            stamp = int(params["oauth_timestamp"])
        except ValueError:
            stamp = 0
        if abs(self.clock() - stamp) > OAUTH_WINDOW:
            raise _RestError(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        nonce = (params["oauth_nonce"], params["oauth_timestamp"])
        if nonce in self._nonces:
            raise _RestError(
                401,
                "woocommerce_rest_authentication_error",
                "Invalid nonce - nonce has already been used.",
            )
        self._nonces.add(nonce)

    # --- the WSGI app -------------------------------------------------------------------------------

    def seen(self, request: Request) -> None:
        with self.lock:
            self.requests += 1

    def handle(self, request: Request) -> Response:
        with self.lock:
            response = self._answer(request)
        # Pings go out once the store is free again: the hub's answer may take a while.
        for webhook_id, url in request.environ.pop(_PINGS, ()):
            self._send_ping(webhook_id, url)
        return response

    def _answer(self, request: Request) -> Response:
        found = self.match(request)
        if found is None:
            return self.not_found(request)
        try:
            self._authenticate(request)
            self.calls[f"{request.method} {_short(found[2].rule)}"] += 1
            if request.path.startswith(TRACKING_API) and not self.tracking_extension:
                return self.not_found(request)
            return self.invoke(request, found)
        except Answer as answer:
            return answer.response

    def not_found(self, request: Request) -> Response:
        return self.json(
            {
                "code": "rest_no_route",
                "message": "No route was found matching the URL and request method.",
                "data": {"status": 404},
            },
            404,
        )

    def fault_response(self, strike: Strike, request: Request) -> Response:
        headers = {}
        if strike.status == 429 and strike.retry_after is not None:
            headers["Retry-After"] = str(strike.retry_after)
        body = {
            "code": "internal_server_error" if strike.status >= 500 else "rest_error",
            "message": "There has been a critical error on this website.",
            "data": {"status": strike.status},
        }
        return self.json(body, strike.status, headers)

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            raise _RestError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
        if not isinstance(body, dict):
            raise _RestError(400, "rest_invalid_json", "Invalid JSON body passed.")
        return body

    def _order_or_404(self, order_id: int) -> dict[str, Any]:
        if order_id not in self.orders:
            raise _RestError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return self.orders[order_id]

    # --- orders ----------------------------------------------------------------------------------------

    @route(f"{API}/orders", methods=["GET"])
    def _list_orders(self, request: Request) -> Response:
        args = request.args
        self.order_queries.append(
            {k: v for k, v in args.items() if not k.startswith(("oauth_", "consumer_"))}
        )
        try:
            per_page = int(args.get("per_page", 10))
            page = int(args.get("page", 1))
        except ValueError:
            raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page") from None
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise _RestError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page (per_page must be between 1 (inclusive) and 100 (inclusive))",
            )
        gmt = args.get("dates_are_gmt") in ("true", "1")
        found = list(self.orders.values())
        status = args.get("status", "any")
        if status != "any":
            wanted = set(status.split(","))
            found = [o for o in found if o["status"] in wanted]
        else:
            found = [o for o in found if o["status"] != "trash"]
        after = args.get("modified_after")
        if after:
            field = "date_modified_gmt" if gmt else "date_modified"
            threshold = after.replace("Z", "")[:19]
            found = [o for o in found if o[field] > threshold]
        key = {"modified": "date_modified_gmt", "date": "date_created_gmt", "id": "id"}.get(
            args.get("orderby", "date"), "date_created_gmt"
        )
        found.sort(key=lambda o: (o[key], o["id"]), reverse=args.get("order", "desc") == "desc")
        total = len(found)
        pages = max(1, -(-total // per_page)) if total else 0
        if page > max(pages, 1):
            raise _RestError(
                400,
                "woocommerce_rest_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        chunk = found[(page - 1) * per_page : page * per_page]
        return self.json(
            copy.deepcopy(chunk), 200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        )

    @route(f"{API}/orders/<int:order_id>", methods=["GET"])
    def _get_order(self, request: Request, order_id: int) -> dict[str, Any]:
        return copy.deepcopy(self._order_or_404(order_id))

    @route(f"{API}/orders/<int:order_id>", methods=["PUT", "POST", "PATCH"])
    def _update_order(self, request: Request, order_id: int) -> dict[str, Any]:
        self._order_or_404(order_id)
        body = self._body(request)
        status = body.get("status")
        if status:
            status = str(status).removeprefix("wc-")
            self.statuses.append((order_id, status))
            return self.set_status(order_id, status)
        return self.update_order(order_id)

    @route(f"{API}/orders/<int:order_id>/refunds", methods=["GET"])
    def _list_refunds(self, request: Request, order_id: int) -> list[dict[str, Any]]:
        self._order_or_404(order_id)
        return copy.deepcopy(list(reversed(self.refunds[order_id])))

    @route(f"{API}/orders/<int:order_id>/notes", methods=["GET"])
    def _list_notes(self, request: Request, order_id: int) -> list[dict[str, Any]]:
        self._order_or_404(order_id)
        kind = request.args.get("type", "any")
        notes = self.notes[order_id]
        if kind == "customer":
            notes = [n for n in notes if n["customer_note"]]
        elif kind == "internal":
            notes = [n for n in notes if not n["customer_note"]]
        return copy.deepcopy(list(reversed(notes)))  # newest first

    @route(f"{API}/orders/<int:order_id>/notes", methods=["POST"])
    def _add_note(self, request: Request, order_id: int) -> Response:
        self._order_or_404(order_id)
        body = self._body(request)
        if not str(body.get("note") or "").strip():
            raise _RestError(400, "rest_missing_callback_param", "Missing parameter(s): note")
        now = self._now()
        note = {
            "id": self._next_id,
            "author": "WooCommerce",
            "date_created": _local(now),
            "date_created_gmt": _gmt(now),
            "note": str(body["note"]),
            "customer_note": bool(body.get("customer_note")),
        }
        self._next_id += 1
        self.notes[order_id].append(note)
        return self.json(note, 201)

    # --- products and stock ---------------------------------------------------------------------------

    @route(f"{API}/products", methods=["GET"])
    def _list_products(self, request: Request) -> Response:
        skus = [s for s in request.args.get("sku", "").split(",") if s]
        per_page = int(request.args.get("per_page", 10))
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        # With sku, WooCommerce looks among products and variations alike.
        found = [p for p in self.products.values() if not skus or (p["sku"] and p["sku"] in skus)]
        if not skus:
            found = [p for p in found if p["type"] != "variation"]
        chunk = found[:per_page]
        return self.json(
            copy.deepcopy(chunk),
            200,
            {
                "X-WP-Total": str(len(found)),
                "X-WP-TotalPages": str(max(1, -(-len(found) // per_page))),
            },
        )

    def _batch(self, request: Request, parent: int | None) -> dict[str, Any]:
        body = self._body(request)
        updates = body.get("update") or []
        if (
            len(updates) + len(body.get("create") or []) + len(body.get("delete") or [])
            > MAX_PER_PAGE
        ):
            raise _RestError(
                413,
                "woocommerce_rest_request_entity_too_large",
                "Unable to accept more than 100 items for this request.",
            )
        answered = []
        for item in updates:
            product = self.products.get(int(item.get("id") or 0))
            belongs = product is not None and (
                product["parent_id"] == parent
                if parent is not None
                else product["type"] != "variation"
            )
            if not belongs:
                answered.append(
                    {
                        "id": item.get("id"),
                        "error": {
                            "code": "woocommerce_rest_product_invalid_id"
                            if parent is None
                            else "woocommerce_rest_product_variation_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    }
                )
                continue
            assert product is not None
            if "manage_stock" in item:
                product["manage_stock"] = bool(item["manage_stock"])
            if "stock_quantity" in item:
                product["stock_quantity"] = int(item["stock_quantity"])
                self.stock_updates.append((product["id"], product["stock_quantity"]))
            answered.append(copy.deepcopy(product))
        return {"update": answered}

    @route(f"{API}/products/batch", methods=["POST", "PUT", "PATCH"])
    def _products_batch(self, request: Request) -> dict[str, Any]:
        return self._batch(request, None)

    @route(f"{API}/products/<int:product_id>/variations/batch", methods=["POST", "PUT", "PATCH"])
    def _variations_batch(self, request: Request, product_id: int) -> dict[str, Any]:
        if product_id not in self.products:
            raise _RestError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return self._batch(request, product_id)

    # --- the Shipment Tracking extension --------------------------------------------------------------

    @route(f"{TRACKING_API}/orders/<int:order_id>/shipment-trackings", methods=["GET"])
    def _list_trackings(self, request: Request, order_id: int) -> list[dict[str, Any]]:
        self._order_or_404(order_id)
        return copy.deepcopy(self.trackings[order_id])

    @route(f"{TRACKING_API}/orders/<int:order_id>/shipment-trackings", methods=["POST"])
    def _add_tracking(self, request: Request, order_id: int) -> Response:
        self._order_or_404(order_id)
        body = self._body(request)
        if not body.get("tracking_number"):
            raise _RestError(
                400, "rest_missing_callback_param", "Missing parameter(s): tracking_number"
            )
        item = {
            "tracking_id": secrets.token_hex(16),
            "tracking_provider": body.get("tracking_provider")
            or body.get("custom_tracking_provider")
            or "",
            "tracking_link": body.get("custom_tracking_link") or "",
            "tracking_number": str(body["tracking_number"]),
            "date_shipped": body.get("date_shipped") or "",
        }
        self.trackings[order_id].append(item)
        return self.json(item, 201)

    # --- the webhooks API --------------------------------------------------------------------------

    def _webhook_json(self, webhook: dict[str, Any]) -> dict[str, Any]:
        """A webhook as the API shows it: everything but its secret (write-only)."""
        shown = {k: copy.deepcopy(v) for k, v in webhook.items() if k != "secret"}
        base = self.home_url.rstrip("/") + API
        shown["_links"] = {
            "self": [{"href": f"{base}/webhooks/{webhook['id']}"}],
            "collection": [{"href": f"{base}/webhooks"}],
        }
        return shown

    def _webhook_or_404(self, webhook_id: int) -> dict[str, Any]:
        if webhook_id not in self.webhooks:
            raise _RestError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
        return self.webhooks[webhook_id]

    def add_webhook(
        self,
        topic: str,
        delivery_url: str,
        *,
        secret: str,
        name: str = "",
        status: str = "active",
    ) -> dict[str, Any]:
        """A webhook the store has (as if saved in WooCommerce's admin): its record, secret too."""
        with self.lock:
            self._next_webhook += 1
            now = self._now()
            resource, _, event = topic.partition(".")
            webhook: dict[str, Any] = {
                "id": self._next_webhook,
                "name": name or f"Webhook created on {now:%B %d, %Y @ %I:%M %p}",
                "status": status,
                "topic": topic,
                "resource": resource,
                "event": event,
                "hooks": list(ORDER_TOPIC_HOOKS.get(topic, [])),
                "delivery_url": delivery_url,
                "date_created": _local(now),
                "date_created_gmt": _gmt(now),
                "date_modified": _local(now),
                "date_modified_gmt": _gmt(now),
                "secret": secret,
            }
            self.webhooks[webhook["id"]] = webhook
            return webhook

    @route(f"{API}/webhooks", methods=["GET"])
    def _list_webhooks(self, request: Request) -> Response:
        args = request.args
        try:
            per_page = int(args.get("per_page", 10))
            page = int(args.get("page", 1))
        except ValueError:
            raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page") from None
        if not 1 <= per_page <= MAX_PER_PAGE or page < 1:
            raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page, page")
        status = args.get("status", "all")
        found = [w for w in self.webhooks.values() if status in ("all", w["status"])]
        key = "id" if args.get("orderby") == "id" else "date_created_gmt"
        found.sort(key=lambda w: (w[key], w["id"]), reverse=args.get("order", "desc") == "desc")
        chunk = found[(page - 1) * per_page : page * per_page]
        pages = -(-len(found) // per_page)
        return self.json(
            [self._webhook_json(w) for w in chunk],
            200,
            {"X-WP-Total": str(len(found)), "X-WP-TotalPages": str(pages)},
        )

    @route(f"{API}/webhooks", methods=["POST"])
    def _create_webhook(self, request: Request) -> Response:
        body = self._body(request)
        if body.get("id"):
            raise _RestError(
                400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook."
            )
        topic = str(body.get("topic") or "").lower()
        resource, _, event = topic.partition(".")
        valid = (resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS) or (
            resource == "action" and bool(event)
        )
        if not valid:
            raise _RestError(
                400,
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        url = str(body.get("delivery_url") or "")
        if not url.startswith(("http://", "https://")) or len(url) < 11:
            raise _RestError(
                400,
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        # A new webhook is published, so active, whatever the request said; without a
        # secret WooCommerce makes one up, which the receiver cannot know.
        webhook = self.add_webhook(
            topic,
            url,
            secret=str(body.get("secret") or secrets.token_urlsafe(37)),
            name=str(body.get("name") or ""),
        )
        request.environ.setdefault(_PINGS, []).append((webhook["id"], url))
        location = f"{self.home_url.rstrip('/')}{API}/webhooks/{webhook['id']}"
        return self.json(self._webhook_json(webhook), 201, {"Location": location})

    @route(f"{API}/webhooks/<int:webhook_id>", methods=["GET"])
    def _get_webhook(self, request: Request, webhook_id: int) -> dict[str, Any]:
        return self._webhook_json(self._webhook_or_404(webhook_id))

    @route(f"{API}/webhooks/<int:webhook_id>", methods=["DELETE"])
    def _delete_webhook(self, request: Request, webhook_id: int) -> dict[str, Any]:
        if request.args.get("force") not in ("true", "1"):
            raise _RestError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        shown = self._webhook_json(self._webhook_or_404(webhook_id))
        del self.webhooks[webhook_id]
        return shown


USER_AGENT = "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"


def webhook_request(
    topic: str,
    payload: dict[str, Any],
    *,
    secret: str,
    webhook_id: int = 42,
    source: str = "https://woo-sandbox.example/",
    delivery_id: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and raw body of a webhook as WooCommerce sends it.

    The body is ``wp_json_encode`` of the payload; the signature is the base64
    HMAC-SHA256 of exactly those bytes with the webhook's secret; the delivery id
    is a fresh hash for every delivery (``wp_hash( id . strtotime('now') )``).
    """
    body = wp_json(payload)
    resource, _, event = topic.partition(".")
    headers = {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign_base64(secret, body),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id or secrets.token_hex(16),
    }
    return headers, body
