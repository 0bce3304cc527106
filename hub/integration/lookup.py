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
    """An active location: its code, name and priority (higher ships first)."""

    code: str
    name: str
    priority: int


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

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """The settings registered as ``name`` (``hub_register_settings``) as saved in the admin UI.

        Fields not saved yet hold their schema's ``load_default``; secret fields
        come decrypted.

        :raises NotFound: no plugin registers settings named ``name``.
        """
        ...
