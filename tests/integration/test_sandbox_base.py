"""``hub.integration.sandbox.Sandbox``: routes on the class, JSON answers, one fault plan for all."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from hub.integration.sandbox import Answer, Sandbox, route, serve


class Counter(Sandbox):
    """A tiny service: items to create and read; every effect counted."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[int, str] = {}
        self.created = 0

    @route("/items", methods=["POST"])
    def _create(self, request: Request) -> Response:
        self.created += 1
        item_id = len(self.items) + 1
        self.items[item_id] = request.get_data(as_text=True)
        return self.json({"id": item_id}, 201)

    @route("/items/<int:item_id>", methods=["GET"])
    def _get(self, request: Request, item_id: int) -> dict[str, object]:
        if item_id not in self.items:
            raise Answer(self.json({"error": "no such item"}, 404))
        return {"id": item_id, "name": self.items[item_id]}


@pytest.fixture
def service() -> Iterator[tuple[Counter, str]]:
    sandbox = Counter()
    with serve(sandbox) as url:
        yield sandbox, url
        sandbox.close()


def test_routes_answer_json_and_unknown_urls_get_404(service):
    sandbox, url = service
    assert requests.post(f"{url}/items", data="mug", timeout=5).json() == {"id": 1}
    assert requests.get(f"{url}/items/1", timeout=5).json() == {"id": 1, "name": "mug"}
    assert requests.get(f"{url}/items/2", timeout=5).status_code == 404  # Answer raised
    assert requests.get(f"{url}/nothing", timeout=5).status_code == 404
    assert requests.delete(f"{url}/items/1", timeout=5).status_code == 404  # no such method


def test_a_fault_before_the_endpoint_leaves_nothing_done_and_counts_what_it_gave(service):
    sandbox, url = service
    sandbox.faults.plan(429, path="/items", method="POST", after=1, times=2, retry_after=3)
    answers = [requests.post(f"{url}/items", data="x", timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [201, 429, 429, 201]
    assert answers[1].headers["Retry-After"] == "3"
    assert sandbox.created == 2
    assert sandbox.faults.counts == {"429": 2} and sandbox.faults.given == 2
    assert requests.get(f"{url}/items/1", timeout=5).status_code == 200  # other paths untouched


def test_a_fault_after_the_endpoint_loses_the_answer_but_not_the_effect(service):
    sandbox, url = service
    sandbox.faults.plan(502, path="/items", when="after")
    assert requests.post(f"{url}/items", data="x", timeout=5).status_code == 502
    assert sandbox.created == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_timeout_answers_late_and_the_effect_happens(service, when):
    sandbox, url = service
    sandbox.faults.plan("timeout", path="/items", when=when, seconds=1.0)
    with pytest.raises(requests.Timeout):
        requests.post(f"{url}/items", data="x", timeout=(2, 0.3))
    deadline = time.monotonic() + 5
    while sandbox.created == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.created == 1
    assert sandbox.faults.counts == {"timeout": 1}


def test_a_reset_drops_the_connection_before_anything_runs(service):
    sandbox, url = service
    sandbox.faults.plan("reset", path="/items")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/items", data="x", timeout=5)
    assert sandbox.created == 0
    assert requests.post(f"{url}/items", data="x", timeout=5).status_code == 201


def test_a_share_of_requests_fails_reproducibly_with_a_seed():
    def run() -> list[int]:
        sandbox = Counter()
        sandbox.faults.plan((429, 500), rate=0.3, times=None, seed=5)
        web = Client(sandbox)  # the WSGI app, called without a server
        return [web.post("/items", data="x").status_code for _ in range(60)]

    first, second = run(), run()
    assert first == second
    assert {429, 500, 201} == set(first)
    assert 5 < sum(1 for s in first if s != 201) < 35


def test_a_sandbox_refuses_a_fault_time_it_does_not_know():
    with pytest.raises(ValueError, match="stored"):
        Counter().faults.plan(500, when="stored")
    with pytest.raises(ValueError, match="kind"):
        Counter().faults.plan("slow")  # type: ignore[arg-type]
