"""Charts drawn on the server as plain SVG geometry: no script, no CDN.

Functions here return numbers for a template to put into ``<svg>`` elements;
they know nothing of Flask, so they are easy to test.
"""

from __future__ import annotations

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
