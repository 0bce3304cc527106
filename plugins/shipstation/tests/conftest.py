"""Fixtures for the ShipStation tests: the sandbox and the hub's webhook endpoint on loopback.

``serve`` is a minimal thread + werkzeug ``make_server`` helper; the shared
``hub/sandbox.py`` serve-on-loopback helper can replace it. ``hub_webhooks``
is the smallest WSGI front for :func:`hub.channels.inbox.receive` (what
``POST /webhooks/<slug>`` does in the web app).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import update
from werkzeug.serving import make_server

from hub.channels import inbox
from hub.channels.manage import create_channel
from hub.core.exceptions import MalformedPayload, NotFound, SignatureError
from hub.pipeline import follow_up
from hub.queue.jobs import Worker
from hub.store.models import Job, utcnow
from plugins.shipstation.sandbox import ShipStationSandbox

API_KEY, API_SECRET = "ss-test-key", "ss-test-secret"
WEBHOOK_TOKEN = "tok-0123456789abcdef-ship"


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Listener:
    """A WSGI app that only counts what reaches it (proof that nothing was fetched)."""

    def __init__(self):
        self.requests: list[str] = []

    def __call__(self, environ, start_response):
        self.requests.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')}")
        body = json.dumps({"shipments": [], "total": 0, "page": 1, "pages": 0}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


def webhook_app(hub):
    """``POST /webhooks/<slug>`` → :func:`hub.channels.inbox.receive`, with the web app's status codes."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        slug = path.removeprefix("/webhooks/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        try:
            receipt = inbox.receive(hub, slug, headers, body, query)
            status, answer = "200 OK", {"status": receipt.status}
        except SignatureError as exc:
            status, answer = (
                "401 Unauthorized",
                {"error": {"code": exc.code, "message": exc.message}},
            )
        except MalformedPayload as exc:
            status, answer = (
                "400 Bad Request",
                {"error": {"code": exc.code, "message": exc.message}},
            )
        except NotFound as exc:
            status, answer = "404 Not Found", {"error": {"code": exc.code, "message": exc.message}}
        data = json.dumps(answer).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [data]

    return app


@pytest.fixture
def sandbox() -> Iterator[ShipStationSandbox]:
    box = ShipStationSandbox(API_KEY, API_SECRET)
    with serve(box) as url:
        box.base_url = url
        yield box


@pytest.fixture
def shipstation_channel(sandbox) -> Callable:
    """Create the ``shipstation`` channel on a hub, pointed at the sandbox; returns its id."""

    def make(hub, **config) -> int:
        values = {
            "api_key": API_KEY,
            "api_secret": API_SECRET,
            "webhook_token": WEBHOOK_TOKEN,
            "api_base_url": sandbox.base_url,
            **config,
        }
        with hub.db.transaction() as session:
            return create_channel(
                hub,
                session,
                name="ShipStation",
                connector="shipstation",
                slug="shipstation",
                config=values,
            ).id

    return make


@pytest.fixture
def hub_url(pg_hub) -> Iterator[str]:
    """The hub's webhook endpoint on loopback."""
    with serve(webhook_app(pg_hub)) as url:
        yield url


def run_all(hub, *, kinds: tuple[str, ...] | None = None, rounds: int = 20) -> int:
    """Run jobs until none is due, bringing batched ``shipping.flush`` jobs forward.

    The flow holds shipping submissions for a couple of seconds so they go
    together; tests do not wait for the clock.
    """
    total = 0
    for _ in range(rounds):
        with hub.db.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.kind == "shipping.flush", Job.status == "queued")
                .values(run_at=utcnow())
            )
        ran = Worker(hub, worker_id="test-worker", kinds=kinds).run_until_idle()
        total += ran
        if ran == 0:
            break
    return total


@pytest.fixture(autouse=True)
def _distinct_flush_slots(monkeypatch):
    """Batch slots of a millisecond: orders made one after another in a test each get a flush."""
    monkeypatch.setattr(follow_up, "SHIPPING_BATCH_SECONDS", 0.001)
