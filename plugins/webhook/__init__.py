"""The ``webhook`` connector: signed order events POSTed to any URL (a CRM, BI, automation).

Each order event the channel wants is sent as one JSON document::

    {"event": {"id", "name", "order_id", "data", "occurred_at"},
     "order": <the order as the REST API shows it>}

with the headers ``X-Hub-Event`` (the event name), ``X-Hub-Delivery`` (the
same on every retry of one delivery: the receiver's dedupe key),
``X-Hub-Timestamp`` (Unix seconds) and ``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the channel's secret>``.

Retries happen at ONE layer, the job layer: each delivery attempt is one HTTP
request (the shared :class:`hub.integration.http.HttpClient` with ``max_retries=0``), one
row in ``notification_attempts``, and a failure sends the ``notify`` job back
to the queue with exponential backoff and jitter (``Retry-After`` honoured).
Retried: connection errors, timeouts, 408, 429 and 5xx. Any other 4xx (and a
3xx: redirects are not followed) sends the job to ``dead`` at once, with the
receiver's status shown (and where a redirect pointed), never its body. See
``docs/connectors/webhook.md``.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests
from marshmallow import Schema, ValidationError, fields, validate

from hub import hookimpl
from hub.core.events import OrderEvent
from hub.core.exceptions import ExternalError
from hub.integration.connectors import Delivery, NotificationConnector
from hub.integration.fields import StringList
from hub.integration.http import shown_url
from hub.integration.signing import sign_hex

TIMESTAMP_HEADER = "X-Hub-Timestamp"
SIGNATURE_HEADER = "X-Hub-Signature-256"


def _event_names(values: list[str]) -> None:
    for value in values:
        if value != "*" and not (
            value.startswith("order.") and value[6:].replace("_", "").isalpha()
        ):
            raise ValidationError(
                f"{value!r} is not an event name (order.confirmed, order.shipped …) or *"
            )


class WebhookConfig(Schema):
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        metadata={"label": "URL", "help": "Where the events are POSTed (https:// in production)."},
    )
    secret = fields.String(
        required=True,
        validate=validate.Length(min=16, max=500),
        metadata={
            "label": "Signing secret",
            "secret": True,
            "help": "At least 16 characters, shared with the receiver: it signs every request "
            "(X-Hub-Signature-256).",
        },
    )
    events = StringList(
        load_default=lambda: ["*"],
        validate=_event_names,
        metadata={
            "label": "Events",
            "help": "Event names to send, comma-separated (order.confirmed, order.shipped, "
            "order.cancelled …); * sends every event.",
        },
    )
    timeout_seconds = fields.Integer(
        load_default=10,
        validate=validate.Range(1, 60),
        metadata={
            "label": "Timeout (seconds)",
            "help": "How long to wait for the receiver's answer.",
        },
    )


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value of a request."""
    return "sha256=" + sign_hex(secret, timestamp.encode() + b"." + body)


def should_retry(response: requests.Response) -> bool:
    """Retry 408, 429 and 5xx; every other answer outside 2xx is final."""
    return response.status_code >= 500 or response.status_code in (408, 429)


class WebhookConnector(NotificationConnector):
    name = "webhook"
    label = "Outbound webhook"
    description = "POSTs signed order events as JSON to a URL: CRMs, BI tools, automation."
    config_schema = WebhookConfig

    def __init__(self, channel):
        super().__init__(channel)
        timeout = float(self.config.get("timeout_seconds") or 10)
        # Retries belong to the job layer (one request = one recorded attempt).
        self.http = self.http_client(
            self.config["url"],
            max_retries=0,
            timeout=(min(5.0, timeout), timeout),
            should_retry=should_retry,
        )

    def wants(self, event_name: str) -> bool:
        events = self.config.get("events") or ["*"]
        return "*" in events or event_name in events

    def post(
        self, document: dict[str, Any], *, event_name: str, delivery_id: str
    ) -> requests.Response:
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Event": event_name,
            "X-Hub-Delivery": delivery_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.config["secret"], timestamp, body),
        }
        return self.http.post(
            self.config["url"],
            data=body,
            headers=headers,
            expected=range(200, 300),
        )

    def notify(self, event: OrderEvent, order: dict[str, Any], *, idempotency_key: str) -> Delivery:
        try:
            response = self.post(
                {"event": event.to_dict(), "order": order},
                event_name=event.name,
                delivery_id=idempotency_key,
            )
        except ExternalError as exc:
            exc.details["recipient"] = shown_url(self.config["url"])  # for the delivery log
            raise
        return Delivery(
            recipient=shown_url(self.config["url"]),
            message_id=idempotency_key,
            status_code=response.status_code,
        )

    def check_connection(self) -> str:
        ping: dict[str, Any] = {
            "id": None,
            "name": "hub.ping",
            "order_id": None,
            "data": {},
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        response = self.post(
            {"event": ping, "order": None},
            event_name="hub.ping",
            delivery_id=f"ping:{uuid.uuid4()}",
        )
        return f"the receiver answered {response.status_code} to a signed ping"

    def close(self) -> None:
        self.http.close()


@hookimpl
def hub_register_connectors():
    return [WebhookConnector]
