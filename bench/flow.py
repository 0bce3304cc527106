"""Benchmark (c): the whole flow, end to end, as ``hub demo`` runs it.

``run(n_orders, database_url=None)`` pushes ``n_orders`` orders from the
Shopify sandbox through pull and webhooks, validation, reservation and
routing, capture at Stripe, batches to ShipStation, labels and ``SHIP_NOTIFY``
webhooks, fulfilment back to Shopify, emails, outbound webhooks and the ERP
export (:class:`hub.demo.scenario.Scenario`), with the hub's own web app, worker
threads and scheduler, and answers how long it took. The clock runs from the
first "sync now" to the end of the ERP export; setting up the sandboxes,
channels and stock is not timed.

The answer says whether the run was sound (every order shipped, no job dead):
a fast run that lost orders is no result.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hub.demo.scenario import Scenario


def run(n_orders: int, database_url: str | None = None) -> dict[str, Any]:
    """Run the whole flow for ``n_orders`` orders; return orders/s, elapsed seconds and soundness.

    :param database_url: a PostgreSQL database to run on (its tables are
        emptied first); None runs on SQLite in a temporary data dir.
    :return: ``{"orders", "database", "elapsed_s", "orders_per_s", "shipped",
        "dead_jobs", "jobs", "sound"}``.
    """
    with tempfile.TemporaryDirectory(prefix="hub-bench-flow-") as tmp:
        # Generous timeout: a benchmark on a slow machine should finish, not give up.
        with Scenario(
            n_orders,
            data_dir=Path(tmp) / "data",
            database_url=database_url,
            timeout=600 + n_orders * 2.0,
        ) as scenario:
            summary = scenario.run()
    return {
        "orders": n_orders,
        "database": "postgresql" if database_url else "sqlite",
        "elapsed_s": round(summary.elapsed, 2),
        "orders_per_s": round(summary.orders_per_second, 2),
        "shipped": summary.shipped,
        "dead_jobs": summary.dead_jobs,
        "jobs": summary.jobs,
        "sound": summary.shipped == n_orders and summary.dead_jobs == 0 and not summary.timed_out,
    }


if __name__ == "__main__":  # python -m bench.flow [orders] [database_url]
    import json
    import sys

    print(
        json.dumps(
            run(
                int(sys.argv[1]) if len(sys.argv) > 1 else 200,
                sys.argv[2] if len(sys.argv) > 2 else None,
            ),
            indent=2,
        )
    )
