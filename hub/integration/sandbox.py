"""Sandboxes: simulators of the services plugins talk to, and a loopback server for them.

Every bundled plugin ships a sandbox, a WSGI simulator of its service that the
tests, ``hub demo`` and the benchmarks talk to. Each one is a :class:`Sandbox`:

- routes are methods marked with :func:`route` (werkzeug rule syntax); the
  instance is the WSGI app, and :meth:`Sandbox.dispatch` calls
  ``endpoint(request, **url_args)``;
- :meth:`Sandbox.json` builds a JSON answer; raising :class:`Answer` answers at
  once from anywhere in an endpoint (a refusal, a 404);
- ``sandbox.faults`` is a :class:`FaultPlan`, the same for every sandbox:
  ``sandbox.faults.plan(429, path="*/orders.json", times=2, retry_after=3)``.

To talk to one over real HTTP::

    from hub.integration.sandbox import serve

    with serve(ShopifySandbox(orders=100)) as base_url:
        ...  # point the channel's api_base_url at base_url

:func:`serve` listens on a free port of 127.0.0.1, answers from worker threads
(HTTP/1.1 keep-alive, like the real services), logs nothing per request, and
shuts the server down and closes its socket when the block ends.
"""

from __future__ import annotations

import fnmatch
import json
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = [
    "Answer",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Sandbox",
    "Strike",
    "route",
    "serve",
]

#: What a fault does: answer this HTTP status, hold the request (``"timeout"``), or
#: drop the connection with a TCP reset (``"reset"``).
FaultKind = int | Literal["timeout", "reset"]
#: When a fault strikes: ``"before"`` the endpoint runs (nothing happens at the
#: service), ``"after"`` it ran (the effect happened, the answer is lost or late);
#: a sandbox may know more (Stripe: ``"stored"``, its failure kept under the key).
FaultTime = str
#: Where a fault's answer comes from: the service itself (its error shape and
#: headers) or a proxy in front of it (a plain JSON body).
FaultSource = Literal["service", "proxy"]

_ROUTES = "_sandbox_routes"
_STRIKE = "hub.sandbox.strike"

F = TypeVar("F", bound=Callable[..., Any])


def route(rule: str, *, methods: Iterable[str] | None = None) -> Callable[[F], F]:
    """Mark a sandbox method as the endpoint of ``rule`` (werkzeug syntax: ``/v1/things/<thing_id>``).

    ``methods`` defaults to every method. A method may carry several routes.
    """

    def mark(endpoint: F) -> F:
        rules = endpoint.__dict__.setdefault(_ROUTES, [])
        rules.append((rule, tuple(m.upper() for m in methods) if methods else None))
        return endpoint

    return mark


class Answer(Exception):
    """Raise to answer the request with ``response`` at once (a refusal, a 404 …)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


@dataclass
class Fault:
    """One entry of a :class:`FaultPlan` (see :meth:`FaultPlan.plan` for the fields)."""

    kinds: tuple[FaultKind, ...]
    path: str = "*"
    method: str | None = None
    times: int | None = 1
    after: int = 0
    rate: float = 1.0
    when: FaultTime = "before"
    seconds: float = 0.0
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    source: FaultSource = "service"
    #: How many requests it struck so far.
    given: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault may strike a request (``method``, URL ``path``): not used up,
        same method, path matching its glob."""
        return (
            (self.times is None or self.given < self.times)
            and (self.method is None or self.method == method)
            and fnmatch.fnmatchcase(path, self.path)
        )


@dataclass
class Strike:
    """The fault one request gets: its kind (chosen for it), when, and what comes with it."""

    kind: FaultKind
    when: FaultTime
    seconds: float
    retry_after: float | None
    headers: dict[str, str]
    source: FaultSource
    #: Set by a sandbox that has dealt with the fault itself (or found it does not
    #: apply, e.g. the request was refused before the endpoint ran).
    settled: bool = False

    @property
    def status(self) -> int:
        """The HTTP status to answer (only for a status kind)."""
        assert isinstance(self.kind, int), self.kind
        return self.kind


