"""The hub's order-management defaults, registered as a plugin like any other.

- ``hub_validate_order``: the hub's own checks (:mod:`hub.orders.validation`);
  plugins add theirs next to it, and every reason found is kept.
- ``hub_allocate_order``: the default routing, by the strategy of the order's
  sales channel (:func:`hub.routing.strategies.route`: ``priority``, ``nearest``
  or ``cheapest``), ``trylast`` so a plugin's strategy answers first.
- ``hub_register_job_handlers``: ``stock.push`` and ``stock.push.channel``
  (:mod:`hub.inventory.levels`); ``hub_register_periodic_jobs``: a ``stock.push``
  every five minutes as a safety net; ``hub.purge`` hourly; ``ops.alert`` every
  five minutes (:mod:`hub.pipeline.alerts`); ``replenishment.forecast`` daily
  (:mod:`hub.replenishment.forecasts`); ``replenishment.low_stock`` every 15 minutes
  (:mod:`hub.pipeline.replenishment`); ``aftercare.satisfaction_checks`` hourly
  (:mod:`hub.pipeline.aftercare`).
"""

from __future__ import annotations

from typing import Any

from hub import hookimpl
from hub.integration.jobs import PeriodicJob
from hub.integration.lookup import OrderLookup
from hub.inventory import levels as inventory
from hub.orders import validation
from hub.pipeline import aftercare, alerts, replenishment
from hub.pipeline import late as late_orders
from hub.queue.kinds import JobKind
from hub.routing import strategies

#: How often the purge of finished work runs.
PURGE_EVERY_SECONDS = 3600
#: How often every SKU's demand is forecast again.
FORECAST_EVERY_SECONDS = 86400


@hookimpl
def hub_validate_order(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    return validation.check_order(order, lookup)


@hookimpl(trylast=True)
def hub_allocate_order(
    order: dict[str, Any], lookup: OrderLookup
) -> list[tuple[str, dict[int, int]]] | None:
    return strategies.route(lookup, order)


@hookimpl
def hub_register_job_handlers():
    return dict(inventory.JOB_HANDLERS)


@hookimpl
def hub_register_periodic_jobs():
    # Changes enqueue their own debounced push; this catches anything a push
    # in flight could not see (see hub.inventory.push_stock_to_channel).
    # Finished work past HUB_RETENTION_DAYS goes, hourly (hub.pipeline.retention).
    return [
        PeriodicJob(kind=JobKind.STOCK_PUSH, every_seconds=inventory.PUSH_EVERY_SECONDS),
        PeriodicJob(kind=JobKind.PURGE, every_seconds=PURGE_EVERY_SECONDS),
        # Dead jobs and failing channels: an email to the admins (hub.pipeline.alerts).
        PeriodicJob(kind=JobKind.OPS_ALERT, every_seconds=alerts.CHECK_EVERY_SECONDS),
        # Every SKU's demand forecast, daily (hub.replenishment.forecasts).
        PeriodicJob(kind=JobKind.REPLENISHMENT_FORECAST, every_seconds=FORECAST_EVERY_SECONDS),
        # SKUs below their reorder point: the admins hear once per crossing.
        PeriodicJob(
            kind=JobKind.LOW_STOCK_CHECK, every_seconds=replenishment.LOW_STOCK_EVERY_SECONDS
        ),
        # Orders whose delivery promise passed: marked late once (hub.pipeline.late).
        PeriodicJob(
            kind=JobKind.ORDER_LATE_CHECK, every_seconds=late_orders.LATE_CHECK_EVERY_SECONDS
        ),
        # Delivered orders due a satisfaction check (hub.pipeline.aftercare).
        PeriodicJob(kind=JobKind.SATISFACTION_CHECKS, every_seconds=aftercare.EVERY_SECONDS),
    ]
