"""A unit of work: one transaction, and what the order actions may call while it is open.

Most actions change only the database and take a plain ``Session``. The ones
that ask the plugins to decide (confirming an order routes it through
``hub_allocate_order``; checking it runs every ``hub_validate_order``) take a
:class:`UnitOfWork`, made by :meth:`hub.runtime.hub.Hub.unit_of_work`, so what
they reach is in their signature rather than looked up from the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

import pluggy
from sqlalchemy.orm import Session

from hub.runtime.plugin_settings import PluginSettingsStore
from hub.store import db
from hub.store.config import Settings


class IncomingStock(Protocol):
    """Stock on its way on purchase orders (:mod:`hub.purchasing.queries`), which orders may wait for."""

    def incoming(
        self, session: Session, skus: Iterable[str] | None = None
    ) -> dict[tuple[str, int], int]:
        """Units ordered and not yet received, per (SKU, location id)."""
        ...

    def next_arrival(self, session: Session, sku: str, location_id: int | None) -> datetime | None:
        """When the next purchase order with open units of ``sku`` is expected."""
        ...


class RateSource(Protocol):
    """Carriers' rate quotes for routing by cost (:class:`hub.routing.rates.RateBook`)."""

    def quote(
        self, session: Session, order: Any, location: Any, destination: Any, grams: int
    ) -> Any:
        """The cheapest service for a parcel (raises ``NoQuote`` when there is none)."""
        ...


class UnitOfWork:
    """The session of one transaction, the plugins' hooks, the settings and commit-time work."""

    def __init__(
        self,
        session: Session,
        *,
        pm: pluggy.PluginManager,
        settings: Settings,
        plugin_settings: PluginSettingsStore | None = None,
        incoming: IncomingStock | None = None,
        rates: RateSource | None = None,
    ):
        self.session = session
        #: ``hooks.hub_allocate_order(...)``: the plugins, called through pluggy.
        self.hooks: Any = pm.hook
        self.settings = settings
        #: Plugins' own settings (``hub_register_settings``), read in this transaction.
        self.plugin_settings = plugin_settings
        #: Stock on purchase orders, for backorders (None: orders wait for nothing on its way).
        self.incoming = incoming
        #: Carriers' rate quotes, for the ``cheapest`` routing (None: no quotes, routed nearest).
        self.rates = rates

    def before_commit(self, key: str, callback: Callable[[Session], None]) -> None:
        """Run ``callback(session)`` once as this transaction commits (see :func:`hub.store.db.before_commit`)."""
        db.before_commit(self.session, key, callback)

    def after_commit(self, key: str, callback: Callable[[], None]) -> None:
        """Run ``callback()`` once after this transaction committed (see :func:`hub.store.db.after_commit`)."""
        db.after_commit(self.session, key, callback)
