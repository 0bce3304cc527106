"""``order.late_check`` (periodic): orders whose delivery promise passed are marked late, once.

:func:`hub.routing.late.overdue` finds the groups not shipped by their ship-by day
and the orders not delivered by a deliver-by day (the shop's day, in its time
zone); each order is marked once per cause and records ``order.late``, which the
outbound webhooks and the timeline carry like any order event.
"""

from __future__ import annotations

import logging

from hub.core import events
from hub.orders.records import get_order, record
from hub.queue.jobs import JobContext
from hub.routing import late
from hub.runtime import shop_settings
from hub.store.models import utcnow

log = logging.getLogger(__name__)

#: How often late orders are looked for.
LATE_CHECK_EVERY_SECONDS = 3600


def check_late_orders(ctx: JobContext) -> None:
    """Mark every order whose promise passed, once per cause, and record ``order.late``."""
    marked = 0
    with ctx.hub.db.transaction() as session:
        zone = shop_settings.read(session, ctx.hub.settings).zone
        today = utcnow().astimezone(zone).date()
        for item in late.overdue(session, today):
            if not late.mark(session, item):
                continue
            record(
                session,
                get_order(session, item.order_id),
                events.ORDER_LATE,
                actor="system",
                reason=f"{late.CAUSE_WORDS[item.cause]} ({item.promised.isoformat()})",
                data={
                    "cause": item.cause,
                    "group": item.group_key,
                    "promised": item.promised.isoformat(),
                },
            )
            marked += 1
    if marked:
        log.warning("%d order(s) found late", marked)
