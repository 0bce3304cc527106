"""Benchmark: import a large ERP stock file (time and peak memory).

    .venv/bin/python bench/erp_import.py                   # 1,000,000 rows, SQLite in a temp dir
    .venv/bin/python bench/erp_import.py --rows 100000     # quicker
    .venv/bin/python bench/erp_import.py --database-url postgresql+psycopg://postgres@127.0.0.1/hub_bench

The file has ``--rows`` rows over two locations (every (sku, location) once,
a few invalid rows mixed in). It is imported through the real ``erp.import``
path (scan, validate, batches through ``set_on_hand``, rejects file, archive),
then imported again with every quantity changed (the update path). The
resident set size (RSS) is sampled every 0.1 s during each import: "flat"
means the peak does not grow with the number of rows.

A PostgreSQL database given with ``--database-url`` is emptied first.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from hub import migrate  # noqa: E402
from hub.channels import create_channel  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.inventory import upsert_location  # noqa: E402
from hub.runtime import Hub  # noqa: E402

BENCH_SECRET_KEY = "pX1tWcGz6n2WQ6o2mJfQJ0lVuyqQ6vYbJ3m6m0w3i1Q="


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval, self.samples, self._done = interval, [], threading.Event()

    def run(self):
        while not self._done.is_set():
            self.samples.append(rss_mib())
            self._done.wait(self.interval)

    def stop(self) -> list[float]:
        self._done.set()
        self.join()
        self.samples.append(rss_mib())
        return self.samples


def write_stock_file(path: Path, rows: int, seed: int, bad_every: int = 10_000) -> int:
    """Write ``rows`` data rows; every ``bad_every``-th one is invalid. Return how many are invalid."""
    rng = random.Random(seed)
    bad = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("sku,location,on_hand\n")
        for i in range(rows):
            location = "WH1" if i % 2 == 0 else "STORE"
            if bad_every and i % bad_every == bad_every - 1:
                handle.write(f"SKU{i // 2:07d},{location},not-a-number\n")
                bad += 1
            else:
                handle.write(f"SKU{i // 2:07d},{location},{rng.randrange(0, 500)}\n")
    return bad


def make_hub(url: str | None, data_dir: Path) -> Hub:
    if url and url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    url = url or f"sqlite:///{data_dir / 'hub.db'}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    return Hub(Settings.from_env({}, data_dir=data_dir, database_url=url, secret_key=BENCH_SECRET_KEY))


def run_import(hub: Hub, channel_id: int) -> tuple[float, float, float, object]:
    from plugins.erp_csv.stock_import import import_stock_files

    sampler = RssSampler()
    before = rss_mib()
    sampler.start()
    started = time.perf_counter()
    [outcome] = import_stock_files(hub, channel_id)
    elapsed = time.perf_counter() - started
    samples = sampler.stop()
    return elapsed, before, max(samples), outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--database-url", default=os.environ.get("HUB_BENCH_DATABASE_URL"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="hub-bench-erp-") as tmp:
        tmp_path = Path(tmp)
        hub = make_hub(args.database_url, tmp_path / "data")
        import_dir = tmp_path / "in"
        import_dir.mkdir()
        with hub.db.transaction() as session:
            upsert_location(session, "WH1")
            upsert_location(session, "STORE")
            channel_id = create_channel(hub, session, name="ERP", connector="erp_csv", config={
                "import_dir": str(import_dir), "settle_seconds": 0, "batch_size": args.batch_size}).id
        engine = "PostgreSQL" if hub.db.dialect == "postgresql" else "SQLite"
        print(f"erp_csv stock import: {args.rows:,} rows, batches of {args.batch_size:,}, {engine}")

        for run, seed in (("new levels", 1), ("all changed", 2)):
            path = import_dir / f"stock-{seed}.csv"
            bad = write_stock_file(path, args.rows, seed)
            size = path.stat().st_size
            elapsed, before, peak, outcome = run_import(hub, channel_id)
            assert outcome.rows_total == args.rows and outcome.rows_rejected == bad, outcome
            print(f"  {run:<12} {size / 2**20:7.1f} MiB file  {elapsed:7.1f} s  "
                  f"{args.rows / elapsed:9,.0f} rows/s  RSS {before:6.1f} -> peak {peak:6.1f} MiB  "
                  f"({outcome.rows_ok:,} applied, {outcome.rows_changed:,} changed, "
                  f"{outcome.rows_rejected:,} rejected)")
        hub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
