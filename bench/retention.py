"""Bounded data: what the whole flow leaves in the database, and what a purge takes away.

``run(n_orders)`` runs the flow of benchmark (c) on SQLite, then purges all
finished work as if the retention period had passed
(:func:`hub.pipeline.retention.purge` with ``before`` = now), and answers the
rows per table and the bytes the database uses (pages in use, not counting
free pages SQLite keeps for reuse) before and after.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from hub.demo.scenario import Scenario
from hub.pipeline.retention import purge
from hub.store.models import Base, utcnow

TABLES = (
    "jobs",
    "webhook_events",
    "notification_attempts",
    "notifications_sent",
    "order_events",
    "orders",
)


def _measure(hub) -> dict[str, Any]:
    with hub.db.read() as session:
        rows = {
            name: session.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
            for name in TABLES
        }
        pages = session.scalar(text("PRAGMA page_count"))
        free = session.scalar(text("PRAGMA freelist_count"))
        size = session.scalar(text("PRAGMA page_size"))
    return {"rows": rows, "used_mb": round((pages - free) * size / 1e6, 1)}


def run(n_orders: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-retention-") as tmp:
        with Scenario(
            n_orders, data_dir=Path(tmp) / "data", timeout=600 + n_orders * 2.0
        ) as scenario:
            summary = scenario.run()
            hub = scenario.hub
            before = _measure(hub)
            removed = purge(hub, utcnow() + timedelta(seconds=1))
            after = _measure(hub)
    return {
        "orders": n_orders,
        "shipped": summary.shipped,
        "before": before,
        "removed": removed,
        "after": after,
        "per_order_kb_after": round(after["used_mb"] * 1000 / n_orders, 2),
    }


if __name__ == "__main__":  # python -m bench.retention [orders]
    import json
    import sys

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000), indent=2))
