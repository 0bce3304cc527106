"""The demo's outside world: every service the flow talks to, on loopback, counting what it did.

- :class:`Sandboxes` starts them together (threads of this process, free ports):
  the Shopify store (its orders carry the Stripe PaymentIntent their checkout
  authorised, a note attribute: the demo's convention), with ``woocommerce_share``
  a WooCommerce store taking that share of the orders (WooCommerce Stripe's way:
  on hold, the PaymentIntent's id in the order meta), Stripe holding those
  intents, ShipStation in auto-ship mode, an SMTP server and a CRM's webhook
  endpoint; :meth:`Sandboxes.counts` says what happened, counted where it happened.
- :class:`SmtpSink` (aiosmtpd) counts messages and Message-IDs;
  :class:`WebhookReceiver` checks ``X-Hub-Signature-256`` and counts deliveries;
  :class:`Courier` delivers the providers' webhooks as they do (in the background,
  again until answered 2xx). With ``fault_rate``, every HTTP service fails a share
  of its answers through its fault plan (:class:`hub.integration.sandbox.FaultPlan`,
  :data:`FAULT_KINDS`; the reliability suite).

:mod:`hub.demo.scenario` connects the hub to them and runs the flow.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import heapq
import hmac
import itertools
import logging
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from werkzeug.wrappers import Request, Response

from hub.integration.manager import get_plugin_manager
from hub.integration.sandbox import FaultKind, FaultPlan, Sandbox, route, serve

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)

#: The note attribute the demo's Shopify orders carry their PaymentIntent id in.
PAYMENT_ATTRIBUTE = "stripe_payment_intent"
#: The order meta the demo's WooCommerce orders carry it in (WooCommerce Stripe's key).
WOO_PAYMENT_META = "_stripe_intent_id"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The failures ``fault_rate`` plans at every HTTP service, one at random per failed
#: request: 429 (``Retry-After: 1``), 500, a timeout (the request is held ``fault_hold``
#: seconds, longer than the hub's read timeout, then served: the effect happens, the
#: answer is lost) and a TCP reset (before anything runs). They come from "a proxy in
#: front of" the service: a plain body, nothing of the service's own.
FAULT_KINDS: tuple[FaultKind, ...] = (429, 500, "timeout", "reset")


class SmtpSink:
    """An SMTP server on loopback (aiosmtpd) that keeps count of what it accepted.

    ``messages`` counts every message accepted, ``message_ids`` each Message-ID's
    copies: a message sent twice shows as a Message-ID counted twice. With
    ``fault_rate``, that share of messages is refused with a temporary 4xx reply.
    ``alert_ids`` holds the Message-IDs of the hub's alerts to its admins
    (``X-Hub-Alert``): they are not notifications, so no notification ledger lists them.
    """

    def __init__(self, *, fault_rate: float = 0.0, seed: int = 0):
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.messages = 0
        self.refused = 0
        self.message_ids: Counter[str] = Counter()
        self.alert_ids: set[str] = set()
        self.subjects: Counter[str] = Counter()
        self.port = 0
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        with self.lock:
            if self.rng.random() < self.fault_rate:
                self.refused += 1
                return self.rng.choice(
                    [
                        "451 4.3.0 Temporary failure, try again later",
                        "421 4.3.2 Service shutting down, try again later",
                    ]
                )
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages += 1
            message_id = str(message.get("Message-ID", "")).strip()
            self.message_ids[message_id] += 1
            if message.get("X-Hub-Alert"):
                self.alert_ids.add(message_id)
            self.subjects[str(message.get("Subject", ""))] += 1
        return "250 2.0.0 OK: queued"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def duplicates(self) -> int:
        """Copies beyond the first of any Message-ID."""
        return sum(n - 1 for n in self.message_ids.values() if n > 1)


class WebhookReceiver(Sandbox):
    """A WSGI endpoint standing for a CRM: verifies ``X-Hub-Signature-256`` and counts.

    The signature is checked here from its documented definition (HMAC-SHA256 of
    ``"<X-Hub-Timestamp>.<body>"`` with the shared secret, hex, ``sha256=`` prefix),
    not with the connector's own code. ``deliveries`` counts requests accepted,
    ``delivery_ids`` each ``X-Hub-Delivery``'s copies, ``bad_signatures`` requests refused.
    """

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret.encode()
        self.deliveries = 0
        self.bad_signatures = 0
        self.delivery_ids: Counter[str] = Counter()
        self.events: Counter[str] = Counter()

    @route("/")
    @route("/<path:path>")
    def _receive(self, request: Request, path: str = "") -> Response:
        """Any path, any method: a CRM's endpoint is wherever it was configured."""
        body = request.get_data()
        timestamp = request.headers.get("X-Hub-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        given = request.headers.get("X-Hub-Signature-256", "")
        with self.lock:
            if not timestamp or not hmac.compare_digest(expected, given):
                self.bad_signatures += 1
                response = Response(
                    '{"error": "bad signature"}', 401, content_type="application/json"
                )
            else:
                self.deliveries += 1
                self.delivery_ids[request.headers.get("X-Hub-Delivery", "")] += 1
                self.events[request.headers.get("X-Hub-Event", "")] += 1
                response = Response('{"ok": true}', 200, content_type="application/json")
        return response

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.delivery_ids.values() if n > 1)


