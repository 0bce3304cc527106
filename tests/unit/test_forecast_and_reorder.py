"""Demand forecasts and the reorder arithmetic (hub.replenishment), without a database."""

from __future__ import annotations

import math
import random

import pytest

from hub.replenishment.forecasting import (
    HORIZON,
    classify,
    forecast_many,
    mase,
    seasonal_naive,
)
from hub.replenishment.reorder import compute, days_of_cover, z_for


def weekly_with_trend(rng: random.Random, days: int) -> list[float]:
    weekday = [0, -2, -1, 0, 2, 6, 3]
    return [max(0, round(10 + 0.02 * d + weekday[d % 7] + rng.gauss(0, 1.5))) for d in range(days)]


def test_an_intermittent_series_gets_the_intermittent_method_and_a_smooth_one_ets():
    rng = random.Random(21)
    intermittent = [rng.randint(1, 6) if rng.random() < 0.2 else 0 for _ in range(200)]
    smooth = weekly_with_trend(rng, 200)

    forecasts = forecast_many({"spare part": intermittent, "mug": smooth})

    assert classify(intermittent) == "intermittent"
    assert (forecasts["spare part"].method, forecasts["mug"].method) == ("IMAPA", "AutoETS")
    # Croston-family: a flat rate near the average demand per day.
    rate = sum(intermittent[-182:]) / 182
    assert forecasts["spare part"].daily == pytest.approx([rate] * HORIZON, rel=0.35)


def test_a_new_sku_gets_its_mean_and_one_that_stopped_selling_gets_zero():
    forecasts = forecast_many({"new": [0] * 300 + [3, 5, 4], "gone": [0] * 300})

    assert forecasts["new"].method == "mean" and forecasts["new"].daily[0] == pytest.approx(4)
    assert forecasts["new"].history_days == 3
    assert forecasts["gone"].method == "none" and forecasts["gone"].mean_daily == 0


def test_the_forecast_beats_seasonal_naive_on_held_out_weeks():
    rng = random.Random(7)
    series = weekly_with_trend(rng, 365 + HORIZON)
    history, actual = series[:-HORIZON], series[-HORIZON:]

    forecast = forecast_many({"mug": history})["mug"]

    ours = mase(actual, forecast.daily, history)
    baseline = mase(actual, seasonal_naive(history, HORIZON), history)
    assert ours < 1 and ours < baseline
    assert all(
        lo <= f <= hi
        for lo, f, hi in zip(forecast.lower, forecast.daily, forecast.upper, strict=True)
    )


def test_the_reorder_point_is_lead_time_demand_plus_safety_stock_rounded_up():
    # By hand: 3.2/day × 7 = 22.4; z(95%) = 1.6449, 1.6449 × 2.1 × √7 = 9.139; 22.4 + 9.139 = 31.5
    # → 32; the next 7 days after the lead time: 22.4 more → 54.4 → order up to 55.
    figures = compute([3.2] * 28, sigma=2.1, lead_time_days=7, service_level=0.95, review_days=7)

    assert figures.z == pytest.approx(1.6449, abs=1e-4)
    assert figures.lead_time_demand == pytest.approx(22.4)
    assert figures.safety_stock == pytest.approx(1.6449 * 2.1 * math.sqrt(7), abs=1e-3)
    assert (figures.reorder_point, figures.order_up_to) == (32, 55)
    assert figures.lines() == [
        "forecast 3.20/day × 7 days = 22.4",
        "safety 1.645 × 2.10 × √7 = 9.1 (service level 95.0%)",
        "reorder point ⌈22.4 + 9.1⌉ = 32",
        "order up to 32 + 22.4 (next 7 days) = 55",
    ]


def test_the_lead_time_demand_follows_the_forecast_day_by_day_and_its_average_past_its_end():
    rising = [float(d) for d in range(28)]  # 0, 1, 2 … 27: average 13.5

    assert compute(rising, sigma=0, lead_time_days=3).lead_time_demand == 0 + 1 + 2
    assert compute(rising, sigma=0, lead_time_days=30).lead_time_demand == sum(rising) + 2 * 13.5


def test_a_higher_service_level_keeps_more_safety_stock():
    low = compute([5.0] * 28, sigma=3, service_level=0.90)
    high = compute([5.0] * 28, sigma=3, service_level=0.99)

    assert z_for(0.99) == pytest.approx(2.3263, abs=1e-4)
    assert high.safety_stock > low.safety_stock and high.reorder_point > low.reorder_point


@pytest.mark.parametrize(
    "kwargs",
    [{"service_level": 1.0}, {"service_level": 0.2}, {"lead_time_days": -1}, {"review_days": 0}],
)
def test_impossible_inputs_are_refused_by_name(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs)).split("_")[0]):
        compute([1.0] * 28, sigma=1.0, **kwargs)


def test_days_of_cover_is_available_over_the_mean_daily_forecast():
    assert days_of_cover(42, 6.0) == 7.0
    assert days_of_cover(-3, 2.0) == 0.0
    assert days_of_cover(10, 0.0) is None


def test_identical_series_are_forecast_once_and_each_key_gets_the_forecast():
    rng = random.Random(3)
    sold = weekly_with_trend(rng, 120)

    forecasts = forecast_many({("MUG", None): sold, ("MUG", 1): sold, ("CAP", None): [1, 0] * 60})

    assert forecasts[("MUG", None)] == forecasts[("MUG", 1)]
    assert set(forecasts) == {("MUG", None), ("MUG", 1), ("CAP", None)}
