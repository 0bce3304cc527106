"""The whole order-to-cash flow on sandboxes: what ``hub demo``, the flow benchmark and the
reliability tests run.

The outside world (:mod:`hub.demo.sandboxes`) runs on free loopback ports: two sales
channels (a Shopify store, and a WooCommerce store taking one order in four), Stripe,
ShipStation in auto-ship mode, an SMTP server and a CRM's webhook endpoint, each
counting what it did. The hub gets its channels through :mod:`hub.channels.manage`
(:func:`configure_hub`), two stocked locations (:func:`stock_locations`) and then runs
for real: its web app on waitress (webhooks come in over HTTP), a
:class:`hub.queue.jobs.Worker` with threads and the :class:`hub.queue.scheduler.Scheduler`
(:class:`HubServer`). Nothing is short-cut: orders come from each store's pull ("sync now", then
the schedule) and from its signed webhooks (Shopify's ``orders/create``, WooCommerce's
``order.created``); validation, reservation and routing, capture, batching to
ShipStation, shipments, fulfilment back to the store the order came from, emails,
outbound webhooks and the ERP export are the hub's own jobs, one flow for both stores. :class:`Scenario` puts it
together and measures it.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hub.accounts.users import set_admin
from hub.channels.manage import create_channel, ensure_manual_channel, link_channels, request_sync
from hub.core.exceptions import ConfigError, NotFound
from hub.core.money import Money
from hub.core.status import PaymentStatus
from hub.demo import aftercare, carrier, replenishment, returns
from hub.demo.sandboxes import PAYMENT_ATTRIBUTE, WOO_PAYMENT_META, Sandboxes
from hub.inventory import levels as inventory
from hub.invoicing.policy import set_policy as set_invoice_policy
from hub.routing import places
from hub.runtime.hub import Hub
from hub.store import migrate
from hub.store.config import Settings
from hub.store.models import Base, Channel, Job, JobStatus, Order, Payment, Shipment

if TYPE_CHECKING:
    from hub.queue.jobs import Worker
    from hub.queue.scheduler import Scheduler

log = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "demo-password"
FROM_ADDRESS = "orders@hub-demo.example"
#: (code, name, priority, where it is): one warehouse on each side of the Atlantic, placed
#: by their addresses (hub.routing.places), so routing by distance has two continents.
LOCATIONS = (
    (
        "EAST",
        "East warehouse",
        10,
        {"address1": "Am Borsigturm 1", "zip": "13507", "city": "Berlin", "country_code": "DE"},
    ),
    (
        "WEST",
        "West warehouse",
        5,
        {
            "address1": "1000 W Fulton Market",
            "zip": "60607",
            "city": "Chicago",
            "province_code": "IL",
            "country_code": "US",
        },
    ),
)
#: Order events the demo's outbound webhook channel sends.
WEBHOOK_EVENTS = ("order.confirmed", "order.shipped", "order.cancelled")
#: Statuses an order of the demo still moves on from.
OPEN_STATUSES = ("pending", "confirmed", "processing", "partially_shipped")


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
    #: The WooCommerce store's channel, when the sandboxes have one.
    woocommerce: int | None = None


#: The seller the demo's invoices name (HUB_SELLER_* in a real hub).
DEMO_SELLER = {
    "seller_legal_name": "Demo Outfitters GmbH",
    "seller_address": "Hafenstraße 12|20457 Hamburg|Germany",
    "seller_tax_id": "DE123456789",
    "seller_email": "billing@demo-outfitters.example",
}


def configure_hub(
    hub: Hub,
    sandboxes: Sandboxes,
    hub_url: str,
    *,
    data_dir: Path,
    pull_every: int = 15,
    poll_every: int = 10,
    erp_every: int = 60,
    timeouts: int | None = None,
    connect: bool = True,
) -> DemoChannels:
    """Create the demo's channels (through :mod:`hub.channels.manage`), its admin, and connect the sandboxes.

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
        pay = create_channel(
            hub,
            session,
            name="Stripe",
            connector="stripe",
            slug="stripe",
            config={
                "secret_key": stripe.secret_key,
                "webhook_secret": stripe.webhook_secret,
                "capture": "manual",
                "capture_on": "confirm",
                "api_base_url": sandboxes.stripe_url,
            },
        )
        ship = create_channel(
            hub,
            session,
            name="ShipStation",
            connector="shipstation",
            slug="shipstation",
            schedule_seconds=poll_every,
            config={
                "api_key": sandboxes.shipstation.api_key,
                "api_secret": sandboxes.shipstation.api_secret,
                "webhook_token": token,
                "api_base_url": sandboxes.shipstation_url,
            },
        )
        shop = create_channel(
            hub,
            session,
            name="Shopify store",
            connector="shopify",
            slug="shopify",
            schedule_seconds=pull_every,
            config={
                **sandboxes.shop.channel_config(sandboxes.shop_url),
                "payment_reference_attribute": PAYMENT_ATTRIBUTE,
                "notify_customer": False,
            },
        )
        link_channels(
            hub,
            session,
            shop,
            payment_channel_id=pay.id,
            shipping_channel_id=ship.id,
            set_payment=True,
            set_shipping=True,
        )
        woo = None
        if sandboxes.woo is not None:
            # The second sales channel: same payment and shipping channels, one flow.
            woo = create_channel(
                hub,
                session,
                name="WooCommerce store",
                connector="woocommerce",
                slug="woocommerce",
                schedule_seconds=pull_every,
                config={
                    **sandboxes.woo.channel_config(sandboxes.woo_url),
                    "payment_reference_meta": WOO_PAYMENT_META,
                },
            )
            link_channels(
                hub,
                session,
                woo,
                payment_channel_id=pay.id,
                shipping_channel_id=ship.id,
                set_payment=True,
                set_shipping=True,
            )
        mail = create_channel(
            hub,
            session,
            name="Customer email",
            connector="email",
            slug="email",
            config={
                "smtp_host": "127.0.0.1",
                "smtp_port": sandboxes.smtp.port,
                "security": "none",
                "from_address": FROM_ADDRESS,
                "from_name": "Hub Demo Store",
                **({"timeout_seconds": timeouts} if timeouts else {}),
            },
        )
        crm = create_channel(
            hub,
            session,
            name="CRM webhook",
            connector="webhook",
            slug="crm",
            config={
                "url": sandboxes.receiver_url,
                "secret": sandboxes.webhook_secret,
                "events": list(WEBHOOK_EVENTS),
                **({"timeout_seconds": timeouts} if timeouts else {}),
            },
        )
        erp = create_channel(
            hub,
            session,
            name="ERP files",
            connector="erp_csv",
            slug="erp",
            schedule_seconds=erp_every,
            config={"export_dir": str(export_dir), "import_dir": str(import_dir)},
        )
        # The shop's orders are cash sales: each invoiced, paid, once its payment is captured.
        set_invoice_policy(session, shop.id, issue_on="capture")
        channels = DemoChannels(
            shopify=shop.id,
            stripe=pay.id,
            shipstation=ship.id,
            email=mail.id,
            webhook=crm.id,
            erp=erp.id,
            shipstation_token=token,
            slugs={"shopify": shop.slug, "stripe": pay.slug, "shipstation": ship.slug},
            woocommerce=woo.id if woo is not None else None,
        )
        if woo is not None:
            channels.slugs["woocommerce"] = woo.slug
    if connect:
        sandboxes.connect(
            hub_url, shipstation_slug="shipstation", shipstation_token=token, stripe_slug="stripe"
        )
    return channels


