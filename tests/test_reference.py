"""docs/reference.md is generated from the code, and what it says of connectors holds.

The page is what ``hub.integration.reference`` prints; the claims its docstrings
make about a connector's life cycle, the shipment ``push_fulfillment`` is given
and the webhook inbox are checked here against the running hub.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from marshmallow import Schema, fields
from sqlalchemy import select

from hub import hookimpl
from hub.channels import inbox
from hub.channels.manage import create_channel, update_config
from hub.channels.port import ChannelPort
from hub.core.order import ShipmentData
from hub.integration import reference
from hub.integration.connectors import Capability, SalesConnector, WebhookReceipt
from hub.integration.http import HttpClient
from hub.integration.jobs import PeriodicJob
from hub.inventory import levels
from hub.orders import intake, shipments
from hub.queue.jobs import JobContext
from hub.queue.scheduler import fire
from hub.store.models import Channel, Job, JobStatus, Order
from hub.testing import order_data

PAGE = Path(__file__).parent.parent / "docs" / "reference.md"


def test_the_reference_page_is_what_the_code_generates():
    generated = reference.generate()
    committed = PAGE.read_text() if PAGE.exists() else ""
    if committed != generated:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    "docs/reference.md (committed)",
                    "docs/reference.md (from the code)",
                    n=1,
                )
            )[:60]
        )
        raise AssertionError(
            f"docs/reference.md differs from the code; regenerate it from the repository's "
            f"root with\n\n    .venv/bin/{reference.REGENERATE}\n\n{diff}"
        )


def _documented_definitions():
    for section in reference.SECTIONS:
        for name, node in reference.documented(section):
            yield section, name, node


def test_every_class_and_operation_on_the_page_says_what_it_is_for():
    missing = []
    for section, name, node in _documented_definitions():
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and not ast.get_docstring(node):
            missing.append(f"{section.module}.{name}")
        if isinstance(node, ast.ClassDef):
            cls = getattr(importlib.import_module(section.module), name)
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef)
                    and not item.name.startswith("_")
                    and not inspect.getdoc(getattr(cls, item.name))  # a base's counts
                ):
                    missing.append(f"{section.module}.{name}.{item.name}")
    assert not missing, f"no docstring (the reference would show nothing): {missing}"


def test_the_page_links_only_to_what_it_documents():
    text = reference.generate()
    anchors = {reference.anchor(line.lstrip("#")) for line in text.splitlines() if line[:1] == "#"}
    links = set(re.findall(r"\]\(#([\w-]+)\)", text))
    assert links and links <= anchors, f"links to nothing: {sorted(links - anchors)}"


def test_the_webhook_id_limits_the_reference_states_are_the_inbox_columns():
    assert (inbox.EVENT_ID_MAX, inbox.TOPIC_MAX) == (200, 100)
    said = " ".join(inspect.getdoc(WebhookReceipt).split())
    assert "An id is at most 200 characters and a topic 100" in said


def test_the_stock_push_figures_push_stock_states_are_the_inventory_s():
    said = " ".join(inspect.getdoc(SalesConnector.push_stock).split())
    assert levels.PUSH_DEBOUNCE_SECONDS == 5 and "end of its 5-second slot" in said
    assert levels.PUSH_EVERY_SECONDS == 300 and "every 5 minutes" in said
    assert levels.PUSH_BATCH_SIZE == 250 and "about 250 levels a call" in said


def test_closing_an_http_client_lets_a_request_still_running_finish():
    """What the life cycle relies on: an old connector is closed while calls may run on it."""

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/slow":
                time.sleep(0.5)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = HttpClient(
            f"http://127.0.0.1:{server.server_port}", connector="t", allow_private_targets=True
        )
        answers: list[str] = []
        running = threading.Thread(target=lambda: answers.append(client.get("/slow").text))
        running.start()
        time.sleep(0.2)
        client.close()
        running.join(timeout=10)
        assert answers == ["ok"]
        assert client.get("/fast").text == "ok"  # and a closed client still answers
    finally:
        server.shutdown()
        server.server_close()


# --- the connector's life cycle, as the Connector docstring tells it -----------------------------


class _Config(Schema):
    shop = fields.String(required=True)


class Recorder(SalesConnector):
    """A sales channel that keeps what the hub hands it."""

    name = "recorder"
    config_schema = _Config
    capabilities = frozenset({Capability.PUSH_FULFILLMENT, Capability.WEBHOOKS})
    built: list[Recorder] = []
    pushed: list[tuple[dict, dict]] = []

    def __init__(self, channel):
        super().__init__(channel)
        self.closed = False
        Recorder.built.append(self)

    def push_fulfillment(self, order, shipment, *, idempotency_key):
        Recorder.pushed.append((order, shipment))
        return f"F-{shipment['id']}"

    def verify_webhook(self, headers, body, query):
        return WebhookReceipt(event_id=headers.get("X-Id", ""), topic="orders/updated")

    def handle_webhook(self, hub, topic, body, headers):
        raise AssertionError("not used")

    def close(self):
        self.closed = True


class RecorderPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [Recorder]


def _recorder_hub(make_hub):
    Recorder.built.clear()
    Recorder.pushed.clear()
    hub = make_hub(plugins=[RecorderPlugin()])
    with hub.db.transaction() as session:
        channel = create_channel(
            hub, session, name="Recorder", connector="recorder", config={"shop": "a"}
        )
        return hub, channel.id, channel.slug


def test_a_channel_keeps_one_connector_for_webhooks_and_jobs_until_its_config_changes(make_hub):
    hub, channel_id, slug = _recorder_hub(make_hub)
    first = hub.connector_for_id(channel_id)
    ctx = JobContext(
        hub=hub, id=1, kind="x", payload={}, attempts=1, max_attempts=1, channel_id=channel_id
    )
    assert hub.webhook_connector(slug) == (channel_id, first)  # web threads
    assert ctx.connector() is first  # worker threads
    ChannelPort(hub, channel_id).save_state(cursor={"since": "2026-12-01"})
    assert hub.connector_for_id(channel_id) is first  # state saved: the same instance
    assert first.channel.state == {}  # ... whose channel.state is as it was built
    with hub.db.transaction() as session:
        update_config(hub, session, session.get(Channel, channel_id), {"shop": "b"})
    second = hub.connector_for_id(channel_id)
    assert second is not first and second.config["shop"] == "b"
    assert first.closed and not second.closed
    assert second.channel.state == {"cursor": {"since": "2026-12-01"}}
    assert Recorder.built == [first, second]
    hub.close()
    assert second.closed


def test_a_running_firing_does_not_hold_the_next_one_back(hub):
    """So two pulls of a channel can overlap (the Connector docstring says so)."""
    job = PeriodicJob(kind="channel.pull", every_seconds=60)
    first = fire(hub, job, now=0.0)
    assert fire(hub, job, now=60.0) is None  # the first still waits: held back
    with hub.db.transaction() as session:
        session.get(Job, first).status = JobStatus.RUNNING
    assert fire(hub, job, now=120.0) is not None  # running: the next one is added


def test_push_fulfillment_is_given_the_shipment_the_reference_shows(make_hub, run_jobs):
    hub, channel_id, _ = _recorder_hub(make_hub)
    with hub.db.transaction() as session:
        channel = session.get(Channel, channel_id)
        order_id = intake.upsert_order(
            session, channel, order_data(external_id="R1"), actor="test"
        ).order.id
    run_jobs(hub)  # confirmed
    with hub.db.transaction() as session:
        line = session.get(Order, order_id).lines[0]
        line.external_id = "466157049"
        shipments.ship(
            session,
            order_id,
            ShipmentData(external_id="ss-5512", carrier="ups", tracking_number="1Z9", lines={}),
            actor="test",
        )
    run_jobs(hub)
    [(order, shipment)] = Recorder.pushed
    example = _example(SalesConnector.push_fulfillment)
    assert set(shipment) == set(example)
    assert [set(x) for x in shipment["lines"]] == [set(example["lines"][0])]
    assert shipment["lines"][0]["external_id"] == "466157049"
    assert shipment["lines"][0]["sku"] == "TSHIRT-M"
    assert order["id"] == order_id
    assert any(s["id"] == shipment["id"] for s in order["shipments"])
    with hub.db.read() as session:
        assert session.scalars(
            select(Job.status).where(Job.kind == "sales.push_fulfillment")
        ).all() == ["succeeded"]


def _example(method) -> dict:
    """The ``::`` example in a docstring, read as a Python literal."""
    doc = inspect.getdoc(method)
    block = doc.split("::\n", 1)[1]
    return ast.literal_eval(inspect.cleandoc(block))


def test_a_redelivery_with_the_same_event_id_is_stored_once(make_hub):
    hub, channel_id, slug = _recorder_hub(make_hub)
    first = inbox.receive(hub, slug, {"X-Id": "order.updated:7:2026-12-01T10:00:05"}, b"{}", {})
    again = inbox.receive(hub, slug, {"X-Id": "order.updated:7:2026-12-01T10:00:05"}, b"{}", {})
    later = inbox.receive(hub, slug, {"X-Id": "order.updated:7:2026-12-01T10:09:00"}, b"{}", {})
    assert (first.status, again.status, later.status) == ("accepted", "duplicate", "accepted")
