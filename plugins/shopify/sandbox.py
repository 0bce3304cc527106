"""A WSGI simulator of the Shopify Admin REST API subset the connector uses, with its quirks.

For the demo, the integration tests and the benchmarks::

    from hub.integration.sandbox import serve
    from plugins.shopify.sandbox import ShopifySandbox

    shop = ShopifySandbox(orders=1000, seed=7)
    with serve(shop) as base_url:      # config: api_base_url=base_url
        ...
        shop.faults.plan(429, times=2, path="*/orders.json")
        headers, body = shop.webhook("orders/updated", shop.update_order(order_id, note="x"))

What it simulates, as the real service does it:

- ``/admin/api/{version}/…`` with ``X-Shopify-Access-Token`` (401 otherwise);
- generated orders, deterministic for a ``seed``: several currencies (JPY
  with no decimals), discounts, taxes, shipping, cancelled and test orders,
  line items without a SKU, timestamps with the shop's UTC offset;
- ``orders.json`` with ``status`` (default ``open``!), ``updated_at_min``,
  ``limit`` (≤ 250) and ``fields``, newest first, and ``Link`` pagination
  exactly as Shopify sends it: absolute URLs, an opaque ``page_info``,
  ``rel="next"`` / ``rel="previous"``. A request with ``page_info`` and any
  parameter beside ``limit``/``fields`` gets Shopify's 400;
- the leaky bucket (40, leaking 2/s by default): every answer carries
  ``X-Shopify-Shop-Api-Call-Limit``; over it, 429 with ``Retry-After``;
- fulfilment orders, fulfilments (which update the order, as on Shopify),
  ``inventory_levels/set.json``, ``products.json`` (paginated the same way),
  ``variants/{id}.json``, ``locations.json``, ``shop.json``;
- the app's webhook subscriptions (``webhooks.json`` GET with ``address``/``topic``
  filters and the same ``Link`` pages, POST; ``webhooks/{id}.json`` GET, PUT,
  DELETE; ``webhooks/count.json``) with Shopify's 422s: an unknown topic, an
  address that is not a URL, a topic already taken for that address
  (``sandbox.subscriptions``);
- ``clean=True`` (the demo's shop): every order open, not a test, every line
  with a SKU, a customer (an ASCII email) per order — so every order can ship —
  except that every :data:`RETURNING_EVERY`-th order is a returning customer's
  (one of the few orders before it, in the same currency, with other lines, so
  it is never a likely duplicate): the hub's customers have a history to show;
- ``payment_attribute="…"``: each order carries the id of a Stripe
  PaymentIntent its checkout authorised, as a note attribute of that name
  (``financial_status`` "authorized"). This is the demo's convention, not
  Shopify's (see ``docs/connectors/shopify.md``); :meth:`ShopifySandbox.intent_id`
  gives the id, for the Stripe sandbox to hold the intent;
- failures planned with ``shop.faults`` (:class:`hub.integration.sandbox.FaultPlan`,
  answered in Shopify's shape, a 429 with ``Retry-After``) and request counters
  (``calls``, ``requests``, ``throttled``);
- webhooks signed like Shopify's (:func:`webhook_request`, :func:`send_webhook`).

Run it alone: ``python -m plugins.shopify.sandbox --orders 1000 --port 8081``.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import copy
import hashlib
import json
import random
import re
import time
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import requests
from werkzeug.wrappers import Request, Response

from hub.core.money import Money
from hub.integration.sandbox import Answer, Sandbox, Strike, route
from hub.integration.signing import sign_base64

DEFAULT_SHOP = "hub-demo.myshopify.com"
DEFAULT_TOKEN = "shpat_sandbox_token"
DEFAULT_WEBHOOK_SECRET = "sandbox-webhook-secret"
DEFAULT_API_VERSION = "2025-07"
#: Every route is under the API version (checked in :meth:`ShopifySandbox.handle`).
API = "/admin/api/<version>"

SHOP_ID = 548380009
ORDER_ID_BASE = 5_100_000_000_000
PRODUCT_ID_BASE = 8_000_000_000
VARIANT_ID_BASE = 9_000_000_000
INVENTORY_ITEM_BASE = 6_000_000_000
CUSTOMER_ID_BASE = 7_000_000_000
#: In a clean shop, every this-many-th order is a returning customer's (see the module).
RETURNING_EVERY = 4
#: How many orders back a returning customer's earlier order may be.
RETURNING_WITHIN = 12
FULFILLMENT_ID_BASE = 4_000_000_000
PRIMARY_LOCATION = 655441491
OUTLET_LOCATION = 655441492
#: The shop's time zone: Shopify writes timestamps with the shop's offset.
SHOP_TZ = timezone(timedelta(hours=-4))
#: Parameters a request with ``page_info`` may carry; anything else is a 400.
PAGE_INFO_PARAMS = frozenset({"page_info", "limit", "fields"})
MAX_LIMIT = 250
WEBHOOK_ID_BASE = 1_100_000_000
#: Topics a subscription may name (those the hub uses and a few others Shopify has).
WEBHOOK_TOPICS = frozenset(
    {
        "app/uninstalled",
        "customers/create",
        "customers/update",
        "fulfillments/create",
        "inventory_levels/update",
        "orders/cancelled",
        "orders/create",
        "orders/edited",
        "orders/fulfilled",
        "orders/paid",
        "orders/partially_fulfilled",
        "orders/updated",
        "products/create",
        "products/update",
        "refunds/create",
    }
)

#: currency -> (weight, rate per USD, tax rate in basis points, shipping in minor units, country)
CURRENCIES: dict[str, tuple[int, float, int, int, str]] = {
    "USD": (50, 1.0, 800, 500, "US"),
    "EUR": (18, 0.92, 0, 490, "DE"),
    "GBP": (12, 0.79, 2000, 395, "GB"),
    "JPY": (12, 150.0, 1000, 800, "JP"),
    "CAD": (8, 1.36, 1300, 650, "CA"),
}
ADDRESSES = {
    "US": ("Springfield", "Illinois", "IL", "62701", "United States", "742 Evergreen Terrace"),
    "DE": ("Berlin", "Berlin", "BE", "10115", "Germany", "Invalidenstraße 117"),
    "GB": ("London", "England", "ENG", "SW1A 1AA", "United Kingdom", "10 Downing Street"),
    "JP": ("Tokyo", "Tokyo", "JP-13", "100-0001", "Japan", "1-1 Chiyoda"),
    "CA": ("Ottawa", "Ontario", "ON", "K1A 0A6", "Canada", "24 Sussex Drive"),
}
FIRST = (
    "Ann",
    "Bob",
    "Chloé",
    "Dmitri",
    "Emi",
    "Farah",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kofi",
    "Lena",
)
LAST = (
    "Smith",
    "Nguyen",
    "Müller",
    "Tanaka",
    "Okafor",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Sato",
    "Lee",
)
PRODUCTS = ("T-shirt", "Hoodie", "Cap", "Mug", "Tote bag", "Sticker pack", "Poster", "Socks")
SIZES = ("S", "M", "L")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _ts(value: datetime) -> str:
    return value.astimezone(SHOP_TZ).isoformat(timespec="seconds")


def _money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def _set(amount: int, currency: str) -> dict[str, Any]:
    shown = {"amount": _money(amount, currency), "currency_code": currency}
    return {"shop_money": shown, "presentment_money": dict(shown)}


def _money_fields(currency: str, **amounts: int) -> dict[str, Any]:
    """Shopify's pair for each amount: ``name`` (a decimal string) and ``name_set`` (shop and presentment)."""
    out: dict[str, Any] = {}
    for name, amount in amounts.items():
        out[name], out[f"{name}_set"] = _money(amount, currency), _set(amount, currency)
    return out


