"""(f) Demand forecasts: accuracy per demand shape, and a whole job run over many SKUs.

Accuracy: synthetic daily demand made with a fixed seed, in four shapes (trend,
weekly seasonality, trend + season, intermittent with about 80% zero days), a
year of history and 28 held-out days. Each series is forecast by the hub's own
code (:func:`hub.replenishment.forecasting.forecast_many`, which picks the method
per series) and scored by MASE (the mean absolute error over the held-out days,
scaled by the in-sample seasonal-naive error, period 7); the seasonal-naive
forecast of the same days is scored beside it. The second candidate,
statsmodels' Holt-Winters (additive damped trend, additive weekly season, fitted
on the same window), is scored on some of the same series, with its time.

Scale: a fresh SQLite hub seeded with a year of order lines for N SKUs (a quarter
of each shape), then one ``replenishment.forecast`` run
(:func:`hub.replenishment.forecasts.run_forecasts`) in a process of its own: its
time and peak RSS.

    python -m bench.forecast --skus 500          # the scale part alone
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402
from bench.erp_import import make_hub  # noqa: E402
from hub.replenishment.forecasting import (  # noqa: E402
    HORIZON,
    SEASON,
    WINDOW,
    forecast_many,
    mase,
    seasonal_naive,
)

SEED = 21
HISTORY_DAYS = 365
SHAPES = ("trend", "weekly season", "trend + season", "intermittent")


def series(shape: str, rng, days: int) -> list[float]:
    """One synthetic daily demand series of ``shape``."""
    import numpy as np

    d = np.arange(days)
    level = rng.uniform(5, 30)
    noise = rng.normal(0, 0.15 * level + 0.5, days)
    weekly = level * 0.4 * np.array([0.0, -0.6, -0.4, -0.1, 0.3, 1.0, 0.6])[d % SEASON]
    trend = level * rng.uniform(0.001, 0.003) * d
    if shape == "trend":
        y = level + trend + noise
    elif shape == "weekly season":
        y = level + weekly + noise
    elif shape == "trend + season":
        y = level + trend + weekly + noise
    else:
        y = np.where(rng.random(days) < 0.2, rng.poisson(3, days) + 1, 0)
    return [float(v) for v in np.maximum(np.round(y), 0)]


def accuracy(per_shape: int, candidate_per_shape: int) -> dict:
    """MASE per shape: the hub's forecast, seasonal naive, and statsmodels' Holt-Winters."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    out: dict = {}
    for shape in SHAPES:
        made = [series(shape, rng, HISTORY_DAYS + HORIZON) for _ in range(per_shape)]
        histories = {i: s[:-HORIZON] for i, s in enumerate(made)}
        started = time.perf_counter()
        forecasts = forecast_many(histories)
        seconds = time.perf_counter() - started
        ours, naive = [], []
        for i, s in enumerate(made):
            history, actual = s[:-HORIZON], s[-HORIZON:]
            ours.append(mase(actual, forecasts[i].daily, history))
            naive.append(mase(actual, seasonal_naive(history, HORIZON), history))
        hw, hw_seconds = holt_winters(made[:candidate_per_shape])
        out[shape] = {
            "series": per_shape,
            "mase": round(float(np.mean(ours)), 3),
            "seasonal_naive_mase": round(float(np.mean(naive)), 3),
            "methods": dict(Counter(f.method for f in forecasts.values())),
            "ms_per_series": round(1000 * seconds / per_shape, 1),
            "holt_winters": {
                "series": len(made[:candidate_per_shape]),
                "mase": round(float(np.mean(hw)), 3),
                "ms_per_series": round(1000 * hw_seconds / max(1, len(hw)), 1),
            },
        }
    return out


