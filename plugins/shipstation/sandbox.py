"""A ShipStation V1 simulator (WSGI): the API subset the connector uses, with its quirks.

- Basic auth with one API key and secret (401 otherwise).
- The per-minute rate limit: every answer carries ``X-Rate-Limit-Limit``,
  ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset`` (whole seconds); a
  request over the limit gets 429 and does nothing. ``rate_limit`` and
  ``window`` are configurable so tests need not wait a minute.
- ``POST /orders/createorder`` upserts by ``orderKey`` (full order; shipped and
  cancelled orders refuse changes); ``POST /orders/createorders`` takes at
  most 100 and answers per order (``hasErrors``, ``results[].success`` /
  ``errorMessage``).
- ``POST /orders/createlabelfororder`` buys a label: a shipment with a
  tracking number, in a batch; ``POST /shipments/voidlabel`` voids it.
- ``GET /shipments`` filters (order, batch, create/ship/void date windows,
  store), sorts and pages (``{shipments, total, page, pages}``; pageSize ≤ 500),
  with ``shipmentItems`` only when ``includeShipmentItems=true``.
- ``POST /shipments/getrates`` prices a parcel per carrier, deterministically
  (:func:`sandbox_rates`): by zone (domestic zones from the distance between
  the first three postal digits, one zone for abroad: the origin's country
  is the one :meth:`ShipStationSandbox.add_origin` gave its postal code, as
  ShipStation knows its account's ship-from addresses), weight and service.
- Webhooks: ``POST /webhooks/subscribe``; each new label batch queues a
  ``SHIP_NOTIFY`` ``{resource_url, resource_type}`` to every subscriber, sent
  by :meth:`ShipStationSandbox.deliver_webhooks` (ShipStation sends later,
  from elsewhere; tests decide when).
- Auto-ship (:meth:`ShipStationSandbox.start_auto_ship`, the demo): a thread
  plays the warehouse, labelling every order awaiting shipment in batches
  and sending the ``SHIP_NOTIFY`` webhooks, again until answered 2xx.
- Counters: ``calls`` (``"POST /orders/createorders"`` → n), ``throttled``
  (429s answered) and ``log`` (method, path, status) for tests and benchmarks.
- Failures planned with ``sandbox.faults`` (:class:`hub.integration.sandbox.FaultPlan`),
  answered in ShipStation's shape (``{"Message": …}``).

Dates are written as ShipStation writes them: Pacific time, no zone, 7 digits.

The answers have the shape of ShipStation's V1 reference (its examples,
``shared/vendor/shipstation``; ``tests/test_vendor_schema.py`` checks each
one): an order comes back whole, every field of the Order model present
(null when unset) with ShipStation's read-only ones (``orderId``,
``createDate``, ``orderTotal``, ``items[].orderItemId``, ``shipTo.addressVerified``
…); stores, carriers and webhook subscriptions carry the reference's fields.
Two switches play what the reference shows and the common case does not:
``shipments_name_order_key = False`` leaves ``orderKey`` out of shipments (as
the reference's list example does), and ``create_label(report_items=False)``
makes a shipment whose ``shipmentItems`` stay null.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from werkzeug.wrappers import Request, Response

from hub.core.exceptions import ValidationError
from hub.integration.sandbox import Sandbox, Strike, route
from plugins.shipstation.mapping import (
    BULK_MAX,
    ORDER_NUMBER_MAX,
    SHIPSTATION_TZ,
    format_datetime,
    parse_datetime,
)

log = logging.getLogger(__name__)

ORDER_STATUSES = (
    "awaiting_payment",
    "awaiting_shipment",
    "pending_fulfillment",
    "shipped",
    "on_hold",
    "cancelled",
)
CARRIER_LIST = [
    {
        "name": name,
        "code": code,
        "accountNumber": f"SB{n:04d}",
        "requiresFundedAccount": code == "stamps_com",
        "balance": 100.0 if code == "stamps_com" else 0,
        "nickname": None,
        "shippingProviderId": 5000 + n,
        "primary": True,
    }
    for n, (name, code) in enumerate(
        [
            ("UPS", "ups"),
            ("FedEx", "fedex"),
            ("Stamps.com", "stamps_com"),
            ("DHL Express", "dhl_express"),
        ],
        start=1,
    )
]
#: Every field of ShipStation's Order model, as an answer writes it when the order leaves it unset.
ORDER_FIELDS: dict[str, Any] = {
    "orderId": None,
    "orderNumber": None,
    "orderKey": None,
    "orderDate": None,
    "createDate": None,
    "modifyDate": None,
    "paymentDate": None,
    "shipByDate": None,
    "orderStatus": None,
    "customerId": None,
    "customerUsername": None,
    "customerEmail": None,
    "billTo": None,
    "shipTo": None,
    "items": [],
    "orderTotal": 0,
    "amountPaid": 0,
    "taxAmount": 0,
    "shippingAmount": 0,
    "customerNotes": None,
    "internalNotes": None,
    "gift": False,
    "giftMessage": None,
    "paymentMethod": None,
    "requestedShippingService": None,
    "carrierCode": None,
    "serviceCode": None,
    "packageCode": None,
    "confirmation": None,
    "shipDate": None,
    "holdUntilDate": None,
    "weight": None,
    "dimensions": None,
    "insuranceOptions": None,
    "internationalOptions": None,
    "advancedOptions": None,
    "tagIds": None,
    "userId": None,
    "externallyFulfilled": False,
    "externallyFulfilledBy": None,
    "labelMessages": None,
}
ITEM_FIELDS: dict[str, Any] = {
    "orderItemId": None,
    "lineItemKey": None,
    "sku": None,
    "name": None,
    "imageUrl": None,
    "weight": None,
    "quantity": 0,
    "unitPrice": 0,
    "taxAmount": None,
    "shippingAmount": None,
    "warehouseLocation": None,
    "options": [],
    "productId": None,
    "fulfillmentSku": None,
    "adjustment": False,
    "upc": None,
    "createDate": None,
    "modifyDate": None,
}
ADDRESS_FIELDS: dict[str, Any] = {
    "name": None,
    "company": None,
    "street1": None,
    "street2": None,
    "street3": None,
    "city": None,
    "state": None,
    "postalCode": None,
    "country": None,
    "phone": None,
    "residential": None,
}
ADVANCED_FIELDS: dict[str, Any] = {
    "warehouseId": 1,
    "nonMachinable": False,
    "saturdayDelivery": False,
    "containsAlcohol": False,
    "mergedOrSplit": False,
    "mergedIds": [],
    "parentId": None,
    "storeId": None,
    "customField1": None,
    "customField2": None,
    "customField3": None,
    "source": None,
    "billToParty": None,
    "billToAccount": None,
    "billToPostalCode": None,
    "billToCountryCode": None,
}
_TRACKING_PREFIX = {"ups": "1Z999AA1", "fedex": "7946", "stamps_com": "9400", "dhl_express": "JD01"}
_LABEL_PDF = base64.b64encode(b"%PDF-1.4\n% sandbox label\n%%EOF\n").decode()


class _Reply(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.status, self.body = status, body


class ShipStationSandbox(Sandbox):
    """The simulator's state and its WSGI entry point (an instance is the app).

    Paths match without regard to case or empty segments, as ShipStation's do.
    """

    def __init__(
        self,
        api_key: str = "sandbox-key",
        api_secret: str = "sandbox-secret",
        *,
        rate_limit: int = 40,
        window: float = 60.0,
        base_url: str = "http://127.0.0.1",
        store_id: int = 1,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.api_key, self.api_secret = api_key, api_secret
        self.rate_limit, self.window = rate_limit, window
        #: Where the sandbox is served: the origin of the ``resource_url`` it sends.
        self.base_url = base_url.rstrip("/")
        self.store_id = store_id
        self.clock, self.now = clock, now
        super().__init__()
        self.orders: dict[str, dict[str, Any]] = {}  # by orderKey
        self.orders_by_id: dict[int, dict[str, Any]] = {}
        self.shipments: list[dict[str, Any]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.outbox: list[tuple[str, dict[str, str]]] = []  # (target_url, payload) to send
        self.calls: Counter = Counter()
        self.throttled = 0
        self.log: list[tuple[str, str, int]] = []
        self._ids = itertools.count(100001)
        self._tracking = itertools.count(1)
        self._window_start: float | None = None  # a window opens with its first request
        self._window_count = 0
        #: Webhook deliveries: tries per (target, resource_url), notices answered 2xx.
        self.delivery_attempts: Counter = Counter()
        self.notices_delivered = 0
        self.max_delivery_attempts = 100
        #: ShipStation's own list example leaves ``orderKey`` out of shipments: False plays that.
        self.shipments_name_order_key = True
        self._auto_stop = threading.Event()
        self._auto_thread: threading.Thread | None = None
        #: The account's ship-from addresses: postal code -> country (see :meth:`add_origin`).
        self.origins: dict[str, str] = {}
        #: Each rate quote asked: (carrier code, from postal code, to postal code, grams).
        self.quotes_asked: list[tuple[str, str, str, int]] = []

    # --- WSGI ------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        method, path = request.method, request.path
        headers: list[tuple[str, str]] = []
        with self.lock:
            try:
                self._authenticate(request.headers.get("Authorization", ""))
                headers = self._count_request()
                self.calls[f"{method} {path}"] += 1
                # ShipStation ignores case and empty segments: /Orders//CreateOrder/ works.
                canonical = "/" + "/".join(p for p in path.lower().split("/") if p)
                found = self.match(request, canonical)
                if found is None:
                    raise _Reply(
                        404,
                        {
                            "Message": "No HTTP resource was found that matches the request "
                            f"URI '{path}'."
                        },
                    )
                response = self.invoke(request, found)
            except _Reply as reply:
                response = self.json(reply.body, reply.status)
                headers = getattr(reply, "headers", headers)
            self.log.append((method, path, response.status_code))
        for name, value in headers:
            response.headers[name] = value
        return response

    def fault_response(self, strike: Strike, request: Request) -> Response:
        message = "Too Many Requests" if strike.status == 429 else "An error has occurred."
        headers = {}
        if strike.status == 429 and strike.retry_after is not None:
            headers["Retry-After"] = str(strike.retry_after)
        return self.json({"Message": message}, strike.status, headers)

    def _authenticate(self, header: str) -> None:
        expected = (
            "Basic " + base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        )
        if header != expected:
            raise _Reply(401, {"Message": "Authorization has been denied for this request."})

    def _count_request(self) -> list[tuple[str, str]]:
        now = self.clock()
        if self._window_start is None or now - self._window_start >= self.window:
            self._window_start, self._window_count = now, 0
        reset = max(0, math.ceil(self._window_start + self.window - now))
        if self._window_count >= self.rate_limit:
            self.throttled += 1
            raise _Throttled(self._headers(0, reset))
        self._window_count += 1
        return self._headers(self.rate_limit - self._window_count, reset)

    def _headers(self, remaining: int, reset: int) -> list[tuple[str, str]]:
        return [
            ("X-Rate-Limit-Limit", str(self.rate_limit)),
            ("X-Rate-Limit-Remaining", str(remaining)),
            ("X-Rate-Limit-Reset", str(reset)),
        ]

    @staticmethod
    def _query(request: Request) -> dict[str, str]:
        return dict(request.args.items(multi=True))  # the last of a repeated parameter wins

    @route("/stores", methods=["GET"])
    def _list_stores(self, request: Request) -> Any:
        stamp = "2024-01-01T00:00:00.0000000"
        return [
            {
                "storeId": self.store_id,
                "storeName": "Sandbox store",
                "marketplaceId": 0,
                "marketplaceName": "ShipStation",
                "accountName": None,
                "email": None,
                "integrationUrl": None,
                "active": True,
                "companyName": "",
                "phone": "",
                "publicEmail": "",
                "website": "",
                "refreshDate": stamp,
                "lastRefreshAttempt": stamp,
                "createDate": stamp,
                "modifyDate": stamp,
                "autoRefresh": False,
            }
        ]

    @route("/carriers", methods=["GET"])
    def _list_carriers(self, request: Request) -> Any:
        return CARRIER_LIST

    @route("/orders/createorder", methods=["POST"])
    def _create_order(self, request: Request) -> Any:
        order = _body(request.get_data(), dict)
        try:
            return self.upsert_order(order)
        except ValidationError as exc:
            raise _Reply(
                400, {"Message": "The request is invalid.", "ExceptionMessage": exc.message}
            ) from None

    @route("/orders/createorders", methods=["POST"])
    def _create_orders_route(self, request: Request) -> Any:
        return self._create_orders(_body(request.get_data(), list))

    @route("/orders/<int:order_id>", methods=["GET"])
    def _get_order(self, request: Request, order_id: int) -> Any:
        return self._order_by_id(order_id)

    @route("/orders/createlabelfororder", methods=["POST"])
    def _create_label_for_order(self, request: Request) -> Any:
        data = _body(request.get_data(), dict)
        order = self._order_by_id(_int(data.get("orderId"), "orderId"))
        try:
            return self.create_label(
                order["orderKey"],
                carrier=data.get("carrierCode") or "ups",
                service=data.get("serviceCode") or "",
                with_label=True,
            )
        except ValidationError as exc:
            raise _Reply(400, {"Message": exc.message}) from None

    @route("/shipments/voidlabel", methods=["POST"])
    def _void_label(self, request: Request) -> Any:
        data = _body(request.get_data(), dict)
        return self.void_label(_int(data.get("shipmentId"), "shipmentId"))

    @route("/shipments", methods=["GET"])
    def _list_shipments(self, request: Request) -> Any:
        return self.list_shipments(self._query(request))

    @route("/shipments/getrates", methods=["POST"])
    def _get_rates(self, request: Request) -> Any:
        data = _body(request.get_data(), dict)
        missing = [
            k
            for k in ("carrierCode", "fromPostalCode", "toCountry", "toPostalCode", "weight")
            if not data.get(k)
        ]
        if missing:
            raise _Reply(
                400,
                {
                    "Message": "The request is invalid.",
                    "ModelState": {f"apiRateRequest.{k}": [f"{k} is required"] for k in missing},
                },
            )
        grams = _grams(data["weight"])
        self.quotes_asked.append(
            (
                str(data["carrierCode"]),
                str(data["fromPostalCode"]),
                str(data["toPostalCode"]),
                grams,
            )
        )
        origin_country = self.origins.get(str(data["fromPostalCode"]), str(data["toCountry"]))
        try:
            return sandbox_rates(
                str(data["carrierCode"]),
                from_postal=str(data["fromPostalCode"]),
                from_country=origin_country,
                to_postal=str(data["toPostalCode"]),
                to_country=str(data["toCountry"]),
                grams=grams,
            )
        except ValidationError as exc:
            raise _Reply(400, {"Message": exc.message}) from None

    def add_origin(self, postal_code: str, country: str) -> None:
        """Make ``postal_code`` a ship-from address of the account, in ``country`` (for rates)."""
        with self.lock:
            self.origins[postal_code] = country.upper()

    @route("/webhooks/subscribe", methods=["POST"])
    def _subscribe(self, request: Request) -> Any:
        data = _body(request.get_data(), dict)
        if not data.get("target_url") or not data.get("event"):
            raise _Reply(400, {"Message": "target_url and event are required"})
        sub = self._subscription(
            data["target_url"],
            data["event"],
            data.get("store_id"),
            data.get("friendly_name") or "",
        )
        return {"id": sub["WebHookID"]}

    @route("/webhooks", methods=["GET"])
    def _list_webhooks(self, request: Request) -> Any:
        return {"webhooks": list(self.subscriptions)}

    @route("/webhooks/<webhook_id>", methods=["DELETE"])
    def _unsubscribe(self, request: Request, webhook_id: str) -> Any:
        # Matched lower-cased; ids are digits, so compare with the path as sent.
        sent = [p for p in request.path.split("/") if p][1]
        self.subscriptions = [s for s in self.subscriptions if str(s["WebHookID"]) != sent]
        return None

    # --- orders ----------------------------------------------------------------------------------

    def upsert_order(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create or replace the order with this ``orderKey`` (the whole order, every time)."""
        with self.lock:
            problems = []
            number = data.get("orderNumber")
            if not isinstance(number, str) or not number.strip():
                problems.append("orderNumber is required")
            elif len(number) > ORDER_NUMBER_MAX:
                problems.append(f"orderNumber must be at most {ORDER_NUMBER_MAX} characters")
            if data.get("orderStatus") not in ORDER_STATUSES:
                problems.append(f"orderStatus must be one of {', '.join(ORDER_STATUSES)}")
            try:
                if parse_datetime(data.get("orderDate")) is None:
                    problems.append("orderDate is required")
            except ValidationError as exc:
                problems.append(exc.message)
            for i, item in enumerate(data.get("items") or []):
                if not isinstance(item.get("quantity"), int) or item["quantity"] < 1:
                    problems.append(f"items[{i}].quantity must be a positive whole number")
            if problems:
                raise ValidationError("; ".join(problems))
            key = data.get("orderKey") or f"ss-{next(self._ids)}"
            existing = self.orders.get(key)
            if (
                existing is not None
                and existing["orderStatus"] in ("shipped", "cancelled")
                and data["orderStatus"] != existing["orderStatus"]
            ):
                raise ValidationError(
                    f"order {key} is {existing['orderStatus']} and cannot be updated"
                )
            stamp = format_datetime(self.now())
            order = {
                **ORDER_FIELDS,
                **data,
                "orderKey": key,
                "orderId": existing["orderId"] if existing else next(self._ids),
                "createDate": existing["createDate"] if existing else stamp,
                "modifyDate": stamp,
                "orderTotal": round(
                    sum((i.get("unitPrice") or 0) * i["quantity"] for i in data.get("items") or [])
                    + (data.get("taxAmount") or 0)
                    + (data.get("shippingAmount") or 0),
                    2,
                ),
            }
            order["billTo"] = {**ADDRESS_FIELDS, **(data.get("billTo") or {})}
            order["shipTo"] = {
                **ADDRESS_FIELDS,
                **(data.get("shipTo") or {}),
                "addressVerified": "Address not yet validated",
            }
            order["advancedOptions"] = {
                **ADVANCED_FIELDS,
                "storeId": self.store_id,
                **(data.get("advancedOptions") or {}),
            }
            order["items"] = [
                {
                    **ITEM_FIELDS,
                    **item,
                    "orderItemId": order["orderId"] * 1000 + n,
                    "createDate": stamp,
                    "modifyDate": stamp,
                }
                for n, item in enumerate(data.get("items") or [])
            ]
            self.orders[key] = order
            self.orders_by_id[order["orderId"]] = order
            return order

    def _create_orders(self, orders: list[Any]) -> dict[str, Any]:
        if len(orders) > BULK_MAX:
            raise _Reply(400, {"Message": f"You may create up to {BULK_MAX} orders per request."})
        results = []
        for data in orders:
            data = data if isinstance(data, dict) else {}
            try:
                order = self.upsert_order(data)
                results.append(
                    {
                        "orderId": order["orderId"],
                        "orderNumber": order["orderNumber"],
                        "orderKey": order["orderKey"],
                        "success": True,
                        "errorMessage": None,
                    }
                )
            except ValidationError as exc:
                results.append(
                    {
                        "orderId": 0,
                        "orderNumber": data.get("orderNumber"),
                        "orderKey": data.get("orderKey"),
                        "success": False,
                        "errorMessage": exc.message,
                    }
                )
        return {"hasErrors": any(not r["success"] for r in results), "results": results}

    def _order_by_id(self, order_id: int) -> dict[str, Any]:
        order = self.orders_by_id.get(order_id)
        if order is None:
            raise _Reply(404, {"Message": f"order {order_id} not found"})
        return order

    def order(self, key: str) -> dict[str, Any]:
        """The order with this ``orderKey`` (tests read it)."""
        return self.orders[key]

    # --- labels and shipments -------------------------------------------------------------------

    def create_labels(self, order_keys: list[str], *, carrier: str = "ups") -> list[dict[str, Any]]:
        """Buy labels for many orders in one batch: one ``SHIP_NOTIFY`` names them all."""
        with self.lock:
            batch_id = next(self._ids)
            labels = [
                self.create_label(key, carrier=carrier, batch_id=batch_id) for key in order_keys
            ]
            self._queue_notice(batch_id)
            return labels

    def create_label(
        self,
        order_key: str,
        *,
        carrier: str = "ups",
        service: str = "",
        items: dict[str, int] | None = None,
        with_label: bool = False,
        batch_id: int | None = None,
        report_items: bool = True,
    ) -> dict[str, Any]:
        """Buy a label for an order, as the warehouse does: a shipment with a tracking number.

        ``items`` (``{lineItemKey: quantity}``) ships part of the order; by
        default all of it. Several labels of one order (a shipment in several
        packages) are several shipments with the order's ``orderId`` and
        ``orderKey``. With ``report_items=False`` the shipment's
        ``shipmentItems`` stay null (ShipStation does not always know them).
        Without ``batch_id`` the label is a batch of its own and queues a
        ``SHIP_NOTIFY`` for every subscriber.
        """
        with self.lock:
            notify = batch_id is None
            order = self.orders.get(order_key)
            if order is None:
                raise ValidationError(f"no order {order_key}")
            if order["orderStatus"] != "awaiting_shipment":
                raise ValidationError(f"order {order_key} is {order['orderStatus']}: no label")
            chosen = [
                dict(i)
                for i in order.get("items") or []
                if items is None or str(i.get("lineItemKey")) in items
            ]
            for item in chosen:
                if items is not None:
                    item["quantity"] = int(items[str(item["lineItemKey"])])
            batch_id = batch_id if batch_id is not None else next(self._ids)
            tracking = f"{_TRACKING_PREFIX.get(carrier, 'SB')}{next(self._tracking):010d}"
            now = self.now()
            shipment = {
                "shipmentId": next(self._ids),
                "orderId": order["orderId"],
                "orderKey": order_key,
                "userId": "sandbox-user",
                "customerEmail": order.get("customerEmail"),
                "orderNumber": order["orderNumber"],
                "createDate": format_datetime(now),
                "shipDate": now.astimezone(SHIPSTATION_TZ).strftime("%Y-%m-%d"),
                "shipmentCost": 7.5,
                "insuranceCost": 0,
                "trackingNumber": tracking,
                "isReturnLabel": False,
                "batchNumber": str(batch_id),
                "carrierCode": carrier,
                "serviceCode": service or f"{carrier}_ground",
                "packageCode": "package",
                "confirmation": "none",
                "warehouseId": 1,
                "voided": False,
                "voidDate": None,
                "marketplaceNotified": False,
                "notifyErrorMessage": None,
                "shipTo": order.get("shipTo"),
                "weight": {"value": 16, "units": "ounces"},
                "dimensions": None,
                "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0},
                "advancedOptions": {"storeId": self.store_id},
                "shipmentItems": [
                    {
                        "orderItemId": i.get("orderItemId"),
                        "lineItemKey": i.get("lineItemKey"),
                        "sku": i.get("sku"),
                        "name": i.get("name"),
                        "imageUrl": i.get("imageUrl"),
                        "weight": i.get("weight"),
                        "quantity": i["quantity"],
                        "unitPrice": i.get("unitPrice"),
                        "taxAmount": i.get("taxAmount"),
                        "shippingAmount": i.get("shippingAmount"),
                        "warehouseLocation": i.get("warehouseLocation"),
                        "options": i.get("options") or [],
                        "productId": i.get("productId"),
                        "fulfillmentSku": i.get("fulfillmentSku"),
                        "adjustment": bool(i.get("adjustment")),
                        "upc": i.get("upc"),
                        "createDate": i.get("createDate"),
                        "modifyDate": i.get("modifyDate"),
                    }
                    for i in chosen
                ]
                if report_items
                else None,
                "labelData": None,
                "formData": None,
                "_batchId": batch_id,
                "_created": now,
                "_voided": None,
                "_items": [(str(i.get("lineItemKey")), i["quantity"]) for i in chosen],
            }
            self.shipments.append(shipment)
            shipped: Counter[str] = Counter()
            for s in self.shipments:
                if s["orderKey"] == order_key and not s["voided"]:
                    for line, quantity in s["_items"]:
                        shipped[line] += quantity
            if all(
                shipped[str(i.get("lineItemKey"))] >= i["quantity"]
                for i in order.get("items") or []
            ):
                order["orderStatus"] = "shipped"
            if notify:
                self._queue_notice(batch_id)
            answer = self._public(shipment, with_items=False, with_key=True)
            if with_label:
                answer["labelData"] = _LABEL_PDF
            return answer

    def void_label(self, shipment_id: int) -> dict[str, Any]:
        """Void a label: the shipment is marked voided and its order awaits shipment again."""
        with self.lock:
            shipment = next((s for s in self.shipments if s["shipmentId"] == shipment_id), None)
            if shipment is None:
                raise _Reply(404, {"Message": f"shipment {shipment_id} not found"})
            if shipment["voided"]:
                return {"approved": False, "message": "Label already voided"}
            now = self.now()
            shipment["voided"], shipment["voidDate"], shipment["_voided"] = (
                True,
                format_datetime(now),
                now,
            )
            order = self.orders.get(shipment["orderKey"])
            if order is not None and order["orderStatus"] == "shipped":
                order["orderStatus"] = "awaiting_shipment"
            return {"approved": True, "message": "Label voided successfully"}

    def list_shipments(self, query: dict[str, str]) -> dict[str, Any]:
        q = {k.lower(): v for k, v in query.items()}
        with self.lock:
            found = list(self.shipments)

        def window(field: str, start: str, end: str) -> None:
            nonlocal found
            lo, hi = _query_date(q.get(start), start), _query_date(q.get(end), end, end_of_day=True)
            if lo is not None:
                found = [s for s in found if s[field] is not None and s[field] >= lo]
            if hi is not None:
                found = [s for s in found if s[field] is not None and s[field] <= hi]

        for key, field in (("orderid", "orderId"), ("batchid", "_batchId")):
            if q.get(key):
                found = [s for s in found if str(s[field]) == q[key]]
        if q.get("ordernumber"):
            found = [s for s in found if s["orderNumber"] == q["ordernumber"]]
        if q.get("trackingnumber"):
            found = [s for s in found if s["trackingNumber"] == q["trackingnumber"]]
        if q.get("storeid") and str(q["storeid"]) != str(self.store_id):
            found = []
        window("_created", "createdatestart", "createdateend")
        window("_created", "shipdatestart", "shipdateend")
        window("_voided", "voiddatestart", "voiddateend")
        sort = {"createdate": "_created", "shipdate": "_created", "voiddate": "_voided"}.get(
            (q.get("sortby") or "").lower(), "shipmentId"
        )
        found.sort(
            key=lambda s: (s[sort] is None, s[sort] or 0, s["shipmentId"]),
            reverse=(q.get("sortdir") or "ASC").upper() == "DESC",
        )
        page = max(1, _int(q.get("page") or 1, "page"))
        size = min(500, max(1, _int(q.get("pagesize") or 100, "pageSize")))
        items = (q.get("includeshipmentitems") or "").lower() == "true"
        chunk = found[(page - 1) * size : page * size]
        return {
            "shipments": [
                self._public(s, with_items=items, with_key=self.shipments_name_order_key)
                for s in chunk
            ],
            "total": len(found),
            "page": page,
            "pages": math.ceil(len(found) / size),
        }

    @staticmethod
    def _public(shipment: dict[str, Any], *, with_items: bool, with_key: bool) -> dict[str, Any]:
        out = {k: v for k, v in shipment.items() if not k.startswith("_")}
        if not with_items:
            out["shipmentItems"] = None
        if not with_key:
            del out["orderKey"]
        return json.loads(json.dumps(out))

    # --- webhooks --------------------------------------------------------------------------------

    def _queue_notice(self, batch_id: int) -> None:
        resource = f"{self.base_url}/shipments?" + urlencode(
            {"storeID": self.store_id, "batchId": batch_id, "includeShipmentItems": "False"}
        )
        for sub in self.subscriptions:
            if sub["HookType"] in ("SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"):
                url = (
                    resource.replace("False", "True")
                    if sub["HookType"] == "ITEM_SHIP_NOTIFY"
                    else resource
                )
                self.outbox.append(
                    (sub["Url"], {"resource_url": url, "resource_type": sub["HookType"]})
                )

    def subscribe(self, target_url: str, event: str = "SHIP_NOTIFY") -> int:
        """Subscribe a webhook without an API call (as a person does in ShipStation's settings)."""
        return self._subscription(target_url, event, self.store_id, "hub")["WebHookID"]

    def _subscription(
        self, target_url: str, event: str, store_id: Any, name: str
    ) -> dict[str, Any]:
        with self.lock:
            sub = {
                "WebHookID": next(self._ids),
                "SellerID": 100000,
                "StoreID": store_id,
                "HookType": event,
                "MessageFormat": "Json",
                "Url": target_url,
                "Name": name,
                "BulkCopyBatchID": None,
                "BulkCopyRecordID": None,
                "Active": True,
                "WebhookLogs": [],
                "Seller": None,
                "Store": None,
                "IsLabelAPIHook": False,
            }
            self.subscriptions.append(sub)
            return sub

    def deliver_webhooks(self, timeout: float = 10.0, *, retry: bool = False) -> list[int]:
        """POST every queued notice to its target; return the status codes answered.

        With ``retry``, a notice that got no 2xx answer (0 stands for no answer
        at all) is queued again for the next call, at most
        ``max_delivery_attempts`` times in all; without it, a connection error
        is raised as it is.
        """
        with self.lock:
            pending, self.outbox = self.outbox, []
        codes, again = [], []
        for url, payload in pending:
            try:
                code = send_notice(
                    url, payload["resource_url"], payload["resource_type"], timeout=timeout
                )
            except requests.RequestException:
                if not retry:
                    raise
                code = 0
            codes.append(code)
            key = (url, payload["resource_url"])
            with self.lock:
                self.delivery_attempts[key] += 1
                if 200 <= code < 300:
                    self.notices_delivered += 1
                elif retry and self.delivery_attempts[key] < self.max_delivery_attempts:
                    again.append((url, payload))
        if again:
            with self.lock:
                self.outbox[:0] = again
        return codes

    # --- the warehouse at work (auto-ship: the demo, the reliability tests) -----------------------

    def ship_waiting(self, *, carrier: str = "ups") -> list[dict[str, Any]]:
        """Buy labels, as one batch, for every order awaiting shipment (one ``SHIP_NOTIFY``)."""
        with self.lock:
            keys = [
                key
                for key, order in self.orders.items()
                if order["orderStatus"] == "awaiting_shipment"
            ]
            return self.create_labels(keys, carrier=carrier) if keys else []

    def start_auto_ship(self, *, every: float = 0.5, carrier: str = "ups") -> None:
        """Run the warehouse in a thread: every ``every`` seconds, label what awaits shipment
        (:meth:`ship_waiting`) and send the queued webhooks, again until answered 2xx."""
        if self._auto_thread is not None:
            return
        self._auto_stop.clear()

        def work() -> None:
            while not self._auto_stop.wait(every):
                try:
                    self.ship_waiting(carrier=carrier)
                    self.deliver_webhooks(timeout=5.0, retry=True)
                except Exception:  # keep the warehouse working; the hub's poll is the safety net
                    log.exception("shipstation sandbox: auto-ship round failed")

        self._auto_thread = threading.Thread(
            target=work, name="shipstation-sandbox-auto-ship", daemon=True
        )
        self._auto_thread.start()

    def stop_auto_ship(self) -> None:
        self._auto_stop.set()
        if self._auto_thread is not None:
            self._auto_thread.join(timeout=10)
            self._auto_thread = None

    # --- counters --------------------------------------------------------------------------------

    def count(self, method: str, path: str) -> int:
        return self.calls[f"{method} {path}"]

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class _Throttled(_Reply):
    def __init__(self, headers: list[tuple[str, str]]):
        super().__init__(429, {"message": "Too Many Requests"})
        self.headers = headers


