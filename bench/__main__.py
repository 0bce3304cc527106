"""Run the benchmarks, write bench/results/<date>.json and print a Markdown table."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from . import jobs

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a CI-sized run")
    args = parser.parse_args()
    pg = os.environ.get("HUB_BENCH_DATABASE_URL") or os.environ.get("HUB_TEST_DATABASE_URL")
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "jobs_postgresql": jobs.run(pg, quick=args.quick),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {path}")


def table(results: dict) -> str:
    rows = ["| benchmark | result | target |", "|---|---|---|"]
    j = results["jobs_postgresql"]
    if "skipped" in j:
        rows.append(f"| (e) jobs/s on PostgreSQL | skipped: {j['skipped']} | |")
    else:
        for n in (1, 2, 4):
            rows.append(f"| (e) jobs/s, {n} worker(s), {j['jobs']} jobs | {j[f'{n}_workers']} | |")
        rows.append(f"| (e) 2 workers / 1 worker | {j['ratio_2_to_1']}× | ≥ 1.7× |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
