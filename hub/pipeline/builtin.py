"""The hub's own jobs and services, registered through the same hooks any plugin uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import hookimpl
from hub.channels.erp_exchange import ChannelErpExchange
from hub.pipeline.handlers import HANDLERS
from hub.purchasing import queries as purchasing


@hookimpl
def hub_register_job_handlers():
    return dict(HANDLERS)


@hookimpl
def hub_register_services() -> dict[str, Callable[[Any, int], Any]]:
    # "incoming_stock": what is on purchase orders, for backorders (UnitOfWork.incoming).
    return {"erp": ChannelErpExchange, "incoming_stock": lambda hub, channel_id: purchasing}