def stock_locations(hub: Hub, demand: Counter, *, margin: int = 2) -> None:
    """Stock two locations for every order, spread so that some orders split.

    Every fifth SKU is kept only in the West warehouse (Chicago); the rest in the
    East one (Berlin, which routing by priority prefers). An order with SKUs of
    both kinds ships from both.
    """
    changes = []
    for n, sku in enumerate(sorted(demand)):
        west_only = n % 5 == 4
        east = 0 if west_only else demand[sku] + margin
        west = demand[sku] + margin if west_only else 0
        changes += [
            inventory.LevelChange(sku=sku, location_code="EAST", on_hand=east),
            inventory.LevelChange(sku=sku, location_code="WEST", on_hand=west),
        ]
    with hub.db.transaction() as session:
        for code, name, priority, place in LOCATIONS:
            inventory.upsert_location(session, code, name=name, priority=priority)
            places.set_location_place(session, code, place)
        inventory.set_on_hand(session, changes, actor="demo", reason="opening stock")


def progress(
    hub: Hub, periodic_kinds: frozenset[str] = frozenset(), *, earlier: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Where the flow stands, read from the hub's database.

    With ``earlier`` (an answer of a moment ago), only what tells whether the
    flow has settled is read again (orders by status, open and dead jobs), and
    the rest (payments captured, shipments, fulfilments pushed) is taken from
    it: those counts scan their tables, and a run polling four times a second
    would otherwise spend a share of its time growing with its size on them.
    """
    with hub.db.read() as session:
        by_status = dict(
            session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        # Index range scans only (ix_jobs_claim): cheap however many jobs have run.
        open_jobs = (
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(
                    Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)),
                    Job.kind.not_in(sorted(periodic_kinds)),
                )
            )
            or 0
        )
        dead = (
            session.scalar(
                select(func.count()).select_from(Job).where(Job.status == JobStatus.DEAD)
            )
            or 0
        )
        if earlier is None:
            captured = (
                session.scalar(
                    select(func.count())
                    .select_from(Payment)
                    .where(Payment.status == PaymentStatus.CAPTURED)
                )
                or 0
            )
            shipments = (
                session.scalar(
                    select(func.count()).select_from(Shipment).where(Shipment.status == "shipped")
                )
                or 0
            )
            pushed = (
                session.scalar(
                    select(func.count())
                    .select_from(Shipment)
                    .where(Shipment.channel_fulfillment_id.is_not(None))
                )
                or 0
            )
        else:
            captured, shipments, pushed = (
                earlier["captured"],
                earlier["shipments"],
                earlier["pushed"],
            )
    return {
        "orders": sum(by_status.values()),
        "by_status": by_status,
        "captured": captured,
        "shipments": shipments,
        "pushed": pushed,
        "open_jobs": open_jobs,
        "dead_jobs": dead,
    }


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

    def __init__(
        self,
        hub: Hub,
        *,
        port: int = 0,
        workers: int = 4,
        web_threads: int = 16,
        worker_processes: int = 0,
        worker_env: dict[str, str] | None = None,
    ):
        """``worker_processes`` > 0: the jobs run in that many ``hub worker`` processes
        (``workers`` threads each, environment ``worker_env``) instead of threads here."""
        from hub.queue.jobs import Worker
        from hub.queue.scheduler import Scheduler
        from hub.web import create_app
        from hub.web.serving import make_server

        self.hub = hub
        self.server = make_server(
            create_app({"HUB": hub}), host="127.0.0.1", port=port, threads=web_threads
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.workers = workers
        self.worker_processes = worker_processes
        self.worker_env = worker_env
        self._worker_cls, self._scheduler_cls = Worker, Scheduler
        self.worker: Worker | None = None
        self.scheduler: Scheduler | None = None
        #: The ``hub worker`` processes while the work runs (``worker_processes`` > 0).
        self.processes: list[subprocess.Popen] = []
        self._threads: list[threading.Thread] = []
        self._web_thread: threading.Thread | None = None

    def start_web(self) -> None:
        self._web_thread = threading.Thread(target=self.server.run, name="hub-web", daemon=True)
        self._web_thread.start()

    def start_work(self) -> None:
        """Start a worker (``workers`` threads) and a scheduler; again after :meth:`stop_work`.

        With ``worker_processes``, the worker is that many ``hub worker`` processes, each
        waited for until it says it has started (its imports are not the flow's time).
        """
        if self.worker is not None or self.processes:
            return
        if self.worker_processes:
            try:
                self._start_processes()
            except BaseException:
                self._stop_processes()
                raise
            self.scheduler = self._scheduler_cls(self.hub)
            self.scheduler.start()
            return
        self.worker = self._worker_cls(
            self.hub,
            concurrency=self.workers,
            poll_interval=0.2,
            worker_id=f"{socket.gethostname()}:demo:{id(self)}",
        )
        self.scheduler = self._scheduler_cls(self.hub)
        thread = threading.Thread(target=self.worker.run_forever, name="hub-worker", daemon=True)
        thread.start()
        self._threads.append(thread)
        self.scheduler.start()

    def _start_processes(self) -> None:
        for _ in range(self.worker_processes):
            # stderr to a file: a pipe nobody reads would fill up with the worker's log and stall it.
            log_file = tempfile.TemporaryFile()
            proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "worker", "--concurrency", str(self.workers)],
                env=self.worker_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
            proc.log = log_file  # type: ignore[attr-defined]
            self.processes.append(proc)
        deadline = time.monotonic() + WORKER_START_SECONDS
        waiting = list(self.processes)
        while waiting:
            for proc in list(waiting):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"hub worker exited {proc.returncode} on start:\n{_tail(proc)}"
                    )
                if "started" in _tail(proc):
                    waiting.remove(proc)
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(
                    f"hub worker did not start within {WORKER_START_SECONDS:.0f} s:\n"
                    f"{_tail(waiting[0])}"
                )
            time.sleep(0.05)

    def check_work(self) -> None:
        """Raise if a worker process has died: the flow would otherwise wait for its timeout."""
        for proc in self.processes:
            if proc.poll() is not None:
                raise RuntimeError(f"hub worker exited {proc.returncode}:\n{_tail(proc)}")

    def _stop_processes(self) -> None:
        """SIGTERM every worker process (running jobs finish first), then wait; kill a stuck one."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning(
                    "hub worker %s did not stop within %.0f s: killed",
                    proc.pid,
                    WORKER_STOP_SECONDS,
                )
                proc.kill()
                proc.wait()
            proc.log.close()  # type: ignore[attr-defined]
        self.processes = []

    def stop_work(self) -> None:
        """Stop the scheduler, then the worker (its running jobs finish first)."""
        if self.processes:
            if self.scheduler is not None:
                self.scheduler.shutdown()
                self.scheduler = None
            self._stop_processes()
            return
        if self.worker is None:
            return
        if self.scheduler is not None:  # started together with the worker
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


#: Seconds a ``hub worker`` process may take to start, and to stop once told to.
WORKER_START_SECONDS = 60.0
WORKER_STOP_SECONDS = 60.0
#: Variables the hub reads from the process environment itself, not through its Settings:
#: a worker process gets them as the scenario's process has them.
PROCESS_WIDE = ("HUB_PLUGINS", "HUB_HTTP_TIMEOUT", "HUB_TRACE_PLUGINS")


def _tail(proc: subprocess.Popen, size: int = 2000) -> str:
    """The end of a worker process's stderr."""
    log_file = proc.log  # type: ignore[attr-defined]
    log_file.seek(0)
    return log_file.read().decode(errors="replace")[-size:]


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a ``hub worker`` that runs the scenario's hub: its data dir (and
    so its secret key file), database, seller and private targets.

    The scenario's hub reads no ``HUB_*`` variable for its settings (``Settings.from_env({})``),
    so none is passed on but those the hub reads from the process (:data:`PROCESS_WIDE`).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_") or k in PROCESS_WIDE}
    env.update(
        HUB_DATA_DIR=str(settings.data_dir),
        HUB_DATABASE_URL=settings.database_url,
        HUB_ALLOW_PRIVATE_TARGETS="1" if settings.allow_private_targets else "0",
        HUB_PDF_PROCESSES=str(settings.pdf_processes),
    )
    if settings.secret_key:
        env["HUB_SECRET_KEY"] = settings.secret_key
    for name in DEMO_SELLER:
        env[f"HUB_{name.upper()}"] = str(getattr(settings, name))
    return env


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
    by_channel: dict[str, int]  # the sales channel's name -> its orders
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
    #: Fulfilment groups (one shipment each) per location code.
    shipments_by_location: dict[str, int] = field(default_factory=dict)
    #: The orders' shipping addresses by how sure their place is ("not placed": none).
    placed: dict[str, int] = field(default_factory=dict)
    #: Forecasts, suggestions and the purchase order cycle (hub.demo.replenishment).
    replenishment: dict[str, Any] | None = None
    #: Satisfaction checks, review requests, cases and replacements (hub.demo.aftercare).
    aftercare: dict[str, Any] | None = None
    #: Shipments delivered by the carrier's word through AfterShip (hub.demo.carrier).
    carrier: dict[str, Any] | None = None
    #: Returns asked for on the tracking page, approved by rule, received, refunded (hub.demo.returns).
    returns: dict[str, Any] | None = None
    #: Emails the SMTP server received in the whole run, after-delivery arc included.
    emails_in_all: dict[str, int] | None = None

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.elapsed if self.elapsed else 0.0

    @property
    def shipped(self) -> int:
        return self.by_status.get("shipped", 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "by_status": self.by_status,
            "by_channel": self.by_channel,
            "shipped": self.shipped,
            "captured": self.captured,
            "outside": self.outside,
            "jobs": self.jobs,
            "dead_jobs": self.dead_jobs,
            "open_orders": self.open_orders,
            "erp_files": self.erp_files,
            "erp_orders": self.erp_orders,
            "split_orders": self.split_orders,
            "shipments_by_location": self.shipments_by_location,
            "placed": self.placed,
            "elapsed_s": round(self.elapsed, 3),
            "orders_per_s": round(self.orders_per_second, 2),
            "timed_out": self.timed_out,
            "replenishment": self.replenishment,
            "aftercare": self.aftercare,
            "carrier": self.carrier,
            "returns": self.returns,
            "emails_in_all": self.emails_in_all,
        }


