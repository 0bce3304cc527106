"""The hub's :class:`~hub.integration.lookup.OrderLookup`: reads for plugins' order decisions.

Backed by the transaction that is checking or confirming the order, so what a
rule or a routing strategy reads is what the hub then acts on; it only reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.core.exceptions import NotFound
from hub.integration.lookup import LocationInfo, OrderSummary
from hub.inventory import levels
from hub.runtime.plugin_settings import PluginSettingsStore
from hub.store.config import Settings
from hub.store.models import Order


class SessionLookup:
    """What :mod:`hub.integration.lookup` promises, read in ``session``."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        *,
        plugin_settings: PluginSettingsStore | None = None,
    ):
        self._session = session
        self._plugin_settings = plugin_settings
        self.currencies = settings.currencies
        self.duplicate_window = timedelta(minutes=settings.duplicate_window_minutes)

    def plugin_settings(self, name: str) -> dict[str, Any]:
        if self._plugin_settings is None:
            raise NotFound(f"no plugin settings are readable here (asked for {name!r})")
        return self._plugin_settings.read(self._session, name)

    def tracks_stock(self) -> bool:
        return levels.tracking_enabled(self._session)

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        return levels.known_skus(self._session, skus)

    def locations(self) -> list[LocationInfo]:
        return [
            LocationInfo(loc.code, loc.name, loc.priority)
            for loc in levels.list_locations(self._session)
            if loc.active
        ]

    def available(self, skus: Iterable[str]) -> dict[tuple[str, str], int]:
        return levels.available_at(self._session, skus)

    def recent_orders(self, email: str, *, since: datetime, until: datetime) -> list[OrderSummary]:
        found = self._session.scalars(
            select(Order)
            .options(selectinload(Order.lines))
            .where(
                Order.email == email.strip().lower(),
                Order.placed_at >= since,
                Order.placed_at <= until,
            )
            .order_by(Order.placed_at, Order.id)
        )
        return [
            OrderSummary(
                id=o.id,
                label=o.label,
                email=o.email,
                status=o.status,
                placed_at=o.placed_at,
                lines=tuple((line.sku, line.quantity) for line in o.lines),
            )
            for o in found
        ]
