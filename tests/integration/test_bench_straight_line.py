"""(h) the straight-line baseline: the same outside work as the hub's flow; its rows; --compare."""

import json
import os

import pytest

import bench.__main__ as report
from bench import straight_line


def _side(ratio: float, *, sound: bool = True) -> dict:
    return {
        "orders": 100,
        "hub_orders_per_second": 10.0 * ratio,
        "baseline_orders_per_second": 10.0,
        "ratio": ratio,
        "sound": sound,
        "load_average": [[8.1, 4.0, 2.0], [9.5, 5.0, 2.5]],
    }


def test_the_straight_line_target_is_judged_on_sqlite_and_a_lost_order_fails_it():
    rows = report.rows({"straight_line": {"sqlite": _side(0.62), "postgresql": _side(0.31)}})
    assert [(r["benchmark"], r["pass"]) for r in rows] == [
        ("(h) whole flow / straight line, SQLite, 100 orders: hub / baseline", "pass"),
        ("(h) whole flow / straight line, PostgreSQL, 100 orders: hub / baseline", ""),
    ]
    assert rows[0]["result"] == "6.20 / 10.00 orders/s = 0.62; load 8.1 → 9.5"

    slow = report.rows({"straight_line": {"sqlite": _side(0.45), "postgresql": {"skipped": "x"}}})
    assert [r["pass"] for r in slow] == ["FAIL", "skipped"]
    lost = report.rows({"straight_line": {"sqlite": _side(0.9, sound=False)}})
    assert lost[0]["pass"] == "FAIL" and "NOT SOUND" in lost[0]["result"]


def _results(tmp_path, name: str, ratio: float, time_ratio: float, **extra) -> str:
    results = {
        "date": "2026-12-04T22:00:00+00:00",
        "quick": True,
        "machine": {"cpus": 2, "commit": name},
        "load_average_before": [7.5, 6.0, 4.0],
        "whole_flow": {
            "sizes": [100, 1000],
            "runs": {
                "100": {"orders": 100, "elapsed_s": 40.0, "sound": True},
                "1000": {"orders": 1000, "elapsed_s": 40.0 * time_ratio, "sound": True},
            },
            "time_ratio": time_ratio,
        },
        "straight_line": {"sqlite": _side(ratio)},
        **extra,
    }
    results["rows"] = report.rows(results)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(results))
    return str(path)


def test_compare_prints_each_rows_change_and_whether_it_got_better(tmp_path, capsys):
    a = _results(tmp_path, "aaaaaaa", 0.40, 10.0)
    b = _results(tmp_path, "bbbbbbb", 0.60, 11.0)

    assert report.main(["--compare", a, b]) == 0

    out = capsys.readouterr().out
    assert "A: 2026-12-04T22:00:00+00:00 (quick), commit aaaaaaa, 2 CPUs, load average 7.5" in out
    lines = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines()}
    assert (
        "+50.0 % (better)"
        in lines["(h) whole flow / straight line, SQLite, 100 orders: hub / baseline"]
    )
    assert (
        "FAIL → pass" in lines["(h) whole flow / straight line, SQLite, 100 orders: hub / baseline"]
    )
    assert "+10.0 % (worse)" in lines["(c) whole flow: time(1,000) / time(100)"]
    assert "pass → FAIL" in lines["(c) whole flow: time(1,000) / time(100)"]


def test_compare_reads_results_written_before_rows_had_figures(tmp_path, capsys):
    old = {
        "date": "2026-12-03",
        "quick": False,
        "machine": {"cpus": 2, "commit": "53be72d"},
        "load_average_before": [1.0, 1.0, 1.0],
        "rows": [{"benchmark": "(e) 2 workers / 1 worker", "result": "1.60×", "pass": "FAIL"}],
    }
    new = dict(
        old, rows=[{"benchmark": "(e) 2 workers / 1 worker", "result": "1.80×", "pass": "pass"}]
    )
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))

    report.main(["--compare", str(tmp_path / "old.json"), str(tmp_path / "new.json")])

    assert "| (e) 2 workers / 1 worker | 1.60× | 1.80× | +12.5 % | FAIL → pass |" in (
        capsys.readouterr().out
    )


