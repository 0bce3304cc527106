"""A page of new orders written at once: one ``executemany`` per table instead of the ORM per order.

A pulled page is mostly orders the hub has never seen. Those that are plain
(:func:`is_plain_new_order`) and not stored yet (:func:`existing_orders`) are
mapped by :func:`hub.orders.intake.new_order_rows`, as :func:`hub.orders.intake.upsert_order`
maps one, and written by :func:`insert_new_orders`; the rest go through
:func:`~hub.orders.intake.upsert_order` one by one (see
:meth:`hub.channels.port.ChannelPort.upsert_orders`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.core.order import OrderData
from hub.customers.linking import link_orders
from hub.orders.intake import NewOrderRows, first_check
from hub.orders.records import announcement
from hub.queue.jobs import enqueue_many
from hub.store.models import Channel, Order, OrderAuditEvent, OrderLine, Payment


def is_plain_new_order(data: OrderData) -> bool:
    """Whether a new order is created as :func:`~hub.orders.intake.new_order_rows` says and nothing more.

    Not so: one that cannot be stored (:meth:`OrderData.check` says why) and
    one that arrives cancelled (it is cancelled at once, with what that does)
    or with refunds the channel made (each goes on its timeline):
    :func:`~hub.orders.intake.upsert_order` takes those.
    """
    return not (data.cancelled or data.channel_refunds) and _valid(data)


def _valid(data: OrderData) -> bool:
    try:
        data.check()
    except ValidationError:
        return False
    return True


def payment_channels(session: Session, batch: Iterable[OrderData]) -> dict[str, int]:
    """Channel id by slug of every payment channel a batch of orders names, in one query.

    Slugs that name no channel are left out (:func:`~hub.orders.intake.new_order_rows`
    refuses them).
    """
    slugs = {p.channel for data in batch for p in data.payments if p.channel}
    if not slugs:
        return {}
    return {slug: id_ for slug, id_ in session.execute(_CHANNELS_BY_SLUG, {"slugs": list(slugs)})}


class StoredOrder(NamedTuple):
    """An order the hub has already: its id and the channel's ``updated_at`` it holds."""

    id: int
    external_updated_at: datetime | None


def existing_orders(
    session: Session, channel_id: int, external_ids: Iterable[str]
) -> dict[str, StoredOrder]:
    """The orders the channel has already among these external ids, in one query."""
    wanted = list(dict.fromkeys(external_ids))
    if not wanted:
        return {}
    rows = session.execute(_EXISTING, {"channel_id": channel_id, "external_ids": wanted})
    return {external_id: StoredOrder(id_, updated_at) for external_id, id_, updated_at in rows}


def is_stale(data: OrderData, stored: StoredOrder) -> bool:
    """Whether ``data`` is a copy the hub holds already or an older one: storing it changes nothing.

    What :func:`~hub.orders.intake.upsert_order` decides after locking the order,
    told from :func:`existing_orders`' answer: a pull asks again for the last
    minutes of changes (an order committed late is still seen), so most of a
    page at volume is orders read before, each of which would otherwise cost a
    savepoint and a locked read. Versions only grow, so an answer read without
    the lock stays right. A copy that is not a valid order is not stale: it
    goes the long way, to be refused with its reason as before.
    """
    if stored.external_updated_at is None or data.updated_at is None:
        return False
    return data.updated_at <= stored.external_updated_at and _valid(data)


def insert_new_orders(session: Session, batch: Sequence[NewOrderRows]) -> list[int]:
    """Write new orders with one ``executemany`` per table; return their ids, in order.

    Orders, lines, payments, ``order.created`` events and the jobs that follow
    (``order.event``, ``order.process``): the same rows as
    :func:`~hub.orders.intake.upsert_order` would write one by one, without
    the ORM's cost per order (``make bench`` (b)). The caller checked that
    none of them exists, that none comes twice and that each is plain
    (:func:`is_plain_new_order`); a concurrent insert of one of them fails the
    whole statement on the unique (channel, external id): run this in a
    savepoint and fall back to :func:`~hub.orders.intake.upsert_order` for each.
    """
    if not batch:
        return []
    # Each order's customer, found or made by the rule upsert_order applies, for the whole
    # page at once (hub.customers.linking), channel by channel.
    linked: dict[int, int] = {}
    for channel_id in dict.fromkeys(rows.order["channel_id"] for rows in batch):
        mine = [i for i, rows in enumerate(batch) if rows.order["channel_id"] == channel_id]
        found = link_orders(session, channel_id, [batch[i].order for i in mine])
        linked.update(zip(mine, found, strict=True))
    customers = [linked[i] for i in range(len(batch))]
    conn = session.connection()
    # The ORM numbers a new order's version 1 (version_id_col); Core must say so.
    stored = conn.execute(
        _INSERT_ORDERS,
        [
            {
                **rows.order,
                "customer_id": customer_id,
                "version": 1,
                "updated_at": rows.order["created_at"],
            }
            for rows, customer_id in zip(batch, customers, strict=True)
        ],
    )
    # Matched by key, not by position: RETURNING in parameter order would make
    # SQLite insert one row per statement.
    by_key = {(channel_id, external_id): order_id for order_id, channel_id, external_id in stored}
    order_ids = [by_key[rows.order["channel_id"], rows.order["external_id"]] for rows in batch]
    lines = [
        {**line, "order_id": order_id}
        for rows, order_id in zip(batch, order_ids, strict=True)
        for line in rows.lines
    ]
    if lines:
        conn.execute(_INSERT_LINES, lines)
    payments = [
        {**payment, "order_id": order_id}
        for rows, order_id in zip(batch, order_ids, strict=True)
        for payment in rows.payments
    ]
    if payments:
        conn.execute(_INSERT_PAYMENTS, payments)
    created = [
        {**rows.created, "order_id": order_id}
        for rows, order_id in zip(batch, order_ids, strict=True)
    ]
    events = {order_id: event_id for order_id, event_id in conn.execute(_INSERT_EVENTS, created)}
    enqueue_many(
        conn,
        [
            job
            for order_id in order_ids
            for job in (announcement(order_id, events[order_id]), first_check(order_id))
        ],
    )
    return order_ids


_orders, _channels = Order.__table__, Channel.__table__
_INSERT_ORDERS = insert(_orders).returning(
    _orders.c.id, _orders.c.channel_id, _orders.c.external_id
)
_INSERT_LINES = insert(OrderLine.__table__)
_INSERT_PAYMENTS = insert(Payment.__table__)
_INSERT_EVENTS = insert(OrderAuditEvent.__table__).returning(
    OrderAuditEvent.__table__.c.order_id, OrderAuditEvent.__table__.c.id
)
_EXISTING = select(_orders.c.external_id, _orders.c.id, _orders.c.external_updated_at).where(
    _orders.c.channel_id == bindparam("channel_id"),
    _orders.c.external_id.in_(bindparam("external_ids", expanding=True)),
)
_CHANNELS_BY_SLUG = select(_channels.c.slug, _channels.c.id).where(
    _channels.c.slug.in_(bindparam("slugs", expanding=True))
)
