"""`make bench` (f): each demand shape's MASE and the job run are judged against their targets."""

import bench.__main__ as report


def _accuracy(mase: float, naive: float) -> dict:
    return {
        "series": 100,
        "mase": mase,
        "seasonal_naive_mase": naive,
        "methods": {"AutoETS": 100},
        "ms_per_series": 60.0,
        "holt_winters": {"series": 20, "mase": 0.8, "ms_per_series": 500.0},
    }


def _scale(seconds: float, peak: float) -> dict:
    return {
        "skus": 10_000,
        "order_lines": 2_900_000,
        "series": 10_000,
        "batches": 20,
        "seconds": seconds,
        "peak_rss_mb": peak,
    }


def test_a_shape_passes_only_below_one_and_below_seasonal_naive():
    rows = report.rows(
        {
            "demand_forecast": {
                "accuracy": {
                    "trend": _accuracy(0.74, 1.03),
                    "weekly season": _accuracy(1.02, 1.10),  # beats naive, not below 1
                    "intermittent": _accuracy(0.95, 0.90),  # below 1, not below naive
                },
                "scale": _scale(600.0, 400.0),
            }
        }
    )

    verdicts = [r["pass"] for r in rows]
    assert verdicts == ["pass", "FAIL", "FAIL", "pass"]
    assert rows[0]["benchmark"] == "(f) forecast accuracy, trend (100 series): MASE"
    assert "seasonal naive 1.030" in rows[0]["result"]


def test_the_job_run_fails_when_too_slow_or_too_big():
    for seconds, peak in ((4000.0, 400.0), (600.0, 2000.0)):
        data = {"accuracy": {}, "scale": _scale(seconds, peak)}
        (row,) = report.rows({"demand_forecast": data})
        assert row["pass"] == "FAIL" and row["benchmark"].startswith("(f) 10,000 SKUs")


def test_a_broken_run_is_an_error_row():
    (row,) = report.rows({"demand_forecast": {"error": "RuntimeError: boom"}})
    assert row["pass"] == "error"