def test_compare_names_a_file_it_cannot_read(tmp_path, capsys):
    with pytest.raises(SystemExit):
        report.main(["--compare", str(tmp_path / "missing.json"), str(tmp_path / "b.json")])
    assert "cannot read the results" in capsys.readouterr().err


def test_the_baseline_does_the_outside_work_the_hubs_flow_does():
    """Same captures, labels, fulfilments, emails (with the invoice) and CRM webhooks."""
    hub = straight_line.hub_flow(6)
    base = straight_line.baseline(6)

    assert hub["sound"] and base["sound"]
    assert base["outside"] == hub["outside"]
    assert base["outside"]["captures"] == 6
    # A confirmation, an invoice and at least one shipping email per order.
    assert base["outside"]["emails"] >= 18


def _memory(first_mb: float, end_mb: float) -> dict:
    return {
        "orders": 10_000,
        "first": 2_000,
        "elapsed_s": 3600.0,
        "rss_mb_at_first": first_mb,
        "rss_mb_at_end": end_mb,
        "rss_mb_peak": max(first_mb, end_mb),
        "growth": round(end_mb / first_mb - 1, 4),
        "dead_jobs": 0,
        "load_average": [9.0, 8.0, 7.0],
    }


def test_hub_serve_memory_is_judged_flat_within_ten_percent_between_its_checkpoints():
    flat = report.rows({"memory_over_time": _memory(180.0, 190.0)})
    grown = report.rows({"memory_over_time": _memory(180.0, 210.0)})

    assert [r["pass"] for r in flat + grown] == ["pass", "FAIL"]
    assert flat[0]["benchmark"] == "(i) hub serve resident memory, order 2,000 → 10,000"
    assert flat[0]["result"].startswith("RSS 180 MB → 190 MB (+5.6 %")
    assert "+16.7 %" in grown[0]["result"]


def test_memory_is_judged_on_the_process_own_memory_when_measured():
    # The RSS grew with the mapped database file; the process's own memory stayed flat.
    data = _memory(180.0, 230.0) | {
        "anon_mb_at_first": 150.0,
        "anon_mb_at_end": 155.0,
        "anon_growth": 0.0333,
    }

    [row] = report.rows({"memory_over_time": data})

    assert row["pass"] == "pass"
    assert row["result"].startswith("own memory 150 MB → 155 MB (+3.3 %); RSS 180 MB → 230 MB")


def test_memory_is_judged_without_the_mapped_database_file_when_measured():
    # The RSS grew by the database file's mapped pages; the rest grew 20 %, and that fails.
    data = _memory(180.0, 280.0) | {
        "anon_mb_at_first": 150.0,
        "anon_mb_at_end": 155.0,
        "anon_growth": 0.0333,
        "database_mb_at_first": 30.0,
        "database_mb_at_end": 100.0,
        "without_database_mb_at_first": 150.0,
        "without_database_mb_at_end": 180.0,
        "without_database_growth": 0.2,
    }

    [row] = report.rows({"memory_over_time": data})

    assert row["pass"] == "FAIL"
    assert row["result"].startswith(
        "without the mapped database file 150 MB → 180 MB (+20.0 %; the file's pages 30 → 100 MB)"
    )


def test_the_mapped_database_file_is_read_from_the_process_memory_maps(tmp_path):
    import mmap

    from bench import memory

    path = tmp_path / "hub.db"
    path.write_bytes(b"\1" * (8 << 20))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        before = memory.mapped_mb(os.getpid(), tmp_path)
        sum(mapped[i] for i in range(0, len(mapped), 4096))  # touch every page
        after = memory.mapped_mb(os.getpid(), tmp_path)
    elsewhere = memory.mapped_mb(os.getpid(), tmp_path / "other")
    alike = memory.mapped_mb(os.getpid(), tmp_path.parent / tmp_path.name[:-1])

    assert after - before >= 7.5
    assert after <= 8.1
    assert elsewhere == 0
    assert alike == 0  # a folder whose name begins the same is another folder


def test_the_row_gives_each_sides_cpu_per_order_when_measured():
    side = _side(0.6) | {"hub_cpu_ms_per_order": 400.0, "baseline_cpu_ms_per_order": 200.0}

    [row] = report.rows({"straight_line": {"sqlite": side}})

    assert "(CPU per order 400 / 200 ms: baseline / hub 0.50)" in row["result"]
