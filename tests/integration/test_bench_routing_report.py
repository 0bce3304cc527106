"""`make bench` (g): routing per order by each strategy, nearest and warm cheapest judged."""

import bench.__main__ as report


def _strategy(ms: float, **more) -> dict:
    return {"ms_per_order": ms, "p95_ms": ms * 3, "routed": 1000, "fallbacks": 0, **more}


def _data(nearest: float, warm: float) -> dict:
    return {
        "locations": 50,
        "skus": 2000,
        "orders": 1000,
        "priority": _strategy(2.0),
        "nearest": _strategy(nearest),
        "cheapest_cold": _strategy(90.0, quote_requests=4200),
        "cheapest_warm": _strategy(warm, quote_requests=0),
    }


def test_each_strategy_is_a_row_and_only_nearest_and_warm_cheapest_are_judged():
    rows = report.rows({"routing": _data(4.0, 9.0)})
    assert [r["benchmark"] for r in rows] == [
        f"(g) routing by {words} (1,000 orders, 50 locations, 2,000 SKUs)"
        for words in (
            "priority",
            "nearest",
            "cheapest, quote cache cold",
            "cheapest, quote cache warm",
        )
    ]
    assert [r["pass"] for r in rows] == ["", "pass", "", "pass"]
    assert rows[2]["result"] == "90.00 ms/order (p95 270.0 ms); 4,200 quote requests"
    assert all(r["better"] == "lower" for r in rows)


def test_slow_routing_fails_its_target():
    rows = report.rows({"routing": _data(80.0, 9.0)})
    assert rows[1]["pass"] == "FAIL" and rows[3]["pass"] == "pass"


def test_a_broken_run_is_an_error_row():
    (row,) = report.rows({"routing": {"error": "RuntimeError: boom"}})
    assert row["pass"] == "error" and row["benchmark"] == "(g) routing"
