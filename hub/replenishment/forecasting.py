"""The next days' demand of many daily series at once, with Nixtla's ``statsforecast``.

Each series is classified first, then forecast by the method its class calls for
(chosen by measurement, ``make bench`` (f) and ``docs/replenishment.md``):

- **smooth** (a sale on most days: ADI <= 1.32): ``AutoETS`` with a weekly season
  (additive season; error, trend and damping chosen by AICc), fitted on the last
  :data:`WINDOW` days;
- **intermittent** (ADI > 1.32, the Syntetos-Boylan cut-off; ADI = days / days with
  demand): ``IMAPA`` (Croston-family, aggregates over several horizons); CV² is not
  used, as IMAPA serves intermittent and lumpy demand alike;
- **short** (fewer than :data:`MIN_HISTORY` days since the first sale): the mean so far;
- **none** (no net demand in the window): zero.

``sigma`` is the standard deviation of the method's one-day errors on the history
(ETS: its in-sample one-step residuals; the others: the history around the level
forecast), the figure safety stock is made of; the band is the forecast
± :data:`BAND_Z` · sigma (an 80% band), never below zero.

``statsforecast`` (with numpy and pandas) is imported inside :func:`forecast_many`,
so importing this module, and starting the hub, costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, TypeVar

#: Days forecast.
HORIZON = 28
#: The weekly season of retail demand.
SEASON = 7
#: Days of history a model is fitted on (the most recent ones).
WINDOW = 182
#: Fewer days since the first sale than this: the mean so far.
MIN_HISTORY = 28
#: Average demand interval above which a series is intermittent (Syntetos & Boylan 2005).
ADI_INTERMITTENT = 1.32
#: The band shown around the forecast: an 80% two-sided interval.
BAND_LEVEL = 0.80
BAND_Z = NormalDist().inv_cdf(0.5 + BAND_LEVEL / 2)

SMOOTH, INTERMITTENT, SHORT, NONE = "smooth", "intermittent", "short", "none"
METHODS = {SMOOTH: "AutoETS", INTERMITTENT: "IMAPA", SHORT: "mean", NONE: "none"}

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Forecast:
    """One series' forecast: ``daily`` from the day after its history, for :data:`HORIZON` days."""

    method: str
    demand_class: str
    history_days: int
    daily: list[float]
    lower: list[float]
    upper: list[float]
    mean_daily: float
    sigma: float


def trim(series: Sequence[float]) -> list[float]:
    """The series from its first non-zero day (before the first sale the SKU did not exist)."""
    for i, value in enumerate(series):
        if value:
            return [float(v) for v in series[i:]]
    return []


def classify(series: Sequence[float]) -> str:
    """:data:`SMOOTH`, :data:`INTERMITTENT`, :data:`SHORT` or :data:`NONE` for a trimmed series."""
    recent = series[-WINDOW:]
    demand_days = sum(1 for v in recent if v > 0)
    if not demand_days or sum(recent) <= 0:
        return NONE
    if len(series) < MIN_HISTORY:
        return SHORT
    return INTERMITTENT if len(recent) / demand_days > ADI_INTERMITTENT else SMOOTH


def forecast_many(series: Mapping[K, Sequence[float]], horizon: int = HORIZON) -> dict[K, Forecast]:
    """Forecast every series (daily net demand, oldest first, ending yesterday).

    Leading zero days are dropped (:func:`trim`); each series is classified
    (:func:`classify`) and the series of one class are forecast together.
    """
    trimmed = {key: trim(values) for key, values in series.items()}
    # A SKU sold from one location has the same series in total as there: forecast it once.
    first_of: dict[tuple[float, ...], K] = {}
    same_as: dict[K, K] = {}
    for key, values in trimmed.items():
        same_as[key] = first_of.setdefault(tuple(values), key)
    groups: dict[str, list[K]] = {SMOOTH: [], INTERMITTENT: [], SHORT: [], NONE: []}
    for key in first_of.values():
        groups[classify(trimmed[key])].append(key)
    out: dict[K, Forecast] = {}
    for key in groups[NONE]:
        out[key] = _flat(NONE, len(trimmed[key]), 0.0, 0.0, horizon)
    for key in groups[SHORT]:
        values = trimmed[key]
        level = max(0.0, sum(values) / len(values))
        out[key] = _flat(SHORT, len(values), level, _spread(values, [level] * len(values)), horizon)
    for cls in (SMOOTH, INTERMITTENT):
        if groups[cls]:
            out.update(_statsforecast(cls, {k: trimmed[k][-WINDOW:] for k in groups[cls]}, horizon))
            for key in groups[cls]:
                out[key] = _with_history_days(out[key], len(trimmed[key]))
    return {key: out[first] for key, first in same_as.items()}


