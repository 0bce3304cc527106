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
from hub.integration.lookup import Destination, LocationInfo, NoQuote, OrderSummary, Quote
from hub.inventory import levels
from hub.routing import service_levels, strategies
from hub.runtime.plugin_settings import PluginSettingsStore
from hub.runtime.work import RateSource
from hub.store.config import Settings
from hub.store.models import Location, Order


class SessionLookup:
    """What :mod:`hub.integration.lookup` promises, read in ``session``."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        *,
        plugin_settings: PluginSettingsStore | None = None,
        rates: RateSource | None = None,
    ):
        self._session = session
        self._plugin_settings = plugin_settings
        self._rates = rates
        self._unit_grams = settings.default_unit_grams
        #: Locations by code, read once for the quotes of one routing.
        self._places: dict[str, Location] | None = None
        self._orders: dict[int, Order] = {}
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
            LocationInfo(
                loc.code,
                loc.name,
                loc.priority,
                latitude=loc.latitude,
                longitude=loc.longitude,
                postal_code=loc.zip,
                country_code=loc.country_code,
            )
            for loc in levels.list_locations(self._session)
            if loc.active
        ]

    def _order(self, order_id: int) -> Order:
        # Held here: the session's identity map keeps no object alive, and a strategy
        # asks about the same order once per candidate shipment.
        order = self._orders.get(order_id) or self._session.get(Order, order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        self._orders[order_id] = order
        return order

    def routing_strategy(self, order_id: int) -> str:
        return strategies.strategy_of(self._session, self._order(order_id).channel_id)

    def destination(self, order_id: int) -> Destination | None:
        order = self._order(order_id)
        address = order.shipping_address or {}
        if not address and order.ship_latitude is None:
            return None
        return Destination(
            latitude=order.ship_latitude,
            longitude=order.ship_longitude,
            precision=order.ship_geo_precision,
            postal_code=str(address.get("zip") or ""),
            country_code=str(address.get("country_code") or "").upper(),
            province_code=str(address.get("province_code") or ""),
            city=str(address.get("city") or ""),
        )

    def unit_weights(self, skus: Iterable[str]) -> dict[str, int]:
        wanted = set(skus)
        known = service_levels.attributes_of(self._session, wanted)
        return {
            sku: w if (w := getattr(known.get(sku), "weight_grams", None)) else self._unit_grams
            for sku in wanted
        }

    def quote(self, order_id: int, location_code: str, grams: int) -> Quote:
        if self._rates is None:
            raise NoQuote("rate quotes are not available here")
        order = self._order(order_id)
        if self._places is None:
            self._places = {loc.code: loc for loc in levels.list_locations(self._session)}
        location = self._places.get(location_code)
        if location is None:
            raise NotFound(f"location {location_code!r} does not exist")
        destination = self.destination(order_id)
        if destination is None:
            raise NoQuote("the order has no shipping address")
        return self._rates.quote(self._session, order, location, destination, grams)

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
