"""The ``aftership`` connector: every shipment's tracking number to AfterShip, the carrier's news back.

AfterShip Tracking API **v4** (``https://api.aftership.com/v4``; the shapes of
AfterShip's own SDK fixtures: ``{"meta": {...}, "data": {"tracking": {...}}}``),
authenticated with the ``as-api-key`` header.

- Outbound: ``POST /v4/trackings`` once per shipment (the hub's
  ``tracking.register`` job), with the courier slug mapped from the
  shipment's carrier code (:mod:`plugins.aftership.mapping`) and the hub's
  shipment id in ``custom_fields``. A retry that finds the tracking made
  already (AfterShip's ``4003`` "Tracking already exists") succeeds with the
  id AfterShip has.
- Inbound: AfterShip posts ``tracking_update`` webhooks with the whole
  tracking in ``msg``; each is verified before anything parses it: the
  ``aftership-hmac-sha256`` header must be the base64 HMAC-SHA256 of the raw
  body with the channel's webhook secret (compared in constant time, through
  :mod:`hub.integration.signing`). The inbox keeps each ``event_id`` once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from marshmallow import Schema, ValidationError, fields, validate, validates

from hub.core.exceptions import ConfigError, ExternalError, MalformedPayload, SignatureError
from hub.integration.connectors import (
    Capability,
    CarrierUpdate,
    TrackedShipment,
    TrackingConnector,
    WebhookOutcome,
    WebhookReceipt,
)
from hub.integration.http import error_json, json_body
from hub.integration.signing import header, matches, sign_base64
from plugins.aftership.mapping import (
    carrier_update,
    create_request,
    parse_slug_mapping,
    tracking_of,
)

DEFAULT_BASE_URL = "https://api.aftership.com"
API = "/v4"
SIGNATURE_HEADER = "aftership-hmac-sha256"
#: AfterShip's meta.code for "Tracking already exists".
ALREADY_EXISTS = 4003
TOPIC = "tracking_update"


class AfterShipConfig(Schema):
    api_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "label": "API key",
            "secret": True,
            "help": "AfterShip → Settings → API keys (sent as the as-api-key header).",
        },
    )
    webhook_secret = fields.String(
        required=True,
        validate=validate.Length(min=8, max=200),
        metadata={
            "label": "Webhook secret",
            "secret": True,
            "help": "AfterShip → Settings → Webhooks: the secret it signs webhooks with. "
            "Point the webhook URL at https://<your hub>/webhooks/<channel slug>.",
        },
    )
    slug_mapping = fields.String(
        load_default="",
        metadata={
            "label": "Courier slugs",
            "help": "Carrier code = AfterShip courier slug, comma separated, for carriers the "
            "hub does not know already (colissimo=la-poste-colissimo). Empty: ups, usps, fedex, "
            "dhl, canada_post, royal_mail, dpd and gls are mapped; others AfterShip detects.",
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

    @validates("slug_mapping")
    def _slugs(self, value: str, **kwargs: Any) -> None:
        try:
            parse_slug_mapping(value)
        except Exception as exc:  # the mapping's ValidationError, said as a field error
            raise ValidationError(getattr(exc, "message", str(exc))) from None


def _error_text(response: Any) -> str:
    """AfterShip's documented error: ``meta.code`` and ``meta.message``."""
    body = error_json(response)
    meta = body.get("meta") if isinstance(body, dict) else None
    if isinstance(meta, dict) and meta.get("code"):
        return f"{meta.get('code')} {str(meta.get('message') or '')[:200]}".strip()
    return ""


