"""The ``shipstation`` connector: orders to the warehouse, shipments and tracking back.

- Outbound: every fulfilment group is upserted by ``orderKey`` (the group key,
  e.g. ``hub-12`` or ``hub-12-2``) with the full order each time:
  ``POST /orders/createorder`` for one, ``POST /orders/createorders`` for up
  to 100 at once.
- Inbound: ``SHIP_NOTIFY`` / ``ITEM_SHIP_NOTIFY`` webhooks are not signed by
  ShipStation; the channel's webhook URL carries ``?token=<webhook_token>``,
  checked in constant time. Their body only names a ``resource_url``, which
  is fetched with the channel's credentials *only* when it is a
  ``/shipments`` URL on the API host family (see :func:`resource_url_allowed`:
  ShipStation names ``ssapi6.shipstation.com`` and its siblings, not always
  the configured ``ssapi.shipstation.com``): any other URL is refused and
  logged, never fetched. No request follows a redirect: the credentials go
  to the hosts named here and nowhere else.
- A shipment without ``orderKey`` (ShipStation's own list example has none)
  is matched by its ``orderId``: the id ShipStation answered when the hub
  created the order, which the hub keeps with the group. No request is spent
  on it.
- A scheduled ``GET /shipments`` poll (labels created, and labels voided,
  since the last poll) is the safety net for missed webhooks.
- ShipStation allows 40 requests a minute per key and says so in
  ``X-Rate-Limit-*`` headers: :class:`ShipStationLimiter` follows them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from marshmallow import Schema, fields, validate

from hub.core.exceptions import (
    ConfigError,
    ExternalError,
    HubError,
    MalformedPayload,
    SignatureError,
    ValidationError,
)
from hub.integration.connectors import (
    Capability,
    Parcel,
    RateOption,
    ShipmentNotice,
    ShippingConnector,
    ShippingOrder,
    SubmissionRejected,
    WebhookOutcome,
    WebhookReceipt,
)
from hub.integration.http import RateLimiter, error_json, json_body, same_origin
from hub.integration.signing import matches
from plugins.shipstation.mapping import (
    BULK_MAX,
    format_query_datetime,
    order_payload,
    rate_options,
    rates_request,
    shipment_notice,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://ssapi.shipstation.com"
SHIP_TOPICS = ("SHIP_NOTIFY", "ITEM_SHIP_NOTIFY")
PAGE_SIZE = 500  # the most GET /shipments gives in one page
MAX_PAGES = 1000  # a bound on a runaway pager, far above any real window
QUOTE_RETRIES = 1  # retries of a rate quote (asked while an order's stock is locked)
QUOTE_TIMEOUT = (2.0, 5.0)  # connect, read seconds of a rate quote


class ShipStationConfig(Schema):
    api_key = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "API key", "help": "ShipStation → Settings → Account → API Settings."},
    )
    api_secret = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "API secret", "secret": True, "help": "Shown next to the API key."},
    )
    webhook_token = fields.String(
        required=True,
        validate=validate.Length(min=16),
        metadata={
            "label": "Webhook token",
            "secret": True,
            "help": "A long random string (16+ characters). Subscribe ShipStation's SHIP_NOTIFY "
            "webhook to https://<your hub>/webhooks/<channel slug>?token=<this token>.",
        },
    )
    api_base_url = fields.Url(
        load_default=DEFAULT_BASE_URL,
        require_tld=False,
        schemes={"http", "https"},
        metadata={
            "label": "API base URL",
            "help": f"Scheme, host and port of the API ({DEFAULT_BASE_URL}).",
        },
    )
    rate_carriers = fields.String(
        load_default="",
        validate=validate.Regexp(
            r"^\s*([a-z0-9_]+\s*(,\s*[a-z0-9_]+\s*)*)?$",
            error="carrier codes separated by commas, e.g. ups, fedex",
        ),
        metadata={
            "label": "Carriers to quote (optional)",
            "help": "Carrier codes whose rates routing compares (ups, fedex …); "
            "empty: every carrier of the account.",
        },
    )
    store_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={
            "label": "Store id (optional)",
            "help": "Send orders to this ShipStation store and read only its shipments.",
        },
    )


class ShipStationLimiter(RateLimiter):
    """Follows ShipStation's per-minute window (thread-safe).

    Every answer says how many requests are left (``X-Rate-Limit-Remaining``)
    and in how many seconds the window resets (``X-Rate-Limit-Reset``). When
    none are left (or a 429 says so), the next request waits for the reset.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._resume_at = 0.0
        self._lock = threading.Lock()
        #: How many times a request had to wait for a window (tests and metrics read it).
        self.waits = 0

    def before_request(self) -> float:
        with self._lock:
            wait = self._resume_at - self.clock()
            if wait > 0:
                self.waits += 1
                return wait
            return 0.0

    def waiting(self) -> float:
        """Seconds until the window reopens (0: a request may go now); counts no wait."""
        with self._lock:
            return max(0.0, self._resume_at - self.clock())

    def after_response(self, response: requests.Response) -> None:
        remaining = _number(response.headers.get("X-Rate-Limit-Remaining"))
        reset = _number(response.headers.get("X-Rate-Limit-Reset"))
        if reset is None or reset < 0:
            return
        if response.status_code == 429 or (remaining is not None and remaining <= 0):
            with self._lock:
                self._resume_at = max(self._resume_at, self.clock() + min(reset, 3600.0))


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ShipStationConnector(ShippingConnector):
    name = "shipstation"
    label = "ShipStation"
    description = "Sends orders to ShipStation; labels, tracking and voids come back."
    capabilities = frozenset({Capability.WEBHOOKS, Capability.RATES})
    config_schema = ShipStationConfig
    scheduled_jobs = {"shipping.poll": 900}

    def __init__(self, channel):
        super().__init__(channel)
        self.base_url = str(self.config.get("api_base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.store_id = self.config.get("store_id")
        self.limiter = ShipStationLimiter()
        #: The carrier codes to quote: the configured ones, else the account's (read once).
        self._carriers: list[str] | None = [
            c.strip() for c in str(self.config.get("rate_carriers") or "").split(",") if c.strip()
        ] or None
        self.http = self.http_client(
            self.base_url,
            error_text=lambda response: _error_text(error_json(response)),
            auth=(str(self.config.get("api_key", "")), str(self.config.get("api_secret", ""))),
            headers={"Accept": "application/json"},
            limiter=self.limiter,
            reset_header="X-Rate-Limit-Reset",
        )
        # Quotes are asked while an order is being routed (its stock locked): one
        # retry and short timeouts, so a slow ShipStation costs seconds, not minutes.
        self.quotes_http = self.http_client(
            self.base_url,
            error_text=lambda response: _error_text(error_json(response)),
            auth=(str(self.config.get("api_key", "")), str(self.config.get("api_secret", ""))),
            headers={"Accept": "application/json"},
            limiter=self.limiter,
            reset_header="X-Rate-Limit-Reset",
            max_retries=QUOTE_RETRIES,
            timeout=QUOTE_TIMEOUT,
        )

    def close(self) -> None:
        self.http.close()
        self.quotes_http.close()

    # --- connection ---------------------------------------------------------------------

    def check_connection(self) -> str:
        try:
            response = self.http.get("/stores")
        except ExternalError as exc:
            if exc.status in (401, 403):
                raise ConfigError(
                    "ShipStation refused the API key and secret "
                    f"({exc.status}): check them under Settings → API Settings"
                ) from exc
            raise
        # ShipStation lists the stores as a JSON array; anything else is an ExternalError (502).
        stores = [s for s in json_body(response, self.name, want=list) if isinstance(s, dict)]
        names = [str(s.get("storeName") or s.get("storeId")) for s in stores]
        if self.store_id and all(s.get("storeId") != self.store_id for s in stores):
            raise ConfigError(
                f"ShipStation has no store {self.store_id} (stores: {', '.join(names) or 'none'})"
            )
        return f"connected to ShipStation: {len(names)} store(s)" + (
            f" ({', '.join(names)})" if names else ""
        )

    # --- orders out ---------------------------------------------------------------------------

    def submit_orders(self, orders: list[ShippingOrder]) -> dict[str, str]:
        """Upsert each group; one request for one group, one per 100 for more."""
        accepted: dict[str, str] = {}
        rejected: dict[str, str] = {}
        payloads: list[dict[str, Any]] = []
        for item in orders:
            try:
                payloads.append(order_payload(item, store_id=self.store_id))
            except HubError as exc:  # the order itself cannot be mapped: refuse it alone
                rejected[item.key] = exc.message
        for start in range(0, len(payloads), BULK_MAX):
            chunk = payloads[start : start + BULK_MAX]
            if len(chunk) == 1:
                self._create_one(chunk[0], accepted, rejected)
            else:
                self._create_many(chunk, accepted, rejected)
        if rejected:
            raise SubmissionRejected(accepted, rejected)
        return accepted

    def _create_one(
        self, payload: dict[str, Any], accepted: dict[str, str], rejected: dict[str, str]
    ) -> None:
        response = self.http.post("/orders/createorder", json=payload, expected=(200, 201, 400))
        body = _json(response)
        key = payload["orderKey"]
        if response.status_code == 400:
            rejected[key] = _error_text(body) or "refused (400)"
        elif isinstance(body, dict) and body.get("orderId") is not None:
            accepted[key] = str(body["orderId"])
        else:
            rejected[key] = "ShipStation answered without an orderId"

    def _create_many(
        self, chunk: list[dict[str, Any]], accepted: dict[str, str], rejected: dict[str, str]
    ) -> None:
        body = _json(self.http.post("/orders/createorders", json=chunk))
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ExternalError(
                "shipstation: POST /orders/createorders answered without results", retryable=True
            )
        by_key = {str(r.get("orderKey")): r for r in results if isinstance(r, dict)}
        for payload in chunk:
            key = payload["orderKey"]
            result = by_key.get(key)
            if result is None:
                rejected[key] = "missing from ShipStation's answer"
            elif result.get("success") and result.get("orderId") is not None:
                accepted[key] = str(result["orderId"])
            else:
                rejected[key] = str(result.get("errorMessage") or "refused without a reason")

    # --- rate quotes ------------------------------------------------------------------------------

    def carriers(self) -> list[str]:
        """The carrier codes quoted: the configured ones, else the account's (``GET /carriers``, once)."""
        if self._carriers is None:
            body = json_body(self.http.get("/carriers"), self.name, want=list)
            codes = [str(c["code"]) for c in body if isinstance(c, dict) and c.get("code")]
            self._carriers = list(dict.fromkeys(codes))
        return self._carriers

    def quote_rates(self, parcel: Parcel) -> list[RateOption]:
        """Every service of every carrier, one ``POST /shipments/getrates`` per carrier.

        A carrier that refuses the parcel (a 4xx: it does not serve that
        country or weight) is left out; when every carrier failed the last
        error is raised, so the hub knows there is no price rather than none
        cheaper.
        """
        wait = self.limiter.waiting()
        if wait > 0:
            # Waiting for ShipStation's window would hold the order's stock locked.
            raise ExternalError(
                f"shipstation: rate limit reached, no quotes for {wait:.0f} s", retryable=True
            )
        options: list[RateOption] = []
        failure: ExternalError | None = None
        answered = 0
        for carrier in self.carriers():
            try:
                response = self.quotes_http.post(
                    "/shipments/getrates", json=rates_request(parcel, carrier)
                )
                options += rate_options(_json(response), carrier)
                answered += 1
            except ExternalError as exc:
                if exc.retryable:
                    raise
                failure = exc
            except ValidationError as exc:
                failure = ExternalError(f"shipstation: {exc.message}", retryable=False)
        if not answered and failure is not None:
            raise failure
        return options

    # --- webhooks in ------------------------------------------------------------------------------

    def sign_webhook(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """For tests: ShipStation signs nothing; the channel's ``?token=`` is in the URL it posts to."""
        return dict(headers), {**query, "token": str(self.config.get("webhook_token") or "")}

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> WebhookReceipt:
        """Check ``?token=`` in constant time, then read ``{resource_url, resource_type}``.

        ShipStation sends no event id: the id is the SHA-256 of the raw body,
        which names the batch (``resource_url``), so a redelivery of the same
        notice is a duplicate while every new batch is a new event.
        """
        if not matches(str(self.config.get("webhook_token") or ""), query.get("token")):
            raise SignatureError("missing or wrong webhook token")
        data = _payload(body)
        return WebhookReceipt(
            event_id="sha256:" + hashlib.sha256(body).hexdigest(), topic=data["resource_type"]
        )

    def handle_webhook(
        self, hub, topic: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        if topic not in SHIP_TOPICS:
            return WebhookOutcome.ignored(f"topic {topic}")
        url = _payload(body)["resource_url"]
        if not self.allowed_resource(url):
            # Unsigned payload: fetching a URL it names would hand our credentials
            # (and our network position) to whoever wrote it.
            log.warning(
                "shipstation channel %s: refused resource_url on %s (API host is %s)",
                self.channel.slug,
                _origin(url),
                _origin(self.base_url),
            )
            return WebhookOutcome.ignored("resource_url not on the API host")
        recorded, unknown, refused = 0, [], []
        for notice in self._notices(self._shipments_at(url)):
            try:
                if hub.record_shipment(notice) is None:
                    unknown.append(_names(notice))
                else:
                    recorded += 1
            except HubError as exc:
                if exc.retryable:
                    raise
                refused.append(
                    f"shipment {notice.shipment.external_id} of {_names(notice)}: {exc.message}"
                )
        if refused:
            # The others are recorded (and a replay will not double them).
            raise ValidationError("ShipStation shipment(s) refused: " + "; ".join(refused))
        if not recorded:
            if unknown:
                return WebhookOutcome.ignored(
                    f"no hub order with {', '.join(sorted(set(unknown)))}"
                )
            return WebhookOutcome.ignored("no shipments at resource_url")
        note = f"; ignored {', '.join(sorted(set(unknown)))}" if unknown else ""
        return WebhookOutcome.processed(f"{recorded} shipment(s){note}")

    def allowed_resource(self, url: str) -> bool:
        """Only a ``/shipments`` URL on the API host family (see :func:`resource_url_allowed`)."""
        return resource_url_allowed(url, self.base_url)

    def _shipments_at(self, url: str) -> Iterator[dict[str, Any]]:
        """Every shipment of a ``resource_url``, all pages, with their items.

        The URL is rebuilt from its checked parts (host in lower case, the port
        only when not the scheme's own), and a redirect is an error (the shared
        client follows none): the credentials never leave the hosts
        :meth:`allowed_resource` accepts.
        """
        parts = urlsplit(url)
        assert parts.hostname is not None, "allowed_resource() refuses a URL without a host"
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        netloc = parts.hostname + (
            f":{parts.port}" if parts.port not in (None, default_port) else ""
        )
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in ("includeshipmentitems", "page", "pagesize")
        ]
        # Items give lines and quantities; the largest page keeps a big batch to few requests.
        query += [("includeShipmentItems", "true"), ("pageSize", str(PAGE_SIZE))]

        def fetch(page: int) -> requests.Response:
            page_url = urlunsplit(
                (parts.scheme, netloc, parts.path, urlencode([*query, ("page", str(page))]), "")
            )
            return self.http.get(page_url)

        yield from self._pages(fetch)

    # --- shipments to notices ---------------------------------------------------------------------

    @staticmethod
    def _notices(shipments: Iterable[dict[str, Any]]) -> Iterator[ShipmentNotice]:
        """Each shipment of an order as a notice (return labels and others left out)."""
        for shipment in shipments:
            notice = shipment_notice(shipment)
            if notice is not None:
                yield notice

    # --- shipments by poll -------------------------------------------------------------------------

    def fetch_shipments(self, since: datetime) -> Iterator[ShipmentNotice]:
        """Labels created since ``since``, then labels voided since then; each shipment once.

        The window is on ``createDate`` (when the label was bought, to the
        second) rather than ``shipDate`` (a calendar day the warehouse may set
        ahead or back), so a poll neither misses a label nor re-reads whole days.
        """
        start = format_query_datetime(since)
        seen: dict[str, bool] = {}
        for window in (
            {"createDateStart": start, "sortBy": "CreateDate"},
            {"voidDateStart": start},
        ):
            params: dict[str, Any] = {
                **window,
                "includeShipmentItems": "true",
                "pageSize": PAGE_SIZE,
                "sortDir": "ASC",
            }
            if self.store_id:
                params["storeId"] = self.store_id

            def fetch(page: int, params=params) -> requests.Response:
                return self.http.get("/shipments", params={**params, "page": page})

            for notice in self._notices(self._pages(fetch)):
                sid = notice.shipment.external_id
                if sid in seen and (seen[sid] or not notice.voided):
                    continue
                seen[sid] = notice.voided
                yield notice

    def _pages(self, fetch: Callable[[int], requests.Response]) -> Iterator[dict[str, Any]]:
        page = 1
        while page <= MAX_PAGES:
            body = _json(fetch(page))
            if not isinstance(body, dict) or not isinstance(body.get("shipments"), list):
                raise ExternalError(
                    "shipstation: GET /shipments answered without shipments", retryable=True
                )
            yield from (s for s in body["shipments"] if isinstance(s, dict))
            # ShipStation's own example answers ``pages: 0`` with ``total: 2``:
            # the count of shipments decides too, so a page is never left unread.
            pages = max(_count(body.get("pages")), math.ceil(_count(body.get("total")) / PAGE_SIZE))
            if page >= pages or not body["shipments"]:
                return
            page += 1


# --- helpers ------------------------------------------------------------------------------------------


def _json(response: requests.Response) -> Any:
    return json_body(response, "shipstation", want=object)


def _names(notice: ShipmentNotice) -> str:
    """How a shipment names its order, for messages: ``orderKey hub-12`` or ``orderId 43945660``."""
    return f"orderKey {notice.key}" if notice.key else f"orderId {notice.group_ref}"


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


#: A host label of an API host family: a name, then an optional number (``ssapi``, ``ssapi6``).
_FAMILY_LABEL = re.compile(r"(?P<stem>[a-z](?:[a-z-]*[a-z])?)\d*")


def api_host_family(base_url: str) -> re.Pattern[str] | None:
    """The hosts that serve the same API as the configured one, or None for that host alone.

    ShipStation answers on ``ssapi.shipstation.com`` and names numbered
    siblings (``ssapi6.shipstation.com``) in its webhooks. For an https API
    base on the default port whose host is a DNS name of three labels or more,
    the family is the first label's name with any number, under the same
    parent domain: ``ssapi.shipstation.com`` → ``ssapi\\d*\\.shipstation\\.com``.
    An IP address, ``localhost``, http or another port (a sandbox, a proxy)
    has no family: only its exact origin counts.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or port not in (None, 443) or _is_ip(host):
        return None
    first, _, parent = host.partition(".")
    match = _FAMILY_LABEL.fullmatch(first)
    if match is None or "." not in parent or not all(parent.split(".")):
        return None
    return re.compile(rf"{re.escape(match['stem'])}\d*\.{re.escape(parent)}")


def resource_url_allowed(url: Any, base_url: str) -> bool:
    """May the hub fetch this ``resource_url`` with the channel's credentials?

    Yes only for the ``/shipments`` path under the API base path, on the
    configured origin (scheme, host, port) or, for the https API host, on a
    host of its family (:func:`api_host_family`) over https on the default
    port; never with credentials (``user@``) in the URL, nor with spaces,
    backslashes or other characters a URL parser might read two ways.
    """
    if not isinstance(url, str) or not _PLAIN_URL.fullmatch(url):
        return False
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    if "@" in parts.netloc or not parts.hostname:
        return False
    host = parts.hostname.lower()
    family = api_host_family(base_url)
    on_api_host = same_origin(url, base_url) or (
        family is not None
        and parts.scheme == "https"
        and port in (None, 443)
        and family.fullmatch(host) is not None
    )
    base_path = urlsplit(base_url).path.rstrip("/")
    return on_api_host and parts.path.rstrip("/") == f"{base_path}/shipments"


#: Printable ASCII without space or backslash: what a resource_url may be made of.
_PLAIN_URL = re.compile(r"[!-\[\]-~]+")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _error_text(body: Any) -> str:
    """ShipStation's error answer as one line: Message, ExceptionMessage, ModelState."""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k]) for k in ("Message", "ExceptionMessage", "message") if body.get(k)]
    for field, errors in (body.get("ModelState") or {}).items():
        parts.append(
            f"{field}: {' '.join(map(str, errors if isinstance(errors, list) else [errors]))}"
        )
    return " ".join(parts)


def _payload(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedPayload("ShipStation webhook body is not JSON") from exc
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) and data.get(k) for k in ("resource_url", "resource_type")
    ):
        raise MalformedPayload("ShipStation webhook needs resource_url and resource_type")
    return data


def _origin(url: str) -> str:
    parts = urlsplit(url if isinstance(url, str) else "")
    port: int | str | None
    try:
        port = parts.port
    except ValueError:
        port = "?"
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
