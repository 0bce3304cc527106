"""The ``replenishment.forecast`` job: every SKU with history forecast, in batches, and stored.

Daily (:mod:`hub.pipeline.defaults` schedules it). It reads the SKUs sold in the
last :data:`LOOKBACK_DAYS` days (UTC, up to yesterday), then per batch of
:data:`BATCH_SKUS` SKUs: one history query (:func:`hub.replenishment.history.demand_history`),
one forecast call (:func:`hub.replenishment.forecasting.forecast_many`: the SKU's
total and each location's series), one transaction replacing the batch's rows.
A second run the same day writes the same rows again (idempotent); forecasts of
SKUs that no longer sold in the window are removed at the end.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from hub.core.lifecycle import CANCELLED
from hub.orders.queries import PLACED
from hub.queue.jobs import JobContext
from hub.replenishment.forecasting import forecast_many
from hub.replenishment.history import daily_series, demand_history
from hub.runtime.hub import Hub
from hub.store.models import DemandForecast, Order, OrderLine, utcnow

log = logging.getLogger(__name__)

#: Days of history read for a forecast (the model itself fits the most recent part).
LOOKBACK_DAYS = 365
#: SKUs forecast per batch: one history query and one transaction each.
BATCH_SKUS = 500


@dataclass
class ForecastRun:
    """What one run did."""

    skus: int = 0
    series: int = 0
    batches: int = 0
    seconds: float = 0.0
    methods: Counter[str] = field(default_factory=Counter)


def skus_with_history(session: Session, start: datetime, end: datetime) -> list[str]:
    """SKUs on order lines of orders placed in ``[start, end)`` (not cancelled, not tests)."""
    return list(
        session.scalars(
            select(OrderLine.sku)
            .join(Order, Order.id == OrderLine.order_id)
            .where(
                PLACED >= start,
                PLACED < end,
                Order.status != CANCELLED,
                Order.is_test.is_(False),
            )
            .group_by(OrderLine.sku)
            .order_by(OrderLine.sku)
        )
    )


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_forecasts(hub: Hub, *, today: date | None = None, batch: int = BATCH_SKUS) -> ForecastRun:
    """Forecast every SKU with history from ``today`` (UTC) on and store the forecasts."""
    started = time.monotonic()
    now = utcnow()
    today = today or now.date()
    start = today - timedelta(days=LOOKBACK_DAYS)
    start_at = datetime.combine(start, datetime.min.time(), tzinfo=now.tzinfo)
    end_at = datetime.combine(today, datetime.min.time(), tzinfo=now.tzinfo)
    run = ForecastRun()
    with hub.db.read() as session:
        skus = skus_with_history(session, start_at, end_at)
    for chunk in _batches(skus, batch):
        with hub.db.read() as session:
            histories = demand_history(session, chunk, start, today)
        series: dict[tuple[str, int | None], list[int]] = {}
        for sku, history in histories.items():
            series[(sku, None)] = daily_series(history.total, start, today)
            for location_id, days in history.by_location.items():
                if location_id is not None:
                    series[(sku, location_id)] = daily_series(days, start, today)
        forecasts = forecast_many(series)
        rows = [
            {
                "sku": sku,
                "location_id": location_id,
                "method": f.method,
                "demand_class": f.demand_class,
                "history_days": f.history_days,
                "mean_daily": f.mean_daily,
                "sigma": f.sigma,
                "daily": f.daily,
                "lower": f.lower,
                "upper": f.upper,
                "computed_at": now,
            }
            for (sku, location_id), f in forecasts.items()
        ]
        with hub.db.transaction() as session:
            session.execute(delete(DemandForecast).where(DemandForecast.sku.in_(list(chunk))))
            if rows:
                session.execute(insert(DemandForecast), rows)
        run.batches += 1
        run.skus += len(chunk)
        run.series += len(rows)
        run.methods.update(f.method for f in forecasts.values())
    with hub.db.transaction() as session:
        session.execute(delete(DemandForecast).where(DemandForecast.computed_at < now))
    run.seconds = time.monotonic() - started
    return run


def forecast_job(ctx: JobContext) -> None:
    """``replenishment.forecast``: every SKU with history, in batches (:func:`run_forecasts`)."""
    run = run_forecasts(ctx.hub)
    log.info(
        "forecast: %d SKUs, %d series in %d batches, %.1f s (%s)",
        run.skus,
        run.series,
        run.batches,
        run.seconds,
        dict(run.methods),
    )


def forecasts_of(session: Session, sku: str) -> dict[int | None, DemandForecast]:
    """The stored forecasts of one SKU by location id (None: all locations)."""
    rows = session.scalars(select(DemandForecast).where(DemandForecast.sku == sku))
    return {row.location_id: row for row in rows}


def forecast_count(session: Session) -> int:
    return session.scalar(select(func.count(DemandForecast.id))) or 0
