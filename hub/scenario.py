"""The whole order-to-cash flow on sandboxes: what ``hub demo``, the flow benchmark and the
reliability tests run.

The outside world, on free loopback ports (threads of this process):

- a Shopify store (:class:`plugins.shopify.sandbox.ShopifySandbox`) whose orders carry
  the id of a Stripe PaymentIntent their checkout authorised (a note attribute: the
  demo's convention, see ``docs/connectors/shopify.md``);
- Stripe (:class:`plugins.stripe.sandbox.StripeSandbox`) holding those intents;
- ShipStation (:class:`plugins.shipstation.sandbox.ShipStationSandbox`) in auto-ship
  mode: it labels what it receives and sends ``SHIP_NOTIFY`` webhooks;
- an SMTP server (:class:`SmtpSink`, aiosmtpd) counting messages and Message-IDs;
- a webhook receiver (:class:`WebhookReceiver`) checking ``X-Hub-Signature-256``;
- a :class:`Courier` delivering the providers' webhooks to the hub as they do: in
  the background, again until answered 2xx.

The hub gets its channels through :mod:`hub.channels` (:func:`configure_hub`), two
stocked locations (:func:`stock_locations`) and then runs for real: its web app on
waitress (webhooks come in over HTTP), a :class:`hub.jobs.Worker` with threads and the
:class:`hub.scheduler.Scheduler` (:class:`HubServer`). Nothing is short-cut: orders come
from a pull ("sync now", then the schedule) and from signed ``orders/create`` webhooks;
validation, reservation and routing, capture, batching to ShipStation, shipments,
fulfilment to Shopify, emails, outbound webhooks and the ERP export are the hub's own
jobs. :class:`Scenario` puts it together and measures it.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import secrets
import socket
import struct
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select, text
from werkzeug.wrappers import Request, Response

from . import inventory, migrate
from .accounts import set_admin
from .channels import create_channel, ensure_manual_channel, link_channels, request_sync
from .config import Settings
from .core.exceptions import ConfigError
from .core.money import Money, to_stripe_amount
from .models import Base, Job, Order, Payment, Shipment
from .runtime import Hub
from .sandbox import serve

log = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "demo-password"
PAYMENT_ATTRIBUTE = "stripe_payment_intent"
FROM_ADDRESS = "orders@hub-demo.example"
LOCATIONS = (("EAST", "East warehouse", 10), ("WEST", "West warehouse", 5))
#: Order events the demo's outbound webhook channel sends.
WEBHOOK_EVENTS = ("order.confirmed", "order.shipped", "order.cancelled")
#: Statuses an order of the demo still moves on from.
OPEN_STATUSES = ("pending", "confirmed", "processing", "partially_shipped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the outside world ------------------------------------------------------------------------


class Faults:
    """WSGI middleware: answer a share of requests with a failure instead of the real answer.

    Kinds: ``"429"`` (with ``Retry-After: 1``), ``"500"``, ``"timeout"`` (the request
    is held ``hold`` seconds, longer than the hub's read timeout, then served: the
    effect happens, the answer is lost) and ``"reset"`` (the connection is dropped
    with a TCP reset before anything runs). ``counts`` says how many of each were given.
    """

    KINDS = ("429", "500", "timeout", "reset")

    def __init__(self, app: Callable, *, rate: float, seed: int = 0, hold: float = 2.0,
                 kinds: Iterable[str] = KINDS):
        self.app, self.rate, self.hold = app, rate, hold
        self.kinds = tuple(kinds)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.passed = 0

    def __call__(self, environ, start_response):
        with self.lock:
            kind = self.rng.choice(self.kinds) if self.rng.random() < self.rate else None
            if kind:
                self.counts[kind] += 1
            else:
                self.passed += 1
        if kind is None:
            return self.app(environ, start_response)
        if kind == "timeout":
            time.sleep(self.hold)
            return self.app(environ, start_response)
        # Read the request's body first: on a kept-alive connection, an unread body
        # would be taken for the next request.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        if kind == "reset":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                # Linger 0: the socket is dropped with a reset, never answered.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("injected connection reset")
        status = "429 Too Many Requests" if kind == "429" else "500 Internal Server Error"
        body = json.dumps({"errors": "injected fault", "message": "injected fault"}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if kind == "429":
            headers.append(("Retry-After", "1"))
        start_response(status, headers)
        return [body]


class SmtpSink:
    """An SMTP server on loopback (aiosmtpd) that keeps count of what it accepted.

    ``messages`` counts every message accepted, ``message_ids`` each Message-ID's
    copies: a message sent twice shows as a Message-ID counted twice. With
    ``fault_rate``, that share of messages is refused with a temporary 4xx reply.
    """

    def __init__(self, *, fault_rate: float = 0.0, seed: int = 0):
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.messages = 0
        self.refused = 0
        self.message_ids: Counter[str] = Counter()
        self.subjects: Counter[str] = Counter()
        self.port = 0
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        with self.lock:
            if self.rng.random() < self.fault_rate:
                self.refused += 1
                return self.rng.choice(["451 4.3.0 Temporary failure, try again later",
                                        "421 4.3.2 Service shutting down, try again later"])
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages += 1
            self.message_ids[str(message.get("Message-ID", "")).strip()] += 1
            self.subjects[str(message.get("Subject", ""))] += 1
        return "250 2.0.0 OK: queued"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)
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


class WebhookReceiver:
    """A WSGI endpoint standing for a CRM: verifies ``X-Hub-Signature-256`` and counts.

    The signature is checked here from its documented definition (HMAC-SHA256 of
    ``"<X-Hub-Timestamp>.<body>"`` with the shared secret, hex, ``sha256=`` prefix),
    not with the connector's own code. ``deliveries`` counts requests accepted,
    ``delivery_ids`` each ``X-Hub-Delivery``'s copies, ``bad_signatures`` requests refused.
    """

    def __init__(self, secret: str):
        self.secret = secret.encode()
        self.lock = threading.Lock()
        self.deliveries = 0
        self.bad_signatures = 0
        self.delivery_ids: Counter[str] = Counter()
        self.events: Counter[str] = Counter()

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        timestamp = request.headers.get("X-Hub-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Hub-Signature-256", "")
        with self.lock:
            if not timestamp or not hmac.compare_digest(expected, given):
                self.bad_signatures += 1
                response = Response('{"error": "bad signature"}', 401, content_type="application/json")
            else:
                self.deliveries += 1
                self.delivery_ids[request.headers.get("X-Hub-Delivery", "")] += 1
                self.events[request.headers.get("X-Hub-Event", "")] += 1
                response = Response('{"ok": true}', 200, content_type="application/json")
        return response(environ, start_response)

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
        self._threads = [threading.Thread(target=self._work, name=f"courier-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            heapq.heappush(self._heap, _Parcel(time.monotonic(), next(self._seq), url, body, dict(headers)))
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
                status = session.post(parcel.url, data=parcel.body, headers=parcel.headers, timeout=10).status_code
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
                    log.warning("courier: gave up on %s after %s attempts", parcel.url, parcel.attempts)
                else:
                    parcel.due = time.monotonic() + min(self.max_delay, 0.1 * 2 ** (parcel.attempts - 1))
                    heapq.heappush(self._heap, parcel)
                    self.lock.notify()


class Sandboxes:
    """Every outside service the flow talks to, served on loopback; a context manager.

    ``n_orders`` orders in all: ``initial`` of them are in the shop from the start
    (the pull finds them), the rest are placed while the flow runs
    (:meth:`place_orders`, each announced by an ``orders/create`` webhook).
    ``fault_rate`` makes that share of the requests to the HTTP sandboxes (and
    of the messages to the SMTP server) fail (:class:`Faults`).
    """

    def __init__(self, n_orders: int, *, seed: int = 7, initial: int | None = None,
                 fault_rate: float = 0.0, fault_hold: float = 2.0, generous_limits: bool = True):
        from plugins.shipstation.sandbox import ShipStationSandbox
        from plugins.shopify.sandbox import ShopifySandbox
        from plugins.stripe.sandbox import StripeSandbox

        self.n_orders = n_orders
        self.initial = n_orders - n_orders // 2 if initial is None else initial
        # Shopify Plus-sized rate limits and a ShipStation key allowed far more than
        # 40 calls a minute: the demo measures the hub, not the services' throttles
        # (the connectors' own tests cover those).
        bucket = 2000 if generous_limits else 40
        self.shop = ShopifySandbox(orders=self.initial, seed=seed, clean=True,
                                   payment_attribute=PAYMENT_ATTRIBUTE,
                                   bucket_size=bucket, leak_rate=bucket / 20, retry_after=1.0)
        self.stripe = StripeSandbox()
        self.shipstation = ShipStationSandbox(rate_limit=6000 if generous_limits else 40)
        self.smtp = SmtpSink(fault_rate=fault_rate, seed=seed + 1)
        self.webhook_secret = "crm-" + secrets.token_hex(16)
        self.receiver = WebhookReceiver(self.webhook_secret)
        self.courier = Courier()
        self.fault_rate = fault_rate
        self.faults: dict[str, Faults] = {}
        self._fault_hold = fault_hold
        self._seed = seed
        self._stack = ExitStack()
        self.placed = self.initial
        self._place_lock = threading.Lock()
        self.shop_url = self.stripe_url = self.shipstation_url = self.receiver_url = ""

    def _app(self, name: str, app: Callable) -> Callable:
        if not self.fault_rate:
            return app
        wrapped = self.faults[name] = Faults(app, rate=self.fault_rate, hold=self._fault_hold,
                                             seed=self._seed * 31 + len(self.faults))
        return wrapped

    def __enter__(self) -> Sandboxes:
        try:
            self.shop_url = self._stack.enter_context(serve(self._app("shopify", self.shop)))
            self.stripe_url = self._stack.enter_context(serve(self._app("stripe", self.stripe)))
            self.shipstation_url = self._stack.enter_context(serve(self._app("shipstation", self.shipstation)))
            self.shipstation.base_url = self.shipstation_url
            self.receiver_url = self._stack.enter_context(serve(self._app("receiver", self.receiver))) + "/crm/events"
            self.smtp.start()
            self._stack.callback(self.smtp.stop)
            self._stack.callback(self.stripe.close)
            self._stack.callback(self.courier.close)
            self._stack.callback(self.shipstation.stop_auto_ship)
            self.checkout(self.shop.order_ids)
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
            amount = to_stripe_amount(Money.parse(order["total_price"], order["currency"]))
            self.stripe.create_intent(amount, order["currency"], intent_id=self.shop.intent_id(order_id))

    def demand(self) -> Counter:
        """Units of each SKU every order (placed or to come) asks for."""
        needed: Counter = Counter()
        bodies = [self.shop.order(i) for i in self.shop.order_ids]
        bodies += self.shop.upcoming(self.n_orders - self.placed)
        for order in bodies:
            for item in order["line_items"]:
                needed[item["sku"]] += item["quantity"]
        return needed

    def place_orders(self, count: int, webhook_url: str) -> list[int]:
        """Place ``count`` new orders (checkout authorises their payment); each sends ``orders/create``."""
        with self._place_lock:
            count = min(count, self.n_orders - self.placed)
            if count <= 0:
                return []
            ids = self.shop.add_orders(count)
            self.placed += count
        self.checkout(ids)
        for order_id in ids:
            headers, body = self.shop.webhook("orders/create", order_id)
            self.courier.send(webhook_url, body, headers)
        return ids

    def connect(self, hub_url: str, *, shipstation_slug: str, shipstation_token: str,
                stripe_slug: str) -> None:
        """Point the services' webhooks at the hub and start the warehouse."""
        self.shipstation.subscribe(f"{hub_url}/webhooks/{shipstation_slug}?token={shipstation_token}")
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
        return {
            "captures": captures, "captured": dict(captured),
            "labels": len(labels), "orders_labelled_twice": sum(1 for n in labels_per_order.values() if n > 1),
            "fulfilments": fulfilments,
            "emails": self.smtp.messages, "email_message_ids": len(self.smtp.message_ids),
            "email_duplicates": self.smtp.duplicates,
            "webhook_deliveries": self.receiver.deliveries, "webhook_delivery_ids": len(self.receiver.delivery_ids),
            "webhook_duplicates": self.receiver.duplicates, "webhook_bad_signatures": self.receiver.bad_signatures,
            "faults": {name: dict(f.counts) for name, f in self.faults.items()},
            "smtp_refused": self.smtp.refused,
        }


