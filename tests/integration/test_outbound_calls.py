"""Outbound calls (issue 17): what a channel test may reach, and what it may tell.

Real servers on loopback, because the point is the network: an "internal
service" that must stay unread, a redirect to another port that must not get
the credentials.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub.accounts.users import create_token
from hub.channels.manage import create_channel
from hub.core.exceptions import ExternalError
from hub.integration.http import HttpClient
from hub.testing import ApiClient
from hub.web import create_app

SECRET_PAGE = "internal-only: db password is hunter2"


class Service:
    """A loopback HTTP server answering every request with one scripted answer; it keeps each request."""

    def __init__(self, status: int = 200, body: str = "", headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers or {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                service.requests.append((self.path, dict(self.headers)))
                payload = service.body.encode()
                self.send_response(service.status)
                for key, value in service.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    s = Service(status=418, body=SECRET_PAGE, headers={"Content-Type": "text/html"})
    yield s
    s.close()


@pytest.fixture
def elsewhere() -> Iterator[Service]:
    s = Service(status=200, body='{"shop": {"name": "Elsewhere"}}')
    yield s
    s.close()


def api_on(hub) -> ApiClient:
    with hub.db.transaction() as session:
        token = create_token(session, "t")[1]
    return ApiClient(create_app({"HUB": hub, "TESTING": True}).test_client(), token)


def shopify_channel(hub, base_url: str) -> int:
    with hub.db.transaction() as session:
        return create_channel(
            hub,
            session,
            name="Shop",
            connector="shopify",
            config={
                "shop_domain": "bobs-store.myshopify.com",
                "access_token": "shpat_secret_token",
                "webhook_secret": "whsec-0123456789",
                "api_base_url": base_url,
            },
        ).id


# --- hole 2: internal services are not reached, nor read -----------------------------------


def test_a_channel_test_against_a_loopback_service_is_refused_before_any_request(make_hub, service):
    hub = make_hub(allow_private_targets=False)
    channel_id = shopify_channel(hub, service.url)

    answer = api_on(hub).post(f"/api/v1/channels/{channel_id}/test")

    assert answer.status_code == 502
    message = answer.get_json()["error"]["message"]
    assert "127.0.0.1 is a loopback address" in message
    assert "set HUB_ALLOW_PRIVATE_TARGETS=1 to allow" in message
    assert SECRET_PAGE not in answer.get_data(as_text=True)
    assert service.requests == []


def test_a_channel_test_names_the_status_never_the_body_of_an_error_answer(make_hub, service):
    hub = make_hub()  # private targets allowed, as in the demo
    channel_id = shopify_channel(hub, service.url)

    answer = api_on(hub).post(f"/api/v1/channels/{channel_id}/test")

    assert answer.status_code == 502
    assert "answered 418" in answer.get_json()["error"]["message"]
    assert "hunter2" not in answer.get_data(as_text=True)
    assert len(service.requests) == 1


@pytest.mark.parametrize(
    "addresses, said",
    [
        (["10.0.0.5"], "resolves to a private address 10.0.0.5"),
        (["192.168.1.20"], "resolves to a private address 192.168.1.20"),
        (["169.254.169.254"], "resolves to a link-local address 169.254.169.254"),
        (["127.0.0.2"], "resolves to a loopback address 127.0.0.2"),
        (["0.0.0.0"], "resolves to an unspecified address 0.0.0.0"),
        (["224.0.0.1"], "resolves to a multicast address 224.0.0.1"),
        (["::1"], "resolves to a loopback address ::1"),
        (["fd12:3456::1"], "resolves to a private address fd12:3456::1"),
        (["fe80::1"], "resolves to a link-local address fe80::1"),
        (["::ffff:10.0.0.5"], "resolves to a private address 10.0.0.5"),
        # One public address does not excuse a private one: the connection may take either.
        (["93.184.215.14", "10.0.0.5"], "resolves to a private address 10.0.0.5"),
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused_and_not_retried(
    monkeypatch, addresses, said
):
    def resolve(host, port, *args, **kwargs):
        assert host == "shop.internal.example"
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    slept: list[float] = []
    client = HttpClient("https://shop.internal.example", connector="shopify", sleep=slept.append)

    with pytest.raises(ExternalError) as caught:
        client.get("/admin/api/2025-07/shop.json")

    assert str(caught.value) == (
        f"shopify: shop.internal.example {said}; set HUB_ALLOW_PRIVATE_TARGETS=1 to allow"
    )
    assert not caught.value.retryable
    assert slept == []


def test_an_operator_may_allow_private_targets(service):
    service.status, service.body = 200, "{}"
    client = HttpClient(service.url, connector="shopify", allow_private_targets=True)

    assert client.get("/ping").status_code == 200
    assert len(service.requests) == 1


def test_a_host_found_public_is_not_resolved_again_for_each_request(monkeypatch, service):
    """A kept-alive connector pays one check per host and minute, not a DNS lookup per request."""
    import hub.integration.http as http

    checked: list[str] = []
    monkeypatch.setattr(http, "refuse_non_public", lambda host, *, what: checked.append(host))
    service.status, service.body = 200, "{}"
    client = HttpClient(service.url, connector="shopify")

    for _ in range(3):
        assert client.get("/ping").status_code == 200

    assert checked == ["127.0.0.1"] and len(service.requests) == 3


# --- hole 3: redirects are answers, never followed ------------------------------------------


def test_a_redirect_to_another_port_is_not_followed_and_the_token_stays_home(
    make_hub, service, elsewhere
):
    hub = make_hub()
    service.status = 302
    service.headers = {"Location": f"{elsewhere.url}/collect?token=abc"}
    channel_id = shopify_channel(hub, service.url)

    answer = api_on(hub).post(f"/api/v1/channels/{channel_id}/test")

    assert answer.status_code == 502
    assert answer.get_json()["error"]["message"] == (
        "shopify: GET /admin/api/2025-07/shop.json answered 302, a redirect to "
        f"{elsewhere.url}/collect: not followed"
    )
    assert elsewhere.requests == []
    [(_, headers)] = service.requests
    assert headers["X-Shopify-Access-Token"] == "shpat_secret_token"


def test_a_caller_cannot_turn_redirects_back_on(service, elsewhere):
    service.status = 307
    service.headers = {"Location": f"{elsewhere.url}/collect"}
    client = HttpClient(
        service.url,
        connector="shopify",
        headers={"X-Shopify-Access-Token": "shpat_secret_token"},
        allow_private_targets=True,
    )

    with pytest.raises(ExternalError, match="answered 307, a redirect to .*: not followed") as e:
        client.get("/admin/api/2025-07/shop.json", allow_redirects=True)

    assert not e.value.retryable
    assert elsewhere.requests == []
