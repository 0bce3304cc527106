"""Order steps: check a pending order (``order.process``: hold it or confirm it), then route
a confirmed one to its locations and start fulfilment (``order.fulfill``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.core.lifecycle import OrderStatus
from hub.integration.checks import hold_reasons_problem
from hub.integration.manager import PluginOutputError, call_isolated
from hub.inventory import backorders, reservations
from hub.orders import records, shipments, transitions
from hub.orders.lookup import SessionLookup
from hub.orders.serialize import order_detail
from hub.pipeline.follow_up import shipping_channel_for
from hub.queue.jobs import JobContext
from hub.returns import exchanges
from hub.routing import promise, service_levels
from hub.runtime import shop_settings

if TYPE_CHECKING:
    from hub.runtime.hub import Hub

log = logging.getLogger(__name__)


def process_order(ctx: JobContext) -> None:
    """Check a pending order: hold it with every reason, or confirm it."""
    check_order(ctx.hub, ctx.require_order())


def check_order(hub: Hub, order_id: int) -> None:
    """Check order ``order_id`` now if it is pending (the ``order.process`` job, run in place).

    The admin runs it when a person releases a hold, to say at once whether the
    order is held again and why; the job enqueued by the release then finds the
    order no longer pending and does nothing.
    """
    with hub.unit_of_work() as work:
        session = work.session
        order = records.get_order(session, order_id)
        if order.status != OrderStatus.PENDING:
            return
        problems: list[str] = []
        # Each rule in a savepoint: one that breaks the transaction takes only its own reads.
        for result in call_isolated(
            hub.pm,
            "hub_validate_order",
            on_error=_plugin_failed(hub, "hub_validate_order", order.label),
            around=session.begin_nested,
            check=hold_reasons_problem,
            order=order_detail(order),
            lookup=SessionLookup(session, hub.settings, plugin_settings=hub.plugin_settings),
        ):
            problems.extend(result or [])
        transitions.process_order(work, order.id, actor="system", problems=problems)


def _plugin_failed(hub: Hub, hook: str, label: str) -> Callable[[str, BaseException], None]:
    """Log and count a plugin that raised in a fan-out hook (it holds and aborts nothing)."""

    def report(plugin: str, exc: BaseException) -> None:
        hub.metrics.plugin_error(plugin, hook)
        if isinstance(exc, PluginOutputError):  # the message says it all: no traceback
            log.error("%s, for order %s; its answer is left out", exc.message, label)
            return
        log.error(
            "plugin %s failed in %s for order %s; its answer is left out",
            plugin,
            hook,
            label,
            exc_info=exc,
        )

    return report


def fulfill_order(ctx: JobContext) -> None:
    """Route a confirmed order to its locations and start fulfilment at its shipping channel."""
    hub = ctx.hub
    with hub.db.transaction() as session:
        order = records.get_order(session, ctx.require_order())
        if order.status != OrderStatus.CONFIRMED:
            return
        if backorders.waiting(session, order.id):
            return  # ships when its stock arrives (order.backorder_filled starts it again)
        if exchanges.waiting(session, order.id):
            return  # an exchange's replacement: ships when the return is received
        channel = shipping_channel_for(session, hub, order)
        if channel is None:
            return  # no shipping channel: a person ships it (API, UI, CLI)
        # Ship from where the stock was reserved at confirmation; route only
        # orders whose stock is not tracked.
        groups = reservations.planned_groups(session, order) or hub.pm.hook.hub_allocate_order(
            order=order_detail(order),
            lookup=SessionLookup(session, hub.settings, plugin_settings=hub.plugin_settings),
        )
        if not groups:
            groups = [
                (
                    "",
                    {
                        line.id: line.quantity
                        for line in order.lines
                        if line.requires_shipping and line.quantity > 0
                    },
                )
            ]
        groups = [(code, lines) for code, lines in groups if lines]
        if not groups:
            # Gift cards, digital goods, or everything refunded: no warehouse has work.
            records.record(
                session,
                order,
                "order.nothing_to_ship",
                actor="system",
                reason="no line of the order needs shipping",
            )
            return
        shipments.plan_fulfillment(session, order, groups, channel.id)
        # The carrier service by the merchant's rules, then the promise (an air service is faster).
        service_levels.assign(session, order)
        promise.promise_groups(session, order, shop_settings.read(session, hub.settings).zone)
        transitions.apply_event(session, order, "start_fulfillment", actor="system")