# --- the hub's side -----------------------------------------------------------------------------


@dataclass
class DemoChannels:
    shopify: int
    stripe: int
    shipstation: int
    email: int
    webhook: int
    erp: int
    shipstation_token: str
    slugs: dict[str, str]


def configure_hub(hub: Hub, sandboxes: Sandboxes, hub_url: str, *, data_dir: Path,
                  pull_every: int = 15, poll_every: int = 10, erp_every: int = 60,
                  timeouts: int | None = None, connect: bool = True) -> DemoChannels:
    """Create the demo's channels (through :mod:`hub.channels`), its admin, and connect the sandboxes.

    ``timeouts`` (seconds) shortens the SMTP and outbound webhook timeouts (fault
    tests). ``connect=False`` leaves the services' webhooks unsubscribed and the
    warehouse idle (:meth:`Sandboxes.connect` does that later, or never).
    """
    token = secrets.token_urlsafe(24)
    export_dir, import_dir = data_dir / "erp" / "export", data_dir / "erp" / "import"
    export_dir.mkdir(parents=True, exist_ok=True)
    import_dir.mkdir(parents=True, exist_ok=True)
    stripe = sandboxes.stripe
    with hub.db.transaction() as session:
        ensure_manual_channel(hub, session)
        set_admin(session, ADMIN_EMAIL, ADMIN_PASSWORD)
        pay = create_channel(hub, session, name="Stripe", connector="stripe", slug="stripe", config={
            "secret_key": stripe.secret_key, "webhook_secret": stripe.webhook_secret,
            "capture": "manual", "capture_on": "confirm", "api_base_url": sandboxes.stripe_url})
        ship = create_channel(hub, session, name="ShipStation", connector="shipstation", slug="shipstation",
                              schedule_seconds=poll_every, config={
            "api_key": sandboxes.shipstation.api_key, "api_secret": sandboxes.shipstation.api_secret,
            "webhook_token": token, "api_base_url": sandboxes.shipstation_url})
        shop = create_channel(hub, session, name="Shopify store", connector="shopify", slug="shopify",
                              schedule_seconds=pull_every, config={
            **sandboxes.shop.channel_config(sandboxes.shop_url),
            "payment_reference_attribute": PAYMENT_ATTRIBUTE, "notify_customer": False})
        link_channels(hub, session, shop, payment_channel_id=pay.id, shipping_channel_id=ship.id,
                      set_payment=True, set_shipping=True)
        mail = create_channel(hub, session, name="Customer email", connector="email", slug="email", config={
            "smtp_host": "127.0.0.1", "smtp_port": sandboxes.smtp.port, "security": "none",
            "from_address": FROM_ADDRESS, "from_name": "Hub Demo Store",
            **({"timeout_seconds": timeouts} if timeouts else {})})
        crm = create_channel(hub, session, name="CRM webhook", connector="webhook", slug="crm", config={
            "url": sandboxes.receiver_url, "secret": sandboxes.webhook_secret, "events": list(WEBHOOK_EVENTS),
            **({"timeout_seconds": timeouts} if timeouts else {})})
        erp = create_channel(hub, session, name="ERP files", connector="erp_csv", slug="erp",
                             schedule_seconds=erp_every, config={
            "export_dir": str(export_dir), "import_dir": str(import_dir)})
        channels = DemoChannels(shopify=shop.id, stripe=pay.id, shipstation=ship.id, email=mail.id,
                                webhook=crm.id, erp=erp.id, shipstation_token=token,
                                slugs={"shopify": shop.slug, "stripe": pay.slug, "shipstation": ship.slug})
    if connect:
        sandboxes.connect(hub_url, shipstation_slug="shipstation", shipstation_token=token,
                          stripe_slug="stripe")
    return channels