@dataclass(order=True)
class _Parcel:
    due: float
    seq: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    attempts: int = field(default=0, compare=False)


class Courier:
    """Delivers webhooks as the providers do: in the background, again until answered 2xx.

    Shopify retries a failed delivery for hours, Stripe for days; here the waits are
    short (``0.1 s`` doubling to ``max_delay``) and a delivery is given up after
    ``max_attempts`` (``given_up`` counts them; the hub's pulls and polls are the
    safety net, as in production).
    """

    def __init__(self, *, threads: int = 4, max_attempts: int = 60, max_delay: float = 2.0):
        self.max_attempts, self.max_delay = max_attempts, max_delay
        self.lock = threading.Condition()
        self._heap: list[_Parcel] = []
        self._seq = itertools.count()
        self._busy = 0
        self._closed = False
        self.delivered = 0
        self.attempts = 0
        self.given_up = 0
        self.answers: Counter[int] = Counter()
        self._threads = [
            threading.Thread(target=self._work, name=f"courier-{i}", daemon=True)
            for i in range(threads)
        ]
        for t in self._threads:
            t.start()

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            heapq.heappush(
                self._heap, _Parcel(time.monotonic(), next(self._seq), url, body, dict(headers))
            )
            self.lock.notify()

    def to(self, url: str) -> Callable[[bytes, dict[str, str]], None]:
        """A target for a sandbox that hands over ``(body, headers)`` (Stripe's webhook targets)."""
        return lambda body, headers: self.send(url, body, headers)

    @property
    def idle(self) -> bool:
        with self.lock:
            return not self._heap and not self._busy

    def wait_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle:
                return True
            time.sleep(0.05)
        return self.idle

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.lock.notify_all()
        for t in self._threads:
            t.join(timeout=10)

    def _work(self) -> None:
        with requests.Session() as session:  # closed on the way out: no connection left open
            self._deliver(session)

    def _deliver(self, session: requests.Session) -> None:
        while True:
            with self.lock:
                while not self._closed and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self.lock.wait(timeout=wait)
                if self._closed:
                    return
                parcel = heapq.heappop(self._heap)
                self._busy += 1
            try:
                status = session.post(
                    parcel.url, data=parcel.body, headers=parcel.headers, timeout=10
                ).status_code
            except requests.RequestException:
                status = 0
            with self.lock:
                self._busy -= 1
                self.attempts += 1
                self.answers[status] += 1
                parcel.attempts += 1
                if 200 <= status < 300:
                    self.delivered += 1
                elif parcel.attempts >= self.max_attempts:
                    self.given_up += 1
                    log.warning(
                        "courier: gave up on %s after %s attempts", parcel.url, parcel.attempts
                    )
                else:
                    parcel.due = time.monotonic() + min(
                        self.max_delay, 0.1 * 2 ** (parcel.attempts - 1)
                    )
                    heapq.heappush(self._heap, parcel)
                    self.lock.notify()


