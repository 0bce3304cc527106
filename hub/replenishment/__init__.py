"""Replenishment (issue 21): what sells, what will sell, and when to buy more.

- :mod:`hub.replenishment.history`: daily demand per SKU and location from the
  hub's own order lines, net of cancellations and returns (one SQL query);
- :mod:`hub.replenishment.forecasting`: the next days' demand per series with
  Nixtla's ``statsforecast`` (imported lazily: the hub starts without it);
- :mod:`hub.replenishment.reorder`: the reorder point and order-up-to level,
  every input and intermediate figure kept for display (pure arithmetic);
- :mod:`hub.replenishment.forecasts`: the ``replenishment.forecast`` job, in
  batches, and the stored forecasts;
- :mod:`hub.replenishment.policies`: reorder policies per SKU and location;
- :mod:`hub.replenishment.demand`: one SKU's demand as the API and the admin
  show it (history, forecast band, policy and its arithmetic, days of cover).

See ``docs/replenishment.md``.
"""
