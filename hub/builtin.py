"""The hub's own jobs, registered through the same hooks any plugin uses."""

from __future__ import annotations

import logging

from . import actions, hookimpl
from .core.events import OrderEvent
from .jobs import JobContext, enqueue
from .models import Order, OrderAuditEvent
from .serialize import order_detail

log = logging.getLogger(__name__)


def announce_order_event(ctx: JobContext) -> None:
    """Fan an audit event out: one delivery job per plugin that listens.

    One job per plugin means one plugin's failure is retried alone and never
    keeps the event from the others.
    """
    event_id = ctx.payload["event_id"]
    listeners = [impl.plugin_name for impl in ctx.hub.pm.hook.hub_order_event.get_hookimpls()]
    with ctx.db.transaction() as session:
        for plugin in listeners:
            enqueue(session, "order.event.deliver", {"event_id": event_id, "plugin": plugin},
                    order_id=ctx.order_id, dedupe_key=f"order.event.deliver:{event_id}:{plugin}")


def deliver_order_event(ctx: JobContext) -> None:
    """Call one plugin's ``hub_order_event`` with the event and the order as it is now."""
    plugin = ctx.payload["plugin"]
    with ctx.db.read() as session:
        audit = session.get(OrderAuditEvent, ctx.payload["event_id"])
        if audit is None:
            return  # the order was deleted since; nothing left to tell
        order = session.scalars(actions.order_query().where(Order.id == audit.order_id)).one()
        event = OrderEvent(name=audit.name, order_id=audit.order_id, id=audit.id,
                           occurred_at=audit.created_at,
                           data={**(audit.data or {}), "from": audit.from_status,
                                 "to": audit.to_status, "reason": audit.reason,
                                 "actor": audit.actor})
        snapshot = order_detail(order)
    for impl in ctx.hub.pm.hook.hub_order_event.get_hookimpls():
        if impl.plugin_name == plugin:
            kwargs = {"event": event, "order": snapshot}
            impl.function(**{name: kwargs[name] for name in impl.argnames})
            return
    log.info("plugin %s no longer listens to order events; dropping delivery", plugin)


def process_order(ctx: JobContext) -> None:
    """Check a pending order and confirm it, or hold it with every reason."""
    with ctx.db.transaction() as session:
        actions.process_order(session, ctx.order_id, actor="system")


@hookimpl
def hub_register_job_handlers():
    return {
        "order.event": announce_order_event,
        "order.event.deliver": deliver_order_event,
        "order.process": process_order,
    }

