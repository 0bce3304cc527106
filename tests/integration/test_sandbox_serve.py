"""``hub.integration.sandbox.serve``: any WSGI app on a free loopback port, shut down cleanly."""

from __future__ import annotations

import requests
from werkzeug.wrappers import Request, Response

from hub.integration.sandbox import serve


@Request.application
def echo(request: Request) -> Response:
    return Response(request.path)


def test_serve_yields_a_loopback_url_and_closes_the_port():
    with serve(echo) as url:
        assert url.startswith("http://127.0.0.1:")
        with requests.Session() as session:  # keep-alive, as connectors use it
            assert [session.get(f"{url}/a/{i}", timeout=5).text for i in range(3)] == [
                "/a/0",
                "/a/1",
                "/a/2",
            ]
    try:
        requests.get(url, timeout=1)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the server still answers after the block")


def test_two_servers_run_side_by_side():
    with serve(echo) as one, serve(echo) as two:
        assert one != two
        assert requests.get(f"{two}/x", timeout=5).text == "/x"
