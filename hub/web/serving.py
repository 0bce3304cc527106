"""The production WSGI server of ``hub serve`` (and of ``hub demo``): waitress.

One thing differs from ``waitress.create_server``: its "Task queue depth is N"
warning. Waitress logs it, holding the lock every request thread takes, for
each request that arrives while no thread is free, which under a steady load
is nearly every request: building those records was a measurable share of
the server's time under concurrent webhook senders (``make bench`` (a); the
figures are in ``docs/benchmarks.md``), and a filter on the logger drops a
record only after it was built. Here the warning is said
at most once a minute, and nothing is built in between.
"""

from __future__ import annotations

import logging
import threading
import time

from waitress import create_server
from waitress.task import ThreadedTaskDispatcher

QUEUE_WARNING_SECONDS = 60.0


class OncePer:
    """A logger's ``warning`` at most once per ``seconds``; the calls in between cost a comparison."""

    def __init__(self, logger: logging.Logger, seconds: float):
        self.logger = logger
        self.seconds = seconds
        self._next = 0.0
        self._lock = threading.Lock()

    def warning(self, message: str, *args) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        with self._lock:
            if now < self._next:
                return
            self._next = now + self.seconds
        self.logger.warning(f"{message} (said at most once per {self.seconds:g} s)", *args)


class _Dispatcher(ThreadedTaskDispatcher):
    def __init__(self):
        super().__init__()
        self.queue_logger = OncePer(logging.getLogger("waitress.queue"), QUEUE_WARNING_SECONDS)


def make_server(app, *, host: str, port: int, threads: int):
    """A waitress server for ``app`` on ``host:port`` with ``threads`` request threads (not started)."""
    dispatcher = _Dispatcher()
    dispatcher.set_thread_count(threads)
    return create_server(
        app, host=host, port=port, threads=threads, ident="hub", _dispatcher=dispatcher
    )
