"""The reorder point and the order-up-to level, with every figure a person needs to check them.

Computed policy (continuous review, normal demand over the lead time):

- lead-time demand = the forecast summed over the lead time's ``L`` days;
- safety stock = ``z`` · sigma · √L, ``z`` the standard normal quantile of the
  service level (:meth:`statistics.NormalDist.inv_cdf`), sigma the forecast's
  one-day error (:attr:`hub.replenishment.forecasting.Forecast.sigma`);
- reorder point = lead-time demand + safety stock, rounded up to a whole unit;
- order-up-to = reorder point + the forecast over the review period after the
  lead time, rounded up.

Pure arithmetic, no database: what suppliers, purchase orders and low-stock
alerts (later) call with their own lead time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

#: Defaults of a computed policy until suppliers say otherwise.
DEFAULT_LEAD_TIME_DAYS = 7
DEFAULT_REVIEW_DAYS = 7
DEFAULT_SERVICE_LEVEL = 0.95
#: The service levels a policy may ask for: at least a coin toss, never certainty.
MIN_SERVICE_LEVEL, MAX_SERVICE_LEVEL = 0.5, 0.999


@dataclass(frozen=True)
class ReorderArithmetic:
    """A computed reorder point and order-up-to level with every input and step."""

    lead_time_days: int
    review_days: int
    service_level: float
    sigma: float
    z: float
    lead_time_daily: float  # the forecast's average per day over the lead time
    lead_time_demand: float
    safety_stock: float
    reorder_point: int
    review_demand: float
    order_up_to: int

    def lines(self) -> list[str]:
        """The arithmetic in words, one step a line."""
        lt, r = self.lead_time_days, self.review_days
        return [
            f"forecast {self.lead_time_daily:.2f}/day × {lt} days = {self.lead_time_demand:.1f}",
            f"safety {self.z:.3f} × {self.sigma:.2f} × √{lt} = {self.safety_stock:.1f}"
            f" (service level {self.service_level:.1%})",
            f"reorder point ⌈{self.lead_time_demand:.1f} + {self.safety_stock:.1f}⌉"
            f" = {self.reorder_point}",
            f"order up to {self.reorder_point} + {self.review_demand:.1f} (next {r} days)"
            f" = {self.order_up_to}",
        ]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lines"] = self.lines()
        return out


def z_for(service_level: float) -> float:
    """The standard normal quantile of the service level (0.95 → 1.645)."""
    if not MIN_SERVICE_LEVEL <= service_level <= MAX_SERVICE_LEVEL:
        raise ValueError(
            f"service level must be between {MIN_SERVICE_LEVEL} and {MAX_SERVICE_LEVEL},"
            f" got {service_level}"
        )
    return NormalDist().inv_cdf(service_level)


def demand_over(daily: Sequence[float], start: int, days: int) -> float:
    """The forecast summed over ``days`` days from day ``start``; past the forecast's end,
    its average per day."""
    mean = sum(daily) / len(daily) if daily else 0.0
    return sum(daily[i] if i < len(daily) else mean for i in range(start, start + days))


def compute(
    daily: Sequence[float],
    *,
    sigma: float,
    lead_time_days: int = DEFAULT_LEAD_TIME_DAYS,
    service_level: float = DEFAULT_SERVICE_LEVEL,
    review_days: int = DEFAULT_REVIEW_DAYS,
) -> ReorderArithmetic:
    """The reorder point and order-up-to level for a daily forecast (from today).

    :param sigma: the standard deviation of one day's forecast error.
    :raises ValueError: a service level out of range, a negative lead time or sigma,
        a review period under a day.
    """
    if lead_time_days < 0:
        raise ValueError(f"lead time must be 0 days or more, got {lead_time_days}")
    if review_days < 1:
        raise ValueError(f"review period must be 1 day or more, got {review_days}")
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be a number 0 or more, got {sigma}")
    z = z_for(service_level)
    lead = demand_over(daily, 0, lead_time_days)
    safety = z * sigma * math.sqrt(lead_time_days)
    reorder_point = math.ceil(round(lead + safety, 6))
    review = demand_over(daily, lead_time_days, review_days)
    return ReorderArithmetic(
        lead_time_days=lead_time_days,
        review_days=review_days,
        service_level=service_level,
        sigma=sigma,
        z=round(z, 4),
        lead_time_daily=lead / lead_time_days if lead_time_days else 0.0,
        lead_time_demand=round(lead, 3),
        safety_stock=round(safety, 3),
        reorder_point=reorder_point,
        review_demand=round(review, 3),
        order_up_to=math.ceil(round(reorder_point + review, 6)),
    )


def days_of_cover(available: int, mean_daily: float) -> float | None:
    """How many days ``available`` lasts at the forecast's mean daily demand; None without demand."""
    if mean_daily <= 0:
        return None
    return round(max(available, 0) / mean_daily, 1)
