"""Sales channel jobs: orders pulled (``channel.pull``) or fetched again after a rejection
(``channel.order_rejected``), and the channel told of a shipment: its fulfilment pushed
(``sales.push_fulfillment``) or cancelled (``sales.cancel_fulfillment``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from hub.channels.port import ChannelPort
from hub.core import events as ev
from hub.core.exceptions import ConfigError
from hub.core.order import OrderData
from hub.integration.checks import order_page_problem, shown
from hub.integration.connectors import SalesConnector
from hub.orders import intake, records
from hub.orders.serialize import order_detail
from hub.pipeline.follow_up import get
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.routing.geocode import geocoder_for
from hub.runtime.hub import as_role
from hub.store.models import Channel, Order, Shipment, utcnow


def pull_orders(ctx: JobContext) -> None:
    """Pull changed orders page by page; each page and its cursor commit together."""
    channel_id = ctx.require_channel()
    port = ChannelPort(ctx.hub, channel_id)
    connector = as_role(ctx.connector(), SalesConnector)
    pages = connector.fetch_orders(port.state.get("cursor"))
    if not isinstance(pages, Iterable):
        _wrong(connector, f"fetch_orders returned {shown(pages)}, not pages (yield OrderPage(...))")
    for page in pages:
        # Checked before anything is stored: a page that is not one fails the job for good
        # (retrying the same code cannot fix it), naming the connector and what it yielded.
        problem = order_page_problem(page)
        if problem:
            _wrong(connector, f"fetch_orders {problem}")
        port.upsert_orders(page.orders, cursor=page.cursor, rejected=page.rejected)
    with ctx.hub.db.transaction() as session:
        channel = get(session, Channel, channel_id)
        channel.last_sync_at = utcnow()
        channel.last_error = None


def refetch_rejected_order(ctx: JobContext) -> None:
    """Retry of a dead-lettered order: fetch it again and store it."""
    connector = as_role(ctx.connector(), SalesConnector)
    data = connector.fetch_order(ctx.payload["external_id"])
    if not isinstance(data, OrderData):
        _wrong(connector, f"fetch_order returned {shown(data)}, not an OrderData")
    with ctx.hub.db.transaction() as session:
        channel = get(session, Channel, ctx.require_channel())
        intake.upsert_order(
            session,
            channel,
            data,
            actor=f"channel:{channel.slug}",
            geocoder=geocoder_for(ctx.hub),
        )


def _wrong(connector: SalesConnector, problem: str) -> NoReturn:
    """A connector handed the hub what its operation does not return: the job is dead at once."""
    raise ConfigError(f"connector {connector.name} (channel {connector.channel.slug}): {problem}")


def push_fulfillment(ctx: JobContext) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        shipment = session.get(Shipment, ctx.payload["shipment_id"])
        if shipment is None or shipment.channel_fulfillment_id or shipment.status == "voided":
            return
        # A replacement label: the voided one's fulfilment goes first, so the
        # channel has the units open again to fulfil with the new tracking.
        stale = [s.id for s in shipment.order.shipments if _fulfillment_to_cancel(s)]
    for shipment_id in stale:
        _cancel_channel_fulfillment(ctx, shipment_id)
    with hub.db.read() as session:
        shipment = get(session, Shipment, ctx.payload["shipment_id"])
        order = session.scalars(records.order_query().where(Order.id == shipment.order_id)).one()
        detail = order_detail(order)
        shipment_dict = next(s for s in detail["shipments"] if s["id"] == shipment.id)
        for line in shipment_dict["lines"]:
            source = next(x for x in order.lines if x.id == line["line_id"])
            line.update(sku=source.sku, external_id=source.external_id)
    external = as_role(ctx.connector(), SalesConnector).push_fulfillment(
        detail, shipment_dict, idempotency_key=ctx.idempotency_key
    )
    if external:
        with hub.db.transaction() as session:
            shipment = get(session, Shipment, shipment_dict["id"])
            shipment.channel_fulfillment_id = str(external)
            if shipment.status == "voided":
                # Voided while this job was at the channel: its fulfilment goes too.
                enqueue(
                    session,
                    JobKind.SALES_CANCEL_FULFILLMENT,
                    {"shipment_id": shipment.id},
                    channel_id=ctx.channel_id,
                    order_id=shipment.order_id,
                    dedupe_key=JobKind.SALES_CANCEL_FULFILLMENT.key(shipment.id),
                )


def _fulfillment_to_cancel(shipment: Shipment) -> bool:
    return (
        shipment.status == "voided"
        and bool(shipment.channel_fulfillment_id)
        and shipment.channel_fulfillment_cancelled_at is None
    )


def cancel_fulfillment(ctx: JobContext) -> None:
    """Cancel on the sales channel the fulfilment of a shipment whose label was voided."""
    _cancel_channel_fulfillment(ctx, ctx.payload["shipment_id"])


def _cancel_channel_fulfillment(ctx: JobContext, shipment_id: int) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None or not _fulfillment_to_cancel(shipment):
            return
        order = session.scalars(records.order_query().where(Order.id == shipment.order_id)).one()
        detail = order_detail(order)
        fulfillment_id = str(shipment.channel_fulfillment_id)
        tracking = shipment.tracking_number
    as_role(ctx.connector(), SalesConnector).cancel_fulfillment(
        detail, fulfillment_id, idempotency_key=f"{ctx.idempotency_key}:{shipment_id}"
    )
    with hub.db.transaction() as session:
        shipment = get(session, Shipment, shipment_id)
        if shipment.channel_fulfillment_cancelled_at is None:
            shipment.channel_fulfillment_cancelled_at = utcnow()
            order = records.get_order(session, shipment.order_id)
            records.record(
                session,
                order,
                ev.CHANNEL_FULFILLMENT_CANCELLED,
                actor="system",
                reason="the label was voided",
                data={
                    "shipment_id": shipment_id,
                    "fulfillment_id": fulfillment_id,
                    "tracking_number": tracking,
                },
            )
