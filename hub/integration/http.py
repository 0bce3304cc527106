"""HTTP for every connector: one place for sessions, timeouts, retries and rate limits.

A connector makes one :class:`HttpClient` per channel and calls
:meth:`HttpClient.request`. The client

- keeps a ``requests.Session`` (keep-alive) with connect/read timeouts;
- retries connection errors, timeouts and the statuses in ``retry_statuses``
  (429 and 5xx by default) with exponential backoff and jitter, waiting at
  least a ``Retry-After`` given in seconds (or, on a 429 without one, the
  service's own reset header named by ``reset_header``, e.g. ShipStation's
  ``X-Rate-Limit-Reset``);
- asks its :class:`RateLimiter` before every request and tells it every answer,
  so a connector can follow its service's own rate-limit headers;
- logs method, URL path and status, never headers or bodies (secrets live there);
- times every request in the ``hub_external_request_seconds`` metric;
- raises :class:`hub.core.exceptions.ExternalError` with ``retryable`` set, so
  the job layer knows whether to retry the job or send it to ``dead``.

What an outbound call may reach and tell is narrow on purpose (people choose
the URLs, and a ShipStation webhook names one):

- unless the channel allows private targets, a host that is or resolves to a
  loopback, private, link-local … address is refused before connecting
  (:mod:`hub.integration.targets`);
- redirects are never followed, whatever the caller asks: a 3xx is an error
  naming where it pointed (no vendor API here needs one, and following would
  carry headers such as ``X-Shopify-Access-Token`` to another host);
- an error answer is told by its status and, when the connector can read it
  (``error_text``), the service's own documented error code and message:
  never the body as such, which could be any page the URL leads to.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from hub.core.exceptions import ExternalError
from hub.integration.targets import refuse_non_public

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read


def default_timeout() -> tuple[float, float]:
    """Connect and read timeouts of a client given none: ``HUB_HTTP_TIMEOUT`` if set
    (``"5,30"``, or one number for both; the reliability tests shorten it), else 5 s and 30 s."""
    value = os.environ.get("HUB_HTTP_TIMEOUT", "").strip()
    if not value:
        return DEFAULT_TIMEOUT
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        log.warning(
            "HUB_HTTP_TIMEOUT=%r is not one or two numbers; using %s", value, DEFAULT_TIMEOUT
        )
        return DEFAULT_TIMEOUT
    if len(parts) not in (1, 2) or min(parts) <= 0:
        log.warning(
            "HUB_HTTP_TIMEOUT=%r is not one or two positive numbers; using %s",
            value,
            DEFAULT_TIMEOUT,
        )
        return DEFAULT_TIMEOUT
    return (parts[0], parts[-1])


RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class RateLimiter:
    """Decides how long to wait before a request; learns from each response.

    The base class never waits. Subclass it for a service's own scheme
    (a leaky bucket's call-limit header, a per-minute window).
    """

    def before_request(self) -> float:
        """Seconds to wait before sending the next request."""
        return 0.0

    def after_response(self, response: requests.Response) -> None:
        """Learn from an answer (its rate-limit headers)."""


class HttpStatusError(ExternalError):
    """An answer whose status the caller did not expect, with the answer itself.

    A connector reads ``response`` to turn its service's error body (e.g.
    Stripe's ``{"error": {"type", "code", "decline_code", "message"}}``) into
    the right domain error; everyone else handles it as an ``ExternalError``,
    whose message names the status and what ``error_text`` read, never the body.
    """

    def __init__(self, message: str, *, response: requests.Response, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.response = response


class LeakyBucketLimiter(RateLimiter):
    """Stay under a service's leaky bucket, as its answers report the bucket.

    The service drains the bucket at ``leak_rate`` requests a second and
    refuses (429) a request that would overflow ``size``. The limiter keeps an
    estimate of the level between answers and, once a request would take it
    past ``threshold`` of the size, waits for the bucket to drain that far:
    a burst slows down before the service has to say 429. Subclasses tell it
    the level the service reports with :meth:`read_bucket` (Shopify:
    ``X-Shopify-Shop-Api-Call-Limit: 32/40``). Thread-safe: concurrent
    callers each reserve their own slot.
    """

    def __init__(
        self,
        *,
        size: float = 40,
        leak_rate: float = 2.0,
        threshold: float = 0.8,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.size = float(size)
        self.leak_rate = float(leak_rate)
        self.threshold = threshold
        self.clock = clock
        self._level = 0.0
        self._at = clock()
        self._lock = threading.Lock()

    def read_bucket(self, response: requests.Response) -> tuple[float, float] | None:
        """``(used, size)`` as the answer reports them, or None when it says nothing."""
        return None

    def before_request(self) -> float:
        with self._lock:
            now = self.clock()
            start = max(now, self._at)  # a slot reserved by another caller may lie ahead
            level = max(0.0, self._level - (start - self._at) * self.leak_rate)
            ceiling = max(1.0, self.size * self.threshold)
            wait = max(0.0, (level + 1 - ceiling) / self.leak_rate) if self.leak_rate > 0 else 0.0
            self._level = max(0.0, level - wait * self.leak_rate) + 1
            self._at = start + wait
            return self._at - now

    def after_response(self, response: requests.Response) -> None:
        reported = self.read_bucket(response)
        if reported is None:
            return
        used, size = reported
        with self._lock:
            self.size = float(size) or self.size
            now = self.clock()
            if self._at <= now:
                # Nothing reserved ahead: the service's count is the truth.
                self._level, self._at = float(used), now
            else:
                # Other callers hold slots ahead; never estimate below what the service saw.
                self._level = max(self._level, float(used))


def retry_after_seconds(
    response: requests.Response, reset_header: str | None = None
) -> float | None:
    """``Retry-After`` in seconds (the form these services send), if present and sane.

    With ``reset_header``, a 429 that has no ``Retry-After`` waits the seconds
    that header gives instead (services that say "wait until the window resets"
    their own way, e.g. ShipStation's ``X-Rate-Limit-Reset``).
    """
    value = response.headers.get("Retry-After")
    if value is None and reset_header and response.status_code == 429:
        value = response.headers.get(reset_header)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


class _PublicTargetsAdapter(HTTPAdapter):
    """Refuses a request whose host is not public, just before a connection is taken.

    Checked per request, where ``requests`` picks the connection pool: every
    request and every retry of every connector, and only real ones (a test's
    ``responses`` mock never connects, so it never resolves a made-up host).
    A host found public is not resolved again for :data:`PUBLIC_FOR_SECONDS`:
    a connector's requests to its service mostly reuse a kept-alive connection
    and would otherwise pay a DNS lookup each. (The check resolves apart from
    the connection anyway, so remembering a verdict briefly opens nothing new;
    see :mod:`hub.integration.targets` on rebinding.)
    """

    #: How long a host found public is taken as public without resolving it again.
    PUBLIC_FOR_SECONDS = 60.0

    def __init__(self, connector: str):
        super().__init__()
        self.connector = connector
        self._public_until: dict[str, float] = {}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        proxies: dict[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        host = urlsplit(str(request.url or "")).hostname or ""
        now = time.monotonic()
        if self._public_until.get(host, 0.0) <= now:
            try:
                refuse_non_public(host, what=self.connector)
            except OSError as exc:  # cannot resolve: the connection error it would have been
                raise requests.ConnectionError(exc, request=request) from exc
            self._public_until[host] = now + self.PUBLIC_FOR_SECONDS
        return super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)


class HttpClient:
    """HTTP to one service for one channel: a keep-alive session, retries, rate limits, metrics.

    Make one per channel in the connector's ``__init__`` (``self.http_client(base_url, ...)``
    names it and times it in the hub's metrics) and keep it: the hub shares the
    connector, and so the client, between its threads, and the client is made
    for that. Paths are joined to ``base_url``; a full URL is used as it is.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connector: str,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        timeout: tuple[float, float] | None = None,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        retry_statuses: Iterable[int] = RETRY_STATUSES,
        limiter: RateLimiter | None = None,
        metrics: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        should_retry: Callable[[requests.Response], bool | None] | None = None,
        reset_header: str | None = None,
        error_text: Callable[[requests.Response], str] | None = None,
        allow_private_targets: bool = False,
    ):
        """
        :param connector: the connector's name, in logs, errors and metrics.
        :param headers: sent with every request (an access token).
        :param timeout: (connect, read) seconds; ``HUB_HTTP_TIMEOUT`` or 5 and 30 s when None.
        :param max_retries: retries of a request that may succeed later, after the first try.
        :param retry_statuses: the statuses retried (408, 429, 500, 502, 503, 504 by default).
        :param limiter: asked before every request and told every answer.
        :param should_retry: whether an answer not ``expected`` is retried (None: as
            ``retry_statuses`` say).
        :param reset_header: on a 429 without ``Retry-After``, the header giving the seconds
            until the service's window resets.
        :param error_text: reads the service's documented error body (its code and
            message) for error messages; without it, an error names only the status.
        :param allow_private_targets: call loopback, private and link-local hosts too
            (the channel's ``allow_private_targets``); off, they are refused unsent.
        """
        self.base_url = base_url.rstrip("/")
        self.connector = connector
        self.timeout = timeout or default_timeout()
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_statuses = frozenset(retry_statuses)
        self.limiter = limiter or RateLimiter()
        self.metrics = metrics
        self.sleep = sleep
        self.should_retry = should_retry
        #: Header giving the seconds until a rate-limit window resets, obeyed on 429.
        self.reset_header = reset_header
        self.error_text = error_text
        self.session = requests.Session()
        if not allow_private_targets:
            adapter = _PublicTargetsAdapter(connector)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": "hub/0.1 (+https://github.com/hub)"})
        if headers:
            self.session.headers.update(headers)
        if auth is not None:
            self.session.auth = auth
        #: Requests actually sent, retries included (benchmarks and tests read it).
        self.requests_sent = 0

    def url(self, path: str) -> str:
        """``path`` joined to the base URL (a full URL as it is)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt``: exponential with jitter, at least ``retry_after``."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        delay = delay / 2 + random.uniform(0, delay / 2)
        return max(delay, retry_after or 0.0)

    def request(
        self,
        method: str,
        path: str,
        *,
        expected: Iterable[int] = (200, 201, 202, 204),
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request, retrying what may succeed later; return the answer or raise.

        :param expected: statuses that count as success (others raise ExternalError).
        """
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout)
        # Never follow a redirect, whoever asks: it could take the credentials (or
        # the request itself) to a host nobody configured, past every check above.
        kwargs["allow_redirects"] = False
        expected = frozenset(expected)
        attempt = 0
        while True:
            attempt += 1
            wait = self.limiter.before_request()
            if wait > 0:
                self.sleep(wait)
            started = time.perf_counter()
            try:
                self.requests_sent += 1
                response = self.session.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._observe("error", started)
                if attempt <= self.max_retries:
                    delay = self.backoff(attempt)
                    log.info(
                        "%s %s %s: %s; retry %s in %.2fs",
                        self.connector,
                        method,
                        _path(url),
                        exc.__class__.__name__,
                        attempt,
                        delay,
                    )
                    self.sleep(delay)
                    continue
                raise ExternalError(
                    f"{self.connector}: {method} {_path(url)} failed: {exc.__class__.__name__}",
                    retryable=True,
                ) from exc
            self._observe(str(response.status_code), started)
            self.limiter.after_response(response)
            log.debug("%s %s %s -> %s", self.connector, method, _path(url), response.status_code)
            if response.status_code in expected:
                return response
            if response.is_redirect:
                target = shown_url(urljoin(url, response.headers.get("Location") or ""))
                raise HttpStatusError(
                    f"{self.connector}: {method} {_path(url)} answered "
                    f"{response.status_code}, a redirect to {target}: not followed",
                    response=response,
                    retryable=False,
                    status=response.status_code,
                )
            retryable = self._retryable(response)
            if retryable and attempt <= self.max_retries:
                delay = self.backoff(attempt, retry_after_seconds(response, self.reset_header))
                log.info(
                    "%s %s %s -> %s; retry %s in %.2fs",
                    self.connector,
                    method,
                    _path(url),
                    response.status_code,
                    attempt,
                    delay,
                )
                self.sleep(delay)
                continue
            said = self._error_text(response)
            raise HttpStatusError(
                f"{self.connector}: {method} {_path(url)} answered {response.status_code}"
                + (f": {said}" if said else ""),
                response=response,
                retryable=retryable,
                retry_after=retry_after_seconds(response, self.reset_header),
                status=response.status_code,
            )

    def _retryable(self, response: requests.Response) -> bool:
        if self.should_retry is not None:
            verdict = self.should_retry(response)
            if verdict is not None:
                return verdict
        return response.status_code in self.retry_statuses

    def _error_text(self, response: requests.Response) -> str:
        """The service's own error code and message, read by ``error_text``; "" when none."""
        if self.error_text is None:
            return ""
        try:
            text = " ".join(str(self.error_text(response) or "").split())
        except (ValueError, TypeError, AttributeError, KeyError):
            return ""
        return text[:300] + ("…" if len(text) > 300 else "")

    def _observe(self, status: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.external_seconds.labels(connector=self.connector, status=status).observe(
                time.perf_counter() - started
            )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """``request("GET", path, **kwargs)``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """``request("POST", path, **kwargs)``."""
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        """Close the session's pooled connections; a request still running finishes."""
        self.session.close()


def _path(url: str) -> str:
    # Only the path: query strings can carry tokens.
    return urlsplit(url).path


def shown_url(url: str) -> str:
    """A URL as messages and logs show it: no credentials, no query string (tokens hide there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def error_json(response: requests.Response) -> Any:
    """The answer's JSON for reading a service's error body; None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base_url`` (no SSRF)."""
    a, b = urlsplit(url), urlsplit(base_url)
    default = {"http": 80, "https": 443}
    try:
        port_a = a.port or default.get(a.scheme)
        port_b = b.port or default.get(b.scheme)
    except ValueError:
        return False
    return (a.scheme, (a.hostname or "").lower(), port_a) == (
        b.scheme,
        (b.hostname or "").lower(),
        port_b,
    )


def json_body(response: requests.Response, connector: str, *, want: type = dict) -> Any:
    """The answer's JSON, checked to be a ``want`` (an object by default).

    A body that is not JSON, or JSON of another shape, is the service
    misbehaving (a proxy's HTML error page, a truncated answer): a retryable
    :class:`ExternalError` naming the connector, the request and the status.
    """
    where = (
        f"{response.request.method} {_path(response.url)}" if response.request is not None else ""
    )
    try:
        data = response.json()
    except ValueError as exc:
        raise ExternalError(
            f"{connector}: {where} answered {response.status_code} without JSON",
            retryable=True,
            status=response.status_code,
        ) from exc
    if not isinstance(data, want):
        raise ExternalError(
            f"{connector}: {where} answered JSON that is not a {want.__name__}",
            retryable=True,
            status=response.status_code,
        )
    return data