class AfterShipConnector(TrackingConnector):
    name = "aftership"
    label = "AfterShip"
    description = (
        "Follows every shipment at its carrier; delivered, exceptions and returns come back."
    )
    capabilities = frozenset({Capability.WEBHOOKS, Capability.POLL_TRACKING})
    config_schema = AfterShipConfig
    #: Trackings with no news for 12 hours read again, looked for every 2 hours.
    scheduled_jobs = {"tracking.poll": 7200}

    def __init__(self, channel):
        super().__init__(channel)
        self.slugs = parse_slug_mapping(str(self.config.get("slug_mapping") or ""))
        base = str(self.config.get("api_base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.http = self.http_client(
            base,
            headers={
                "as-api-key": str(self.config.get("api_key") or ""),
                "Accept": "application/json",
            },
            error_text=_error_text,
        )

    def close(self) -> None:
        self.http.close()

    # --- connection ---------------------------------------------------------------------

    def check_connection(self) -> str:
        try:
            response = self.http.get(f"{API}/trackings", params={"limit": 1})
        except ExternalError as exc:
            if exc.status in (401, 403):
                raise ConfigError(
                    f"AfterShip refused the API key ({exc.status}): check it under Settings → API keys"
                ) from exc
            raise
        data = json_body(response, self.name).get("data") or {}
        count = data.get("count") if isinstance(data, dict) else None
        return f"AfterShip took the key ({count if count is not None else 'some'} trackings in the account)"

    # --- outbound -----------------------------------------------------------------------

    def register_shipment(self, shipment: TrackedShipment, *, idempotency_key: str) -> str:
        body = create_request(shipment, self.slugs)
        response = self.http.request(
            "POST", f"{API}/trackings", json=body, expected=(200, 201, 400, 409)
        )
        answer = error_json(response)
        meta = answer.get("meta") if isinstance(answer, dict) else None
        code = meta.get("code") if isinstance(meta, dict) else None
        if response.status_code in (200, 201):
            return str(tracking_of(json_body(response, self.name)).get("id") or "")
        if code == ALREADY_EXISTS:  # made by an earlier try of this job
            return self._existing_id(answer, shipment.tracking_number)
        raise ExternalError(
            f"aftership: POST {API}/trackings answered {response.status_code}"
            + (f": {_error_text(response)}" if _error_text(response) else ""),
            retryable=False,
            status=response.status_code,
        )

    def _existing_id(self, answer: Any, tracking_number: str) -> str:
        try:
            found = str(tracking_of(answer).get("id") or "")
        except MalformedPayload:
            found = ""
        if found:
            return found
        response = self.http.get(
            f"{API}/trackings", params={"keyword": tracking_number, "limit": 1}
        )
        listed = (json_body(response, self.name).get("data") or {}).get("trackings") or []
        same = [
            t for t in listed if isinstance(t, dict) and t.get("tracking_number") == tracking_number
        ]
        return str(same[0].get("id") or "") if same else ""

    def fetch_tracking(self, tracking_ref: str) -> CarrierUpdate:
        """``GET /v4/trackings/:id``: the tracking as AfterShip has it now."""
        response = self.http.get(f"{API}/trackings/{quote(tracking_ref, safe='')}")
        return carrier_update(tracking_of(json_body(response, self.name)))

    # --- inbound ------------------------------------------------------------------------

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> WebhookReceipt:
        given = header(headers, SIGNATURE_HEADER)
        if not matches(sign_base64(str(self.config["webhook_secret"]), body), given):
            raise SignatureError(
                "missing or wrong aftership-hmac-sha256 signature"
                if given is not None
                else "missing aftership-hmac-sha256 signature"
            )
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise MalformedPayload("AfterShip webhook body is not JSON") from exc
        if not isinstance(data, dict):
            raise MalformedPayload("AfterShip webhook body is not a JSON object")
        # AfterShip's event_id (a UUID) names the event on every delivery of it.
        event_id = str(data.get("event_id") or "") or f"sha256:{hashlib.sha256(body).hexdigest()}"
        return WebhookReceipt(event_id=event_id[:200], topic=str(data.get("event") or TOPIC)[:100])

    def handle_webhook(
        self, hub, topic: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        if topic != TOPIC:
            return WebhookOutcome.ignored(f"topic {topic}")
        update = carrier_update(tracking_of(json.loads(body)))
        order_id = hub.record_carrier_update(update)
        if order_id is None:
            return WebhookOutcome.ignored(
                f"no shipment with tracking number {update.tracking_number}"
            )
        status = update.status or "no news"
        return WebhookOutcome.processed(
            f"order {order_id}: {status}, {len(update.checkpoints)} checkpoints"
        )

    def sign_webhook(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        signed = {
            **headers,
            SIGNATURE_HEADER: sign_base64(str(self.config["webhook_secret"]), body),
        }
        return signed, dict(query)
