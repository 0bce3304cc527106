"""Pytest fixtures for the hub and for plugin authors.

Use them from a plugin's ``conftest.py``::

    pytest_plugins = ["hub.testing"]

Fixtures:

- ``hub``: a :class:`hub.runtime.hub.Hub` on a fresh, migrated SQLite database in a
  temporary data dir, with every installed plugin.
- ``pg_hub``: the same on the real PostgreSQL named by ``HUB_TEST_DATABASE_URL``
  (emptied before each test); skipped, with the reason shown, when it is unset.
- ``any_hub``: parametrized over both, for behaviour that must hold on each.
- ``fresh_hubs``: parametrized over both; each call a new, empty hub (compare
  what two of them stored with :func:`stored_rows`).
- ``make_hub``: build a hub with extra plugin objects registered, e.g. a test
  plugin; they are unregistered when the test ends. ``make_hub(plugins=[mine],
  only=True)`` loads exactly the hub's own plugins, the ``manual`` connector and
  ``mine``: no other installed entry point (a plugin handed again is skipped).
- ``hub_plugins``: override it in a plugin's ``conftest.py`` (a list of plugin
  objects or import names) and every test hub (``hub``, ``pg_hub``,
  ``any_hub``, ``harness`` …) loads exactly those; None (the default) loads
  every installed plugin.
- ``harness`` / ``any_harness``: a :class:`Harness` on ``hub`` / ``any_hub``:
  add a channel, run a pull, post a webhook its connector signs, run due jobs
  on a clock the test moves, read what the hub stored as its API shows it.
- ``app`` / ``client``: the Flask app on ``hub`` and its test client.
- ``run_jobs``: run every due job until none is left; returns how many ran.
- ``make_order``: create a manual order through the real action.
- ``cli``: invoke the ``hub`` command against the test hub's data dir.
- ``api_token`` / ``api``: a fresh API token, and the test client sending it
  (``api.get("/api/v1/orders")``).
- :class:`WebhookTestConnector` (register :class:`WebhookTestPlugin`): a small
  sales connector whose webhooks are signed with HMAC-SHA256 of the raw body.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from marshmallow import Schema, fields
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool

from hub import hookimpl
from hub.channels.manage import ensure_manual_channel
from hub.core.exceptions import ExternalError, MalformedPayload, SignatureError
from hub.core.money import Money
from hub.core.order import Address, Customer, Line, OrderData
from hub.integration.connectors import (
    Capability,
    OrderPage,
    SalesConnector,
    WebhookOutcome,
    WebhookReceipt,
)
from hub.integration.manager import get_plugin_manager
from hub.integration.signing import matches, sign_hex
from hub.orders import intake
from hub.queue.jobs import Worker
from hub.runtime.hub import Hub
from hub.store import migrate
from hub.store.config import Settings
from hub.store.db import Database
from hub.store.models import Base, utcnow

PG_ENV = "HUB_TEST_DATABASE_URL"
# A fixed key keeps tests fast (no key file) and is never a real secret.
TEST_SECRET_KEY = "pX1tWcGz6n2WQ6o2mJfQJ0lVuyqQ6vYbJ3m6m0w3i1Q="


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "hub.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


def _new_sqlite_url(template: Path, data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / "hub.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it; see .ci/run)")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    return url


def truncate_all(db: Database) -> None:
    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def hub_plugins() -> Sequence[Any] | None:
    """The plugins every test hub loads besides the hub's own: None, every installed one.

    Override it to test a plugin alone (objects or import names)::

        @pytest.fixture
        def hub_plugins():
            return [hub_acme]

    The hubs then load the hub's own plugins, the ``manual`` connector (the
    hub's manual channel is one of it) and exactly these: no other entry point,
    nothing from ``HUB_PLUGINS``. ``@pytest.mark.parametrize("hub_plugins",
    [[hub_acme]])`` does the same for one test.
    """
    return None


@pytest.fixture
def make_hub(tmp_path, _sqlite_template, hub_plugins) -> Iterator[Callable[..., Hub]]:
    """Build hubs: ``make_hub(plugins=[obj], only=False, database_url=None, **settings)``.

    ``plugins`` are registered besides the installed ones (one installed
    already is skipped); with ``only=True`` instead of them, with the hub's own.
    ``only`` defaults to whether ``hub_plugins`` names plugins (they come first).
    """
    made: list[Hub] = []

    def factory(
        *,
        plugins: Sequence[Any] = (),
        only: bool | None = None,
        database_url: str | None = None,
        data_dir: Path | None = None,
        **settings,
    ) -> Hub:
        data_dir = data_dir or tmp_path / f"data{len(made)}"
        # The sandboxes tests call listen on 127.0.0.1.
        settings.setdefault("allow_private_targets", True)
        url = database_url or _new_sqlite_url(_sqlite_template, data_dir)
        if only is None:
            only = hub_plugins is not None
        pm = get_plugin_manager(plugins=[*(hub_plugins or ()), *plugins], only=only)
        hub = Hub(
            Settings.from_env(
                {}, data_dir=data_dir, database_url=url, secret_key=TEST_SECRET_KEY, **settings
            ),
            pm=pm,
        )
        with hub.db.transaction() as session:
            ensure_manual_channel(hub, session)
        made.append(hub)
        return hub

    yield factory
    for hub in made:
        for plugin in list(hub.pm.get_plugins()):
            hub.pm.unregister(plugin)
        hub.close()


@pytest.fixture
def hub(make_hub) -> Hub:
    return make_hub()


@pytest.fixture
def pg_hub(make_hub, pg_url) -> Hub:
    db = Database(pg_url)
    truncate_all(db)
    db.dispose()
    return make_hub(database_url=pg_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_hub(request, make_hub) -> Hub:
    if request.param == "sqlite":
        return make_hub()
    return request.getfixturevalue("pg_hub")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_hubs(request, make_hub) -> Callable[..., Hub]:
    """Parametrized like ``any_hub``: each call makes a new, empty hub on that database.

    For comparing two hubs that did the same work (:func:`stored_rows`). There is
    one PostgreSQL test database, so there each call empties it: read what a hub
    stored before making the next.
    """
    if request.param == "sqlite":
        return make_hub
    url = request.getfixturevalue("pg_url")

    def factory(**kwargs) -> Hub:
        db = Database(url)
        truncate_all(db)
        db.dispose()
        return make_hub(database_url=url, **kwargs)

    return factory


def connections_held(hub: Hub) -> int:
    """Database connections the hub's pools have handed out and not had back: 0 when no
    transaction is open (for tests of slow work done outside one)."""
    engines = {id(e): e for e in (hub.db.engine, hub.db.read_engine)}.values()
    return sum(cast(QueuePool, engine.pool).checkedout() for engine in engines)


def stored_rows(hub: Hub) -> dict[str, list]:
    """The orders, lines, payments, audit events and jobs of a hub, to compare with another's.

    Ids, timestamps and tracking tokens differ between two hubs that did the
    same work, so they are left out: rows refer to an order by its (channel,
    external id), to an audit event by its order and name, and a job's payload
    and dedupe key say so too. Each list is sorted.
    """
    from hub.store.models import Customer, Job, Order, OrderAuditEvent, OrderLine, Payment

    def values(row, *skip: str) -> dict[str, Any]:
        return {
            c.key: getattr(row, c.key)
            for c in row.__table__.columns
            if c.key not in ("id", "order_id", "created_at", "updated_at", *skip)
        }

    with hub.db.read() as session:
        orders = {o.id: (o.channel_id, o.external_id) for o in session.query(Order)}
        events = {e.id: (*orders[e.order_id], e.name) for e in session.query(OrderAuditEvent)}
        labels = {**{str(k): str(v) for k, v in orders.items()}}
        customers = {c.id: (c.email, c.phone, c.name) for c in session.query(Customer)}
        rows: dict[str, list] = {
            # A customer is named by who it is (its ids depend on the order orders came in).
            "orders": [
                {
                    **values(o, "tracking_token", "customer_id"),
                    "customer": customers.get(o.customer_id or 0),
                }
                for o in session.query(Order)
            ],
            "lines": [(orders[x.order_id], values(x)) for x in session.query(OrderLine)],
            "payments": [(orders[x.order_id], values(x)) for x in session.query(Payment)],
            "events": [(orders[x.order_id], values(x)) for x in session.query(OrderAuditEvent)],
            "jobs": [],
        }
        for job in session.query(Job):
            payload = dict(job.payload or {})
            names = dict(labels)
            if "event_id" in payload:
                names[str(payload["event_id"])] = str(events[payload["event_id"]])
                payload["event_id"] = events[payload["event_id"]]
            key = ":".join(names.get(part, part) for part in (job.dedupe_key or "").split(":"))
            rows["jobs"].append(
                (
                    orders.get(job.order_id) if job.order_id is not None else None,
                    key,
                    values(job, "payload", "dedupe_key", "run_at", "finished_at"),
                    payload,
                )
            )
    return {name: sorted(found, key=repr) for name, found in rows.items()}


@pytest.fixture
def app(hub):
    from hub.web import create_app

    app = create_app({"HUB": hub, "TESTING": True})
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def run_jobs() -> Callable[[Hub], int]:
    def run(hub: Hub, **kwargs) -> int:
        return Worker(hub, worker_id="test-worker").run_until_idle(**kwargs)

    return run


def order_data(**overrides) -> OrderData:
    """A valid canonical order (USD, one line of 2 × 19.99, 5.00 shipping)."""
    values: dict[str, Any] = dict(
        external_id="1001",
        number="#1001",
        currency="USD",
        customer=Customer(email="ann@example.com", name="Ann Smith"),
        shipping_address=Address(
            name="Ann Smith",
            address1="1 Main St",
            city="Springfield",
            zip="12345",
            country_code="US",
        ),
        lines=[Line(sku="TSHIRT-M", name="T-shirt M", quantity=2, unit_price=1999)],
        shipping=500,
    )
    values.update(overrides)
    return OrderData(**values)


@pytest.fixture
def make_order() -> Callable[..., int]:
    """Create a manual-channel order through ``upsert_order``; returns its id.

    The first order is Ann's (``ann@example.com``); later ones are other customers'.
    """
    counter = iter(range(1, 1_000_000))

    def factory(hub: Hub, **overrides) -> int:
        n = next(counter)
        overrides.setdefault("external_id", f"T{n}")
        # Each order its own customer: the same customer with the same lines
        # minutes apart is held as a likely duplicate (hub.validation).
        if n > 1:
            overrides.setdefault(
                "customer", Customer(email=f"ann+{n}@example.com", name="Ann Smith")
            )
        with hub.db.transaction() as session:
            channel = ensure_manual_channel(hub, session)
            return intake.upsert_order(
                session, channel, order_data(**overrides), actor="test"
            ).order.id

    return factory


@pytest.fixture
def cli(hub):
    """Invoke ``hub …`` in-process against the test hub's database."""
    from click.testing import CliRunner

    from hub.cli.main import main

    runner = CliRunner()
    env = {
        "HUB_DATA_DIR": str(hub.settings.data_dir),
        "HUB_DATABASE_URL": hub.settings.database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
        "HUB_ALLOW_PRIVATE_TARGETS": "1",  # as the test hub (make_hub)
    }

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