def sandbox_classes() -> dict[str, type]:
    """The sandboxes the installed plugins bring (``hub_register_sandboxes``), by connector name."""
    found: dict[str, type] = {}
    for result in get_plugin_manager().hook.hub_register_sandboxes():
        found.update(result or {})
    return found


class Sandboxes:
    """Every outside service the flow talks to, served on loopback; a context manager.

    ``n_orders`` orders in all: ``initial`` of them are in the stores from the start
    (the pulls find them), the rest are placed while the flow runs
    (:meth:`place_orders`, each announced by its store's webhook). With
    ``woocommerce_share`` (0.25: one order in four) that share of them is the
    WooCommerce store's, the rest the Shopify shop's, placed in step.
    ``fault_rate`` makes that share of the requests to the HTTP sandboxes (and
    of the messages to the SMTP server) fail (:data:`FAULT_KINDS`); ``faults``
    holds each HTTP service's fault plan, whose ``counts`` say what was given.
    """

    def __init__(
        self,
        n_orders: int,
        *,
        seed: int = 7,
        initial: int | None = None,
        fault_rate: float = 0.0,
        fault_hold: float = 2.0,
        generous_limits: bool = True,
        woocommerce_share: float = 0.0,
    ):
        installed = sandbox_classes()
        ShopifySandbox, StripeSandbox, ShipStationSandbox = (  # noqa: N806
            installed[name] for name in ("shopify", "stripe", "shipstation")
        )
        self.n_orders = n_orders
        self.initial = n_orders - n_orders // 2 if initial is None else initial
        if not 0 <= woocommerce_share <= 1:
            raise ValueError("woocommerce_share is a share of the orders, from 0 to 1")
        #: Orders of each store in all, and placed so far (:meth:`place_orders` keeps them in step).
        self.woo_orders = round(n_orders * woocommerce_share)
        self.shop_orders = n_orders - self.woo_orders
        woo_initial = round(self.initial * woocommerce_share)
        # Shopify Plus-sized rate limits and a ShipStation key allowed far more than
        # 40 calls a minute: the demo measures the hub, not the services' throttles
        # (the connectors' own tests cover those).
        bucket = 2000 if generous_limits else 40
        self.shop = ShopifySandbox(
            orders=self.initial - woo_initial,
            seed=seed,
            clean=True,
            payment_attribute=PAYMENT_ATTRIBUTE,
            bucket_size=bucket,
            leak_rate=bucket / 20,
            retry_after=1.0,
        )
        #: The WooCommerce store (None unless it takes a share of the orders).
        self.woo = (
            installed["woocommerce"](
                orders=woo_initial, seed=seed, clean=True, payment_meta=WOO_PAYMENT_META
            )
            if self.woo_orders
            else None
        )
        self.stripe = StripeSandbox()
        self.shipstation = ShipStationSandbox(rate_limit=6000 if generous_limits else 40)
        self.smtp = SmtpSink(fault_rate=fault_rate, seed=seed + 1)
        self.webhook_secret = "crm-" + secrets.token_hex(16)
        self.receiver = WebhookReceiver(self.webhook_secret)
        self.courier = Courier()
        self.fault_rate = fault_rate
        self.services: dict[str, Sandbox] = {
            "shopify": self.shop,
            "stripe": self.stripe,
            "shipstation": self.shipstation,
            "receiver": self.receiver,
        }
        if self.woo is not None:
            self.services["woocommerce"] = self.woo
        self.faults: dict[str, FaultPlan] = {}
        if fault_rate:
            for n, (name, service) in enumerate(self.services.items()):
                service.faults.plan(
                    FAULT_KINDS,
                    rate=fault_rate,
                    times=None,
                    seconds=fault_hold,
                    retry_after=1,
                    source="proxy",
                    seed=seed * 31 + n,
                )
                self.faults[name] = service.faults
        self._stack = ExitStack()
        self.placed = self.initial
        self.shop_placed, self.woo_placed = self.initial - woo_initial, woo_initial
        self._place_lock = threading.Lock()
        self.shop_url = self.stripe_url = self.shipstation_url = self.receiver_url = ""
        self.woo_url = ""

    def __enter__(self) -> Sandboxes:
        try:
            self.shop_url = self._stack.enter_context(serve(self.shop))
            if self.woo is not None:
                self.woo_url = self._stack.enter_context(serve(self.woo))
            self.stripe_url = self._stack.enter_context(serve(self.stripe))
            self.shipstation_url = self._stack.enter_context(serve(self.shipstation))
            self.shipstation.base_url = self.shipstation_url
            self.receiver_url = self._stack.enter_context(serve(self.receiver)) + "/crm/events"
            self.smtp.start()
            self._stack.callback(self.smtp.stop)
            for service in self.services.values():
                self._stack.callback(service.close)  # wake requests held by timeouts
            self._stack.callback(self.courier.close)
            self._stack.callback(self.shipstation.stop_auto_ship)
            self.checkout(self.shop.order_ids)
            if self.woo is not None:
                self.checkout_woo(self.woo.order_ids)
            self.stripe.deliver_pending()  # no target yet: the checkouts' events go nowhere
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def close(self) -> None:
        self._stack.close()

    # --- what happens outside the hub -----------------------------------------------------------

    def checkout(self, order_ids: Iterable[int]) -> None:
        """Authorise at Stripe the PaymentIntent each of these shop orders names."""
        for order_id in order_ids:
            order = self.shop.order(order_id)
            amount = self.stripe.amount_of(order["total_price"], order["currency"])
            self.stripe.create_intent(
                amount, order["currency"], intent_id=self.shop.intent_id(order_id)
            )

    def checkout_woo(self, order_ids: Iterable[int]) -> None:
        """Authorise at Stripe the PaymentIntent each of these WooCommerce orders names."""
        assert self.woo is not None
        for order_id in order_ids:
            order = self.woo.order(order_id)
            amount = self.stripe.amount_of(order["total"], order["currency"])
            self.stripe.create_intent(
                amount, order["currency"], intent_id=self.woo.intent_id(order_id)
            )

    def demand(self) -> Counter:
        """Units of each SKU every order (placed or to come) asks for."""
        needed: Counter = Counter()
        bodies = [self.shop.order(i) for i in self.shop.order_ids]
        bodies += self.shop.upcoming(self.shop_orders - self.shop_placed)
        if self.woo is not None:
            bodies += [self.woo.order(i) for i in self.woo.order_ids]
            bodies += self.woo.upcoming(self.woo_orders - self.woo_placed)
        for order in bodies:
            for item in order["line_items"]:
                needed[item["sku"]] += item["quantity"]
        return needed

    def place_orders(
        self, count: int, webhook_url: str, woo_webhook_url: str | None = None
    ) -> list[int]:
        """Place ``count`` new orders (checkout authorises their payment), each announced by
        its store: ``orders/create`` to ``webhook_url`` (Shopify), ``order.created`` to
        ``woo_webhook_url`` (WooCommerce, which takes its share of them in step)."""
        with self._place_lock:
            count = min(count, self.n_orders - self.placed)
            if count <= 0:
                return []
            to_woo = 0
            for _ in range(count):
                # The store furthest behind its own share takes the next order.
                woo_done = (self.woo_placed + to_woo) / self.woo_orders if self.woo_orders else 1
                shop_done = self.shop_placed / self.shop_orders if self.shop_orders else 1
                if woo_done < shop_done and woo_webhook_url:
                    to_woo += 1
                else:
                    self.shop_placed += 1
            shop_count = count - to_woo
            ids = self.shop.add_orders(shop_count) if shop_count else []
            woo_ids = self.woo.add_orders(to_woo) if to_woo and self.woo is not None else []
            self.woo_placed += to_woo
            self.placed += count
        self.checkout(ids)
        for order_id in ids:
            headers, body = self.shop.webhook("orders/create", order_id)
            self.courier.send(webhook_url, body, headers)
        if woo_ids:
            assert self.woo is not None and woo_webhook_url
            self.checkout_woo(woo_ids)
            for order_id in woo_ids:
                headers, body = self.woo.webhook("order.created", order_id)
                self.courier.send(woo_webhook_url, body, headers)
        return ids + woo_ids

    def order_keys(self) -> list[tuple[str, str]]:
        """(store, order id) of every order placed in either store: what the hub should hold."""
        keys = [("shopify", str(i)) for i in self.shop.order_ids]
        if self.woo is not None:
            keys += [("woocommerce", str(i)) for i in self.woo.order_ids]
        return keys

    def intent_ids(self) -> list[str]:
        """The PaymentIntent of every order placed, whichever store took it."""
        ids = [self.shop.intent_id(i) for i in self.shop.order_ids]
        if self.woo is not None:
            ids += [self.woo.intent_id(i) for i in self.woo.order_ids]
        return ids

    def connect(
        self, hub_url: str, *, shipstation_slug: str, shipstation_token: str, stripe_slug: str
    ) -> None:
        """Point the services' webhooks at the hub and start the warehouse."""
        self.shipstation.subscribe(
            f"{hub_url}/webhooks/{shipstation_slug}?token={shipstation_token}"
        )
        self.stripe.webhook_targets = [self.courier.to(f"{hub_url}/webhooks/{stripe_slug}")]
        self.stripe.auto_deliver = True
        self.shipstation.start_auto_ship(every=0.3)

    def counts(self) -> dict[str, Any]:
        """What the outside world saw: the proof of what happened, counted where it happened."""
        captured: Counter[str] = Counter()
        with self.stripe.lock:
            for intent in self.stripe.intents.values():
                if intent["status"] == "succeeded":
                    captured[intent["currency"].upper()] += intent["amount_received"]
            captures = self.stripe.effects["captures"]
        with self.shipstation.lock:
            labels = [s for s in self.shipstation.shipments if not s["voided"]]
            labels_per_order = Counter(s["orderKey"] for s in labels)
        with self.shop.lock:
            fulfilments = sum(len(v) for v in self.shop.fulfillments.values())
        woo_notes = woo_completed = 0
        if self.woo is not None:
            with self.woo.lock:
                woo_notes = sum(len(v) for v in self.woo.notes.values())
                woo_completed = sum(
                    1 for o in self.woo.orders.values() if o["status"] == "completed"
                )
        return {
            "captures": captures,
            "captured": dict(captured),
            "labels": len(labels),
            "orders_labelled_twice": sum(1 for n in labels_per_order.values() if n > 1),
            "fulfilments": fulfilments,
            "woo_notes": woo_notes,
            "woo_completed": woo_completed,
            "emails": self.smtp.messages,
            "email_message_ids": len(self.smtp.message_ids),
            "email_duplicates": self.smtp.duplicates,
            "webhook_deliveries": self.receiver.deliveries,
            "webhook_delivery_ids": len(self.receiver.delivery_ids),
            "webhook_duplicates": self.receiver.duplicates,
            "webhook_bad_signatures": self.receiver.bad_signatures,
            "faults": {name: dict(f.counts) for name, f in self.faults.items()},
            "smtp_refused": self.smtp.refused,
        }
