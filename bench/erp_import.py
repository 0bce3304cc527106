"""Benchmark: import a large ERP stock file (time and peak memory).

    .venv/bin/python bench/erp_import.py                   # 1,000,000 rows, SQLite in a temp dir
    .venv/bin/python bench/erp_import.py --rows 100000     # quicker
    .venv/bin/python bench/erp_import.py --database-url postgresql+psycopg://postgres@127.0.0.1/hub_bench
    .venv/bin/python -m bench.erp_import --rows 100000 --json   # what `make bench` (d) runs

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
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from hub.channels.erp_exchange import ChannelErpExchange  # noqa: E402
from hub.channels.manage import create_channel  # noqa: E402
from hub.inventory.levels import upsert_location  # noqa: E402
from hub.runtime.hub import Hub  # noqa: E402
from hub.store import migrate  # noqa: E402
from hub.store.config import Settings  # noqa: E402
from hub.store.db import Database  # noqa: E402

BENCH_SECRET_KEY = "pX1tWcGz6n2WQ6o2mJfQJ0lVuyqQ6vYbJ3m6m0w3i1Q="


def rss_mib(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
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
    return Hub(
        Settings.from_env({}, data_dir=data_dir, database_url=url, secret_key=BENCH_SECRET_KEY)
    )


def run_import(hub: Hub, channel_id: int) -> tuple[float, float, float, object]:
    from plugins.erp_csv.stock_import import import_stock_files

    sampler = RssSampler()
    before = rss_mib()
    sampler.start()
    started = time.perf_counter()
    [outcome] = import_stock_files(
        ChannelErpExchange(hub, channel_id), hub.connector_for_id(channel_id)
    )
    elapsed = time.perf_counter() - started
    samples = sampler.stop()
    return elapsed, before, max(samples), outcome


def measure(
    rows: int, *, database_url: str | None = None, batch_size: int = 5000, echo: bool = False
) -> dict:
    """Import ``rows`` new levels, then the same file with every quantity changed; time and memory."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-erp-") as tmp:
        tmp_path = Path(tmp)
        hub = make_hub(database_url, tmp_path / "data")
        import_dir = hub.settings.erp_folder / "in"  # ERP folders lie under the ERP root
        import_dir.mkdir(parents=True)
        with hub.db.transaction() as session:
            upsert_location(session, "WH1")
            upsert_location(session, "STORE")
            channel_id = create_channel(
                hub,
                session,
                name="ERP",
                connector="erp_csv",
                config={
                    "import_dir": str(import_dir),
                    "settle_seconds": 0,
                    "batch_size": batch_size,
                },
            ).id
        engine = "PostgreSQL" if hub.db.dialect == "postgresql" else "SQLite"
        if echo:
            print(f"erp_csv stock import: {rows:,} rows, batches of {batch_size:,}, {engine}")

        for run, seed in (("new levels", 1), ("all changed", 2)):
            path = import_dir / f"stock-{seed}.csv"
            bad = write_stock_file(path, rows, seed)
            size = path.stat().st_size
            elapsed, before, peak, outcome = run_import(hub, channel_id)
            assert outcome.rows_total == rows and outcome.rows_rejected == bad, outcome
            runs.append(
                {
                    "run": run,
                    "file_mib": round(size / 2**20, 1),
                    "seconds": round(elapsed, 2),
                    "rows_per_second": round(rows / elapsed),
                    "rss_mib_before": round(before, 1),
                    "peak_rss_mib": round(peak, 1),
                    "applied": outcome.rows_ok,
                    "changed": outcome.rows_changed,
                    "rejected": outcome.rows_rejected,
                }
            )
            if echo:
                print(
                    f"  {run:<12} {size / 2**20:7.1f} MiB file  {elapsed:7.1f} s  "
                    f"{rows / elapsed:9,.0f} rows/s  RSS {before:6.1f} -> peak {peak:6.1f} MiB  "
                    f"({outcome.rows_ok:,} applied, {outcome.rows_changed:,} changed, "
                    f"{outcome.rows_rejected:,} rejected)"
                )
        hub.close()
    return {
        "database": engine.lower(),
        "rows": rows,
        "runs": runs,
        # The whole process's high-water mark, file writing included. VmHWM, not
        # ru_maxrss: the latter keeps the parent's size at fork across exec.
        "process_peak_rss_mib": round(rss_mib("VmHWM"), 1),
    }


def run(rows: int, database_url: str | None = None) -> dict:
    """:func:`measure` in a fresh process, so its peak memory is the import's alone."""
    args = [sys.executable, "-m", "bench.erp_import", "--rows", str(rows), "--json"]
    env = {**os.environ}
    env.pop("HUB_BENCH_DATABASE_URL", None)
    if database_url:
        args += ["--database-url", database_url]
    done = subprocess.run(
        args,
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"bench.erp_import failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--database-url", default=os.environ.get("HUB_BENCH_DATABASE_URL"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    result = measure(
        args.rows, database_url=args.database_url, batch_size=args.batch_size, echo=not args.json
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