class FaultPlan:
    """The failures a sandbox gives instead of its true answers: the one fault API of every sandbox.

    ``counts`` counts the faults given by kind (``"429"``, ``"timeout"`` …).
    """

    def __init__(self, when: Iterable[FaultTime] = ("before", "after")):
        self.when = frozenset(when)
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()

    def plan(
        self,
        kind: FaultKind | Sequence[FaultKind] = 500,
        *,
        path: str = "*",
        method: str | None = None,
        times: int | None = 1,
        after: int = 0,
        rate: float = 1.0,
        when: FaultTime = "before",
        seconds: float = 0.0,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        source: FaultSource = "service",
        seed: int | None = None,
    ) -> Fault:
        """Fail requests to ``path`` (a glob on the URL path: ``/v1/payment_intents/*/capture``).

        :param kind: an HTTP status (answered in the service's error shape),
            ``"timeout"`` (the request is held ``seconds``, then served: the
            answer comes late) or ``"reset"`` (the connection is dropped with a
            TCP reset). Several kinds: each struck request gets one at random.
        :param method: only requests of this method (default: any).
        :param times: how many requests to strike (None: no end).
        :param after: let this many matching requests through first.
        :param rate: strike only this share of the matching requests (at random,
            reproducible with ``seed``).
        :param when: ``"before"`` the endpoint runs (nothing happens; a timeout
            is served after the hold), ``"after"`` it ran (the effect happens and
            the answer is replaced, or held ``seconds`` for a timeout). A sandbox
            may offer more (its ``FaultPlan.when``).
        :param retry_after: the ``Retry-After`` a 429 (Stripe: any status) carries.
        :param headers: more headers for the failure's answer.
        :param source: ``"service"`` answers as the service does; ``"proxy"`` as
            a proxy in front of it would (a plain JSON body, nothing of the service's).
        :return: the plan's entry (``given`` counts the requests it struck).
        """
        kinds = tuple(kind) if isinstance(kind, Sequence) and not isinstance(kind, str) else (kind,)
        kinds = tuple(int(k) if isinstance(k, str) and k.isdigit() else k for k in kinds)
        for k in kinds:
            if not isinstance(k, int) and k not in ("timeout", "reset"):
                raise ValueError(f"unknown fault kind {k!r}")
        if when not in self.when:
            raise ValueError(
                f"unknown fault time {when!r} (this sandbox knows {sorted(self.when)})"
            )
        fault = Fault(
            kinds=kinds,
            path=path,
            method=method.upper() if method else None,
            times=times,
            after=after,
            rate=rate,
            when=when,
            seconds=seconds,
            retry_after=retry_after,
            headers=dict(headers or {}),
            source=source,
            rng=random.Random(seed),
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget every planned fault (the counts stay)."""
        with self.lock:
            self.faults.clear()

    @property
    def given(self) -> int:
        """Faults given so far, of every kind."""
        return sum(self.counts.values())

    def take(self, method: str, path: str) -> Strike | None:
        """The fault this request gets, if any (the first planned one that strikes it)."""
        with self.lock:
            for fault in self.faults:
                if not fault.matches(method, path):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if fault.rate < 1 and fault.rng.random() >= fault.rate:
                    continue
                kind = fault.rng.choice(fault.kinds) if len(fault.kinds) > 1 else fault.kinds[0]
                fault.given += 1
                self.counts[str(kind)] += 1
                return Strike(
                    kind, fault.when, fault.seconds, fault.retry_after, fault.headers, fault.source
                )
        return None


class Sandbox:
    """The base of every sandbox: routing, JSON answers, the fault plan; the instance is the app.

    A subclass marks its endpoints with :func:`route`, calls ``super().__init__()``
    and may override:

    - :meth:`handle` to wrap the dispatch (authentication, rate limits,
      counters, idempotency); the default is :meth:`dispatch`;
    - :meth:`call` to call its endpoints another way (default
      ``endpoint(request, **url_args)``, which returns a Response or a JSON body);
    - :meth:`not_found`, :meth:`fault_response` for the service's own error shape;
    - :meth:`seen` to count every request, failed ones included.
    """

    #: When faults of this sandbox can strike (see :meth:`FaultPlan.plan`).
    fault_times: ClassVar[tuple[FaultTime, ...]] = ("before", "after")
    url_map: ClassVar[Map] = Map()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        rules: dict[tuple[str, tuple[str, ...] | None], Rule] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                for rule, methods in getattr(value, _ROUTES, ()):
                    rules[(rule, methods)] = Rule(rule, methods=methods, endpoint=name)
        # No redirects for slashes: a sandbox answers what the service answers, or 404.
        cls.url_map = Map(list(rules.values()), strict_slashes=False, merge_slashes=False)

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults = FaultPlan(self.fault_times)
        self._release = threading.Event()

    # --- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        self.seen(request)
        strike = self.faults.take(request.method, request.path)
        environ[_STRIKE] = strike
        if strike is not None and strike.when == "before" and strike.kind != "timeout":
            response = self._strike(strike, request)
        else:
            if strike is not None and strike.when == "before":
                self.hold(strike.seconds)  # the request reaches the service late
            response = self.handle(request)
            if strike is not None and strike.when == "after" and not strike.settled:
                if strike.kind == "timeout":
                    self.hold(strike.seconds)  # done at once; the answer comes late
                else:
                    response = self._strike(strike, request)
        return response(environ, start_response)

    def _strike(self, strike: Strike, request: Request) -> Response:
        # Read the body first: on a kept-alive connection, an unread body would be
        # taken for the next request.
        request.get_data()
        if strike.kind == "reset":
            sock = request.environ.get("werkzeug.socket")
            if sock is not None:
                # Linger 0: the socket is dropped with a reset, never answered.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("injected connection reset")
        if strike.source == "proxy":
            response = Sandbox.fault_response(self, strike, request)
        else:
            response = self.fault_response(strike, request)
        for name, value in strike.headers.items():
            response.headers[name] = value
        return response

    @staticmethod
    def strike_of(request: Request) -> Strike | None:
        """The fault planned for this request, if any (for a sandbox handling it itself)."""
        return request.environ.get(_STRIKE)

    def hold(self, seconds: float) -> None:
        """Wait ``seconds``, or until :meth:`close`."""
        # An Event, not time.sleep: close() wakes every held request at once.
        self._release.wait(seconds)

    def close(self) -> None:
        """Wake requests held by timeouts (before stopping the server)."""
        self._release.set()

    # --- routing ---------------------------------------------------------------------------------

    def seen(self, request: Request) -> None:
        """Every request arriving, before any fault (for counters); nothing by default."""

    def handle(self, request: Request) -> Response:
        """Answer a request no fault stopped."""
        return self.dispatch(request)

    def match(
        self, request: Request, path: str | None = None
    ) -> tuple[Callable[..., Any], dict[str, Any], Rule] | None:
        """The endpoint (bound), URL arguments and rule for ``path`` (default: the request's)."""
        adapter = self.url_map.bind("sandbox")
        try:
            rule, args = adapter.match(
                request.path if path is None else path, method=request.method, return_rule=True
            )
        except HTTPException:
            return None
        return getattr(self, rule.endpoint), dict(args), rule

    def call(self, endpoint: Callable[..., Any], request: Request, args: dict[str, Any]) -> Any:
        """Run an endpoint; a Response, or a body to send as JSON."""
        return endpoint(request, **args)

    def invoke(
        self, request: Request, found: tuple[Callable[..., Any], dict[str, Any], Rule]
    ) -> Response:
        """Run what :meth:`match` found; :class:`Answer` raised inside goes on up."""
        endpoint, args, _ = found
        result = self.call(endpoint, request, args)
        return result if isinstance(result, Response) else self.json(result)

    def dispatch(self, request: Request) -> Response:
        """Route the request to its endpoint (or :meth:`not_found`) and answer."""
        found = self.match(request)
        if found is None:
            return self.not_found(request)
        try:
            return self.invoke(request, found)
        except Answer as answer:
            return answer.response

    # --- answers ---------------------------------------------------------------------------------

    @staticmethod
    def json(
        data: Any,
        status: int = 200,
        headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        *,
        indent: int | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> Response:
        """A JSON answer."""
        return Response(
            json.dumps(data, indent=indent),
            status=status,
            headers=list(headers.items() if isinstance(headers, dict) else headers or ()),
            content_type=content_type,
        )

    def not_found(self, request: Request) -> Response:
        """The answer to a URL no route matches."""
        return self.json({"error": "not found", "message": f"no route for {request.path}"}, 404)

    def fault_response(self, strike: Strike, request: Request) -> Response:
        """The answer of a status fault; a service's own shape in a subclass.

        This plain one is also what a ``source="proxy"`` fault answers.
        """
        headers = {}
        if strike.status == 429 and strike.retry_after is not None:
            headers["Retry-After"] = str(strike.retry_after)
        body = {"errors": "injected fault", "message": "injected fault"}
        return self.json(body, strike.status, headers, content_type="application/json")


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