def _encode_page_info(state: dict[str, Any]) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode())
        .decode()
        .rstrip("=")
    )


def _decode_page_info(value: str) -> dict[str, Any] | None:
    try:
        state = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return None
    return (
        state if isinstance(state, dict) and "last_id" in state and "direction" in state else None
    )


class _ApiError(Answer):
    """Shopify's error answer: ``{"errors": …}``."""

    def __init__(self, status: int, errors: Any, headers: dict[str, str] | None = None):
        super().__init__(Sandbox.json({"errors": errors}, status, headers))


class ShopifySandbox(Sandbox):
    """The simulated shop: its state, and the WSGI app serving it (the instance is the app)."""

    def __init__(
        self,
        *,
        orders: int = 50,
        seed: int = 1,
        shop_domain: str = DEFAULT_SHOP,
        shop_name: str = "Hub Demo Store",
        access_token: str = DEFAULT_TOKEN,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        products: int = 24,
        bucket_size: int = 40,
        leak_rate: float = 2.0,
        retry_after: float = 2.0,
        start: datetime = datetime(2025, 1, 6, 13, 0, tzinfo=UTC),
        clock: Callable[[], float] = time.monotonic,
        clean: bool = False,
        payment_attribute: str | None = None,
    ):
        self.seed = seed
        #: Every order open and shippable (the demo's shop): see :meth:`_generate`.
        self.clean = clean
        #: The note attribute carrying each order's PaymentIntent id (the demo's convention).
        self.payment_attribute = payment_attribute
        self.shop_domain = shop_domain
        self.shop_name = shop_name
        self.access_token = access_token
        self.webhook_secret = webhook_secret
        self.bucket_size = bucket_size
        self.leak_rate = leak_rate
        self.retry_after = retry_after
        self.start = start
        self.clock = clock
        super().__init__()
        # Counters tests and benchmarks read (``faults.counts``: the faults given).
        self.calls: Counter[str] = Counter()
        self.requests = 0
        self.throttled = 0
        self._bucket = 0.0
        self._bucket_at = clock()
        # The catalogue, generated eagerly (small).
        self.products: list[dict[str, Any]] = []
        self.variants: dict[int, dict[str, Any]] = {}
        self._make_products(products)
        self._variant_list = list(self.variants.values())
        self._sku_variants = [v for v in self._variant_list if v["sku"]]
        self.locations = [
            {
                "id": PRIMARY_LOCATION,
                "name": "Main warehouse",
                "active": True,
                "legacy": False,
                "country_code": "US",
                "admin_graphql_api_id": f"gid://shopify/Location/{PRIMARY_LOCATION}",
            },
            {
                "id": OUTLET_LOCATION,
                "name": "Outlet store",
                "active": True,
                "legacy": False,
                "country_code": "US",
                "admin_graphql_api_id": f"gid://shopify/Location/{OUTLET_LOCATION}",
            },
        ]
        #: (inventory item id, location id) -> available
        self.levels: dict[tuple[int, int], int] = {}
        for variant in self.variants.values():
            self.levels[(variant["inventory_item_id"], PRIMARY_LOCATION)] = 100
            self.levels[(variant["inventory_item_id"], OUTLET_LOCATION)] = 0
        #: Every inventory_levels/set.json accepted: (inventory item id, location id, available).
        self.stock_sets: list[tuple[int, int, int]] = []
        #: The app's webhook subscriptions by id (``webhooks.json``).
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self._next_subscription = WEBHOOK_ID_BASE
        # Orders: an index of every id (ascending) with what filters need; bodies
        # are generated on demand from the seed, or kept once changed. So 100,000
        # orders cost a few megabytes, not gigabytes.
        self._ids: list[int] = []
        self._meta: dict[
            int, tuple[float, bool, bool]
        ] = {}  # id -> (updated ts, cancelled, closed)
        self._bodies: dict[int, dict[str, Any]] = {}
        self._generated = 0
        self._fulfilled: Counter[int] = Counter()  # fulfilment order line item id -> quantity done
        self.fulfillments: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._next_fulfillment = FULFILLMENT_ID_BASE
        for _ in range(orders):
            self._index(self._generate(self._generated))
            self._generated += 1

    # --- the catalogue ---------------------------------------------------------------------

    def _make_products(self, count: int) -> None:
        for p in range(count):
            product_id = PRODUCT_ID_BASE + p
            title = f"{PRODUCTS[p % len(PRODUCTS)]} {p // len(PRODUCTS) + 1}"
            base_cents = 1000 + (p % 12) * 250
            variants = []
            for v, size in enumerate(SIZES[: 1 + p % 3]):
                variant_id = VARIANT_ID_BASE + p * 10 + v
                # The last product has no SKU: Shopify allows that, the hub must cope.
                sku = "" if p == count - 1 else f"SKU-{p + 1:03d}-{size}"
                variant = {
                    "id": variant_id,
                    "product_id": product_id,
                    "title": size,
                    "sku": sku,
                    "price": _money(base_cents + v * 100, "USD"),
                    "position": v + 1,
                    "inventory_item_id": INVENTORY_ITEM_BASE + p * 10 + v,
                    "inventory_management": "shopify",
                    "grams": 200 + v * 20,
                    "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
                    "_cents": base_cents + v * 100,
                }
                variants.append(variant)
                self.variants[variant_id] = variant
            self.products.append(
                {
                    "id": product_id,
                    "title": title,
                    "vendor": "Hub Demo",
                    "product_type": "Merch",
                    "status": "active",
                    "handle": re.sub(r"\W+", "-", title.lower()),
                    "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
                    "variants": variants,
                }
            )

    def _public_variant(self, variant: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in variant.items() if not k.startswith("_")}

    def variant_for_sku(self, sku: str) -> dict[str, Any]:
        return next(v for v in self.variants.values() if v["sku"] == sku)

    def available(self, sku: str, location_id: int = PRIMARY_LOCATION) -> int:
        return self.levels[(self.variant_for_sku(sku)["inventory_item_id"], location_id)]

    # --- orders -------------------------------------------------------------------------------

    def _generate(self, i: int) -> dict[str, Any]:
        """Order number ``i``, the same for the same seed every time."""
        rng = random.Random(f"{self.seed}:order:{i}")
        order_id = ORDER_ID_BASE + i
        currency = rng.choices(list(CURRENCIES), weights=[c[0] for c in CURRENCIES.values()])[0]
        _, rate, tax_bp, ship_minor, country = CURRENCIES[currency]
        created = self.start + timedelta(seconds=i * 47 + rng.randint(0, 30))
        updated = created + timedelta(seconds=rng.randint(0, 5400))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        customer_id = CUSTOMER_ID_BASE + rng.randint(1, 5000)
        email = f"{first}.{last}.{customer_id % 1000}@example.com".lower()
        has_customer = rng.random() > 0.02
        if self.clean:
            # One customer per order, an ASCII address (no SMTPUTF8 needed).
            email = _ascii(f"{first}.{last}.{i + 1}@example.com".lower())
            has_customer = True
        city, province, province_code, zip_, country_name, street = ADDRESSES[country]
        addr = {
            "first_name": first,
            "last_name": last,
            "name": f"{first} {last}",
            "company": None,
            "address1": street,
            "address2": None if rng.random() < 0.7 else "Apt 4",
            "city": city,
            "province": province,
            "province_code": province_code,
            "zip": zip_,
            "country": country_name,
            "country_code": country,
            "phone": None,
            "latitude": None,
            "longitude": None,
        }
        items = []
        discount_total = tax_total = items_total = 0
        discounted = rng.random() < 0.25
        for k in range(rng.randint(1, 4)):
            variant = rng.choice(self._sku_variants if self.clean else self._variant_list)
            product = self.products[variant["product_id"] - PRODUCT_ID_BASE]
            unit = self._price(variant["_cents"], rate, currency)
            qty = rng.randint(1, 3)
            line_total = unit * qty
            discount = line_total // 10 if discounted and k == 0 else 0
            tax = ((line_total - discount) * tax_bp + 5000) // 10000
            custom = rng.random() < 0.02 and not self.clean  # a custom item: no variant, no SKU
            line_id = order_id * 100 + k
            items.append(
                {
                    "id": line_id,
                    "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                    "variant_id": None if custom else variant["id"],
                    "product_id": None if custom else product["id"],
                    "title": "Gift wrapping" if custom else product["title"],
                    "variant_title": None if custom else variant["title"],
                    "name": "Gift wrapping"
                    if custom
                    else f"{product['title']} - {variant['title']}",
                    "sku": "" if custom else variant["sku"],
                    "vendor": product["vendor"],
                    "quantity": qty,
                    "current_quantity": qty,
                    "fulfillable_quantity": qty,
                    "fulfillment_status": None,
                    "requires_shipping": True,
                    "taxable": tax_bp > 0,
                    "gift_card": False,
                    "grams": variant["grams"],
                    "price": _money(unit, currency),
                    "price_set": _set(unit, currency),
                    "total_discount": _money(discount, currency),
                    "discount_allocations": (
                        [
                            {
                                "amount": _money(discount, currency),
                                "amount_set": _set(discount, currency),
                                "discount_application_index": 0,
                            }
                        ]
                        if discount
                        else []
                    ),
                    "tax_lines": (
                        [
                            {
                                "title": "Tax",
                                "rate": tax_bp / 10000,
                                "price": _money(tax, currency),
                                "price_set": _set(tax, currency),
                            }
                        ]
                        if tax_bp
                        else []
                    ),
                }
            )
            items_total += line_total
            discount_total += discount
            tax_total += tax
        shipping = 0 if rng.random() < 0.1 else ship_minor
        subtotal = items_total - discount_total
        total = subtotal + shipping + tax_total
        roll = rng.random()
        cancelled_at = closed_at = cancel_reason = None
        if roll < 0.05:
            cancelled_at = created + timedelta(minutes=30)
            updated = max(updated, cancelled_at)
            cancel_reason = rng.choice(["customer", "inventory", "fraud"])
            financial = rng.choice(["voided", "refunded"])
            closed_at = cancelled_at
        else:
            financial = rng.choices(
                ["paid", "pending", "authorized", "partially_refunded", "refunded"],
                weights=[80, 7, 8, 3, 2],
            )[0]
            if financial == "paid" and rng.random() < 0.1:
                closed_at = updated  # archived
        test = rng.random() < 0.03
        if self.clean:
            cancelled_at = closed_at = cancel_reason = None
            financial, test = "paid", False
        number = 1001 + i
        body = {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{number}",
            "order_number": number,
            "number": number - 1000,
            "token": f"{rng.getrandbits(128):032x}",
            "email": email if has_customer else "",
            "contact_email": email if has_customer else None,
            "phone": None,
            "currency": currency,
            "presentment_currency": currency,
            "created_at": _ts(created),
            "processed_at": _ts(created),
            "updated_at": _ts(updated),
            "cancelled_at": _ts(cancelled_at) if cancelled_at else None,
            "cancel_reason": cancel_reason,
            "closed_at": _ts(closed_at) if closed_at else None,
            "financial_status": financial,
            "fulfillment_status": None,
            "test": test,
            "confirmed": True,
            "source_name": "web",
            "tags": "wholesale" if rng.random() < 0.1 else "",
            "note": None,
            "taxes_included": False,
            "buyer_accepts_marketing": False,
            **_money_fields(
                currency,
                total_line_items_price=items_total,
                total_discounts=discount_total,
                subtotal_price=subtotal,
                total_tax=tax_total,
                total_price=total,
                # What is owed after refunds and edits: the same until one.
                current_subtotal_price=subtotal,
                current_total_discounts=discount_total,
                current_total_tax=tax_total,
                current_total_price=total,
            ),
            "total_shipping_price_set": _set(shipping, currency),
            "line_items": items,
            "shipping_lines": (
                [
                    {
                        "id": order_id * 100 + 90,
                        "title": "Standard",
                        "code": "STANDARD",
                        "source": "shopify",
                        "price": _money(shipping, currency),
                        "price_set": _set(shipping, currency),
                        "discounted_price": _money(shipping, currency),
                        "tax_lines": [],
                        "discount_allocations": [],
                    }
                ]
                if shipping
                else []
            ),
            "shipping_address": addr,
            "billing_address": dict(addr),
            "customer": (
                {
                    "id": customer_id,
                    "email": email,
                    "first_name": first,
                    "last_name": last,
                    "phone": None,
                    "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                }
                if has_customer
                else None
            ),
            "discount_codes": [
                {"code": "TENOFF", "amount": _money(discount_total, currency), "type": "percentage"}
            ]
            if discounted
            else [],
            "fulfillments": [],
            "refunds": [],
            "note_attributes": [],
            "payment_gateway_names": [],
        }
        if self.payment_attribute and cancelled_at is None:
            # The demo's convention, not Shopify's: the storefront's checkout authorised a
            # Stripe PaymentIntent and wrote its id on the order as a note attribute.
            body["note_attributes"] = [
                {"name": self.payment_attribute, "value": self.intent_id(order_id)}
            ]
            body["payment_gateway_names"] = ["stripe"]
            body["financial_status"] = "authorized"
        if self.clean and i and i % RETURNING_EVERY == 0:
            self._returning_customer(i, body)
        return body

    def _returning_customer(self, i: int, body: dict[str, Any]) -> None:
        """Make order ``i`` a returning customer's: the buyer of an order shortly before it
        (same currency, other SKUs), with that buyer's email, customer id and addresses."""
        skus = {item["sku"] for item in body["line_items"]}
        for j in range(i - 1, max(-1, i - RETURNING_WITHIN), -1):
            earlier = self._generate(j)
            if earlier["currency"] == body["currency"] and not skus & {
                item["sku"] for item in earlier["line_items"]
            }:
                for key in ("email", "contact_email", "customer"):
                    body[key] = copy.deepcopy(earlier[key])
                body["shipping_address"] = copy.deepcopy(earlier["shipping_address"])
                body["billing_address"] = copy.deepcopy(earlier["billing_address"])
                return

    def intent_id(self, order_id: int) -> str:
        """The PaymentIntent id order ``order_id`` carries (with ``payment_attribute``): stable per seed."""
        digest = hashlib.sha256(f"{self.seed}:intent:{order_id}".encode()).hexdigest()
        return f"pi_{digest[:24]}"

    @staticmethod
    def _price(usd_cents: int, rate: float, currency: str) -> int:
        if currency == "JPY":
            return int(round(usd_cents / 100 * rate / 10)) * 10
        return int(round(usd_cents * rate))

    def _index(self, body: dict[str, Any]) -> None:
        order_id = body["id"]
        if order_id not in self._meta:
            bisect.insort(self._ids, order_id)
        self._meta[order_id] = (
            datetime.fromisoformat(body["updated_at"]).timestamp(),
            body.get("cancelled_at") is not None,
            body.get("closed_at") is not None,
        )

    @property
    def order_ids(self) -> list[int]:
        """Every order id, oldest first."""
        return list(self._ids)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as the API shows it now (a copy)."""
        with self.lock:
            order_id = int(order_id)
            if order_id not in self._meta:
                raise KeyError(order_id)
            body = self._bodies.get(order_id)
            return (
                copy.deepcopy(body)
                if body is not None
                else self._generate(order_id - ORDER_ID_BASE)
            )

    def _now_after(self, previous: str) -> datetime:
        now = datetime.now(UTC).replace(microsecond=0)
        return max(now, datetime.fromisoformat(previous) + timedelta(seconds=1))

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change an order as a merchant would; ``updated_at`` moves forward. Returns the order."""
        with self.lock:
            body = self.order(order_id)
            body.update(changes)
            if "updated_at" not in changes:
                body["updated_at"] = _ts(self._now_after(body["updated_at"]))
            self._bodies[body["id"]] = body
            self._index(body)
            return copy.deepcopy(body)

    def cancel_order(self, order_id: int, reason: str = "customer") -> dict[str, Any]:
        now = _ts(datetime.now(UTC))
        return self.update_order(
            order_id,
            cancelled_at=now,
            closed_at=now,
            cancel_reason=reason,
            financial_status="voided",
        )

    def refund_order(
        self,
        order_id: int,
        amount: str | None = None,
        *,
        line_items: dict[int, int] | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Refund part (``amount``) or all of an order; returns the refund (the webhook's body).

        ``line_items`` (line item id -> units) refunds units as Shopify does:
        each line's ``current_quantity`` and ``fulfillable_quantity`` go down,
        the refund carries ``refund_line_items``, and the order's ``current_*``
        totals drop by the units' price and tax; ``amount`` defaults to that.
        """
        with self.lock:
            body = self.order(order_id)
            currency = body["currency"]
            total = Money.parse(body["total_price"], currency)
            refund_id = order_id * 10 + len(body["refunds"]) + 1
            refund_lines, worth = self._refund_lines(body, line_items or {}, refund_id)
            value = (
                Money.parse(amount, currency)
                if amount
                else (Money(worth, currency) if line_items else total)
            )
            refund = {
                "id": refund_id,
                "order_id": body["id"],
                "created_at": _ts(datetime.now(UTC)),
                "processed_at": _ts(datetime.now(UTC)),
                "note": note,
                "restock": bool(line_items),
                "order_adjustments": [],
                "transactions": [
                    {
                        "id": refund_id + 7,
                        "order_id": body["id"],
                        "kind": "refund",
                        "status": "success",
                        "amount": str(value),
                        "currency": currency,
                        "gateway": "bogus",
                    }
                ],
                "refund_line_items": refund_lines,
            }
            refunded = (
                sum(
                    Money.parse(t["amount"], currency).amount
                    for r in body["refunds"]
                    for t in r["transactions"]
                )
                + value.amount
            )
            self.update_order(
                order_id,
                refunds=[*body["refunds"], refund],
                line_items=body["line_items"],
                **{k: body[k] for k in body if k.startswith("current_")},
                financial_status="refunded" if refunded >= total.amount else "partially_refunded",
            )
            return refund

    def _refund_lines(
        self, body: dict[str, Any], units: dict[int, int], refund_id: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Take ``units`` off the order's lines in ``body`` (in place); the refund_line_items and their worth."""
        currency = body["currency"]
        out: list[dict[str, Any]] = []
        worth, tax_off, discount_off = 0, 0, 0
        for item in body["line_items"]:
            qty = units.get(item["id"], 0)
            if not qty:
                continue
            done = self._fulfilled[body["id"] * 100 + 60 + body["line_items"].index(item)]
            if qty > item["current_quantity"] - done:
                raise ValueError(
                    f"line item {item['id']}: only {item['current_quantity'] - done} refundable"
                )
            price = Money.parse(item["price"], currency).amount
            tax = (
                sum(Money.parse(t["price"], currency).amount for t in item["tax_lines"])
                * qty
                // item["quantity"]
            )
            discount = (
                Money.parse(item["total_discount"], currency).amount * qty // item["quantity"]
            )
            item["current_quantity"] -= qty
            item["fulfillable_quantity"] = max(0, item["fulfillable_quantity"] - qty)
            out.append(
                {
                    "id": refund_id * 100 + len(out),
                    "line_item_id": item["id"],
                    "quantity": qty,
                    "restock_type": "cancel",
                    "location_id": PRIMARY_LOCATION,
                    "subtotal": float(Money(price * qty - discount, currency).to_decimal()),
                    "subtotal_set": _set(price * qty - discount, currency),
                    "total_tax": float(Money(tax, currency).to_decimal()),
                    "total_tax_set": _set(tax, currency),
                    "line_item": copy.deepcopy(item),
                }
            )
            worth += price * qty - discount + tax
            tax_off += tax
            discount_off += discount
        if out:
            off = {
                "current_total_price": worth,
                "current_total_tax": tax_off,
                "current_total_discounts": discount_off,
                "current_subtotal_price": worth - tax_off,
            }
            body.update(
                _money_fields(
                    currency,
                    **{
                        name: Money.parse(body[name], currency).amount - by
                        for name, by in off.items()
                    },
                )
            )
        return out, worth

    def upcoming(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` orders :meth:`add_orders` will place, not placed yet (to stock for them)."""
        with self.lock:
            return [self._generate(self._generated + k) for k in range(count)]

    def add_orders(self, count: int) -> list[int]:
        """New orders placed now (their ``created_at``/``updated_at`` are now)."""
        added = []
        with self.lock:
            for _ in range(count):
                body = self._generate(self._generated)
                self._generated += 1
                now = datetime.now(UTC).replace(microsecond=0)
                body.update(created_at=_ts(now), processed_at=_ts(now), updated_at=_ts(now))
                if body["cancelled_at"]:
                    body.update(cancelled_at=_ts(now), closed_at=_ts(now))
                elif body["closed_at"]:
                    body["closed_at"] = _ts(now)
                self._bodies[body["id"]] = body
                self._index(body)
                added.append(body["id"])
        return added

    # --- fulfilment orders and fulfilments ----------------------------------------------------------

    def fulfillment_orders(self, order_id: int) -> list[dict[str, Any]]:
        order = self.order(order_id)
        fo_id = order["id"] * 100 + 50
        lines = []
        for k, item in enumerate(order["line_items"]):
            line_id = order["id"] * 100 + 60 + k
            done = self._fulfilled[line_id]
            variant = self.variants.get(item["variant_id"] or 0)
            lines.append(
                {
                    "id": line_id,
                    "shop_id": SHOP_ID,
                    "fulfillment_order_id": fo_id,
                    "line_item_id": item["id"],
                    "quantity": item["current_quantity"],
                    "fulfillable_quantity": 0
                    if order["cancelled_at"]
                    else max(0, item["current_quantity"] - done),
                    "inventory_item_id": variant["inventory_item_id"] if variant else None,
                    "variant_id": item["variant_id"],
                }
            )
        remaining = sum(li["fulfillable_quantity"] for li in lines)
        done_any = any(self._fulfilled[li["id"]] for li in lines)
        if order["cancelled_at"]:
            status = "cancelled"
        elif remaining == 0:
            status = "closed"
        else:
            status = "in_progress" if done_any else "open"
        return [
            {
                "id": fo_id,
                "shop_id": SHOP_ID,
                "order_id": order["id"],
                "status": status,
                "request_status": "unsubmitted",
                "assigned_location_id": PRIMARY_LOCATION,
                "supported_actions": ["create_fulfillment", "hold", "move"]
                if status in ("open", "in_progress")
                else [],
                "destination": None,
                "fulfill_at": order["created_at"],
                "line_items": lines,
                "delivery_method": {"method_type": "shipping"},
            }
        ]

    def _create_fulfillment(self, body: Any) -> dict[str, Any]:
        data = body.get("fulfillment") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise _ApiError(400, {"fulfillment": "Required parameter missing or invalid"})
        groups = data.get("line_items_by_fulfillment_order")
        if not isinstance(groups, list) or not groups:
            raise _ApiError(422, {"line_items_by_fulfillment_order": ["must be present"]})
        plan: list[tuple[dict[str, Any], int]] = []
        order_id = None
        for group in groups:
            fo_id = int(group.get("fulfillment_order_id") or 0)
            owner = fo_id // 100
            if fo_id % 100 != 50 or owner not in self._meta:
                raise _ApiError(404, "Not Found")
            if order_id is not None and owner != order_id:
                raise _ApiError(422, ["All fulfillment orders must belong to the same order."])
            order_id = owner
            fo = self.fulfillment_orders(owner)[0]
            if fo["status"] not in ("open", "in_progress"):
                raise _ApiError(
                    422, [f"Fulfillment order {fo_id} has an unfulfillable status= {fo['status']}."]
                )
            by_id = {li["id"]: li for li in fo["line_items"]}
            wanted = group.get("fulfillment_order_line_items")
            if not wanted:  # none named: all that is left
                wanted = [
                    {"id": li["id"], "quantity": li["fulfillable_quantity"]}
                    for li in fo["line_items"]
                    if li["fulfillable_quantity"]
                ]
            for w in wanted:
                li = by_id.get(int(w.get("id") or 0))
                qty = w.get("quantity")
                if li is None:
                    raise _ApiError(
                        422, [f"Fulfillment order line item {w.get('id')} does not exist."]
                    )
                if not isinstance(qty, int) or qty < 1 or qty > li["fulfillable_quantity"]:
                    raise _ApiError(
                        422,
                        [
                            f"Invalid quantity {qty!r} for fulfillment order line item "
                            f"{li['id']}: {li['fulfillable_quantity']} fulfillable."
                        ],
                    )
                plan.append((li, qty))
        assert order_id is not None  # set by the first of the groups, and there are some
        order = self.order(order_id)
        items_by_id = {item["id"]: item for item in order["line_items"]}
        for li, qty in plan:
            self._fulfilled[li["id"]] += qty
        tracking = data.get("tracking_info") or {}
        self._next_fulfillment += 1
        now = _ts(datetime.now(UTC))
        number = tracking.get("number")
        fulfillment = {
            "id": self._next_fulfillment,
            "order_id": order_id,
            "status": "success",
            "name": f"{order['name']}.{len(self.fulfillments[order_id]) + 1}",
            "created_at": now,
            "updated_at": now,
            "location_id": PRIMARY_LOCATION,
            "service": "manual",
            "shipment_status": None,
            "tracking_company": tracking.get("company"),
            "tracking_number": number,
            "tracking_numbers": [number] if number else [],
            "tracking_url": tracking.get("url"),
            "tracking_urls": [tracking["url"]] if tracking.get("url") else [],
            "notify_customer": bool(data.get("notify_customer")),
            "line_items": [
                {
                    **{
                        k: items_by_id[li["line_item_id"]][k]
                        for k in ("id", "sku", "name", "variant_id")
                    },
                    "quantity": qty,
                }
                for li, qty in plan
            ],
        }
        self.fulfillments[order_id].append(fulfillment)
        left = sum(
            li["fulfillable_quantity"] for li in self.fulfillment_orders(order_id)[0]["line_items"]
        )
        self.update_order(
            order_id,
            fulfillment_status="fulfilled" if left == 0 else "partial",
            fulfillments=[*order["fulfillments"], fulfillment],
        )
        return fulfillment

    def _cancel_fulfillment(self, fulfillment_id: int) -> dict[str, Any]:
        """Cancel a fulfilment as Shopify does: its units are open to fulfil again; once is enough."""
        with self.lock:
            for order_id, made in self.fulfillments.items():
                for fulfillment in made:
                    if fulfillment["id"] != fulfillment_id:
                        continue
                    if fulfillment["status"] == "cancelled":
                        raise _ApiError(422, {"base": ["Fulfillment has already been cancelled."]})
                    order = self.order(order_id)
                    index = {item["id"]: k for k, item in enumerate(order["line_items"])}
                    for li in fulfillment["line_items"]:
                        self._fulfilled[order_id * 100 + 60 + index[li["id"]]] -= li["quantity"]
                    fulfillment.update(status="cancelled", updated_at=_ts(datetime.now(UTC)))
                    done = any(f["status"] == "success" for f in made)
                    self.update_order(
                        order_id,
                        fulfillment_status="partial" if done else None,
                        fulfillments=copy.deepcopy(made),
                    )
                    return copy.deepcopy(fulfillment)
        raise _ApiError(404, "Not Found")

    # --- faults and the bucket -------------------------------------------------------------------

    def fault_response(self, strike: Strike, request: Request) -> Response:
        """Shopify's answer: a 429 says the bucket is full and when to come back."""
        headers = {"X-Shopify-Shop-Api-Call-Limit": self._call_limit()}
        if strike.status == 429:
            retry = strike.retry_after if strike.retry_after is not None else self.retry_after
            headers["Retry-After"] = str(float(retry))
            headers["X-Shopify-Shop-Api-Call-Limit"] = f"{self.bucket_size}/{self.bucket_size}"
            body = {
                "errors": "Exceeded 2 calls per second for api client. Reduce request rates "
                "to resume uninterrupted service."
            }
        else:
            body = {"errors": "Internal Server Error" if strike.status >= 500 else "Error"}
        return self.json(body, strike.status, headers)

    def _take_from_bucket(self) -> bool:
        now = self.clock()
        self._bucket = max(0.0, self._bucket - (now - self._bucket_at) * self.leak_rate)
        self._bucket_at = now
        if self._bucket + 1 > self.bucket_size:
            return False
        self._bucket += 1
        return True

    def fill_bucket(self, level: float) -> None:
        """Set the bucket's level (as if other apps had just called)."""
        with self.lock:
            self._bucket, self._bucket_at = float(level), self.clock()

    def _call_limit(self) -> str:
        return f"{min(self.bucket_size, int(-(-self._bucket // 1)))}/{self.bucket_size}"

    # --- the WSGI app ----------------------------------------------------------------------------------

    def seen(self, request: Request) -> None:
        with self.lock:
            self.requests += 1

    def handle(self, request: Request) -> Response:
        with self.lock:
            return self._handle(request)

    def _handle(self, request: Request) -> Response:
        match = re.fullmatch(r"/admin/api/([^/]+)/(.+)", request.path)
        if match is None or not re.fullmatch(r"\d{4}-(01|04|07|10)|unstable", match[1]):
            return self.json({"errors": "Not Found"}, 404)
        version, path = match[1], match[2]
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            return self.json(
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
                },
                401,
            )
        if not self._take_from_bucket():
            self.throttled += 1
            return self.json(
                {
                    "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                    "uninterrupted service."
                },
                429,
                {
                    "Retry-After": str(float(self.retry_after)),  # Shopify sends "2.0"
                    "X-Shopify-Shop-Api-Call-Limit": f"{self.bucket_size}/{self.bucket_size}",
                },
            )
        headers = {
            "X-Shopify-Shop-Api-Call-Limit": self._call_limit(),
            "X-Shopify-API-Version": version,
            "X-Request-Id": str(uuid.uuid4()),
        }
        found = self.match(request)
        try:
            if found is None:
                raise _ApiError(404, "Not Found")
            response = self.invoke(request, found)
        except Answer as answer:
            # Refused requests count under their own path, not the route's.
            self.calls[f"{request.method} {path}"] += 1
            response = answer.response
        else:
            route = re.sub(r"<[^>]+>", "{id}", found[2].rule.removeprefix(f"{API}/"))
            self.calls[f"{request.method} {route}"] += 1
        for name, value in headers.items():
            if name not in response.headers:
                response.headers[name] = value
        return response

    @route(f"{API}/shop.json", methods=["GET"])
    def _get_shop(self, request: Request, version: str) -> Response:
        return self.json({"shop": self._shop()})

    @route(f"{API}/orders.json", methods=["GET"])
    def _list_orders(self, request: Request, version: str) -> Response:
        orders, links = self._list(request, version, "orders.json", self._order_ids_matching)
        fields = self._fields(request)
        bodies = [self._pick(self.order(i), fields) for i in orders]
        return self.json({"orders": bodies}, 200, links)

    @route(f"{API}/products.json", methods=["GET"])
    def _list_products(self, request: Request, version: str) -> Response:
        ids, links = self._list(request, version, "products.json", self._product_filter)
        fields = self._fields(request)
        products = [self._public_product(self.products[i - PRODUCT_ID_BASE]) for i in ids]
        return self.json({"products": [self._pick(p, fields) for p in products]}, 200, links)

    @route(f"{API}/locations.json", methods=["GET"])
    def _list_locations(self, request: Request, version: str) -> Response:
        return self.json({"locations": self.locations})

    @route(f"{API}/fulfillments.json", methods=["POST"])
    def _post_fulfillment(self, request: Request, version: str) -> Response:
        return self.json({"fulfillment": self._create_fulfillment(self._body(request))}, 201)

    @route(f"{API}/fulfillments/<int:fulfillment_id>/cancel.json", methods=["POST"])
    def _post_cancel_fulfillment(
        self, request: Request, version: str, fulfillment_id: int
    ) -> Response:
        return self.json({"fulfillment": self._cancel_fulfillment(fulfillment_id)})

    @route(f"{API}/inventory_levels/set.json", methods=["POST"])
    def _post_inventory_level(self, request: Request, version: str) -> Response:
        return self.json({"inventory_level": self._set_level(self._body(request))})

    @route(f"{API}/webhooks.json", methods=["GET"])
    def _list_webhooks(self, request: Request, version: str) -> Response:
        ids, links = self._list(request, version, "webhooks.json", self._webhook_filter)
        fields = self._fields(request)
        return self.json(
            {"webhooks": [self._pick(self.subscriptions[i], fields) for i in ids]}, 200, links
        )

    @route(f"{API}/webhooks/count.json", methods=["GET"])
    def _count_webhooks(self, request: Request, version: str) -> Response:
        match = self._webhook_filter(self._parse_filters("webhooks.json", request.args))
        return self.json({"count": sum(1 for i in self.subscriptions if match(i))})

    @route(f"{API}/webhooks.json", methods=["POST"])
    def _post_webhook(self, request: Request, version: str) -> Response:
        return self.json({"webhook": self._subscribe(self._body(request), version)}, 201)

    @route(f"{API}/webhooks/<int:webhook_id>.json", methods=["GET"])
    def _get_webhook(self, request: Request, version: str, webhook_id: int) -> Response:
        return self.json({"webhook": self._subscription(webhook_id)})

    @route(f"{API}/webhooks/<int:webhook_id>.json", methods=["PUT"])
    def _put_webhook(self, request: Request, version: str, webhook_id: int) -> Response:
        webhook = self._subscription(webhook_id)
        body = self._body(request)
        changes = body.get("webhook") if isinstance(body, dict) else None
        if not isinstance(changes, dict):
            raise _ApiError(400, {"webhook": "Required parameter missing or invalid"})
        address = changes.get("address", webhook["address"])
        self._check_subscription(webhook["topic"], address, webhook["format"], but=webhook_id)
        webhook.update(address=address, updated_at=_ts(datetime.now(UTC)))
        return self.json({"webhook": webhook})

    @route(f"{API}/webhooks/<int:webhook_id>.json", methods=["DELETE"])
    def _delete_webhook(self, request: Request, version: str, webhook_id: int) -> Response:
        self._subscription(webhook_id)
        del self.subscriptions[webhook_id]
        return self.json({})

    def _subscription(self, webhook_id: int) -> dict[str, Any]:
        if webhook_id not in self.subscriptions:
            raise _ApiError(404, "Not Found")
        return self.subscriptions[webhook_id]

    def _subscribe(self, body: Any, version: str) -> dict[str, Any]:
        webhook = body.get("webhook") if isinstance(body, dict) else None
        if not isinstance(webhook, dict):
            raise _ApiError(400, {"webhook": "Required parameter missing or invalid"})
        topic, address = webhook.get("topic"), webhook.get("address")
        fmt = webhook.get("format", "json")
        self._check_subscription(topic, address, fmt)
        self._next_subscription += 1
        now = _ts(datetime.now(UTC))
        made = {
            "id": self._next_subscription,
            "address": address,
            "topic": topic,
            "created_at": now,
            "updated_at": now,
            "format": fmt,
            "fields": list(webhook.get("fields") or []),
            "metafield_namespaces": [],
            "api_version": version,
            "private_metafield_namespaces": [],
        }
        self.subscriptions[made["id"]] = made
        return made

    def _check_subscription(self, topic: Any, address: Any, fmt: Any, *, but: int = 0) -> None:
        """Shopify's 422s: an unknown topic, an address that is no URL, a topic taken for it."""
        errors: dict[str, list[str]] = {}
        if topic not in WEBHOOK_TOPICS:
            errors["topic"] = [f"Invalid topic specified: {topic}"]
        if not isinstance(address, str) or not re.match(r"^https?://[^/\s]+", address):
            errors["address"] = ["is invalid"]
        elif any(
            w["topic"] == topic and w["address"] == address and w["id"] != but
            for w in self.subscriptions.values()
        ):
            errors["address"] = ["for this topic has already been taken"]
        if fmt not in ("json", "xml"):
            errors["format"] = ["is not included in the list"]
        if errors:
            raise _ApiError(422, errors)

    def _webhook_filter(self, filters: dict[str, Any]) -> Callable[[int], bool]:
        def match(webhook_id: int) -> bool:
            webhook = self.subscriptions[webhook_id]
            return all(webhook.get(k) == v for k, v in filters.items())

        return match

    def _known_order(self, order_id: int) -> int:
        if order_id not in self._meta:
            raise _ApiError(404, "Not Found")
        return order_id

    @route(f"{API}/orders/<int:order_id>.json", methods=["GET"])
    def _get_order(self, request: Request, version: str, order_id: int) -> Response:
        body = self.order(self._known_order(order_id))
        return self.json({"order": self._pick(body, self._fields(request))})

    @route(f"{API}/orders/<int:order_id>/fulfillment_orders.json", methods=["GET"])
    def _get_fulfillment_orders(self, request: Request, version: str, order_id: int) -> Response:
        orders = self.fulfillment_orders(self._known_order(order_id))
        return self.json({"fulfillment_orders": orders})

    @route(f"{API}/orders/<int:order_id>/fulfillments.json", methods=["GET"])
    def _get_fulfillments(self, request: Request, version: str, order_id: int) -> Response:
        found = copy.deepcopy(self.fulfillments[self._known_order(order_id)])
        return self.json({"fulfillments": found})

    @route(f"{API}/variants/<int:variant_id>.json", methods=["GET"])
    def _get_variant(self, request: Request, version: str, variant_id: int) -> Response:
        variant = self.variants.get(variant_id)
        if variant is None:
            raise _ApiError(404, "Not Found")
        return self.json({"variant": self._public_variant(variant)})

    # --- helpers of the routes -------------------------------------------------------------------------

    def _shop(self) -> dict[str, Any]:
        return {
            "id": SHOP_ID,
            "name": self.shop_name,
            "email": "owner@example.com",
            "domain": self.shop_domain,
            "myshopify_domain": self.shop_domain,
            "currency": "USD",
            "iana_timezone": "America/New_York",
            "plan_name": "basic",
            "primary_location_id": PRIMARY_LOCATION,
            "created_at": _ts(self.start),
        }

    def _public_product(self, product: dict[str, Any]) -> dict[str, Any]:
        return {**product, "variants": [self._public_variant(v) for v in product["variants"]]}

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return json.loads(request.get_data() or b"null")
        except ValueError as exc:
            raise _ApiError(400, {"error": "822: unexpected token"}) from exc

    @staticmethod
    def _fields(request: Request) -> list[str] | None:
        value = request.args.get("fields")
        return [f.strip() for f in value.split(",") if f.strip()] if value else None

    @staticmethod
    def _pick(body: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        return {k: body[k] for k in fields if k in body} if fields else body

    def _set_level(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _ApiError(400, {"inventory_item_id": "Required parameter missing or invalid"})
        errors = {
            k: ["is required and must be a whole number"]
            for k in ("location_id", "inventory_item_id", "available")
            if not isinstance(body.get(k), int) or isinstance(body.get(k), bool)
        }
        if errors:
            raise _ApiError(422, errors)
        key = (body["inventory_item_id"], body["location_id"])
        if body["location_id"] not in (PRIMARY_LOCATION, OUTLET_LOCATION):
            raise _ApiError(422, {"location_id": ["Location does not exist"]})
        if key not in self.levels:
            raise _ApiError(422, {"inventory_item_id": ["Inventory item does not exist"]})
        self.levels[key] = body["available"]
        self.stock_sets.append((body["inventory_item_id"], body["location_id"], body["available"]))
        return {
            "inventory_item_id": key[0],
            "location_id": key[1],
            "available": body["available"],
            "updated_at": _ts(datetime.now(UTC)),
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{key[1]}?inventory_item_id={key[0]}",
        }

    def _order_ids_matching(self, filters: dict[str, Any]) -> Callable[[int], bool]:
        status = filters.get("status") or "open"
        minimum = filters.get("updated_at_min")

        def match(order_id: int) -> bool:
            updated, cancelled, closed = self._meta[order_id]
            if minimum is not None and updated < minimum:
                return False
            if status == "open":
                return not cancelled and not closed
            if status == "closed":
                return closed
            if status == "cancelled":
                return cancelled
            return True

        return match

    def _product_filter(self, filters: dict[str, Any]) -> Callable[[int], bool]:
        return lambda product_id: True

    def _parse_filters(self, resource: str, args) -> dict[str, Any]:
        filters: dict[str, Any] = {}
        if resource == "webhooks.json":
            return {k: args[k] for k in ("address", "topic") if args.get(k)}
        if resource == "orders.json":
            status = args.get("status", "open")
            if status not in ("open", "closed", "cancelled", "any"):
                raise _ApiError(400, {"status": ["is not included in the list"]})
            filters["status"] = status
            if args.get("updated_at_min"):
                text = args["updated_at_min"].replace(
                    " ", "+"
                )  # an unencoded "+" arrives as a space
                try:
                    value = datetime.fromisoformat(text)
                except ValueError as exc:
                    raise _ApiError(400, {"updated_at_min": ["is invalid"]}) from exc
                if value.tzinfo is None:
                    value = value.replace(tzinfo=SHOP_TZ)
                filters["updated_at_min"] = value.timestamp()
        return filters

    def _list(
        self,
        request: Request,
        version: str,
        resource: str,
        matcher: Callable[[dict[str, Any]], Callable[[int], bool]],
    ) -> tuple[list[int], dict[str, str]]:
        """One page of ``resource``, newest id first, and its ``Link`` header, as Shopify pages."""
        args = request.args
        try:
            limit = int(args.get("limit", 50))
        except ValueError as exc:
            raise _ApiError(400, {"limit": ["is not a number"]}) from exc
        limit = max(1, min(MAX_LIMIT, limit))
        page_info = args.get("page_info")
        if page_info:
            extra = sorted(set(args) - PAGE_INFO_PARAMS)
            if extra:
                raise _ApiError(
                    400, {"page_info": [f"{extra[0]} cannot be passed when page_info is present."]}
                )
            state = _decode_page_info(page_info)
            if state is None or state.get("resource") != resource:
                raise _ApiError(400, {"page_info": ["Invalid value."]})
            filters = state.get("filters") or {}
        else:
            state = None
            filters = self._parse_filters(resource, args)
        match = matcher(filters)
        ids = {
            "orders.json": lambda: self._ids,
            "products.json": lambda: [p["id"] for p in self.products],
            "webhooks.json": lambda: sorted(self.subscriptions),
        }[resource]()
        if state is None or state["direction"] == "next":
            # Newest first: walk down from below the last id shown.
            top = bisect.bisect_left(ids, state["last_id"]) if state else len(ids)
            found: list[int] = []
            for pos in range(top - 1, -1, -1):
                if match(ids[pos]):
                    found.append(ids[pos])
                    if len(found) > limit:
                        break
            has_next, page = len(found) > limit, found[:limit]
            has_prev = state is not None
        else:
            bottom = bisect.bisect_right(ids, state["last_id"])
            found = []
            for pos in range(bottom, len(ids)):
                if match(ids[pos]):
                    found.append(ids[pos])
                    if len(found) > limit:
                        break
            has_prev, page = len(found) > limit, list(reversed(found[:limit]))
            has_next = True
        links = []
        base = f"{request.host_url.rstrip('/')}/admin/api/{version}/{resource}"
        fields = args.get("fields")

        def link(direction: str, last_id: int, rel: str) -> str:
            token = _encode_page_info(
                {
                    "resource": resource,
                    "filters": filters,
                    "last_id": last_id,
                    "direction": direction,
                }
            )
            query = urlencode(
                {"limit": limit, **({"fields": fields} if fields else {}), "page_info": token}
            )
            return f'<{base}?{query}>; rel="{rel}"'

        if page and has_prev:
            links.append(link("prev", page[0], "previous"))
        if page and has_next:
            links.append(link("next", page[-1], "next"))
        return page, ({"Link": ", ".join(links)} if links else {})

    def channel_config(self, base_url: str) -> dict[str, Any]:
        """The config of a hub channel on this shop served at ``base_url`` (demo, tests)."""
        return {
            "shop_domain": self.shop_domain,
            "access_token": self.access_token,
            "webhook_secret": self.webhook_secret,
            "api_base_url": base_url,
        }

    # --- webhooks ---------------------------------------------------------------------------------------

    def webhook(
        self, topic: str, payload: dict[str, Any] | int, **kwargs: Any
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a webhook this shop would send (``payload``: a body or an order id)."""
        if isinstance(payload, int):
            payload = self.order(payload)
        kwargs.setdefault("secret", self.webhook_secret)
        kwargs.setdefault("shop_domain", self.shop_domain)
        return webhook_request(topic, payload, **kwargs)

    def send_webhook(
        self, url: str, topic: str, payload: dict[str, Any] | int, **kwargs: Any
    ) -> requests.Response:
        headers, body = self.webhook(topic, payload, **kwargs)
        return requests.post(url, data=body, headers=headers, timeout=5)


def webhook_request(
    topic: str,
    payload: dict[str, Any],
    *,
    secret: str,
    shop_domain: str = DEFAULT_SHOP,
    api_version: str = DEFAULT_API_VERSION,
    webhook_id: str | None = None,
    triggered_at: datetime | None = None,
    lowercase: bool = False,
) -> tuple[dict[str, str], bytes]:
    """Headers and raw body of a webhook as Shopify signs it: base64 HMAC-SHA256 of the body.

    ``lowercase`` sends the newer header names (``shopify-hmac-sha256`` …)
    instead of the ``X-Shopify-…`` ones.
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    values = {
        "Topic": topic,
        "Hmac-Sha256": sign_base64(secret, body),
        "Shop-Domain": shop_domain,
        "API-Version": api_version,
        "Webhook-Id": webhook_id or str(uuid.uuid4()),
        "Event-Id": str(uuid.uuid4()),
        "Triggered-At": (triggered_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }
    headers = {"Content-Type": "application/json"}
    for name, value in values.items():
        headers[f"shopify-{name.lower()}" if lowercase else f"X-Shopify-{name}"] = value
    return headers, body


def send_webhook(url: str, topic: str, payload: dict[str, Any], **kwargs: Any) -> requests.Response:
    """POST a signed webhook to ``url`` (Shopify gives up after 5 seconds)."""
    headers, body = webhook_request(topic, payload, **kwargs)
    return requests.post(url, data=body, headers=headers, timeout=5)


def main(argv: list[str] | None = None) -> None:
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="Serve the Shopify sandbox on loopback.")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bucket", type=int, default=40, help="leaky bucket size")
    parser.add_argument("--leak", type=float, default=2.0, help="leaky bucket drain per second")
    args = parser.parse_args(argv)
    shop = ShopifySandbox(
        orders=args.orders, seed=args.seed, bucket_size=args.bucket, leak_rate=args.leak
    )
    print(
        f"Shopify sandbox: {args.orders} orders at http://127.0.0.1:{args.port} "
        f"(token {shop.access_token}, webhook secret {shop.webhook_secret})",
        flush=True,
    )
    run_simple("127.0.0.1", args.port, shop, threaded=True)


if __name__ == "__main__":
    main()
