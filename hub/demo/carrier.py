"""The demo's carriers: the shipped orders delivered by the carrier's word, through AfterShip.

Run once the flow has settled (``hub demo``), before the after-delivery arc:
an AfterShip channel on the AfterShip sandbox is added, the shipments still on
their way are handed to it (``tracking.register``, once each), the sandbox's
carriers scan every parcel delivered and post
the signed webhooks to the hub's web server, and the hub's jobs deliver the
orders. The channel comes after the flow so that the flow's figures stay the
flow's alone. Every count comes from the hub and the sandbox.
"""

from __future__ import annotations

import secrets
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from hub.channels.manage import create_channel
from hub.demo.sandboxes import sandbox_classes
from hub.integration.sandbox import serve
from hub.pipeline.tracking import register_open_shipments
from hub.queue.jobs import Worker
from hub.runtime.hub import Hub
from hub.store.models import OrderAuditEvent, ShipmentTracking

SLUG = "aftership"


@dataclass
class CarrierSummary:
    registered: int
    webhooks: int
    delivered: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def deliver_by_carrier(hub: Hub, web_url: str, stack: ExitStack) -> CarrierSummary:
    """Add the AfterShip channel (its sandbox served until ``stack`` closes) and deliver by it."""
    started = time.perf_counter()
    api_key, secret = "as-demo-" + secrets.token_hex(8), "as-whsec-" + secrets.token_hex(16)
    sandbox = sandbox_classes()["aftership"](api_key=api_key, webhook_secret=secret)
    base_url = stack.enter_context(serve(sandbox))
    with hub.db.transaction() as session:
        channel = create_channel(
            hub,
            session,
            name="AfterShip",
            connector="aftership",
            slug=SLUG,
            config={"api_key": api_key, "webhook_secret": secret, "api_base_url": base_url},
        )
        sandbox.webhook_url = f"{web_url.rstrip('/')}/webhooks/{channel.slug}"
        register_open_shipments(session, channel.id)
        channel_id = channel.id
    worker = Worker(hub, worker_id="demo-carrier")
    worker.run_until_idle()
    # One scan a parcel (delivered): three (in transit, out for delivery, delivered) cost the
    # demo three times the webhooks for the same outcome (31 s instead of ~10 s at 200 orders).
    sandbox.deliver_all(journey=False)
    webhooks = 0
    for _ in range(5):  # AfterShip retries what was not answered 2xx
        webhooks += sum(1 for code in sandbox.deliver_webhooks() if 200 <= code < 300)
        if not sandbox.outbox:
            break
    worker.run_until_idle()
    with hub.db.read() as session:
        registered = (
            session.scalar(
                select(func.count())
                .select_from(ShipmentTracking)
                .where(
                    ShipmentTracking.channel_id == channel_id,
                    ShipmentTracking.registered_at.is_not(None),
                )
            )
            or 0
        )
        delivered = (
            session.scalar(
                select(func.count()).where(
                    OrderAuditEvent.name == "order.delivered",
                    OrderAuditEvent.actor == f"channel:{SLUG}",
                )
            )
            or 0
        )
    return CarrierSummary(
        registered=registered,
        webhooks=webhooks,
        delivered=delivered,
        seconds=time.perf_counter() - started,
    )
