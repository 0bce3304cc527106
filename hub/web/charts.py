"""Charts drawn on the server as plain SVG geometry: no script, no CDN.

Functions here return numbers for a template to put into ``<svg>`` elements;
they know nothing of Flask, so they are easy to test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

#: Colour-blind-friendly palette (Okabe–Ito), one colour per series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass
class StackedBars:
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    y_labels: list[tuple[float, str]] = field(
        default_factory=list
    )  # y_ticks as ``axis`` wrote them
    legend: list[tuple[str, str, int]] = field(default_factory=list)  # (name, colour, total)
    total: int = 0


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def stacked_bars(
    days: Sequence[date],
    series: Mapping[str, Mapping[date, int]],
    *,
    width: int = 960,
    height: int = 220,
    value: Callable[[int], str] = str,
    axis: Callable[[int], str] = str,
) -> StackedBars:
    """One bar per day, stacked by series (e.g. orders per day per channel).

    ``value`` writes a bar's amount in its title, ``axis`` a tick of the y axis
    (money in minor units: each as its currency reads).
    """
    left, right, top, bottom = 40, 10, 10, 28
    chart = StackedBars(width=width, height=height, plot_top=top, plot_bottom=height - bottom)
    names = sorted(series)
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    per_day = [sum(series[n].get(d, 0) for n in names) for d in days]
    chart.total = sum(per_day)
    top_value = _nice_max(max(per_day, default=0))
    plot_h = height - top - bottom
    slot = (width - left - right) / max(1, len(days))
    bar_w = max(2.0, slot * 0.7)
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y: float = height - bottom
        for name in names:
            count = series[name].get(day, 0)
            if not count:
                continue
            h = plot_h * count / top_value
            y -= h
            chart.bars.append(
                Bar(
                    round(x, 1),
                    round(y, 1),
                    round(bar_w, 1),
                    round(h, 1),
                    colors[name],
                    f"{day.isoformat()} · {name}: {value(count)}",
                )
            )
        # Label every day when there are few, else every other one.
        if len(days) <= 16 or i % 2 == 0:
            chart.x_labels.append((round(x + bar_w / 2, 1), day.strftime("%d %b")))
    for k in range(5):
        tick = top_value * k // 4
        y_tick = round(height - bottom - plot_h * tick / top_value, 1)
        chart.y_ticks.append((y_tick, tick))
        chart.y_labels.append((y_tick, axis(tick)))
    chart.legend = [(n, colors[n], sum(series[n].values())) for n in names]
    return chart


@dataclass(frozen=True)
class FunnelStep:
    name: str
    count: int
    percent: float  # of the largest step, for the bar's length


def funnel(counts: Mapping[str, int], order: Sequence[str]) -> list[FunnelStep]:
    biggest = max((counts.get(s, 0) for s in order), default=0) or 1
    return [
        FunnelStep(s, counts.get(s, 0), round(100 * counts.get(s, 0) / biggest, 1)) for s in order
    ]


@dataclass
class BandChart:
    """Daily history as bars, then the forecast as a line inside its band (a polygon)."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: list[Bar] = field(default_factory=list)
    forecast_points: str = ""  # an SVG polyline's points
    band_points: str = ""  # an SVG polygon's points
    today_x: float | None = None
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)


def demand_band(
    history: Sequence[tuple[date, float]],
    forecast: Sequence[tuple[date, float, float, float]],
    *,
    width: int = 960,
    height: int = 240,
) -> BandChart:
    """A SKU's sales per day (``(day, units)``, bars) followed by its forecast
    (``(day, units, lower, upper)``: a line in a shaded band). A day below zero (more
    returned than sold) draws no bar; the y axis starts at zero."""
    left, right, top, bottom = 40, 10, 10, 28
    chart = BandChart(width, height, left, width - right, height - bottom)
    days = len(history) + len(forecast)
    peak = max([q for _, q in history] + [hi for *_, hi in forecast] + [0.0], default=0.0)
    top_value = _nice_max(math.ceil(peak))
    plot_h = height - top - bottom
    slot = (width - left - right) / max(1, days)

    def y_of(value: float) -> float:
        return round(height - bottom - plot_h * max(0.0, value) / top_value, 1)

    def x_mid(i: int) -> float:
        return round(left + (i + 0.5) * slot, 1)

    bar_w = max(1.0, slot * 0.7)
    for i, (day, units) in enumerate(history):
        if units > 0:
            y = y_of(units)
            chart.bars.append(
                Bar(
                    round(left + i * slot + (slot - bar_w) / 2, 1),
                    y,
                    round(bar_w, 1),
                    round(height - bottom - y, 1),
                    PALETTE[0],
                    f"{day.isoformat()}: {units:g} sold",
                )
            )
    first = len(history)
    if forecast:
        chart.today_x = round(left + first * slot, 1)
        chart.forecast_points = " ".join(
            f"{x_mid(first + i)},{y_of(q)}" for i, (_, q, _, _) in enumerate(forecast)
        )
        upper = [f"{x_mid(first + i)},{y_of(hi)}" for i, (*_, hi) in enumerate(forecast)]
        lower = [f"{x_mid(first + i)},{y_of(lo)}" for i, (_, _, lo, _) in enumerate(forecast)]
        chart.band_points = " ".join(upper + lower[::-1])
    every = max(1, math.ceil(days / 12))  # about a dozen labels, whatever the span
    all_days = [d for d, _ in history] + [d for d, *_ in forecast]
    for i, day in enumerate(all_days):
        if i % every == 0:
            chart.x_labels.append((x_mid(i), day.strftime("%d %b")))
    for k in range(5):
        tick = top_value * k / 4
        chart.y_ticks.append((y_of(tick), f"{tick:g}"))
    return chart