# --- channel-level helpers for plugin tests (harness) ------------------------------------------


@dataclass(frozen=True)
class ChannelRef:
    """A channel a test added (:meth:`Harness.add_channel`): how the harness's calls name it."""

    id: int
    slug: str
    connector: str


class Harness:
    """A hub as a plugin's test drives it, through the hub's real paths.

    Add a channel of a connector, run a pull, post a webhook its connector
    signs, run due jobs on a clock the test moves (no waiting out a debounce or
    a backoff), and read what the hub stored as its REST API shows it. The
    ``harness`` and ``any_harness`` fixtures give one; ``Harness(hub)`` makes
    one on any hub (``close()`` it, or use it as a context manager).
    """

    def __init__(self, hub: Hub):
        self.hub = hub
        self._stack = ExitStack()
        self._app: Any = None
        self._client: Any = None
        self._api: ApiClient | None = None

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop what the harness served (:meth:`serve`)."""
        self._stack.close()

    # --- channels ------------------------------------------------------------------------

    def add_channel(
        self,
        connector: str,
        config: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        slug: str | None = None,
        schedule_seconds: int | None = None,
    ) -> ChannelRef:
        """Add a channel of ``connector`` with ``config``, as ``channels add`` does.

        :raises hub.core.exceptions.ValidationError: the config breaks the
            connector's schema (``details`` names each field).
        """
        from hub.channels.manage import create_channel

        with self.hub.db.transaction() as session:
            channel = create_channel(
                self.hub,
                session,
                name=name or self.hub.connector_class(connector).label or connector,
                connector=connector,
                config=dict(config or {}),
                slug=slug,
                schedule_seconds=schedule_seconds,
            )
            return ChannelRef(channel.id, channel.slug, channel.connector)

    def connector(self, channel: ChannelRef) -> Any:
        """The channel's connector instance, the one the hub's jobs use."""
        return self.hub.connector_for_id(channel.id)

    def channel_state(self, channel: ChannelRef) -> dict[str, Any]:
        """What the channel saved (``state``: the pull cursor under ``"cursor"`` …)."""
        from hub.store.models import Channel

        with self.hub.db.read() as session:
            found = session.get(Channel, channel.id)
            return dict(found.state or {}) if found is not None else {}

    def serve(self, app: Callable[..., Any]) -> str:
        """Serve a sandbox (any WSGI app) on loopback until the harness closes; its base URL."""
        from hub.integration.sandbox import serve

        return self._stack.enter_context(serve(app))

    # --- work in ---------------------------------------------------------------------------

    def pull(self, channel: ChannelRef) -> dict[str, Any]:
        """Run one ``channel.pull`` of the channel now; the job as it ended (as :meth:`job`).

        Only the pull runs: what the pulled orders set off (checks, payments,
        notifications) waits for :meth:`run_jobs`. A pull that failed is
        ``"failed"`` (a retry waits) or ``"dead"``, with its ``last_error``.
        """
        from hub.queue.jobs import enqueue
        from hub.queue.kinds import JobKind

        with self.hub.db.transaction() as session:
            job_id = enqueue(session, JobKind.CHANNEL_PULL, {}, channel_id=channel.id)
        assert job_id is not None
        Worker(self.hub, worker_id="harness", kinds=(JobKind.CHANNEL_PULL,)).run_until_idle()
        return self.job(job_id)

    def post_webhook(
        self,
        channel: ChannelRef,
        body: bytes | str | Mapping[str, Any] | list[Any],
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> Any:
        """``POST /webhooks/<slug>`` as the provider would: the answer the provider gets.

        ``body`` is sent as is (bytes, str) or as JSON; ``headers`` and
        ``query`` are what the delivery carries besides its signature (a topic
        header). With ``sign`` the channel's connector signs it
        (:meth:`hub.integration.connectors.Connector.sign_webhook`), so a
        change to the body after signing is what a forgery looks like. The answer
        is a werkzeug test response (``status_code``, ``get_json()``): 200
        ``{"status": "accepted" | "duplicate"}``, 401 bad signature, 400
        malformed; the event then waits in the inbox for :meth:`run_jobs`.
        """
        if isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body).encode()
        sent_headers: Mapping[str, str] = {"Content-Type": "application/json", **(headers or {})}
        sent_query: Mapping[str, str] = dict(query or {})
        if sign:
            sent_headers, sent_query = self.connector(channel).sign_webhook(
                raw, sent_headers, sent_query
            )
        return self.client.post(
            f"/webhooks/{channel.slug}",
            data=raw,
            headers=dict(sent_headers),
            query_string=dict(sent_query),
        )

    def run_jobs(
        self,
        *,
        advance: timedelta | float | None = None,
        kinds: Iterable[str] | None = None,
    ) -> int:
        """Run every due job (of ``kinds``, if given) until none is left; how many ran.

        ``advance`` (a timedelta or seconds) runs them as if the clock were that
        much later: jobs scheduled within it (a debounced stock push, a
        shipping batch, a retry's backoff) are due, and so are those the run
        itself schedules within it. Nothing waits: the clock is the queue's, not
        the test's.
        """
        if advance is None:
            clock = None
        else:
            ahead = advance if isinstance(advance, timedelta) else timedelta(seconds=advance)

            def clock():
                return utcnow() + ahead

        worker = Worker(
            self.hub,
            worker_id="harness",
            kinds=tuple(kinds) if kinds is not None else None,
            clock=clock,
        )
        return worker.run_until_idle()

    # --- what the hub stored, as the API shows it --------------------------------------

    def orders(self, channel: ChannelRef | None = None) -> list[dict[str, Any]]:
        """Every order (of ``channel``), oldest first, as ``GET /api/v1/orders/<id>`` shows it:
        lines, payments, shipments, events; money as decimal strings."""
        from hub.orders.records import order_query
        from hub.orders.serialize import order_detail
        from hub.store.models import Order

        statement = order_query().order_by(Order.id)
        if channel is not None:
            statement = statement.where(Order.channel_id == channel.id)
        with self.hub.db.read() as session:
            return [order_detail(order) for order in session.scalars(statement)]

    def order(self, external_id: str | int, channel: ChannelRef | None = None) -> dict[str, Any]:
        """The order the channel knows as ``external_id``, as :meth:`orders` shows it.

        :raises LookupError: none (or, without ``channel``, more than one channel has it).
        """
        found = [o for o in self.orders(channel) if o.get("external_id") == str(external_id)]
        if len(found) != 1:
            where = f" of channel {channel.slug}" if channel else ""
            raise LookupError(f"{len(found)} orders{where} have external id {external_id!r}")
        return found[0]

    def jobs(
        self,
        kind: str | None = None,
        *,
        status: str | None = None,
        channel: ChannelRef | None = None,
    ) -> list[dict[str, Any]]:
        """Jobs, oldest first, as ``GET /api/v1/jobs`` shows them (``status``, ``last_error`` …)."""
        from hub.queue.queries import JobFilters, jobs_statement
        from hub.store.models import Job
        from hub.web.api import job_json

        statement = jobs_statement(JobFilters(status=status, kind=kind)).order_by(Job.id)
        if channel is not None:
            statement = statement.where(Job.channel_id == channel.id)
        with self.hub.db.read() as session:
            return [job_json(job) for job in session.scalars(statement)]

    def job(self, job_id: int) -> dict[str, Any]:
        """One job, as ``GET /api/v1/jobs/<id>`` shows it."""
        from hub.store.models import Job
        from hub.web.api import job_json

        with self.hub.db.read() as session:
            found = session.get(Job, job_id)
            if found is None:
                raise LookupError(f"no job {job_id}")
            return job_json(found)

    def webhook_events(
        self, channel: ChannelRef | None = None, *, status: str | None = None
    ) -> list[dict[str, Any]]:
        """The webhook inbox, oldest first, as ``GET /api/v1/webhook-events`` shows it
        (``topic``, ``status``: processed, ignored, rejected, failed; ``error``)."""
        from hub.channels.queries import WebhookEventFilters, webhook_events_statement
        from hub.store.models import WebhookEvent
        from hub.web.api import webhook_event_json

        with self.hub.db.read() as session:
            filters = WebhookEventFilters(channel=channel.slug if channel else None, status=status)
            statement = webhook_events_statement(session, filters).order_by(WebhookEvent.id)
            return [webhook_event_json(event) for event in session.scalars(statement)]

    # --- the web app ---------------------------------------------------------------------

    @property
    def app(self) -> Any:
        """The hub's web app (a WSGI app: ``serve(harness.app)`` takes real HTTP)."""
        if self._app is None:
            from hub.web import create_app

            self._app = create_app({"HUB": self.hub, "TESTING": True})
        return self._app

    @property
    def client(self) -> Any:
        """The Flask test client of the hub's web app (webhooks, the API, the admin UI)."""
        if self._client is None:
            self._client = self.app.test_client()
        return self._client

    @property
    def api(self) -> ApiClient:
        """The test client with an admin API token: ``harness.api.get("/api/v1/orders")``."""
        if self._api is None:
            from hub.accounts.users import create_token

            with self.hub.db.transaction() as session:
                token = create_token(session, "harness", scope="admin")[1]
            self._api = ApiClient(self.client, token)
        return self._api


@pytest.fixture
def harness(hub) -> Iterator[Harness]:
    """A :class:`Harness` on ``hub`` (SQLite)."""
    with Harness(hub) as h:
        yield h


@pytest.fixture
def any_harness(any_hub) -> Iterator[Harness]:
    """A :class:`Harness` on ``any_hub``: each test runs on SQLite and on PostgreSQL."""
    with Harness(any_hub) as h:
        yield h


# --- the REST API and webhooks in tests (web-api) ----------------------------------------------


class _WebhookTestConfig(Schema):
    webhook_secret = fields.String(
        required=True, metadata={"label": "Webhook secret", "secret": True}
    )
    api_key = fields.String(load_default="", metadata={"label": "API key", "secret": True})
    fail_check = fields.Boolean(load_default=False, metadata={"label": "Fail the connection check"})


class WebhookTestConnector(SalesConnector):
    """A sales connector for tests: HMAC-SHA256 (hex) of the raw body in ``X-Test-Signature``.

    Body: ``{"id": event id, "topic": "...", "order": {"external_id", "email", "sku",
    "quantity", "price", "currency"}}``; :meth:`sign` makes the signature.
    """

    name = "webhook_test"
    label = "Webhook test"
    capabilities = frozenset({Capability.WEBHOOKS, Capability.PULL_ORDERS})
    config_schema = _WebhookTestConfig
    scheduled_jobs = {"channel.pull": 300}
    SIGNATURE_HEADER = "X-Test-Signature"

    @staticmethod
    def sign(secret: str, body: bytes) -> str:
        return sign_hex(secret, body)

    def check_connection(self) -> str:
        if self.config.get("fail_check"):
            raise ExternalError(
                "webhook_test: GET /shop answered 401: invalid API key", retryable=False, status=401
            )
        return "connected to the test shop"

    def sign_webhook(self, body, headers, query):
        signature = sign_hex(self.config["webhook_secret"], body)
        return {**headers, self.SIGNATURE_HEADER: signature}, dict(query)

    def verify_webhook(self, headers, body, query) -> WebhookReceipt:
        expected = sign_hex(self.config["webhook_secret"], body)
        if not matches(expected, headers.get(self.SIGNATURE_HEADER)):
            raise SignatureError("bad or missing X-Test-Signature")
        try:
            data = json.loads(body)
            return WebhookReceipt(event_id=str(data["id"]), topic=str(data.get("topic", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayload(f"unreadable webhook: {exc.__class__.__name__}") from None

    def handle_webhook(self, hub, topic, body, headers) -> WebhookOutcome:
        order = json.loads(body).get("order")
        if not order:
            return WebhookOutcome.ignored(topic)
        cur = order.get("currency", "USD")
        hub.upsert_orders(
            [
                order_data(
                    external_id=str(order["external_id"]),
                    number=f"#{order['external_id']}",
                    currency=cur,
                    customer=Customer(email=order.get("email", "ann@example.com")),
                    lines=[
                        Line(
                            sku=order.get("sku", "SKU-1"),
                            name="Item",
                            quantity=int(order.get("quantity", 1)),
                            unit_price=Money.parse(str(order.get("price", "10.00")), cur).amount,
                        )
                    ],
                    shipping=0,
                )
            ]
        )
        return WebhookOutcome.processed()

    def fetch_orders(self, cursor):
        yield OrderPage(orders=[], cursor={"pulled": True})


class WebhookTestPlugin:
    """Register with ``make_hub(plugins=[WebhookTestPlugin()])``."""

    @hookimpl
    def hub_register_connectors(self):
        return [WebhookTestConnector]


class ApiClient:
    """The Flask test client with ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def open(self, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


@pytest.fixture
def api_token(hub) -> str:
    """A fresh API token (plain value) on ``hub``, named ``tests``, of the ``admin`` scope."""
    from hub.accounts.users import create_token

    with hub.db.transaction() as session:
        return create_token(session, "tests", scope="admin")[1]


@pytest.fixture
def api(client, api_token) -> ApiClient:
    """The app's test client, authenticated for ``/api/v1``."""
    return ApiClient(client, api_token)


# --- helpers for tests that start real processes and servers ------------------------------

#: A manual order in the shape of ``POST /api/v1/orders`` (2 × 19.99 + 5.00 = 44.98 USD).
MANUAL_ORDER = {
    "customer": {"email": "ann@example.com", "name": "Ann"},
    "shipping_address": {
        "name": "Ann",
        "address1": "1 Main St",
        "city": "Springfield",
        "zip": "12345",
        "country_code": "US",
    },
    "lines": [{"sku": "TSHIRT-M", "name": "T-shirt", "quantity": 2, "unit_price": "19.99"}],
    "currency": "USD",
    "shipping": "5.00",
}


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30):
    """GET ``url`` until something answers; return the response."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def hub_process_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a ``hub`` subprocess on ``data_dir`` (SQLite unless extra says).

    Like ``make_hub``'s hubs, it may call private targets: the sandboxes listen on 127.0.0.1.
    """
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_ALLOW_PRIVATE_TARGETS": "1"}
    env.pop("HUB_DATABASE_URL", None)
    env.update(extra)
    return env


def hub_cmd(*args: str, data_dir: Path, input: str | None = None, check: bool = True, **env: str):
    """Run ``hub …`` as a real process; raise with its stderr when it fails and ``check``."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=hub_process_env(data_dir, **env),
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"hub {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


# --- vendor-written examples ---------------------------------------------------------------

VENDOR_ENV = "HUB_VENDOR_DIR"


def vendor_dir() -> Path | None:
    """The folder of vendor-written API examples (``shared/vendor`` beside the clone).

    ``HUB_VENDOR_DIR`` names it explicitly; otherwise it is looked for as
    ``../shared/vendor`` from the repository (where CI and the developers'
    machines lay it). None when it is not there.
    """
    named = os.environ.get(VENDOR_ENV)
    candidates = [Path(named)] if named else []
    repo = Path(__file__).resolve().parent.parent
    candidates += [repo.parent / "shared" / "vendor", repo / "shared" / "vendor"]
    return next((c for c in candidates if (c / "README.md").is_file()), None)


def vendor_file(relative: str) -> Path:
    """The path of one vendor example, e.g. ``"shopify/order_get.response.json"``.

    Skips the calling test, saying why, when the vendor folder or the file is
    missing: a test built on vendor material cannot run without it.
    """
    base = vendor_dir()
    if base is None:
        pytest.skip(
            f"vendor examples not found (set {VENDOR_ENV} or lay shared/vendor beside the repo)"
        )
    path = base / relative
    if not path.is_file():
        pytest.skip(f"vendor example {relative} is not in {base}")
    return path


def vendor_example(relative: str) -> Any:
    """The ``body`` of a vendor-written JSON example (the vendor's own JSON, as written).

    Each file is ``{"_source": …, "body": …}`` (see ``shared/vendor/README.md``);
    a deep copy is returned each call, so a test may change it freely.
    """
    with vendor_file(relative).open(encoding="utf-8") as fh:
        return json.load(fh)["body"]
