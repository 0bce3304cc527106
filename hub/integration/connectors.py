"""Connectors: the classes plugins write to reach an outside system.

A *connector* is the code (Shopify, Stripe, …); a *channel* is one configured
instance of it (a given store, a given Stripe account). A connector declares:

- ``name``: unique, lower-case (``"shopify"``);
- ``roles``: what it does for the hub, from :data:`ROLES`; it subclasses the
  class of each role (:class:`SalesConnector`, :class:`PaymentConnector`,
  :class:`ShippingConnector`, :class:`ErpConnector`, :class:`NotificationConnector`,
  :class:`TrackingConnector`);
- ``capabilities``: the optional operations it implements (:class:`Capability`);
- ``config_schema``: a marshmallow schema for a channel's configuration. Field
  metadata drives the admin form and the API: ``label``, ``help`` and
  ``secret`` (``True``: write-only, encrypted at rest, never shown back).

Then it implements the operations of its roles. The hub calls them from jobs,
so an operation may raise :class:`hub.core.exceptions.ExternalError` with
``retryable`` set and the job layer will retry or dead-letter accordingly.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from hub.core.exceptions import ConfigError, ExternalError, ValidationError
from hub.core.order import OrderData, ShipmentData
from hub.core.tracking import CarrierEvent

if TYPE_CHECKING:
    from hub.core.events import OrderEvent
    from hub.integration.erp import ErpExchange
    from hub.integration.http import HttpClient
    from hub.integration.port import HubPort

ROLES: tuple[str, ...] = ("sales", "payment", "shipping", "erp", "notification", "tracking")


class Capability(StrEnum):
    """An optional operation a connector declares it implements (``capabilities``)."""

    #: ``verify_webhook`` and ``handle_webhook``: the service posts webhooks.
    WEBHOOKS = "webhooks"
    #: ``fetch_orders``: the hub pulls the channel's orders page by page.
    PULL_ORDERS = "pull_orders"
    #: ``fetch_order``: one order again by its id (to retry one a pull could not store).
    FETCH_ORDER = "fetch_order"
    #: ``push_fulfillment``: the channel is told what shipped.
    PUSH_FULFILLMENT = "push_fulfillment"
    #: ``cancel_fulfillment``: a fulfilment pushed before can be cancelled (a voided label).
    CANCEL_FULFILLMENT = "cancel_fulfillment"
    #: ``push_stock``: the channel's stock is set from the hub's.
    PUSH_STOCK = "push_stock"
    #: ``stock_locations``: the channel takes stock per hub location, not the sum over them
    #: (when its configuration maps hub locations to its own; see :meth:`SalesConnector.stock_locations`).
    STOCK_BY_LOCATION = "stock_by_location"
    #: ``sync_webhooks`` and ``remove_webhooks``: the connector subscribes the channel's
    #: webhooks at the provider itself, and removes them when the channel is disabled or deleted.
    REGISTER_WEBHOOKS = "register_webhooks"
    #: ``notify`` takes ``attachments``: the files that go with an event (the invoice's PDF
    #: on ``order.invoice_issued``). The hub hands them only to a notification connector that
    #: declares this, so one written before attachments keeps its ``notify`` as it is.
    ATTACHMENTS = "attachments"
    #: ``fetch_tracking``: a tracking connector reads one tracking again, for the hub's
    #: ``tracking.poll``, the safety net for carrier webhooks that never came.
    POLL_TRACKING = "poll_tracking"
    #: ``export_purchase_order``: an ERP connector hands a sent purchase order to the ERP
    #: (a supplier whose purchase orders go "by ERP" instead of by email).
    PURCHASE_ORDERS = "purchase_orders"
    #: ``preview_messages``, ``preview`` and ``send_preview``: a notification connector shows
    #: its customer messages for a sample order in the admin, in each language it writes, and
    #: sends one to an address the merchant types (see :class:`PreviewsMessages`).
    PREVIEW = "preview"
    #: ``quote_rates``: the shipping service prices a parcel before it is sent (per carrier
    #: and service), so routing can compare what each location would cost (hub.routing.rates).
    RATES = "rates"


@dataclass(frozen=True)
class ChannelInfo:
    """What a connector knows of its channel: identity and decrypted config.

    The connector is built with it (``self.channel``) and kept while the
    config, name, slug and enabled flag stay the same: see :class:`Connector`.
    """

    #: The hub's id of the channel.
    id: int
    #: As in ``/webhooks/<slug>``.
    slug: str
    #: What people call the channel.
    name: str
    #: The connector's ``name``.
    connector: str
    #: The config as the connector's schema loaded it, secrets decrypted (also ``self.config``).
    config: Mapping[str, Any]
    #: The channel's saved state when the connector was built; saving state does not
    #: rebuild it, so read the current state where an operation is handed it.
    state: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    #: The hub's :class:`hub.runtime.metrics.Metrics`: pass it to ``HttpClient(metrics=...)`` so
    #: outbound request times show in ``/metrics`` per connector.
    metrics: Any = field(default=None, compare=False, repr=False)
    #: The hub's public base URL (``HUB_PUBLIC_URL``), for links a connector
    #: sends out (the customer's ``/track/<token>`` page in an email).
    public_url: str = ""
    #: Whether the connector may call loopback, link-local and private addresses
    #: (``HUB_ALLOW_PRIVATE_TARGETS``); off, such a target is refused.
    allow_private_targets: bool = False
    #: The folder (resolved) a file-based connector's folders must lie under
    #: (``HUB_ERP_ROOT``); None outside a hub.
    erp_root: Path | None = None
    #: The channel's own private folder (``<data dir>/channels/<id>-<made>``, owner only) for files a
    #: person uploaded for it in the admin (an email channel's logo); None outside a hub.
    #: It may not exist yet: read from it, never assume it.
    files_dir: Path | None = None


@dataclass(frozen=True)
class WebhookReceipt:
    """What a verified inbound webhook is: the provider's id for it and its topic.

    The inbox stores an event once per channel and ``event_id``: a delivery
    whose id the channel's inbox holds already is answered ``200`` and
    dropped, and its ``handle_webhook`` never runs. So the id must be the same
    on every re-delivery of one event, and differ between events: an id
    reused for a later change loses that change (until a pull brings it).

    Event ids
    ---------
    Use the provider's own event id when it stays the same across
    re-deliveries: Stripe's ``event.id`` (``evt_…``), Shopify's
    ``X-Shopify-Webhook-Id``.

    When the provider sends none that does, never use what changes with each
    attempt: a delivery id (WooCommerce's ``X-WC-Webhook-Delivery-ID`` is a
    hash of the webhook's id and the time of sending), a timestamp of sending
    (the ``t=`` of a signature header, ``Date``), a random value. Derive the
    id from what the event is about instead, and say how it was made:

    - the resource's kind and id and its own version or modification time,
      as the payload gives them (``order:1234:2026-12-01T10:00:05``). Leave
      the topic out when several topics carry one state of a resource
      (WooCommerce sends ``order.created`` and ``order.updated`` for one
      save): the hub then handles that state once. Two changes stamped with
      the same time would be one event: add a digest of the body when the
      time is coarse (whole seconds) and re-deliveries send the same body, as
      the WooCommerce connector does (``order:<id>:<date_modified_gmt>:<digest>``);
    - or, when the body names the event and nothing else, the SHA-256 of the
      raw body (``sha256:<hex>``; ShipStation's body is only
      ``{resource_url, resource_type}``), which holds only while a re-delivery
      sends the same bytes and the body carries no time of sending.

    An id is at most 200 characters and a topic 100 (the inbox's columns): a
    longer one is refused with ``400`` and nothing is stored.
    """

    #: The dedupe key: the same for every delivery of one event (see above).
    event_id: str
    #: What ``handle_webhook`` is told the event is about (``orders/updated``).
    topic: str


class WebhookStatus(StrEnum):
    """What became of a stored webhook once its connector handled it."""

    PROCESSED = "processed"
    #: Nothing for the hub in it (a topic it does not use, an order it does not know).
    IGNORED = "ignored"
    #: It named something the hub could not take (an order dead-lettered for a person to retry).
    REJECTED = "rejected"


@dataclass(frozen=True)
class WebhookOutcome:
    """What :meth:`Connector.handle_webhook` returns; the inbox records it on the event."""

    status: WebhookStatus
    detail: str = ""

    @classmethod
    def processed(cls, detail: str = "") -> WebhookOutcome:
        """The hub took what the event says (``detail``: what, for the inbox page)."""
        return cls(WebhookStatus.PROCESSED, detail)

    @classmethod
    def ignored(cls, reason: str) -> WebhookOutcome:
        """Nothing in the event for the hub: ``ignored("topic products/update")``."""
        return cls(WebhookStatus.IGNORED, reason)

    @classmethod
    def rejected(cls, reason: str) -> WebhookOutcome:
        """The event named something the hub could not take: ``rejected("order 7 dead-lettered")``."""
        return cls(WebhookStatus.REJECTED, reason)

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else str(self.status)


@dataclass(frozen=True)
class OrderPage:
    """One page of a pull: the orders, and the cursor to store once they are committed.

    ``rejected`` maps the channel's id of each order on the page that could not
    be read (its money, its currency …) to the reason: the hub dead-letters
    them with the page, so one bad order never stalls the sync.
    """

    orders: list[OrderData]
    cursor: dict[str, Any]
    rejected: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentRef:
    """A payment as the hub holds it, handed to the payment connector."""

    reference: str
    currency: str
    amount: int
    captured_amount: int
    refunded_amount: int
    status: str


@dataclass(frozen=True)
class PaymentResult:
    """The gateway's answer to capture / void: the payment's totals after it."""

    status: str
    captured_amount: int
    refunded_amount: int = 0
    occurred_at: datetime | None = None
    #: What a person should be told about this answer (an amount the gateway
    #: could not take exactly and that was rounded): on the order's timeline.
    message: str = ""


@dataclass(frozen=True)
class RefundResult:
    """The gateway's answer to a refund: its id for the refund, the amount and how it stands."""

    external_id: str
    amount: int
    status: str  # succeeded | pending | failed
    message: str = ""  # as PaymentResult.message


@dataclass(frozen=True)
class ShippingOrder:
    """One fulfilment group to send to a warehouse or carrier.

    ``order`` is the order as the REST API shows it; ``lines`` are the lines of
    this group only (``{"line_id", "sku", "name", "quantity", "unit_price"}``,
    money as decimal strings). ``status`` is ``awaiting_shipment`` or
    ``cancelled``.
    """

    key: str
    order: dict[str, Any]
    lines: list[dict[str, Any]]
    location_code: str = ""
    status: str = "awaiting_shipment"
    #: The carrier service the hub's service-level rules chose ("": the warehouse picks)
    #: and the shipping method the customer asked for (with "(ground only)" when a
    #: restriction applies and no service was named).
    carrier_code: str = ""
    service_code: str = ""
    requested_service: str = ""
    #: The group's weight in grams and outer size in millimetres (length, width,
    #: height), from the SKUs' attributes; None when any SKU's is not known.
    weight_grams: int | None = None
    dimensions_mm: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class ShipmentNotice:
    """A shipment a shipping service reports, for the order group ``key``.

    ``group_ref`` is the service's own id of the group (what
    :meth:`Connector.submit_orders` returned for it): the group is found by it
    when the service leaves ``key`` out (ShipStation's shipments may name only
    their ``orderId``).
    """

    key: str
    shipment: ShipmentData
    voided: bool = False
    group_ref: str = ""

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready form (a job payload); lines as pairs, since line keys may be ints or SKUs."""
        s = self.shipment
        return {
            "key": self.key,
            "group_ref": self.group_ref,
            "voided": self.voided,
            "shipment": {
                "external_id": s.external_id,
                "carrier": s.carrier,
                "service": s.service,
                "tracking_number": s.tracking_number,
                "tracking_url": s.tracking_url,
                "label_ref": s.label_ref,
                "shipped_at": s.shipped_at.isoformat() if s.shipped_at else None,
                "lines": [[k, q] for k, q in s.lines.items()],
            },
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> ShipmentNotice:
        """The notice :meth:`to_payload` wrote."""
        s = dict(data["shipment"])
        s["shipped_at"] = datetime.fromisoformat(s["shipped_at"]) if s.get("shipped_at") else None
        s["lines"] = {k: int(q) for k, q in s.get("lines") or []}
        return cls(
            key=data["key"],
            shipment=ShipmentData(**s),
            voided=bool(data.get("voided")),
            group_ref=str(data.get("group_ref") or ""),
        )


class SubmissionRejected(ExternalError):
    """Some order groups of a :meth:`Connector.submit_orders` batch were refused.

    ``accepted`` is ``{key: service id}`` of those taken (as ``submit_orders``
    returns them); ``rejected`` is ``{key: the service's reason}``. The hub
    records the accepted ones and dead-letters each rejected one with its
    reason, so one bad order never holds back the others.
    """

    def __init__(self, accepted: dict[str, str], rejected: dict[str, str]):
        reasons = "; ".join(f"{key}: {why}" for key, why in rejected.items())
        super().__init__(
            f"{len(rejected)} order(s) refused: {reasons}",
            retryable=False,
            details={"rejected": dict(rejected)},
        )
        self.accepted = dict(accepted)
        self.rejected = dict(rejected)


@dataclass(frozen=True)
class TrackedShipment:
    """A shipment the hub asks a tracking service to follow (:meth:`TrackingConnector.register_shipment`).

    ``carrier`` is the code the shipping service gave (``ups``, ``fedex``, a
    ShipStation carrier code); the connector maps it to the service's own.
    """

    shipment_id: int
    order_id: int
    order_number: str
    tracking_number: str
    carrier: str = ""
    service: str = ""
    #: The customer's page (``/track/<token>``) when the hub knows its public URL, else "".
    order_page_url: str = ""


@dataclass(frozen=True)
class CarrierCheckpoint:
    """One piece of the carrier's news about a parcel.

    ``key`` identifies it among the shipment's checkpoints: the same on every
    re-delivery (the hub stores a shipment's checkpoint once per key), derived
    from what the checkpoint says when the service gives it no id.
    """

    key: str
    occurred_at: datetime
    #: The canonical event, or None for news that changes nothing (a label created).
    event: CarrierEvent | None
    #: The service's own status words (AfterShip's ``tag`` and ``subtag``), kept as given.
    tag: str = ""
    subtag: str = ""
    message: str = ""
    location: str = ""


@dataclass(frozen=True)
class CarrierUpdate:
    """What a tracking service says of one tracking: its checkpoints, and where it stands.

    The hub finds the shipment by ``tracking_number`` among those it
    registered with the channel, else by ``shipment_id`` (what the connector
    sent as the hub's id, if the service echoes it), checked against the
    tracking number.
    """

    tracking_number: str
    checkpoints: list[CarrierCheckpoint]
    #: Where the parcel stands now, as the service sums it up (None: the latest checkpoint's).
    status: CarrierEvent | None = None
    carrier: str = ""
    #: The service's id of the tracking.
    tracking_ref: str = ""
    shipment_id: int | None = None


@dataclass(frozen=True)
class StockLevel:
    """Units of ``sku`` a sales channel may sell.

    ``location_code`` is the hub location they are at, for a channel that takes
    stock per location (:attr:`Capability.STOCK_BY_LOCATION`); ``""`` for the
    sum over the hub's active locations, which every other channel is sent.
    """

    sku: str
    location_code: str
    available: int


@dataclass(frozen=True)
class Delivery:
    """What a notification connector's ``notify`` delivered (recorded in the sent ledger).

    ``recipient``: the address or URL it went to; ``message_id``: the id the
    receiver sees (an email's Message-ID); ``status_code``: the receiver's
    answer (HTTP status, SMTP reply code). ``skipped``: a reason nothing was
    sent and nothing needs retrying (an order without an email address).
    """

    recipient: str = ""
    message_id: str = ""
    status_code: int | None = None
    skipped: str = ""


@dataclass(frozen=True)
class Attachment:
    """A file that goes with a notification: an email attaches it as a part of its own.

    ``filename``: the name the receiver sees (``INV-2026-000001.pdf``);
    ``content_type``: its MIME type (``application/pdf``); ``content``: the bytes.
    """

    filename: str
    content_type: str
    content: bytes

    def __post_init__(self) -> None:
        if not self.filename or "/" in self.filename or "\\" in self.filename:
            raise ValueError(f"an attachment's filename is a plain name, not {self.filename!r}")
        if self.content_type.count("/") != 1:
            raise ValueError(
                f"an attachment's content_type is type/subtype, not {self.content_type!r}"
            )


class NotifiesWithAttachments(Protocol):
    """What a notification connector declaring :attr:`Capability.ATTACHMENTS` implements."""

    def notify(
        self,
        event: OrderEvent,
        order: dict[str, Any],
        *,
        idempotency_key: str,
        attachments: Sequence[Attachment] = (),
    ) -> Delivery | None:
        """:meth:`NotificationConnector.notify`, with the files that go with the event."""
        ...


@dataclass(frozen=True)
class MessagePreview:
    """A customer message rendered for a sample order: what the customer would get."""

    subject: str
    text: str
    html: str
    #: The language it is written in (``de``).
    language: str
    #: The headers the message goes with (From, Reply-To).
    headers: dict[str, str] = field(default_factory=dict)


class PreviewsMessages(Protocol):
    """What a notification connector declaring :attr:`Capability.PREVIEW` implements."""

    def preview_messages(self) -> list[tuple[str, str]]:
        """The messages it sends, as (event name, the message in words)."""
        ...

    def preview_languages(self) -> list[str]:
        """The languages it writes messages in (``["en", "de"]``)."""
        ...

    def preview(self, event_name: str, language: str) -> MessagePreview:
        """The message for ``event_name`` in ``language``, for a sample order."""
        ...

    def send_preview(self, event_name: str, language: str, to: str) -> str:
        """Send that message to ``to`` (marked a test); return what happened, in words."""
        ...


class Connector:
    """Base class of every connector; subclass it and set the class attributes.

    Life cycle
    ----------
    The hub builds one instance per channel, ``cls(channel_info)``, the first
    time the channel is used (a job, a webhook, a connection test), and keeps
    it: every later call for that channel goes to that instance, from whichever
    thread makes it. Each hub process (``hub serve``, each ``hub worker``) builds
    its own. ``__init__`` runs under a lock the hub holds for every channel's
    connector: build clients there, but make no network calls (make those in
    the operations); raise :class:`~hub.core.exceptions.ConfigError` for a
    config it cannot work with.

    The instance is kept while the channel's config, name, slug and enabled
    flag are unchanged. When one of them changes, the next use builds a new
    instance and calls :meth:`close` on the old one, without waiting for calls
    still running on it in other threads: those finish on the old instance. A
    change made in another process reaches webhook ingest within
    ``HUB_CHANNEL_CACHE_SECONDS`` (2 s by default), and until then
    :meth:`verify_webhook` may be called on an instance already closed: verify
    from ``self.config`` and the request alone. Saving the channel's state (a
    pull cursor, :meth:`hub.integration.port.HubPort.save_state`) does not
    rebuild it, so ``self.channel.state`` is the state as it was when the
    instance was built: read the current state where an operation is handed
    it (the ``cursor`` of ``fetch_orders``, ``hub.state`` in
    :meth:`handle_webhook`). When the hub stops it calls :meth:`close` on
    every instance it keeps.

    Threads
    -------
    A connector must be thread-safe. Web request threads
    (``hub serve --threads``, 16 by default) call :meth:`verify_webhook`, many at once, and
    :meth:`check_connection` (a person testing the channel). Worker threads
    (``hub serve --workers``, ``hub worker --concurrency``) run the jobs that
    call every other operation, and jobs are not serialised per channel: two
    :meth:`handle_webhook` calls, a pull and a ``push_fulfillment``, a
    ``push_stock`` may run at the same time on the one instance, while web
    threads verify webhooks on it. Even two pulls of a channel can overlap,
    when one outlasts its interval (the scheduler holds a firing back only
    while an earlier one still waits to start). Keep what a call needs in
    local variables; keep on the instance only what is safe to share: the
    config, an :class:`~hub.integration.http.HttpClient` (made to be shared:
    its rate limiters lock), caches replaced whole rather than changed in
    place, anything else behind a ``threading.Lock``.

    Every operation a job calls may be called again for the same work: the job
    is retried after an error, and after a crash between the call and the
    hub's record of it. Operations that change the outside system are given
    an ``idempotency_key`` that is the same on every retry: send it where the
    service accepts one.
    """

    #: Unique across plugins, lower case (``"shopify"``): how channels name their connector.
    name: ClassVar[str]
    #: What it does for the hub (:data:`ROLES`); set by the role classes it subclasses.
    roles: ClassVar[tuple[str, ...]]
    #: The marshmallow schema of a channel's config: its fields' ``label``, ``help`` and
    #: ``secret`` metadata drive the admin form and the API.
    config_schema: ClassVar[type[Schema]]
    #: The name people see (``"Shopify"``); the ``name`` when empty.
    label: ClassVar[str] = ""
    #: One line on what it connects, shown when a channel is added.
    description: ClassVar[str] = ""
    #: The optional operations it implements (checked at start-up against what it defines).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Job kinds the scheduler runs for every enabled channel of this connector,
    #: with their default interval in seconds (a channel's schedule overrides it).
    scheduled_jobs: ClassVar[dict[str, int]] = {}

    def __init__(self, channel: ChannelInfo):
        self.channel = channel
        self.config = channel.config

    # --- configuration -------------------------------------------------------

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Names of config fields marked ``secret`` in the schema's metadata."""
        return frozenset(
            name for name, f in cls.config_schema().fields.items() if f.metadata.get("secret")
        )

    @classmethod
    def validate_config(
        cls, data: Mapping[str, Any], *, partial: bool = False, channel: ChannelInfo | None = None
    ) -> dict[str, Any]:
        """Return the config as the schema loads it, or raise ValidationError with field errors.

        With ``channel`` (the channel being saved, as the hub running it sees it),
        the loaded config is then checked against that hub too (:meth:`check_config`).
        """
        try:
            loaded: dict[str, Any] = cls.config_schema().load(dict(data), partial=partial)
        except SchemaError as exc:
            raise ValidationError(
                f"invalid {cls.name} configuration", details=exc.normalized_messages()
            ) from exc
        if channel is not None:
            cls.check_config(loaded, channel)
        return loaded

    @classmethod
    def check_config(cls, config: Mapping[str, Any], channel: ChannelInfo) -> None:
        """Check a loaded config against the hub the channel runs in: what a schema cannot know.

        For example, that a folder lies under the hub's ERP root (``channel.erp_root``).
        The hub calls it whenever a channel's config is saved; the default checks nothing.

        :raises ValidationError: with field errors, as :meth:`validate_config` does.
        """

    # --- every connector ------------------------------------------------------

    def check_connection(self) -> str:
        """Reach the outside system with the channel's credentials.

        :return: a short human message on success (e.g. the shop's name).
        :raises ExternalError: or ConfigError, with a message a merchant can act on.
        """
        raise ConfigError(f"the {self.name} connector has no connection check")

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> WebhookReceipt:
        """Verify an inbound webhook on its raw bytes, before anything parses it.

        Called on the web threads, many at once, before the event is stored:
        the hub's hottest path. Verify from ``self.config`` and the request
        alone, without network calls (see the life cycle above), and return the
        event's id as :class:`WebhookReceipt` says.

        :raises SignatureError: missing or wrong signature (the request is refused with 401).
        :raises MalformedPayload: verified but unreadable (400).
        :return: the provider's event id (the dedupe key) and topic.
        """
        raise ConfigError(f"the {self.name} connector does not accept webhooks")

    def handle_webhook(
        self, hub: HubPort, topic: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        """Process a stored inbound webhook (run from a job, after verification).

        Turn the provider's payload into hub changes through ``hub`` (upsert
        orders, payment updates, shipments …). Called from a ``webhook.process``
        job on a worker thread, once per stored event; again when it raised
        (the job is retried, and a person may replay a failed event), so what
        it does must be safe to repeat: the port's calls are.

        :return: what became of it, for the inbox (``WebhookOutcome.ignored("topic x")``).
        """
        raise ConfigError(f"the {self.name} connector does not accept webhooks")

    def sign_webhook(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """For tests: the headers and query a genuine delivery of ``body`` to this channel carries.

        Sign ``body`` as the provider does, with this channel's config (a
        signature header, a token in the query), so that :meth:`verify_webhook`
        accepts it; keep what ``headers`` and ``query`` hold already (a topic, an
        event id). ``hub.testing``'s ``post_webhook`` calls it. Optional: the
        default says the connector cannot.
        """
        raise ConfigError(
            f"the {self.name} connector cannot sign webhooks (it defines no sign_webhook):"
            " pass sign=False and the provider's headers yourself"
        )

    def sync_webhooks(self, callback_url: str) -> list[str]:
        """Subscribe this channel's webhooks at the provider, to be sent to ``callback_url``.

        Declared with :attr:`Capability.REGISTER_WEBHOOKS`. The hub calls it from
        a ``channel.webhooks`` job when the channel is created, its config
        changes or it is enabled again. It must be idempotent: read what is
        subscribed for ``callback_url`` first, add what is missing, remove
        topics the connector no longer wants; running it twice changes nothing.

        :return: the topics subscribed now (shown on the channel's admin page).
        :raises ExternalError: as any operation; the error is shown there too.
        """
        raise ConfigError(f"the {self.name} connector does not register webhooks")

    def remove_webhooks(self, callback_url: str) -> list[str]:
        """Remove this channel's webhook subscriptions for ``callback_url`` at the provider.

        Called when the channel is disabled or deleted (a deleted channel is
        disabled first and deleted once this ran), and for the old address
        when the hub's public URL changed. Removing what is gone already must succeed.

        :return: the topics that were removed.
        """
        raise ConfigError(f"the {self.name} connector does not register webhooks")

    def close(self) -> None:
        """Release what the connector holds (HTTP sessions); called on shutdown."""

    def http_client(self, base_url: str, **kwargs: Any) -> HttpClient:
        """The shared :class:`hub.integration.http.HttpClient`, named after this connector, timed
        in the hub's metrics (``hub_external_request_seconds{connector=...}``) and refusing
        private targets unless the hub allows them (``HUB_ALLOW_PRIVATE_TARGETS``)."""
        from hub.integration.http import HttpClient

        kwargs.setdefault("connector", self.name)
        kwargs.setdefault("metrics", self.channel.metrics)
        kwargs.setdefault("allow_private_targets", self.channel.allow_private_targets)
        return HttpClient(base_url, **kwargs)


# --- the five roles ---------------------------------------------------------------------
# A connector subclasses the class of each role it plays; each gives the role's
# operations, with a default that says clearly the connector does not do it.


class SalesConnector(Connector):
    """A sales channel: orders in; fulfilments and stock out.

    A connector that can pull sets ``scheduled_jobs = {"channel.pull": secs}``;
    the optional operations it implements are declared in ``capabilities``."""

    roles: ClassVar[tuple[str, ...]] = ("sales",)

    def fetch_orders(self, cursor: Mapping[str, Any] | None) -> Iterator[OrderPage]:
        """Yield the orders changed since ``cursor`` (None: from the beginning), page by page.

        The hub commits each page and stores ``page.cursor`` with it, so a pull
        cut short resumes after the last committed page.
        """
        raise ConfigError(f"the {self.name} connector cannot pull orders")

    def fetch_order(self, external_id: str) -> OrderData:
        """Fetch one order by the channel's id (to retry an order a pull could not store)."""
        raise ConfigError(f"the {self.name} connector cannot fetch an order")

    def push_fulfillment(
        self, order: dict[str, Any], shipment: dict[str, Any], *, idempotency_key: str
    ) -> str | None:
        """Tell the channel an order (part) shipped, with tracking; return the channel's id for it.

        Called from a ``sales.push_fulfillment`` job once a shipment of one of
        the channel's orders is recorded (reported by a shipping service or
        entered by a person), if the connector declares
        :attr:`Capability.PUSH_FULFILLMENT`. The id returned is kept on the
        shipment and handed to :meth:`cancel_fulfillment` if its label is
        voided; a voided shipment is never pushed. Return None when the channel
        needs no push (e.g. manual orders).

        ``order`` is the order as the REST API shows it (``GET
        /api/v1/orders/<id>``). ``shipment`` is the shipment to tell of, as in
        ``order["shipments"]``, with the ``sku`` and the channel's line id
        (``external_id``) added to each of its lines::

            {"id": 7, "external_id": "ss-5512", "status": "shipped",
             "carrier": "ups", "service": "ups_ground",
             "tracking_number": "1Z999AA10123456784",
             "tracking_url": "https://track.example/1Z999AA10123456784",
             "shipped_at": "2026-12-01T10:00:00+00:00",
             "lines": [{"line_id": 12, "quantity": 2, "sku": "MUG-RED",
                        "external_id": "466157049"}]}
        """
        return None

    def cancel_fulfillment(
        self, order: dict[str, Any], fulfillment_id: str, *, idempotency_key: str
    ) -> None:
        """Cancel the channel's fulfilment ``fulfillment_id`` (what :meth:`push_fulfillment` returned).

        Called when the shipment's label was voided, so the channel shows no
        dead tracking number; the replacement label is pushed as a new
        fulfilment. Cancelling one already cancelled must succeed.
        """

    def push_stock(
        self, levels: list[StockLevel], *, state: Mapping[str, Any], idempotency_key: str
    ) -> None:
        """Set the channel's available stock for these SKUs (only changed ones are passed).

        Each level is the sum over the hub's active locations (``location_code``
        ``""``), unless the channel takes stock per location
        (:meth:`stock_locations`): then every SKU comes once per location it
        asked for, inactive ones and those without stock of it at 0.

        ``available`` is on hand minus reserved, never below 0: the number to
        set on the channel, never a change to add. When: every change of a
        stock level (a count set by a person or an ERP import, a reservation
        for a confirmed order or its release, a shipment) asks for a push at
        the end of its 5-second slot, so changes close together go in one push,
        and a push runs every 5 minutes in any case. Each push is a
        ``stock.push.channel`` job of its own per enabled sales channel that
        declares :attr:`Capability.PUSH_STOCK`; it passes the SKUs with a
        change since that channel's last push (every SKU on its first), sorted
        by SKU, about 250 levels a call (one SKU's locations never split
        between calls), and calls nothing when no SKU changed. A call that
        raises fails the job, which is retried whole: the earlier calls come
        again, with the same keys.

        :param state: the channel's saved state as it is now (pull cursors, what
            the connector saved through :meth:`hub.integration.port.HubPort.save_state`).
        :param idempotency_key: the same on every retry of this push (the push
            job's key and, when the levels go in several calls, the batch's
            number): send it where the service accepts one.
        """

    def stock_locations(self) -> Collection[str] | None:
        """The hub location codes this channel takes stock of one by one; None: the sum.

        Declared with :attr:`Capability.STOCK_BY_LOCATION`. Called before each
        push, so it may depend on the channel's config (Shopify: the codes its
        ``locations`` mapping names; without a mapping, None). A code the hub
        has no location of is left out, with a warning in the log.
        """
        return None


class PaymentConnector(Connector):
    """A payment gateway: captures, voids and refunds what checkout authorised."""

    roles: ClassVar[tuple[str, ...]] = ("payment",)

    def capture_events(self) -> tuple[str, ...]:
        """Order events after which the hub captures this connector's authorised payments."""
        return ()

    def capture(self, payment: PaymentRef, amount: int, *, idempotency_key: str) -> PaymentResult:
        """Capture ``amount`` (minor units) of an authorised payment, exactly once per key.

        :raises PaymentDeclined: the gateway refused for good (the order goes on hold).
        """
        raise ConfigError(f"the {self.name} connector cannot capture payments")

    def void(self, payment: PaymentRef, *, idempotency_key: str) -> PaymentResult:
        """Cancel an authorisation that was never captured."""
        raise ConfigError(f"the {self.name} connector cannot void payments")

    def refund(
        self, payment: PaymentRef, amount: int, *, idempotency_key: str, reason: str = ""
    ) -> RefundResult:
        """Give back ``amount`` of a captured payment, exactly once per key."""
        raise ConfigError(f"the {self.name} connector cannot refund payments")


@dataclass(frozen=True, slots=True)
class Parcel:
    """One parcel to price (:meth:`ShippingConnector.quote_rates`): from where, to where, how heavy."""

    from_postal_code: str
    from_country: str
    to_postal_code: str
    to_country: str
    weight_grams: int
    to_state: str = ""
    to_city: str = ""
    #: Outer size in centimetres (length, width, height), when known.
    dimensions_cm: tuple[float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class RateOption:
    """A carrier service's price for a parcel, in the account's currency's cents."""

    carrier: str
    service_code: str
    service_name: str
    cost_cents: int


class ShippingConnector(Connector):
    """A shipping service: order groups go to the warehouse, shipments come back."""

    roles: ClassVar[tuple[str, ...]] = ("shipping",)

    def submit_orders(self, orders: list[ShippingOrder]) -> dict[str, str]:
        """Create or update these order groups at the warehouse (an upsert by ``key``).

        :return: ``{key: the service's id for it}`` for each group accepted.
        :raises SubmissionRejected: when the service refused some groups (and
            took the others): it carries both.
        """
        raise ConfigError(f"the {self.name} connector cannot take orders")

    def fetch_shipments(self, since: datetime) -> Iterator[ShipmentNotice]:
        """Yield the shipments (and voided labels) since ``since``: the safety net for webhooks."""
        raise ConfigError(f"the {self.name} connector cannot list shipments")

    def quote_rates(self, parcel: Parcel) -> list[RateOption]:
        """What sending ``parcel`` would cost, one option per carrier service offered.

        Declared by :attr:`Capability.RATES`. An empty list: no service takes it.

        :raises ExternalError: the service could not be asked or refused (the
            hub then routes without costs and says so).
        """
        raise ConfigError(f"the {self.name} connector quotes no rates")


class NotificationConnector(Connector):
    """Tells customers or outside systems about order events."""

    roles: ClassVar[tuple[str, ...]] = ("notification",)

    def wants(self, event_name: str) -> bool:
        """Whether this channel sends anything for ``event_name`` (e.g. ``order.shipped``)."""
        return False

    def notify(
        self, event: OrderEvent, order: dict[str, Any], *, idempotency_key: str
    ) -> Delivery | None:
        """Tell the customer or an outside system about an order event, once per key.

        Deliver once, without a retry loop of its own: the ``notify`` job checks
        the sent ledger before calling it, records what it returns (or the error
        it raises, with the error's ``status``) as an attempt, and retries a
        retryable error with backoff. See :mod:`hub.notifications.outbox`.

        A connector that declares :attr:`Capability.ATTACHMENTS` takes one more
        keyword, ``attachments: Sequence[Attachment] = ()`` (see
        :class:`NotifiesWithAttachments`): the files that go with the event,
        e.g. the invoice's PDF on ``order.invoice_issued``.
        """
        raise ConfigError(f"the {self.name} connector sends no notifications")


class ErpConnector(Connector):
    """An ERP's file exchange: its work is done by the plugin's own jobs (``scheduled_jobs``)."""

    roles: ClassVar[tuple[str, ...]] = ("erp",)

    def export_purchase_order(self, erp: ErpExchange, purchase_order_id: int) -> str | None:
        """Hand one sent purchase order to the ERP, once; return where it went (a file name).

        Declared by :attr:`Capability.PURCHASE_ORDERS`; called from the hub's
        ``purchase_order.erp`` job after the PO was sent "by ERP". Read it with
        :meth:`hub.integration.erp.ErpExchange.purchase_order_export_run`, which
        makes it None when this channel has it already: return None then.

        :raises ConfigError: the channel cannot take it now (no export folder).
        """
        raise ConfigError(f"the {self.name} connector cannot export purchase orders")


class TrackingConnector(Connector):
    """A tracking service: each shipment's tracking number goes in, the carrier's events come back.

    The hub hands it every shipment recorded with a tracking number
    (:meth:`register_shipment`, from a ``tracking.register`` job); the
    service then posts the carrier's news as webhooks, which the connector
    turns into a :class:`CarrierUpdate` for
    :meth:`hub.integration.port.HubPort.record_carrier_update` (declare
    :attr:`Capability.WEBHOOKS`). Each checkpoint maps to a
    :class:`hub.core.tracking.CarrierEvent`, or to None for news that says
    nothing of the parcel's way (a label created).
    """

    roles: ClassVar[tuple[str, ...]] = ("tracking",)

    def register_shipment(self, shipment: TrackedShipment, *, idempotency_key: str) -> str:
        """Ask the service to follow ``shipment``; return its id for the tracking.

        Called once per shipment and channel (a ``tracking.register`` job with a
        dedupe key); again only when the job is retried, so a tracking the
        service has already (its "already exists" answer) must succeed, with
        the id it has.

        :raises ExternalError: retryable or not, as the job layer reads it.
        """
        raise ConfigError(f"the {self.name} connector cannot register shipments")

    def fetch_tracking(self, tracking_ref: str) -> CarrierUpdate:
        """Read one tracking as the service has it now (``tracking_ref``: what
        :meth:`register_shipment` returned).

        Declared with :attr:`Capability.POLL_TRACKING`, and then run by the hub's
        ``tracking.poll`` job (give the connector ``scheduled_jobs =
        {"tracking.poll": seconds}``) for shipments still on their way that had no
        news for hours: the hub stores what it says as if a webhook had brought it.

        :raises ExternalError: a non-retryable one (the tracking is gone) skips it.
        """
        raise ConfigError(f"the {self.name} connector cannot read trackings")


#: The class of each role.
ROLE_CLASSES: dict[str, type[Connector]] = {
    "sales": SalesConnector,
    "payment": PaymentConnector,
    "shipping": ShippingConnector,
    "erp": ErpConnector,
    "notification": NotificationConnector,
    "tracking": TrackingConnector,
}

#: The operations each optional capability stands for (all must be implemented).
CAPABILITY_OPERATIONS: dict[Capability, tuple[str, ...]] = {
    Capability.WEBHOOKS: ("verify_webhook", "handle_webhook"),
    Capability.PULL_ORDERS: ("fetch_orders",),
    Capability.FETCH_ORDER: ("fetch_order",),
    Capability.PUSH_FULFILLMENT: ("push_fulfillment",),
    Capability.CANCEL_FULFILLMENT: ("cancel_fulfillment",),
    Capability.PUSH_STOCK: ("push_stock",),
    Capability.STOCK_BY_LOCATION: ("stock_locations",),
    Capability.REGISTER_WEBHOOKS: ("sync_webhooks", "remove_webhooks"),
    Capability.PURCHASE_ORDERS: ("export_purchase_order",),
    Capability.RATES: ("quote_rates",),
    Capability.POLL_TRACKING: ("fetch_tracking",),
    Capability.PREVIEW: ("preview_messages", "preview_languages", "preview", "send_preview"),
}


def can(connector: Connector | type[Connector], capability: Capability) -> bool:
    """Whether a connector declares ``capability``."""
    return capability in connector.capabilities


def check_connector(cls: type[Connector]) -> None:
    """Check a connector class is what it declares; raise ConfigError saying what is not.

    Its ``roles`` must be known and match the role classes it subclasses, and
    its ``capabilities`` must match the optional operations it implements: the
    hub decides from the declaration what to ask of a connector.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"connector {cls.__qualname__}: name {name!r} must be lower-case letters, digits,"
            " '_' or '-', starting with a letter (name = \"acme\")"
        )
    schema = getattr(cls, "config_schema", None)
    if not (isinstance(schema, type) and issubclass(schema, Schema)):
        got = "none" if schema is None else f"{schema!r}"
        raise ConfigError(
            f"connector {name}: config_schema must be a marshmallow Schema class, not {got}"
            " (config_schema = AcmeConfig; a Schema with no fields if it needs no configuration)"
        )
    unknown = set(cls.roles) - set(ROLES)
    if unknown:
        raise ConfigError(f"connector {name}: unknown role(s) {', '.join(sorted(unknown))}")
    for role, role_cls in ROLE_CLASSES.items():
        if (role in cls.roles) != issubclass(cls, role_cls):
            raise ConfigError(
                f"connector {name}: roles {cls.roles} do not match its classes "
                f"(the {role} role needs {role_cls.__name__} as a base class, and only it)"
            )
    for capability, operations in CAPABILITY_OPERATIONS.items():
        implemented = [op for op in operations if _overrides(cls, op)]
        declared = capability in cls.capabilities
        if declared and len(implemented) < len(operations):
            missing = sorted(set(operations) - set(implemented))
            raise ConfigError(
                f"connector {name} declares {capability} but does not implement {', '.join(missing)}"
            )
        if implemented and not declared:
            raise ConfigError(
                f"connector {name} implements {', '.join(implemented)}: "
                f"declare it with capabilities = {{Capability.{capability.name}, ...}}"
            )

    if Capability.ATTACHMENTS in cls.capabilities:
        notify = getattr(cls, "notify", None)
        takes = notify is not None and "attachments" in inspect.signature(notify).parameters
        if not (issubclass(cls, NotificationConnector) and takes):
            raise ConfigError(
                f"connector {name} declares {Capability.ATTACHMENTS}: it must be a notification"
                " connector whose notify takes attachments (attachments=())"
            )


_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def _overrides(cls: type[Connector], operation: str) -> bool:
    for klass in cls.__mro__:
        if klass in ROLE_CLASSES.values() or klass is Connector:
            return False
        if operation in vars(klass):
            return True
    return False