def _statsforecast(cls: str, series: dict[K, list[float]], horizon: int) -> dict[K, Forecast]:
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]
    from statsforecast import StatsForecast
    from statsforecast.models import IMAPA, AutoETS

    keys = list(series)
    lengths = [len(series[k]) for k in keys]
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(len(keys)), lengths),
            "ds": np.concatenate([np.arange(n) for n in lengths]),
            "y": np.concatenate([np.asarray(series[k], dtype=float) for k in keys]),
        }
    )
    model: Any = AutoETS(season_length=SEASON, model="ZZA") if cls == SMOOTH else IMAPA()
    engine = StatsForecast(models=[model], freq=1, n_jobs=1)
    smooth = cls == SMOOTH
    predicted = engine.forecast(df=frame, h=horizon, fitted=smooth)
    name = repr(model)
    by_id = predicted.groupby("unique_id")[name].apply(list).to_dict()
    fitted_by_id: dict[int, list[float]] = {}
    if smooth:
        fitted = engine.forecast_fitted_values()
        fitted_by_id = fitted.groupby("unique_id")[name].apply(list).to_dict()
    out: dict[K, Forecast] = {}
    for i, key in enumerate(keys):
        daily = [max(0.0, float(v)) if math.isfinite(v) else 0.0 for v in by_id[i]]
        history = series[key]
        reference = fitted_by_id.get(i) or [sum(daily) / len(daily)] * len(history)
        sigma = _spread(history, reference)
        out[key] = _band(METHODS[cls], cls, len(history), daily, sigma)
    return out


def _spread(actual: Sequence[float], predicted: Sequence[float]) -> float:
    """Standard deviation of the errors ``actual - predicted`` (days where both are known)."""
    errors = [a - p for a, p in zip(actual, predicted, strict=False) if math.isfinite(p)]
    if len(errors) < 2:
        return 0.0
    mean = sum(errors) / len(errors)
    return math.sqrt(sum((e - mean) ** 2 for e in errors) / (len(errors) - 1))


def _band(method: str, cls: str, days: int, daily: list[float], sigma: float) -> Forecast:
    width = BAND_Z * sigma
    return Forecast(
        method=method,
        demand_class=cls,
        history_days=days,
        daily=[round(v, 3) for v in daily],
        lower=[round(max(0.0, v - width), 3) for v in daily],
        upper=[round(v + width, 3) for v in daily],
        mean_daily=round(sum(daily) / len(daily), 4) if daily else 0.0,
        sigma=round(sigma, 4),
    )


def _flat(cls: str, days: int, level: float, sigma: float, horizon: int) -> Forecast:
    return _band(METHODS[cls], cls, days, [level] * horizon, sigma)


def _with_history_days(forecast: Forecast, days: int) -> Forecast:
    return replace(forecast, history_days=days)


# --- Accuracy: what the benchmark and the tests measure -------------------------------------------


def seasonal_naive(history: Sequence[float], horizon: int, season: int = SEASON) -> list[float]:
    """The baseline: each day as the same weekday of the history's last week."""
    last = list(history[-season:])
    return [float(last[i % season]) for i in range(horizon)]


def mase(
    actual: Sequence[float],
    forecast: Sequence[float],
    history: Sequence[float],
    season: int = SEASON,
) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): the forecast's mean absolute error
    over ``actual``, divided by the in-sample mean absolute error of the seasonal-naive
    forecast (period ``season``) on ``history``. Below 1 beats seasonal naive."""
    scale = sum(abs(history[i] - history[i - season]) for i in range(season, len(history)))
    scale /= len(history) - season
    error = sum(abs(a - f) for a, f in zip(actual, forecast, strict=True)) / len(actual)
    return error / scale if scale else math.inf