def stock_locations(hub: Hub, demand: Counter, *, margin: int = 2) -> None:
    """Stock two locations for every order, spread so that some orders split.

    Every fifth SKU is kept only in the West warehouse; the rest in the East one
    (which routing prefers). An order with SKUs of both kinds ships from both.
    """
    changes = []
    for n, sku in enumerate(sorted(demand)):
        west_only = n % 5 == 4
        east = 0 if west_only else demand[sku] + margin
        west = demand[sku] + margin if west_only else 0
        changes += [inventory.LevelChange(sku=sku, location_code="EAST", on_hand=east),
                    inventory.LevelChange(sku=sku, location_code="WEST", on_hand=west)]
    with hub.db.transaction() as session:
        for code, name, priority in LOCATIONS:
            inventory.upsert_location(session, code, name=name, priority=priority)
        inventory.set_on_hand(session, changes, actor="demo", reason="opening stock")


def progress(hub: Hub, periodic_kinds: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Where the flow stands, read from the hub's database."""
    with hub.db.read() as session:
        by_status = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
        captured = session.scalar(select(func.count()).select_from(Payment)
                                  .where(Payment.status == "captured")) or 0
        shipments = session.scalar(select(func.count()).select_from(Shipment)
                                   .where(Shipment.status == "shipped")) or 0
        pushed = session.scalar(select(func.count()).select_from(Shipment)
                                .where(Shipment.channel_fulfillment_id.is_not(None))) or 0
        # Index range scans only (ix_jobs_claim): cheap however many jobs have run.
        open_jobs = session.scalar(select(func.count()).select_from(Job).where(
            Job.status.in_(("queued", "running", "failed")), Job.kind.not_in(sorted(periodic_kinds)))) or 0
        dead = session.scalar(select(func.count()).select_from(Job).where(Job.status == "dead")) or 0
    return {"orders": sum(by_status.values()), "by_status": by_status, "captured": captured,
            "shipments": shipments, "pushed": pushed, "open_jobs": open_jobs, "dead_jobs": dead}


def reset_database(hub: Hub) -> None:
    """Empty every table of a database the scenario was given (a benchmark's PostgreSQL)."""
    with hub.db.transaction() as session:
        if hub.db.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(table.delete())


class HubServer:
    """The hub running in this process: web app on waitress, worker threads, scheduler."""

    def __init__(self, hub: Hub, *, port: int = 0, workers: int = 4, web_threads: int = 8):
        from waitress import create_server

        from .jobs import Worker
        from .scheduler import Scheduler
        from .web import create_app

        self.hub = hub
        self.server = create_server(create_app({"HUB": hub}), host="127.0.0.1", port=port,
                                    threads=web_threads, ident="hub")
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.workers = workers
        self._worker_cls, self._scheduler_cls = Worker, Scheduler
        self.worker = None
        self.scheduler = None
        self._threads: list[threading.Thread] = []
        self._web_thread: threading.Thread | None = None

    def start_web(self) -> None:
        self._web_thread = threading.Thread(target=self.server.run, name="hub-web", daemon=True)
        self._web_thread.start()

    def start_work(self) -> None:
        """Start a worker (``workers`` threads) and a scheduler; again after :meth:`stop_work`."""
        if self.worker is not None:
            return
        self.worker = self._worker_cls(self.hub, concurrency=self.workers, poll_interval=0.2,
                                       worker_id=f"{socket.gethostname()}:demo:{id(self)}")
        self.scheduler = self._scheduler_cls(self.hub)
        thread = threading.Thread(target=self.worker.run_forever, name="hub-worker", daemon=True)
        thread.start()
        self._threads.append(thread)
        self.scheduler.start()

    def stop_work(self) -> None:
        """Stop the scheduler, then the worker (its running jobs finish first)."""
        if self.worker is None:
            return
        self.scheduler.shutdown()
        self.worker.stop()
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads.clear()
        self.worker = self.scheduler = None

    def stop_web(self) -> None:
        from waitress import wasyncore

        # What waitress itself does on Ctrl-C: stop the request threads, close every
        # connection (keep-alive ones included), so the serving loop ends.
        self.server.task_dispatcher.shutdown()
        wasyncore.close_all(self.server._map)
        if self._web_thread is not None:
            self._web_thread.join(timeout=5)


def periodic_kinds(hub: Hub) -> frozenset[str]:
    kinds = {kind for cls in hub.connectors.values() for kind in cls.scheduled_jobs}
    for result in hub.pm.hook.hub_register_periodic_jobs():
        kinds.update(job.kind for job in result or [])
    return frozenset(kinds)


# --- the whole run ---------------------------------------------------------------------------------


@dataclass
class Summary:
    orders: int
    by_status: dict[str, int]
    captured: dict[str, str]  # currency -> amount, as the hub recorded it
    outside: dict[str, Any]  # what the sandboxes counted
    jobs: int
    dead_jobs: int
    open_orders: int
    erp_files: int
    erp_orders: int
    split_orders: int
    elapsed: float
    timed_out: bool

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.elapsed if self.elapsed else 0.0

    @property
    def shipped(self) -> int:
        return self.by_status.get("shipped", 0)

    def as_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "by_status": self.by_status, "shipped": self.shipped,
                "captured": self.captured, "outside": self.outside, "jobs": self.jobs,
                "dead_jobs": self.dead_jobs, "open_orders": self.open_orders, "erp_files": self.erp_files,
                "erp_orders": self.erp_orders, "split_orders": self.split_orders,
                "elapsed_s": round(self.elapsed, 3), "orders_per_s": round(self.orders_per_second, 2),
                "timed_out": self.timed_out}


