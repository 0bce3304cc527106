"""One SKU's demand as people see it: the API (``GET /api/v1/skus/<sku>/demand``) and the
admin's SKU page read this one function."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound
from hub.inventory.levels import get_location
from hub.inventory.queries import LevelFilters, levels_statement
from hub.replenishment.forecasts import forecasts_of
from hub.replenishment.history import daily_series, demand_history
from hub.replenishment.policies import apply, policy_of
from hub.replenishment.reorder import days_of_cover
from hub.store.models import Location, OrderLine, StockLevel, utcnow

#: Days of history shown by default, and at most.
HISTORY_DAYS, MAX_HISTORY_DAYS = 90, 730


def sku_exists(session: Session, sku: str) -> bool:
    """A SKU the hub knows: on an order line or a stock level."""
    return bool(
        session.scalar(
            select(exists().where(OrderLine.sku == sku) | exists().where(StockLevel.sku == sku))
        )
    )


def known_sku(session: Session, sku: str) -> str:
    """``sku`` itself. :raises NotFound: the hub knows no such SKU (see :func:`sku_exists`)."""
    if not sku_exists(session, sku):
        raise NotFound(f"SKU {sku!r} does not exist")
    return sku


def location_id_of(session: Session, code: str | None) -> int | None:
    """The id of the location ``code`` (None: all locations). :raises NotFound: no such code."""
    return None if code is None else get_location(session, code).id


def sku_demand(
    session: Session,
    sku: str,
    *,
    location: str | None = None,
    days: int = HISTORY_DAYS,
    today: date | None = None,
) -> dict[str, Any]:
    """History, forecast with its band, stock, days of cover and the reorder policy with
    its arithmetic, of ``sku`` at ``location`` (a code; None: all locations).

    :raises NotFound: the SKU or the location is unknown.
    """
    if not sku_exists(session, sku):
        raise NotFound(f"SKU {sku!r} does not exist")
    location_id = location_id_of(session, location)
    today = today or utcnow().date()
    start = today - timedelta(days=days)
    history = demand_history(session, [sku], start, today).get(sku)
    if history is None:
        series = [0] * days
    elif location_id is None:
        series = daily_series(history.total, start, today)
    else:
        series = daily_series(history.by_location.get(location_id, {}), start, today)
    levels = list(
        session.scalars(levels_statement(session, LevelFilters(sku=sku)).order_by(Location.code))
    )
    levels = [level for level in levels if location_id in (None, level.location_id)]
    stock = [
        {
            "location": level.location.code,
            "location_name": level.location.name,
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "available": level.available,
        }
        for level in levels
    ]
    available = sum(level.available for level in levels)
    stored = forecasts_of(session, sku).get(location_id)
    forecast = None
    if stored is not None:
        first = stored.computed_at.date()
        forecast = {
            "method": stored.method,
            "demand_class": stored.demand_class,
            "history_days": stored.history_days,
            "mean_daily": stored.mean_daily,
            "sigma": stored.sigma,
            "computed_at": stored.computed_at,
            "days": [
                {
                    "date": first + timedelta(days=i),
                    "quantity": q,
                    "lower": stored.lower[i],
                    "upper": stored.upper[i],
                }
                for i, q in enumerate(stored.daily)
            ],
        }
    return {
        "sku": sku,
        "location": location,
        "history": [
            {"date": start + timedelta(days=i), "quantity": q} for i, q in enumerate(series)
        ],
        "forecast": forecast,
        "stock": stock,
        "available": available,
        "days_of_cover": days_of_cover(available, stored.mean_daily) if stored else None,
        "policy": apply(policy_of(session, sku, location_id), stored),
    }