class Scenario:
    """``n_orders`` orders through the whole flow, the hub in this process; a context manager.

    :param data_dir: where the hub keeps its data (default: a fresh temporary dir).
    :param database_url: another database (PostgreSQL); its tables are emptied first.
    :param on_progress: called about four times a second with :func:`progress`'s answer
        plus ``placed`` (orders in the shop so far).
    :param timeout: seconds the flow may take before the run gives up (and says so).
    :param woocommerce_share: the share of the orders the WooCommerce store takes (one in
        four by default; 0: the Shopify store alone).
    :param fault_rate: share of the sandboxes' answers replaced by failures (their fault plans,
        held ``fault_hold`` seconds for a timeout); ``client_timeouts`` shortens the SMTP
        and outbound webhook timeouts to match (``HUB_HTTP_TIMEOUT`` does it for the rest).
    :param worker_processes: run the jobs in that many ``hub worker`` processes (``workers``
        threads each) on the same database instead of in worker threads here (0, the
        default); the web app, the sandboxes and the scheduler stay in this process. Meant
        for PostgreSQL: how the flow scales with worker processes.
    :param on_clock: called with ``"start"`` as the flow's clock starts (the worker processes
        are up) and ``"stop"`` as it stops (before they are stopped): a benchmark measures
        the CPU spent between the two.
    """

    def __init__(
        self,
        n_orders: int = 200,
        *,
        data_dir: Path | None = None,
        database_url: str | None = None,
        seed: int = 7,
        workers: int = 4,
        port: int = 0,
        fault_rate: float = 0.0,
        fault_hold: float = 2.0,
        client_timeouts: int | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
        woocommerce_share: float = 0.25,
        replenishment: bool = False,
        aftercare: bool = False,
        worker_processes: int = 0,
        on_clock: Callable[[str], None] | None = None,
    ):
        if n_orders < 1:
            raise ValueError("the scenario needs at least one order")
        if worker_processes < 0:
            raise ValueError("worker_processes cannot be negative")
        self.worker_processes = worker_processes
        self.on_clock = on_clock
        self.n_orders = n_orders
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="hub-demo-")).resolve()
        self.database_url = database_url
        self.seed, self.workers, self.port = seed, workers, port
        self.fault_rate, self.fault_hold, self.client_timeouts = (
            fault_rate,
            fault_hold,
            client_timeouts,
        )
        self.on_progress = on_progress
        self.woocommerce_share = woocommerce_share
        #: After the flow, show forecasts and one purchase order cycle (``hub demo`` does;
        #: the benchmarks and the reliability suites count the flow's orders alone).
        self.replenishment = replenishment
        #: After the flow, deliver, ask whether all arrived well, answer, resolve (``hub demo``).
        self.aftercare = aftercare
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
            raise ConfigError(
                f"{self.data_dir} holds a hub already (hub.db): the demo needs a new or "
                f"empty data dir"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The sandboxes listen on 127.0.0.1: the demo's connectors may call them.
        settings = Settings.from_env(
            {},
            data_dir=self.data_dir,
            database_url=self.database_url or None,
            allow_private_targets=True,
            **DEMO_SELLER,
        )
        self.hub = hub = Hub(settings)
        self._stack.callback(hub.close)
        migrate.upgrade(hub.db)
        if self.database_url:
            reset_database(hub)
        self.sandboxes = self._stack.enter_context(
            Sandboxes(
                self.n_orders,
                seed=self.seed,
                fault_rate=self.fault_rate,
                fault_hold=self.fault_hold,
                woocommerce_share=self.woocommerce_share,
            )
        )
        self.server = HubServer(
            hub,
            port=self.port,
            workers=self.workers,
            worker_processes=self.worker_processes,
            worker_env=worker_env(settings) if self.worker_processes else None,
        )
        self.server.start_web()
        self._stack.callback(self.server.stop_web)
        self.channels = configure_hub(
            hub,
            self.sandboxes,
            self.server.url,
            data_dir=self.data_dir,
            timeouts=self.client_timeouts,
        )
        stock_locations(hub, self.sandboxes.demand())

    def run(self) -> Summary:
        """Run the flow to its end; return what happened, counted in the hub and at the sandboxes."""
        hub, sandboxes, server, channels = self.hub, self.sandboxes, self.server, self.channels
        assert (
            hub is not None
            and sandboxes is not None
            and server is not None
            and channels is not None
        ), "use the scenario in a with block"
        kinds = periodic_kinds(hub)
        self._stack.callback(server.stop_work)  # also on error
        if server.worker_processes:
            server.start_work()  # the processes' start (imports, connections) is not timed
        started = time.perf_counter()
        server.start_work()  # threads here (nothing more when the processes run)
        self._clock("start")
        with hub.db.transaction() as session:  # "sync now": the pulls bring the stores' orders
            request_sync(hub, session, _channel(session, channels.shopify))
            if channels.woocommerce is not None:
                request_sync(hub, session, _channel(session, channels.woocommerce))
        woo_slug = channels.slugs.get("woocommerce")
        feeder = OrderFeeder(
            sandboxes,
            f"{server.url}/webhooks/{channels.slugs['shopify']}",
            woo_webhook_url=f"{server.url}/webhooks/{woo_slug}" if woo_slug else None,
        )
        feeder.start()
        self._stack.callback(feeder.stop)  # on error too (stopping twice is harmless)
        deadline = time.monotonic() + self.timeout
        timed_out = False
        quiet_since = None
        state, counted = None, 0.0
        while True:
            # The counts that only show progress, once a second; what tells the end, each time.
            fresh = state is None or time.monotonic() - counted >= 1.0
            state = progress(hub, kinds, earlier=None if fresh else state)
            counted = time.monotonic() if fresh else counted
            state["placed"] = sandboxes.placed
            self._report(state)
            settled = (
                state["orders"] >= self.n_orders
                and state["open_jobs"] == 0
                and sum(state["by_status"].get(s, 0) for s in OPEN_STATUSES) == 0
                and sandboxes.courier.idle
                and not sandboxes.shipstation.outbox
            )
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
            server.check_work()
            time.sleep(0.25)
        feeder.stop()
        if not timed_out:
            self._export_to_erp(hub, channels, kinds, deadline)
        elapsed = time.perf_counter() - started
        self._clock("stop")
        server.stop_work()
        self._report(progress(hub, kinds) | {"placed": sandboxes.placed})
        summary = self._summary(hub, sandboxes, elapsed, timed_out)
        if self.replenishment and not timed_out:
            # Counted after the flow, so its figures are the flow's alone.
            summary.replenishment = replenishment.run_cycle(hub, sandboxes.demand()).as_dict()
            summary.replenishment["delay_emails"] = sum(
                n
                for subject, n in sandboxes.smtp.subjects.items()
                if subject.endswith(replenishment.DELAY_SUBJECT_ENDS)
            )
        if self.aftercare and not timed_out:
            stores = [channels.shopify]
            if channels.woocommerce is not None:
                stores.append(channels.woocommerce)
            # The carriers deliver first (AfterShip's webhooks); the arc then asks the customers.
            summary.carrier = carrier.deliver_by_carrier(hub, server.url, self._stack).as_dict()
            summary.aftercare = aftercare.run_cycle(
                hub, server.url, stores, sandboxes.smtp
            ).as_dict()
            # Some happy customers then send something back from the tracking page.
            summary.returns = returns.run_cycle(
                hub, server.url, stores, sandboxes.smtp, sandboxes.stripe
            ).as_dict()
            # Every email of the whole run, the arc's too: each once (one Message-ID each).
            seen = sandboxes.counts()
            summary.emails_in_all = {
                "emails": seen["emails"],
                "message_ids": seen["email_message_ids"],
                "duplicates": seen["email_duplicates"],
            }
        if (self.replenishment or self.aftercare) and not timed_out:
            with hub.db.read() as session:
                summary.dead_jobs = (
                    session.scalar(
                        select(func.count()).select_from(Job).where(Job.status == JobStatus.DEAD)
                    )
                    or 0
                )
        return summary

    def _clock(self, event: str) -> None:
        if self.on_clock is not None:
            self.on_clock(event)

    def _report(self, state: dict[str, Any]) -> None:
        if self.on_progress is not None:
            self.on_progress(state)

    def _export_to_erp(
        self, hub: Hub, channels: DemoChannels, kinds: frozenset[str], deadline: float
    ) -> None:
        """The ERP's scheduled export, now ("sync now"), and wait for it."""
        with hub.db.transaction() as session:
            ids = request_sync(hub, session, _channel(session, channels.erp))
        while time.monotonic() < deadline:
            with hub.db.read() as session:
                left = (
                    session.scalar(
                        select(func.count())
                        .select_from(Job)
                        .where(
                            Job.id.in_(ids),
                            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)),
                        )
                    )
                    or 0
                )
            if not left:
                return
            time.sleep(0.1)

    def _summary(self, hub: Hub, sandboxes: Sandboxes, elapsed: float, timed_out: bool) -> Summary:
        from hub.store.models import ErpExport, ErpExportedOrder, FulfillmentGroup

        with hub.db.read() as session:
            by_status = dict(
                session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
            )
            by_channel = dict(
                session.execute(
                    select(Channel.name, func.count())
                    .join(Order, Order.channel_id == Channel.id)
                    .group_by(Channel.name)
                ).all()
            )
            captured = dict(
                session.execute(
                    select(Payment.currency, func.sum(Payment.captured_amount)).group_by(
                        Payment.currency
                    )
                ).all()
            )
            jobs = session.scalar(select(func.count()).select_from(Job)) or 0
            dead = (
                session.scalar(
                    select(func.count()).select_from(Job).where(Job.status == JobStatus.DEAD)
                )
                or 0
            )
            erp_files = session.scalar(select(func.count()).select_from(ErpExport)) or 0
            erp_orders = (
                session.scalar(select(func.count(func.distinct(ErpExportedOrder.order_id)))) or 0
            )
            split = (
                session.scalar(
                    select(func.count()).select_from(
                        select(FulfillmentGroup.order_id)
                        .group_by(FulfillmentGroup.order_id)
                        .having(func.count() > 1)
                        .subquery()
                    )
                )
                or 0
            )
            shipments_by_location = dict(
                session.execute(
                    select(FulfillmentGroup.location_code, func.count())
                    .where(FulfillmentGroup.status != "cancelled")
                    .group_by(FulfillmentGroup.location_code)
                ).all()
            )
            placed = {
                precision or "not placed": count
                for precision, count in session.execute(
                    select(Order.ship_geo_precision, func.count()).group_by(
                        Order.ship_geo_precision
                    )
                ).all()
            }
        orders = sum(by_status.values())
        return Summary(
            orders=orders,
            by_status=by_status,
            by_channel=by_channel,
            captured={
                cur: str(Money(int(amount or 0), cur)) for cur, amount in sorted(captured.items())
            },
            outside=sandboxes.counts(),
            jobs=jobs,
            dead_jobs=dead,
            open_orders=sum(by_status.get(s, 0) for s in OPEN_STATUSES),
            erp_files=erp_files,
            erp_orders=erp_orders,
            split_orders=split,
            shipments_by_location=shipments_by_location,
            placed=placed,
            elapsed=elapsed,
            timed_out=timed_out,
        )


def _channel(session: Session, channel_id: int) -> Channel:
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"the demo's channel {channel_id} does not exist")
    return channel


class OrderFeeder:
    """Places the stores' remaining orders while the flow runs, a handful at a time.

    ``woo_webhook_url``: where the WooCommerce store's webhooks go (None: the Shopify
    store takes every order).
    """

    def __init__(
        self,
        sandboxes: Sandboxes,
        webhook_url: str,
        *,
        batch: int = 10,
        every: float = 0.1,
        woo_webhook_url: str | None = None,
    ):
        self.sandboxes, self.webhook_url = sandboxes, webhook_url
        self.woo_webhook_url = woo_webhook_url
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
                self.sandboxes.place_orders(self.batch, self.webhook_url, self.woo_webhook_url)
            except Exception:
                log.exception("demo feeder: could not place orders")
            self._stop.wait(self.every)
