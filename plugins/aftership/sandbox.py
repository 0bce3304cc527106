"""A loopback simulator of the AfterShip Tracking API v4 subset the connector uses, and its webhooks.

- ``POST /v4/trackings``: a tracking made once per (slug, tracking number);
  again: ``400`` with ``meta.code`` ``4003`` and the tracking that exists, as
  AfterShip answers.
- ``GET /v4/trackings/<id>``, ``GET /v4/trackings`` (``page``, ``limit``,
  ``keyword``): answers in the shapes of AfterShip's own SDK fixtures
  (``{"meta": {"code"}, "data": {"tracking"}}``; the list with ``page``,
  ``limit``, ``count`` and ``trackings``).
- Every request needs the ``as-api-key`` header (``401`` otherwise).
- The carriers: :meth:`AfterShipSandbox.scan` adds a checkpoint to a tracking
  (tag, subtag, message, place) and queues a ``tracking_update`` webhook with
  the whole tracking; :meth:`deliver_webhooks` posts them to ``webhook_url``
  signed as AfterShip signs them (``aftership-hmac-sha256``: base64
  HMAC-SHA256 of the raw body with the webhook secret). ``deliver``,
  ``fail`` and ``return_to_sender`` are the scans tests and the demo need.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from hub.integration.sandbox import Answer, Sandbox, route
from hub.integration.signing import sign_base64

#: Subtag and its words for each tag a scan may give (AfterShip's delivery sub-statuses).
SUBTAGS: dict[str, tuple[str, str]] = {
    "Pending": ("Pending_001", "Pending"),
    "InfoReceived": ("InfoReceived_001", "Info Received"),
    "InTransit": ("InTransit_001", "In Transit"),
    "OutForDelivery": ("OutForDelivery_001", "Out for Delivery"),
    "AttemptFail": ("AttemptFail_001", "Failed Attempt"),
    "Delivered": ("Delivered_001", "Delivered"),
    "AvailableForPickup": ("AvailableForPickup_001", "Available for pickup"),
    "Exception": ("Exception_001", "Exception"),
    "Expired": ("Expired_001", "Expired"),
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class AfterShipSandbox(Sandbox):
    def __init__(
        self,
        *,
        api_key: str = "as-sandbox-key",
        webhook_secret: str = "",
        webhook_url: str = "",
    ):
        super().__init__()
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        #: Trackings by id, in creation order.
        self.trackings: dict[str, dict[str, Any]] = {}
        #: Webhook bodies waiting to be sent (raw bytes, as signed).
        self.outbox: list[bytes] = []
        self.calls: Counter[str] = Counter()
        self.webhooks_delivered = 0
        self._clock = datetime.now(UTC) - timedelta(seconds=1)

    # --- the API ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.calls[f"{request.method} {request.path}"] += 1
        key = request.headers.get("as-api-key") or request.headers.get("aftership-api-key")
        if key != self.api_key:
            return self._error(401, 401, "Invalid API key.", "Unauthorized")
        return self.dispatch(request)

    def _error(self, status: int, code: int, message: str, kind: str, data: Any = None) -> Response:
        return self.json(
            {"meta": {"code": code, "message": message, "type": kind}, "data": data or {}},
            status=status,
        )

    def not_found(self, request: Request) -> Response:
        return self._error(
            404,
            4004,
            "The URI requested is invalid or the resource requested does not exist.",
            "NotFound",
        )

    @route("/v4/trackings", methods=["POST"])
    def _create(self, request: Request) -> Any:
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            raise Answer(self._error(400, 4001, "Invalid JSON data.", "BadRequest")) from None
        tracking = body.get("tracking") if isinstance(body, dict) else None
        number = str((tracking or {}).get("tracking_number") or "").strip()
        if not isinstance(tracking, dict) or not number:
            raise Answer(
                self._error(400, 4005, "The value of `tracking_number` is invalid.", "BadRequest")
            )
        slug = tracking.get("slug") or "fedex"  # AfterShip detects the courier; the sandbox guesses
        if isinstance(slug, list):  # the SDK's fixture writes it as a list
            slug = slug[0] if slug else "fedex"
        with self.lock:
            existing = next(
                (
                    t
                    for t in self.trackings.values()
                    if t["tracking_number"] == number and t["slug"] == slug
                ),
                None,
            )
            if existing is not None:
                raise Answer(
                    self._error(
                        400,
                        4003,
                        "Tracking already exists.",
                        "BadRequest",
                        {
                            "tracking": {
                                "id": existing["id"],
                                "slug": slug,
                                "tracking_number": number,
                            }
                        },
                    )
                )
            made = self._new_tracking(number, str(slug), tracking)
            self.trackings[made["id"]] = made
            return self.json({"meta": {"code": 201}, "data": {"tracking": made}}, status=201)

    @route("/v4/trackings/<tracking_id>", methods=["GET"])
    def _get(self, request: Request, tracking_id: str) -> Any:
        with self.lock:
            tracking = self.trackings.get(tracking_id)
            if tracking is None:
                raise Answer(self._error(404, 4004, "Tracking does not exist.", "NotFound"))
            return {"meta": {"code": 200}, "data": {"tracking": json.loads(json.dumps(tracking))}}

    @route("/v4/trackings", methods=["GET"])
    def _list(self, request: Request) -> Any:
        try:
            page = max(int(request.args.get("page", 1)), 1)
            limit = min(max(int(request.args.get("limit", 100)), 1), 200)
        except ValueError:
            raise Answer(
                self._error(400, 4010, "The value of `page` or `limit` is invalid.", "BadRequest")
            ) from None
        keyword = request.args.get("keyword", "")
        with self.lock:
            found = [
                t for t in self.trackings.values() if not keyword or keyword in t["tracking_number"]
            ]
            chunk = json.loads(json.dumps(found[(page - 1) * limit : page * limit]))
        return {
            "meta": {"code": 200},
            "data": {
                "page": page,
                "limit": limit,
                "count": len(found),
                "keyword": keyword,
                "slug": "",
                "origin": [],
                "destination": [],
                "tag": "",
                "fields": "",
                "created_at_min": None,
                "created_at_max": None,
                "last_updated_at": None,
                "return_to_sender": [],
                "courier_destination_country_iso3": [],
                "trackings": chunk,
            },
        }

    def _new_tracking(self, number: str, slug: str, given: dict[str, Any]) -> dict[str, Any]:
        now = _iso(self.now())
        return {
            "id": uuid.uuid4().hex[:24],
            "created_at": now,
            "updated_at": now,
            "last_updated_at": now,
            "tracking_number": number,
            "slug": slug,
            "active": True,
            "android": [],
            "custom_fields": given.get("custom_fields"),
            "customer_name": given.get("customer_name"),
            "delivery_time": 0,
            "destination_country_iso3": None,
            "courier_destination_country_iso3": None,
            "emails": list(given.get("emails") or []),
            "expected_delivery": None,
            "ios": [],
            "note": given.get("note"),
            "order_id": given.get("order_id"),
            "order_id_path": given.get("order_id_path"),
            "order_date": None,
            "order_number": given.get("order_number"),
            "origin_country_iso3": None,
            "shipment_package_count": 0,
            "shipment_pickup_date": None,
            "shipment_delivery_date": None,
            "shipment_type": None,
            "shipment_weight": None,
            "shipment_weight_unit": None,
            "signed_by": None,
            "smses": list(given.get("smses") or []),
            "source": "api",
            "tag": "Pending",
            "subtag": "Pending_001",
            "subtag_message": "Pending",
            "title": given.get("title") or number,
            "tracked_count": 0,
            "last_mile_tracking_supported": None,
            "language": given.get("language"),
            "unique_token": "deprecated",
            "checkpoints": [],
            "subscribed_smses": [],
            "subscribed_emails": [],
            "return_to_sender": False,
            "tracking_account_number": None,
            "tracking_origin_country": None,
            "tracking_destination_country": None,
            "tracking_key": None,
            "tracking_postal_code": None,
            "tracking_ship_date": None,
            "tracking_state": None,
            "order_promised_delivery_date": given.get("order_promised_delivery_date"),
            "delivery_type": given.get("delivery_type"),
            "pickup_location": given.get("pickup_location"),
            "pickup_note": given.get("pickup_note"),
            "courier_tracking_link": None,
            "first_attempted_at": None,
        }

    # --- the carriers at work --------------------------------------------------------------

    def now(self) -> datetime:
        """The time of a scan: now, and always a second after the last, so scans keep their order."""
        with self.lock:
            self._clock = max(datetime.now(UTC), self._clock + timedelta(seconds=1))
            return self._clock

    def find(self, tracking_number: str) -> dict[str, Any]:
        with self.lock:
            for tracking in self.trackings.values():
                if tracking["tracking_number"] == tracking_number:
                    return tracking
        raise KeyError(f"no AfterShip tracking {tracking_number}")

    def scan(
        self,
        tracking_number: str,
        tag: str,
        *,
        subtag: str = "",
        message: str = "",
        location: str = "",
        return_to_sender: bool | None = None,
    ) -> dict[str, Any]:
        """The carrier scans the parcel: a checkpoint, the tracking's tag, a webhook queued."""
        default_subtag, words = SUBTAGS[tag]
        with self.lock:
            tracking = self.find(tracking_number)
            first_of_tag = tracking["tag"] != tag
            moment = self.now()
            point = {
                "slug": tracking["slug"],
                "city": None,
                "created_at": _iso(moment),
                "location": location or None,
                "country_name": None,
                "message": message or words,
                "country_iso3": None,
                "tag": tag,
                "subtag": subtag or default_subtag,
                "subtag_message": words,
                "checkpoint_time": _iso(moment),
                "coordinates": [],
                "state": None,
                "zip": None,
                "raw_tag": "SANDBOX",
            }
            tracking["checkpoints"].append(point)
            tracking["tag"], tracking["subtag"] = tag, point["subtag"]
            tracking["subtag_message"] = words
            tracking["updated_at"] = tracking["last_updated_at"] = _iso(moment)
            tracking["tracked_count"] += 1
            if tag == "Delivered":
                tracking["active"] = False
                tracking["shipment_delivery_date"] = _iso(moment)
            if return_to_sender is not None:
                tracking["return_to_sender"] = return_to_sender
            self._queue(tracking, first_of_tag)
            return tracking

    def deliver(self, tracking_number: str, *, location: str = "") -> dict[str, Any]:
        """Out for delivery, then delivered (two checkpoints, two webhooks)."""
        self.scan(tracking_number, "OutForDelivery", location=location)
        return self.scan(
            tracking_number,
            "Delivered",
            message="Delivered - Left at front door",
            location=location,
        )

    def fail(self, tracking_number: str, message: str = "Incorrect address") -> dict[str, Any]:
        return self.scan(tracking_number, "Exception", subtag="Exception_007", message=message)

    def return_to_sender(self, tracking_number: str) -> dict[str, Any]:
        return self.scan(
            tracking_number,
            "Exception",
            subtag="Exception_011",
            message="Returned to sender",
            return_to_sender=True,
        )

    def deliver_all(self, *, journey: bool = True) -> int:
        """Deliver every tracking not delivered yet; how many.

        With ``journey`` each goes in transit, out for delivery, then delivered
        (three scans, three webhooks); without it, one scan: delivered.
        """
        with self.lock:
            waiting = [
                t["tracking_number"] for t in self.trackings.values() if t["tag"] != "Delivered"
            ]
        for number in waiting:
            if journey:
                self.scan(number, "InTransit", message="Departed facility")
                self.deliver(number)
            else:
                self.scan(number, "Delivered", message="Delivered - Left at front door")
        return len(waiting)

    # --- webhooks --------------------------------------------------------------------------

    def _queue(self, tracking: dict[str, Any], first_of_tag: bool) -> None:
        body = {
            "event": "tracking_update",
            "event_id": str(uuid.uuid4()),
            "is_tracking_first_tag": first_of_tag,
            "msg": tracking,
            "ts": int(time.time()),
        }
        self.outbox.append(json.dumps(body).encode())

    def signature(self, body: bytes) -> str:
        return sign_base64(self.webhook_secret, body)

    def deliver_webhooks(self, timeout: float = 10.0) -> list[int]:
        """POST every queued webhook to ``webhook_url``, signed; the status codes answered.

        One not answered 2xx is queued again for the next call, as AfterShip retries.
        """
        with self.lock:
            pending, self.outbox = self.outbox, []
        codes, again = [], []
        for body in pending:
            try:
                code = requests.post(
                    self.webhook_url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "aftership-hmac-sha256": self.signature(body),
                    },
                    timeout=timeout,
                ).status_code
            except requests.RequestException:
                code = 0
            codes.append(code)
            if 200 <= code < 300:
                self.webhooks_delivered += 1
            else:
                again.append(body)
        if again:
            with self.lock:
                self.outbox[:0] = again
        return codes