def send_notice(
    target_url: str, resource_url: str, resource_type: str = "SHIP_NOTIFY", *, timeout: float = 10.0
) -> int:
    """POST one ShipStation-style webhook (unsigned ``{resource_url, resource_type}``)."""
    response = requests.post(
        target_url,
        json={"resource_url": resource_url, "resource_type": resource_type},
        timeout=timeout,
    )
    return response.status_code


#: Each carrier's services in the sandbox: (code, name, price factor).
RATE_SERVICES: dict[str, list[tuple[str, str, float]]] = {
    "ups": [("ups_ground", "UPS® Ground", 1.0), ("ups_next_day_air", "UPS Next Day Air®", 2.6)],
    "fedex": [("fedex_ground", "FedEx Ground®", 1.05), ("fedex_2day", "FedEx 2Day®", 1.9)],
    "stamps_com": [("usps_priority_mail", "USPS Priority Mail", 0.97)],
    "dhl_express": [("express_worldwide", "DHL Express Worldwide", 1.7)],
}
#: The zone of every parcel sent abroad (domestic zones are 2 to 8).
ABROAD_ZONE = 9


def rate_zone(from_postal: str, from_country: str, to_postal: str, to_country: str) -> int:
    """A sandbox shipping zone: 2 to 8 at home (as US carriers count from ZIP prefixes), 9 abroad."""
    if from_country.upper() != to_country.upper():
        return ABROAD_ZONE
    a, b = from_postal.strip()[:3], to_postal.strip()[:3]
    if a.isdigit() and b.isdigit():
        # Pad short prefixes (4-digit postal codes) so 1010 and 10115 compare by place.
        return 2 + min(6, abs(int(a.ljust(3, "0")) - int(b.ljust(3, "0"))) // 120)
    return 2 if a[:1] == b[:1] else 4


def sandbox_rates(
    carrier: str,
    *,
    from_postal: str,
    from_country: str,
    to_postal: str,
    to_country: str,
    grams: int,
) -> list[dict[str, Any]]:
    """Every service of ``carrier`` for one parcel, in getrates' shape; the same input, the same prices.

    ``shipmentCost`` is 4.00 + 1.10 per zone + 0.55 per zone and started kilogram, times the
    service's factor; ``otherCost`` is a 4% fuel surcharge. USPS takes no parcel over 20 kg
    and ships from the US only.

    :raises ValidationError: an unknown carrier, or one that does not take this parcel.
    """
    services = RATE_SERVICES.get(carrier)
    if services is None:
        raise ValidationError(f"Invalid carrierCode: {carrier}")
    if carrier == "stamps_com" and (grams > 20_000 or from_country.upper() != "US"):
        raise ValidationError("USPS cannot ship this parcel")
    zone = rate_zone(from_postal, from_country, to_postal, to_country)
    kilos = max(1, math.ceil(grams / 1000))
    base = 4.00 + 1.10 * zone + 0.55 * zone * kilos
    out = []
    for code, name, factor in services:
        cost = round(base * factor, 2)
        out.append(
            {
                "otherCost": round(cost * 0.04, 2),
                "serviceCode": code,
                "serviceName": name,
                "shipmentCost": cost,
            }
        )
    return out


def _grams(weight: Any) -> int:
    """A getrates ``weight`` object in grams (units: ``grams``, ``ounces`` or ``pounds``)."""
    if not isinstance(weight, dict):
        raise _Reply(400, {"Message": "weight must be an object with value and units"})
    try:
        value = float(weight["value"])
    except (KeyError, TypeError, ValueError):
        raise _Reply(400, {"Message": "weight.value must be a number"}) from None
    per_unit = {"grams": 1.0, "ounces": 28.349523125, "pounds": 453.59237}.get(
        str(weight.get("units") or "").lower()
    )
    if per_unit is None or not value > 0:
        raise _Reply(400, {"Message": "weight needs a positive value in grams, ounces or pounds"})
    return math.ceil(value * per_unit)


def _body(raw: bytes, kind: type) -> Any:
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise _Reply(400, {"Message": "The request body is not JSON."}) from None
    if not isinstance(data, kind):
        raise _Reply(400, {"Message": f"The request body must be a JSON {kind.__name__}."})
    return data


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Reply(400, {"Message": f"{name} must be a number"}) from None


def _query_date(value: str | None, name: str, *, end_of_day: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValidationError:
        raise _Reply(400, {"Message": f"{name} is not a date: {value}"}) from None
    if parsed is None:  # blank
        return None
    if end_of_day and len(value.strip()) == 10:  # a bare date ends at the end of that day
        parsed = parsed + timedelta(days=1) - timedelta(microseconds=1)
    return parsed
