"""What a connector may change in the hub, each call its own transaction.

Connectors never touch the database or the actions directly: a pull, a webhook
or a poll hands its findings to a :class:`ChannelPort`, which applies them through
the actions with the channel as the actor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.core.exceptions import ConfigError, HubError, NotFound
from hub.core.order import OrderData, PaymentUpdate
from hub.integration.checks import orders_problem
from hub.integration.connectors import CarrierUpdate, ShipmentNotice
from hub.orders import bulk_intake, carrier_events, intake, payments, records, shipments
from hub.queue.jobs import dead_letter
from hub.queue.kinds import JobKind
from hub.routing.geocode import geocoder_for
from hub.runtime.hub import Hub
from hub.store.models import Channel, FulfillmentGroup, Shipment, utcnow

log = logging.getLogger(__name__)


class ChannelPort:
    """The port of one channel: implements :class:`hub.integration.port.HubPort`."""

    def __init__(self, hub: Hub, channel_id: int):
        self.hub = hub
        self.channel_id = channel_id
        with hub.db.read() as session:
            self.slug = _channel(session, channel_id).slug
        self.actor = f"channel:{self.slug}"
        #: Places new shipping addresses: the channel's coordinates, the plugins, the tables.
        self.geocoder = geocoder_for(hub)

    # --- orders ---------------------------------------------------------------------

    #: Create a page's new orders with one statement per table (False: each by
    #: :func:`hub.orders.intake.upsert_order`, as the fallback does; tests compare the two).
    bulk_create = True

    def upsert_orders(
        self,
        orders: Iterable[OrderData],
        *,
        cursor: Mapping[str, Any] | None = None,
        cursor_key: str = "cursor",
        rejected: Mapping[str, str] | None = None,
    ) -> list[int]:
        """Store a batch of orders in one transaction, and the pull cursor with them.

        Orders the hub does not have yet are created together (see
        :meth:`_create_new`); the others, and any that need more than creating,
        go through :func:`hub.orders.intake.upsert_order` one by one, each in its own
        savepoint: one that cannot be stored is dead-lettered with its reason
        (a ``channel.order_rejected`` job a person can retry) and the others go
        on. A copy no newer than the one stored (a pull reads its last minutes
        again) is passed over at once (:func:`hub.orders.bulk_intake.is_stale`),
        its id returned with the others'. ``rejected`` (channel order id ->
        reason) names orders the connector could not even read; they are
        dead-lettered the same way, in the same transaction. Returns the ids of the orders stored, in order.
        """
        batch = list(orders)
        problem = orders_problem(batch)
        if problem:  # a connector's mistake, not the order's: nothing is stored, nothing retried
            raise ConfigError(f"channel {self.slug}: upsert_orders was handed {problem}")
        with self.hub.db.transaction() as session:
            channel = _channel(session, self.channel_id)
            stored = bulk_intake.existing_orders(
                session, channel.id, (str(d.external_id) for d in batch)
            )
            created = self._create_new(session, channel, batch, stored) if self.bulk_create else {}
            ids: list[int] = []
            for i, data in enumerate(batch):
                known = stored.get(str(data.external_id))
                if i in created:
                    order_id: int | None = created[i]
                elif known is not None and bulk_intake.is_stale(data, known):
                    order_id = known.id  # read before: nothing to store
                else:
                    order_id = self._upsert_one(session, channel, data)
                if order_id is not None:
                    ids.append(order_id)
            for external_id, reason in (rejected or {}).items():
                log.warning(
                    "channel %s: order %s unreadable: %s", channel.slug, external_id, reason
                )
                _reject(session, channel, external_id, reason)
            if cursor is not None:
                # Read the state again, locked: a channel.webhooks job may have saved its key.
                session.refresh(channel, ["state"], with_for_update=True)
                channel.state = {**(channel.state or {}), cursor_key: dict(cursor)}
        return ids

    def _create_new(
        self,
        session: Session,
        channel: Channel,
        batch: list[OrderData],
        existing: Mapping[str, bulk_intake.StoredOrder],
    ) -> dict[int, int]:
        """Create the batch's plain new orders at once; return their ids by position in the batch.

        ``existing`` holds the orders the hub has already (the caller's one
        query, :func:`hub.orders.bulk_intake.existing_orders`); one query finds the payment
        channels named; the new ones are written with one ``executemany`` per
        table (:func:`hub.orders.bulk_intake.insert_new_orders`), which cost a fraction of
        the ORM's flush per order (``make bench`` (b)). Left to the caller, for
        :func:`hub.orders.intake.upsert_order`: orders stored already, a second
        occurrence of one in the batch, cancelled or unstorable ones, and the
        whole batch when the insert fails (an order created meanwhile by a
        webhook, a value the database refuses): the savepoint undoes it and
        the orders go one by one, as before.
        """
        known = bulk_intake.payment_channels(session, batch)
        positions: list[int] = []
        rows: list[intake.NewOrderRows] = []
        seen: set[str] = set()
        for i, data in enumerate(batch):
            external_id = str(data.external_id)
            first = external_id not in seen and external_id not in existing
            seen.add(external_id)
            if not first or not bulk_intake.is_plain_new_order(data):
                continue
            try:
                rows.append(
                    intake.new_order_rows(
                        channel, data, known, actor=self.actor, geocoder=self.geocoder
                    )
                )
            except (
                HubError
            ):  # an unknown payment channel: upsert_order says so and it is dead-lettered
                continue
            positions.append(i)
        if not rows:
            return {}
        try:
            with session.begin_nested():
                order_ids = bulk_intake.insert_new_orders(session, rows)
        except DBAPIError as exc:
            log.info(
                "channel %s: %d new orders could not be written together (%s); one by one instead",
                channel.slug,
                len(rows),
                exc.__class__.__name__,
            )
            return {}
        return dict(zip(positions, order_ids, strict=True))

    def _upsert_one(self, session: Session, channel: Channel, data: OrderData) -> int | None:
        try:
            with session.begin_nested():
                return intake.upsert_order(
                    session, channel, data, actor=self.actor, geocoder=self.geocoder
                ).order.id
        except HubError as exc:
            if exc.retryable:
                raise
            log.warning("channel %s: order %s rejected: %s", channel.slug, data.external_id, exc)
            _reject(session, channel, data.external_id, exc.message)
            return None

    # --- payments and shipments ---------------------------------------------------------

    def apply_payment_update(self, update: PaymentUpdate) -> int | None:
        """Apply a gateway fact to the payment with that reference; None if no order has it."""
        with self.hub.db.transaction() as session:
            order = payments.apply_payment_update(
                session, update, actor=self.actor, channel_id=self.channel_id
            )
            return order.id if order else None

    def record_shipment(self, notice: ShipmentNotice) -> int | None:
        """Record (or void) a shipment of the order group ``notice.key``; None if unknown."""
        with self.hub.db.transaction() as session:
            group = self._group(session, notice)
            if group is None:
                return None
            if notice.voided:
                shipments.void_shipment(
                    session, group.order_id, notice.shipment.external_id, actor=self.actor
                )
                return group.order_id
            shipments.group_reached_warehouse(session, group)
            shipment = notice.shipment
            order = records.get_order(session, group.order_id)
            if any(s.external_id == shipment.external_id for s in order.shipments):
                return order.id
            if not shipment.lines:
                # A package that does not say what it holds: what is still open of its group.
                shipment.lines = shipments.open_in_group(order, group)
                if not shipment.lines:
                    # A further package of a group shipped already: keep its tracking number.
                    records.record(
                        session,
                        order,
                        "order.extra_package",
                        actor=self.actor,
                        data={
                            "shipment": shipment.external_id,
                            "carrier": shipment.carrier,
                            "tracking_number": shipment.tracking_number,
                            "group": group.key,
                        },
                    )
                    return order.id
            shipments.ship(
                session,
                order.id,
                shipment,
                actor=self.actor,
                channel_id=self.channel_id,
                location_code=group.location_code or None,
            )
            return order.id

    def _group(self, session: Session, notice: ShipmentNotice) -> FulfillmentGroup | None:
        if notice.key:
            return shipments.find_group(session, notice.key)
        if not notice.group_ref:
            return None
        return session.scalars(
            select(FulfillmentGroup)
            .where(
                FulfillmentGroup.shipping_channel_id == self.channel_id,
                FulfillmentGroup.external_id == notice.group_ref,
            )
            .order_by(FulfillmentGroup.id)
        ).first()

    def unchanged_shipments(self, notices: list[ShipmentNotice]) -> set[int]:
        """Positions of ``notices`` that :meth:`record_shipment` would change nothing for.

        A poll window overlaps the last one, and at volume most of what it
        reads is recorded already; one query tells which, instead of a
        transaction and a whole order read each. A notice counts as recorded
        when its shipment is on its group's order (voided, for a voided
        label) and the group is neither pending nor in error.
        """
        if not notices:
            return set()
        keys = {n.key for n in notices if n.key}
        refs = {n.group_ref for n in notices if not n.key and n.group_ref}
        ids = {n.shipment.external_id for n in notices}
        named: ColumnElement[bool] = FulfillmentGroup.key.in_(keys)
        if refs:
            named = named | (
                (FulfillmentGroup.shipping_channel_id == self.channel_id)
                & FulfillmentGroup.external_id.in_(refs)
            )
        with self.hub.db.read() as session:
            rows = session.execute(
                select(
                    FulfillmentGroup.key,
                    FulfillmentGroup.external_id,
                    Shipment.external_id,
                    Shipment.status,
                )
                .join(Shipment, Shipment.order_id == FulfillmentGroup.order_id)
                .where(
                    named,
                    Shipment.external_id.in_(ids),
                    FulfillmentGroup.status != "pending",
                    FulfillmentGroup.error.is_(None),
                )
            ).all()
        recorded: dict[tuple[str, str, str], str] = {}
        for key, ref, external_id, status in rows:
            recorded[(key, "", external_id)] = status
            if ref:
                recorded[("", ref, external_id)] = status
        unchanged = set()
        for i, notice in enumerate(notices):
            seen = recorded.get(
                (notice.key, "" if notice.key else notice.group_ref, notice.shipment.external_id)
            )
            if seen is not None and (seen == "voided" or not notice.voided):
                unchanged.add(i)
        return unchanged

    def record_carrier_update(self, update: CarrierUpdate) -> int | None:
        """Store a tracking service's news of a shipment (:mod:`hub.orders.carrier_events`)."""
        with self.hub.db.transaction() as session:
            return carrier_events.record_carrier_update(
                session, self.channel_id, update, actor=self.actor
            )

    # --- the channel itself -----------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        with self.hub.db.read() as session:
            return dict(_channel(session, self.channel_id).state or {})

    def save_state(self, **values: Any) -> None:
        with self.hub.db.transaction() as session:
            channel = _channel(session, self.channel_id, lock=True)
            channel.state = {**(channel.state or {}), **values}

    def disable_channel(self, reason: str) -> None:
        with self.hub.db.transaction() as session:
            channel = _channel(session, self.channel_id)
            channel.enabled = False
            channel.last_error = reason
            channel.updated_at = utcnow()
        log.warning("channel %s disabled: %s", self.slug, reason)


def _channel(session: Session, channel_id: int, *, lock: bool = False) -> Channel:
    channel = session.get(Channel, channel_id, with_for_update=lock or None)
    if channel is None:
        raise NotFound(f"channel {channel_id} does not exist")
    return channel


def _reject(session: Session, channel: Channel, external_id: Any, reason: str) -> None:
    """Dead-letter an order of the channel the hub cannot store (its reason on the job).

    Retrying the dead job fetches the order from the channel again. Pulls
    overlap (each starts a little before where the last one ended), so the
    same order is often seen twice: it stays one dead job, with the newest
    reason, until a retry of it succeeds.
    """
    dead_letter(
        session,
        JobKind.CHANNEL_ORDER_REJECTED,
        {"external_id": str(external_id)},
        error=reason,
        channel_id=channel.id,
        unique_by="external_id",
    )
