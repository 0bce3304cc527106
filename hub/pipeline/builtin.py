"""The hub's own jobs and services, registered through the same hooks any plugin uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import hookimpl
from hub.channels.erp_exchange import ChannelErpExchange
from hub.pipeline.follow_up import shipping_channel_for
from hub.pipeline.handlers import HANDLERS
from hub.purchasing import queries as purchasing
from hub.routing.rates import RateBook


@hookimpl
def hub_register_job_handlers():
    return dict(HANDLERS)


@hookimpl
def hub_register_services() -> dict[str, Callable[[Any, int], Any]]:
    # "incoming_stock": what is on purchase orders, for backorders (UnitOfWork.incoming).
    # "rate_quotes": carriers' prices, cached, for routing by cost (UnitOfWork.rates).
    return {
        "erp": ChannelErpExchange,
        "incoming_stock": lambda hub, channel_id: purchasing,
        "rate_quotes": _rate_book,
    }


def _rate_book(hub: Any, channel_id: int) -> RateBook:
    return RateBook(
        connector_for=hub.connector_for,
        shipping_channel=lambda session, order: shipping_channel_for(session, hub, order),
        ttl_seconds=hub.settings.rate_quote_ttl_seconds,
    )
