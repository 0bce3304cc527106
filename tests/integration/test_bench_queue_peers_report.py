"""`make bench` (j): the hub's queue against procrastinate and PGQueuer, a row per workload."""

import bench.__main__ as report


def _figures(hub: float, procrastinate: float, pgqueuer: float) -> dict:
    row = {
        name: {"jobs_per_second": rate, "enqueue_seconds": 0.1, "seconds": 200 / rate}
        for name, rate in (("hub", hub), ("procrastinate", procrastinate), ("pgqueuer", pgqueuer))
    }
    row["hub_to_procrastinate"] = round(hub / procrastinate, 2)
    row["hub_to_pgqueuer"] = round(hub / pgqueuer, 2)
    return row


def _data(**rows) -> dict:
    latency = {"probes": 15, "p50_ms": 20.0, "p99_ms": 30.0, "max_ms": 31.0}
    return {
        "jobs": 2000,
        "probes": 15,
        "rows": {
            "noop.bulk.1": _figures(900, 400, 1200),
            "write_row.one_by_one.4": _figures(500, 300, 800),
            **rows,
        },
        "latency": {
            "hub": {**latency, "p99_ms": 12.5},
            "procrastinate": latency,
            "pgqueuer": latency,
        },
        "load_average": {"1": [9.5, 9.0, 8.0], "4": [11.0, 10.0, 9.0]},
    }


def test_each_workload_is_a_row_with_the_three_rates_and_the_hubs_ratios():
    rows = report.rows({"queue_peers": _data()})
    assert [r["benchmark"] for r in rows] == [
        "(j) queue peers, no-op jobs enqueued in bulk, 1 worker (2,000 jobs): "
        "hub / procrastinate / PGQueuer",
        "(j) queue peers, one-row jobs enqueued one by one, 4 workers (2,000 jobs): "
        "hub / procrastinate / PGQueuer",
        "(j) queue peers, idle enqueue-to-start, 1 worker (15 jobs)",
    ]
    assert rows[0]["result"] == "900 / 400 / 1,200 jobs/s = 2.25 / 0.75; load 9.5"
    assert rows[1]["result"] == "500 / 300 / 800 jobs/s = 1.67 / 0.62; load 11.0"
    assert rows[2]["result"] == (
        "hub p50 20.0, p99 12.5 ms; procrastinate p50 20.0, p99 30.0 ms; "
        "pgqueuer p50 20.0, p99 30.0 ms"
    )
    assert [r["pass"] for r in rows] == ["pass", "pass", "pass"]


def test_slower_than_procrastinate_or_under_half_of_pgqueuer_fails_that_row():
    rows = report.rows(
        {
            "queue_peers": _data(
                **{"noop.bulk.2": _figures(390, 400, 700), "noop.bulk.4": _figures(500, 300, 1100)}
            )
        }
    )
    # 390 < 400 (procrastinate); 500 < 0.5 × 1,100 (PGQueuer)
    assert [r["pass"] for r in rows] == ["pass", "pass", "FAIL", "FAIL", "pass"]


def test_a_slow_idle_wake_up_fails_the_latency_row():
    data = _data()
    data["latency"]["hub"]["p99_ms"] = 480.0
    assert report.rows({"queue_peers": data})[-1]["pass"] == "FAIL"


def test_without_postgresql_the_row_says_skipped():
    from bench import queue_peers

    (row,) = report.rows({"queue_peers": queue_peers.run(None, quick=True)})
    assert row["pass"] == "skipped" and row["benchmark"] == "(j) job queue against its peers"