def holt_winters(made: list[list[float]]) -> tuple[list[float], float]:
    """statsmodels' ExponentialSmoothing on the same window: its MASE per series, its time."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    scores, started = [], time.perf_counter()
    for s in made:
        history, actual = s[:-HORIZON], s[-HORIZON:]
        window = history[-WINDOW:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(
                window,
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=SEASON,
            ).fit()
        scores.append(mase(actual, [max(0.0, v) for v in fit.forecast(HORIZON)], history))
    return scores, time.perf_counter() - started


# --- scale ------------------------------------------------------------------------------------------


def seed_orders(hub, skus: int, *, lines_per_order: int = 200) -> int:
    """A year of daily sales of ``skus`` SKUs (a quarter of each shape) as orders; the lines."""
    import numpy as np
    from sqlalchemy import insert

    from hub.channels.manage import ensure_manual_channel
    from hub.store.models import Order, OrderLine

    rng = np.random.default_rng(SEED)
    with hub.db.transaction() as session:
        channel_id = ensure_manual_channel(hub, session).id
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=HISTORY_DAYS - n) for n in range(HISTORY_DAYS)]
    per_day: list[list[tuple[str, int]]] = [[] for _ in days]
    for k in range(skus):
        values = series(SHAPES[k % len(SHAPES)], rng, HISTORY_DAYS)
        for n, v in enumerate(values):
            if v > 0:
                per_day[n].append((f"SKU-{k:05d}", int(v)))
    order_id, line_count = 0, 0
    for day, sold in zip(days, per_day, strict=True):
        orders, lines = [], []
        for start in range(0, len(sold), lines_per_order):
            order_id += 1
            chunk = sold[start : start + lines_per_order]
            orders.append(
                {
                    "id": order_id,
                    "channel_id": channel_id,
                    "external_id": f"B{order_id}",
                    "number": f"#B{order_id}",
                    "status": "completed",
                    "currency": "USD",
                    "placed_at": day,
                    "created_at": day,
                    "updated_at": day,
                    "tracking_token": f"bench-{order_id}",
                    "version": 1,
                    "hold_reasons": [],
                    "tags": [],
                }
            )
            lines += [
                {
                    "order_id": order_id,
                    "position": p,
                    "sku": sku,
                    "name": sku,
                    "quantity": q,
                    "unit_price": 1000,
                }
                for p, (sku, q) in enumerate(chunk)
            ]
        with hub.db.transaction() as session:
            if orders:
                session.execute(insert(Order), orders)
                session.execute(insert(OrderLine), lines)
        line_count += len(lines)
    return line_count


def run_job(database_url: str, data_dir: str) -> dict:
    """One forecast run over the seeded hub, in this (fresh) process."""
    from hub.replenishment.forecasts import run_forecasts
    from hub.runtime.hub import Hub
    from hub.store.config import Settings

    hub = Hub(Settings.from_env({}, data_dir=Path(data_dir), database_url=database_url))
    before = common.rss_mb()
    run = run_forecasts(hub)
    hub.close()
    return {
        "skus": run.skus,
        "series": run.series,
        "batches": run.batches,
        "seconds": round(run.seconds, 1),
        "methods": dict(run.methods),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(common.peak_rss_mb(), 1),
    }


def scale(skus: int) -> dict:
    """Seed ``skus`` SKUs, then time one job run in a process of its own."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-forecast-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        url = f"sqlite:///{data_dir / 'hub.db'}"
        hub = make_hub(url, data_dir)
        started = time.perf_counter()
        lines = seed_orders(hub, skus)
        seeded = time.perf_counter() - started
        hub.close()
        done = subprocess.run(
            [sys.executable, "-m", "bench.forecast", "--run-job", url, "--data-dir", str(data_dir)],
            cwd=common.ROOT,
            env={**os.environ, "PYTHONPATH": str(common.ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"bench.forecast job run failed:\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"order_lines": lines, "seed_seconds": round(seeded, 1), **result}


def run(quick: bool) -> dict:
    return {
        "accuracy": accuracy(
            per_shape=30 if quick else 100, candidate_per_shape=5 if quick else 20
        ),
        "scale": scale(500 if quick else 10_000),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, help="seed this many SKUs and time one job run")
    parser.add_argument("--run-job", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_job:
        print(json.dumps(run_job(args.run_job, args.data_dir)))
    elif args.skus:
        print(json.dumps(scale(args.skus), indent=2))
    else:
        print(json.dumps(accuracy(per_shape=30, candidate_per_shape=5), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
