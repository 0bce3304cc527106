"""What a plugin's order decision may read of the hub: the :class:`OrderLookup` it is handed.

``hub_validate_order`` and ``hub_allocate_order`` run inside the transaction
that confirms or holds an order. A plugin is handed this lookup, not that
transaction: it reads what the hub's own rules read (stock at each location,
known SKUs, a customer's recent orders, the settings the rules use) as
plain data, and it
cannot write. While an order is being confirmed its SKUs' stock levels are
locked, so what :meth:`OrderLookup.available` answers is what the hub will
reserve from. The hub's implementation is
:class:`hub.orders.lookup.SessionLookup`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class LocationInfo:
    """An active location: its code, name and priority (higher ships first), and where it is."""

    code: str
    name: str
    priority: int
    #: Degrees (WGS 84); None when the location has no coordinates.
    latitude: float | None = None
    longitude: float | None = None
    postal_code: str = ""
    country_code: str = ""


@dataclass(frozen=True, slots=True)
class Destination:
    """Where an order ships to, as routing reads it."""

    #: Degrees; None when the address could not be placed.
    latitude: float | None
    longitude: float | None
    #: How sure the place is: ``exact``, ``postal_code``, ``city``, ``country`` (None: unplaced).
    precision: str | None
    postal_code: str = ""
    country_code: str = ""
    province_code: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class Quote:
    """The cheapest carrier service for one parcel from a location to an order's zone."""

    carrier: str
    service_code: str
    service_name: str
    cost_cents: int
    #: Whether it came from the hub's cache rather than a request now.
    cached: bool = False


class NoQuote(Exception):
    """No rate quote can be had (no shipping channel quotes rates, or it failed): says why."""


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """Another order, as a rule needs to compare: who, when, in which status, what lines."""

    id: int
    label: str
    email: str
    status: str
    placed_at: datetime | None
    #: ``(sku, quantity)`` per line.
    lines: tuple[tuple[str, int], ...]


class OrderLookup(Protocol):
    """The hub, as a plugin deciding about an order may read it."""

    #: Currencies orders may be in (``HUB_CURRENCIES``); empty: any ISO 4217 currency.
    currencies: tuple[str, ...]
    #: How close two identical orders of one customer count as a duplicate
    #: (``HUB_DUPLICATE_WINDOW_MINUTES``); zero turns the check off.
    duplicate_window: timedelta

    def tracks_stock(self) -> bool:
        """Whether the hub tracks stock at all (it does once any location exists)."""
        ...

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        """Those of ``skus`` that have a stock level at some location."""
        ...

    def locations(self) -> list[LocationInfo]:
        """Active locations, highest priority first (then by code)."""
        ...

    def available(self, skus: Iterable[str]) -> dict[tuple[str, str], int]:
        """Units available now (on hand − reserved), by ``(sku, location code)``.

        Only active locations with a level of the SKU appear; a pair missing has none.
        """
        ...

    def recent_orders(self, email: str, *, since: datetime, until: datetime) -> list[OrderSummary]:
        """Orders of ``email`` placed in ``[since, until]``, oldest first, cancelled ones too.

        Emails are compared in lower case, as the hub stores them.
        """
        ...

    def routing_strategy(self, order_id: int) -> str:
        """How the order's sales channel routes: ``priority``, ``nearest`` or ``cheapest``."""
        ...

    def destination(self, order_id: int) -> Destination | None:
        """Where the order ships to (its shipping address and its place); None without an address."""
        ...

    def unit_weights(self, skus: Iterable[str]) -> dict[str, int]:
        """Grams per unit of each SKU: its attributes' weight, else ``HUB_DEFAULT_UNIT_GRAMS``."""
        ...

    def quote(self, order_id: int, location_code: str, grams: int) -> Quote:
        """The cheapest rate for a parcel of ``grams`` from the location to the order's address.

        Quotes are cached per origin, destination zone and weight band (see
        :mod:`hub.routing.rates`).

        :raises NoQuote: no shipping channel of the order quotes rates, or the quote failed.
        """
        ...

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """The settings registered as ``name`` (``hub_register_settings``) as saved in the admin UI.

        Fields not saved yet hold their schema's ``load_default``; secret fields
        come decrypted.

        :raises NotFound: no plugin registers settings named ``name``.
        """
        ...
