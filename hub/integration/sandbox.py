"""Serve a WSGI app on loopback in a thread: how sandboxes reach tests, the demo and benchmarks.

Every bundled plugin ships a sandbox (a WSGI simulator of its service). To
talk to one over real HTTP::

    from hub.integration.sandbox import serve

    with serve(ShopifySandbox(orders=100)) as base_url:
        ...  # point the channel's api_base_url at base_url

The server listens on a free port of 127.0.0.1, answers from worker threads
(HTTP/1.1 keep-alive, like the real services), logs nothing per request, and
is shut down and its socket closed when the block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    # One line per request would drown test output and slow benchmarks.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def serve(app: Callable[..., Any], *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` on ``host`` (a free port unless ``port``); yield its base URL, no trailing slash."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"sandbox-{server.port}",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://{host}:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
