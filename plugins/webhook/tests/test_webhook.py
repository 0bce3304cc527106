"""Outbound webhooks against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from hub.core.exceptions import ValidationError
from hub.notifications import outbox as notifications
from hub.notifications.queries import search_attempts
from hub.store.models import Channel, Job, utcnow
from hub.testing import Harness

SECRET = "s3cret-s3cret-s3cret"
DOCS = Path(__file__).parents[3] / "docs" / "connectors" / "webhook.md"


def docs_verify():
    """The receiver's verification snippet, exactly as the docs show it."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    scope: dict = {}
    exec(code, scope)
    return scope["verify"]


class Receiver:
    """A real HTTP server answering from a script of statuses; it keeps every request."""

    def __init__(self):
        self.answers: list[tuple[int, dict]] = []
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                payload = json.dumps({"ok": status < 300, "status": status}).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def add_channel(hub, url, events=("order.confirmed",), name="CRM") -> int:
    config = {"url": url, "secret": SECRET, "events": list(events)}
    return Harness(hub).add_channel("webhook", config, name=name).id


def notify_jobs(hub) -> list[SimpleNamespace]:
    with hub.db.read() as session:
        return [
            SimpleNamespace(id=j.id, status=j.status, last_error=j.last_error, run_at=j.run_at)
            for j in session.scalars(select(Job).where(Job.kind == "notify").order_by(Job.id))
        ]


def run_due_retries(hub) -> None:
    """Run the failed jobs once their backoff (2 to 4 seconds) is over, without waiting for it."""
    Harness(hub).run_jobs(advance=timedelta(seconds=5))


def test_a_receiver_answering_500_then_200_gets_one_delivery_recorded_as_retried(
    any_hub, receiver, make_order, run_jobs
):
    channel_id = add_channel(any_hub, receiver.url)
    receiver.answers = [(500, {}), (200, {})]
    order_id = make_order(any_hub)

    run_jobs(any_hub)
    [job] = notify_jobs(any_hub)
    assert job.status == "failed" and "answered 500" in job.last_error
    run_due_retries(any_hub)

    [job] = notify_jobs(any_hub)
    assert job.status == "succeeded"
    assert len(receiver.requests) == 2
    verify = docs_verify()
    for headers, body in receiver.requests:
        assert verify(SECRET, headers, body)
        assert headers["X-Hub-Event"] == "order.confirmed"
    (first_headers, _), (second_headers, body) = receiver.requests
    assert first_headers["X-Hub-Delivery"] == second_headers["X-Hub-Delivery"]
    document = json.loads(body)
    assert document["event"]["name"] == "order.confirmed"
    assert (document["order"]["id"], document["order"]["status"]) == (order_id, "confirmed")
    with any_hub.db.read() as session:
        attempts = attempts_of(session, channel_id)
        sent = notifications.list_sent(session, channel_id=channel_id)
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in reversed(attempts)] == [
        (1, "failed", 500),
        (2, "sent", 200),
    ]
    assert all(a["recipient"] == receiver.url and a["order_id"] == order_id for a in attempts)
    assert "answered 500" in attempts[1]["error"]
    assert len(sent) == 1


def test_a_delivery_once_made_is_never_repeated_even_when_its_job_is_retried(
    hub, receiver, make_order, run_jobs
):
    from hub.queue.jobs import retry

    add_channel(hub, receiver.url)
    make_order(hub)
    run_jobs(hub)
    [job] = notify_jobs(hub)
    with hub.db.transaction() as session:
        session.get(Job, job.id).status = "dead"  # a person presses "retry" on it anyway
        retry(session, job.id)
    run_jobs(hub)

    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301])
def test_a_4xx_answer_is_not_retried_and_the_job_dies_with_its_status_not_its_body(
    hub, receiver, make_order, run_jobs, status
):
    add_channel(hub, receiver.url)
    receiver.answers = [(status, {"Location": "http://127.0.0.1:1/elsewhere?token=t"})]
    make_order(hub)

    run_jobs(hub)

    [job] = notify_jobs(hub)
    assert job.status == "dead"
    said = f"webhook: POST /hooks/hub answered {status}"
    if status == 301:
        said += ", a redirect to http://127.0.0.1:1/elsewhere: not followed"
    assert job.last_error.endswith(said)
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 503])
def test_408_429_and_5xx_are_retried_later_with_retry_after_honoured(
    hub, receiver, make_order, run_jobs, status
):
    add_channel(hub, receiver.url)
    receiver.answers = [(status, {"Retry-After": "120"})]
    make_order(hub)

    run_jobs(hub)

    [job] = notify_jobs(hub)
    assert job.status == "failed"
    assert job.run_at >= utcnow() + timedelta(seconds=100)
    assert len(receiver.requests) == 1  # no retry inside the HTTP layer


def test_a_receiver_that_is_down_is_retried(hub, make_order, run_jobs):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel_id = add_channel(hub, f"http://127.0.0.1:{port}/hook")
    make_order(hub)

    run_jobs(hub)

    [job] = notify_jobs(hub)
    assert job.status == "failed" and "ConnectionError" in job.last_error
    with hub.db.read() as session:
        [attempt] = attempts_of(session, channel_id)
    assert (attempt["outcome"], attempt["status_code"]) == ("failed", None)


def test_only_the_configured_events_are_sent(hub, receiver, make_order, run_jobs):
    add_channel(hub, receiver.url, events=["order.shipped"])
    make_order(hub)
    run_jobs(hub)
    assert notify_jobs(hub) == [] and receiver.requests == []

    add_channel(hub, receiver.url, events="*", name="CRM, every event")
    make_order(hub)
    run_jobs(hub)
    assert {h["X-Hub-Event"] for h, _ in receiver.requests} >= {"order.created", "order.confirmed"}


def test_the_config_keeps_the_secret_secret_and_refuses_bad_values(hub, receiver):
    from plugins.webhook import WebhookConnector

    with pytest.raises(ValidationError) as exc:
        WebhookConnector.validate_config(
            {"url": "ftp://x", "secret": "short", "events": "confirmed"}
        )
    assert set(exc.value.details) == {"url", "secret", "events"}
    assert WebhookConnector.secret_fields() == {"secret"}
    harness = Harness(hub)
    channel = harness.add_channel("webhook", {"url": receiver.url, "secret": SECRET}, name="BI")
    with hub.db.read() as session:  # encrypted at rest
        assert SECRET not in json.dumps(session.get(Channel, channel.id).config)
    connector = harness.connector(channel)
    assert connector.check_connection() == "the receiver answered 200 to a signed ping"
    headers, body = receiver.requests[0]
    assert docs_verify()(SECRET, headers, body)
    assert json.loads(body)["event"]["name"] == "hub.ping"


def test_the_delivery_log_shows_no_token_of_the_url(hub, receiver, make_order, run_jobs):
    channel_id = add_channel(hub, receiver.url + "?token=abc123")
    make_order(hub)
    run_jobs(hub)

    assert receiver.requests  # the token still reaches the receiver …
    with hub.db.read() as session:
        [attempt] = attempts_of(session, channel_id)
    assert attempt["recipient"] == receiver.url  # … but is not shown in the log


def attempts_of(session, channel_id: int) -> list[dict]:
    """The channel's delivery attempts as the API shows them, newest first."""
    found = search_attempts(session, limit=500).rows
    return [notifications.attempt_dict(a) for a in found if a.channel_id == channel_id]