class Scenario:
    """``n_orders`` orders through the whole flow, the hub in this process; a context manager.

    :param data_dir: where the hub keeps its data (default: a fresh temporary dir).
    :param database_url: another database (PostgreSQL); its tables are emptied first.
    :param on_progress: called about four times a second with :func:`progress`'s answer
        plus ``placed`` (orders in the shop so far).
    :param timeout: seconds the flow may take before the run gives up (and says so).
    :param fault_rate: share of the sandboxes' answers replaced by failures (:class:`Faults`,
        held ``fault_hold`` seconds for a timeout); ``client_timeouts`` shortens the SMTP
        and outbound webhook timeouts to match (``HUB_HTTP_TIMEOUT`` does it for the rest).
    """

    def __init__(self, n_orders: int = 200, *, data_dir: Path | None = None, database_url: str | None = None,
                 seed: int = 7, workers: int = 4, port: int = 0, fault_rate: float = 0.0,
                 fault_hold: float = 2.0, client_timeouts: int | None = None,
                 on_progress: Callable[[dict[str, Any]], None] | None = None, timeout: float | None = None):
        if n_orders < 1:
            raise ValueError("the scenario needs at least one order")
        self.n_orders = n_orders
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="hub-demo-")).resolve()
        self.database_url = database_url
        self.seed, self.workers, self.port = seed, workers, port
        self.fault_rate, self.fault_hold, self.client_timeouts = fault_rate, fault_hold, client_timeouts
        self.on_progress = on_progress
        self.timeout = timeout if timeout is not None else 120 + n_orders * 0.5
        self._stack = ExitStack()
        self.hub: Hub | None = None
        self.server: HubServer | None = None
        self.sandboxes: Sandboxes | None = None
        self.channels: DemoChannels | None = None

    def __enter__(self) -> Scenario:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _start(self) -> None:
        if not self.database_url and (self.data_dir / "hub.db").exists():
            raise ConfigError(f"{self.data_dir} holds a hub already (hub.db): the demo needs a new or "
                              f"empty data dir")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings.from_env({}, data_dir=self.data_dir, database_url=self.database_url or None)
        self.hub = hub = Hub(settings)
        self._stack.callback(hub.close)
        migrate.upgrade(hub.db)
        if self.database_url:
            reset_database(hub)
        self.sandboxes = self._stack.enter_context(
            Sandboxes(self.n_orders, seed=self.seed, fault_rate=self.fault_rate, fault_hold=self.fault_hold))
        self.server = HubServer(hub, port=self.port, workers=self.workers)
        self.server.start_web()
        self._stack.callback(self.server.stop_web)
        self.channels = configure_hub(hub, self.sandboxes, self.server.url, data_dir=self.data_dir,
                                      timeouts=self.client_timeouts)
        stock_locations(hub, self.sandboxes.demand())

    def run(self) -> Summary:
        """Run the flow to its end; return what happened, counted in the hub and at the sandboxes."""
        hub, sandboxes, server = self.hub, self.sandboxes, self.server
        assert hub is not None and sandboxes is not None and server is not None, "use the scenario in a with block"
        kinds = periodic_kinds(hub)
        started = time.perf_counter()
        server.start_work()
        self._stack.callback(server.stop_work)
        with hub.db.transaction() as session:  # "sync now": the pull brings the shop's orders
            request_sync(hub, session, _channel(session, self.channels.shopify))
        feeder = OrderFeeder(sandboxes, f"{server.url}/webhooks/{self.channels.slugs['shopify']}")
        feeder.start()
        deadline = time.monotonic() + self.timeout
        timed_out = False
        quiet_since = None
        while True:
            state = progress(hub, kinds)
            state["placed"] = sandboxes.placed
            self._report(state)
            settled = (state["orders"] >= self.n_orders and state["open_jobs"] == 0
                       and sum(state["by_status"].get(s, 0) for s in OPEN_STATUSES) == 0
                       and sandboxes.courier.idle and not sandboxes.shipstation.outbox)
            # Quiet twice in a row, a moment apart: a webhook in flight has landed.
            if settled:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.5:
                    break
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                timed_out = True
                log.warning("scenario: gave up waiting after %.0f s", self.timeout)
                break
            time.sleep(0.25)
        feeder.stop()
        if not timed_out:
            self._export_to_erp(kinds, deadline)
        elapsed = time.perf_counter() - started
        server.stop_work()
        self._report(progress(hub, kinds) | {"placed": sandboxes.placed})
        return self._summary(elapsed, timed_out)

    def _report(self, state: dict[str, Any]) -> None:
        if self.on_progress is not None:
            self.on_progress(state)

    def _export_to_erp(self, kinds: frozenset[str], deadline: float) -> None:
        """The ERP's scheduled export, now ("sync now"), and wait for it."""
        hub = self.hub
        with hub.db.transaction() as session:
            ids = request_sync(hub, session, _channel(session, self.channels.erp))
        while time.monotonic() < deadline:
            with hub.db.read() as session:
                left = session.scalar(select(func.count()).select_from(Job).where(
                    Job.id.in_(ids), Job.status.in_(("queued", "running", "failed")))) or 0
            if not left:
                return
            time.sleep(0.1)

    def _summary(self, elapsed: float, timed_out: bool) -> Summary:
        from .models import ErpExport, ErpExportedOrder, FulfillmentGroup

        hub = self.hub
        with hub.db.read() as session:
            by_status = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
            captured = dict(session.execute(
                select(Payment.currency, func.sum(Payment.captured_amount)).group_by(Payment.currency)).all())
            jobs = session.scalar(select(func.count()).select_from(Job)) or 0
            dead = session.scalar(select(func.count()).select_from(Job).where(Job.status == "dead")) or 0
            erp_files = session.scalar(select(func.count()).select_from(ErpExport)) or 0
            erp_orders = session.scalar(select(func.count(func.distinct(ErpExportedOrder.order_id)))) or 0
            split = session.scalar(select(func.count()).select_from(
                select(FulfillmentGroup.order_id).group_by(FulfillmentGroup.order_id)
                .having(func.count() > 1).subquery())) or 0
        orders = sum(by_status.values())
        return Summary(
            orders=orders, by_status=by_status,
            captured={cur: str(Money(int(amount or 0), cur)) for cur, amount in sorted(captured.items())},
            outside=self.sandboxes.counts(), jobs=jobs, dead_jobs=dead,
            open_orders=sum(by_status.get(s, 0) for s in OPEN_STATUSES),
            erp_files=erp_files, erp_orders=erp_orders, split_orders=split,
            elapsed=elapsed, timed_out=timed_out)


def _channel(session, channel_id: int):
    from .models import Channel

    return session.get(Channel, channel_id)


class OrderFeeder:
    """Places the shop's remaining orders while the flow runs, a handful at a time."""

    def __init__(self, sandboxes: Sandboxes, webhook_url: str, *, batch: int = 10, every: float = 0.1):
        self.sandboxes, self.webhook_url = sandboxes, webhook_url
        self.batch, self.every = batch, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-feeder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set() and self.sandboxes.placed < self.sandboxes.n_orders:
            try:
                self.sandboxes.place_orders(self.batch, self.webhook_url)
            except Exception:
                log.exception("demo feeder: could not place orders")
            self._stop.wait(self.every)
