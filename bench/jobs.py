"""Jobs per second on PostgreSQL with 1, 2 and 4 worker processes.

Workers are real ``hub worker`` processes, started and idle before the jobs
are enqueued (in one transaction); the clock runs from the first job finished
to the last (the jobs' own ``finished_at``), so an idle worker's poll interval
(up to 0.5 s before it sees the batch) is not counted. The job itself does nothing, so this measures the queue:
claim (FOR UPDATE SKIP LOCKED), run, finish. Each worker count runs its batch
three times with the same processes; the median counts.
"""

from __future__ import annotations

import signal
import time

from sqlalchemy import func, select, text

from bench import common
from hub.queue.jobs import enqueue
from hub.store.db import Database
from hub.store.models import Job

WORKER_COUNTS = (1, 2, 4)


def _wait_started(procs, timeout: float = 60.0) -> None:
    """Each worker says "worker … started" on stderr once it polls."""
    deadline = time.monotonic() + timeout
    for proc in procs:
        while "started" not in common.process_log(proc):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"a hub worker did not start:\n{common.process_log(proc)[-2000:]}"
                )
            time.sleep(0.05)


def measure(url: str, workers: int, jobs: int, repeats: int) -> list[float]:
    """Start ``workers`` processes once; ``repeats`` times enqueue ``jobs`` and time them all done."""
    db = Database(url)
    with db.transaction() as session:
        session.execute(text("TRUNCATE jobs RESTART IDENTITY CASCADE"))
    env = common.hub_env(database_url=url, HUB_PLUGINS="bench.bench_plugin")
    procs = [common.start_process(["-m", "hub", "worker"], env=env) for _ in range(workers)]
    rates = []
    try:
        _wait_started(procs)
        time.sleep(0.5)
        for _ in range(repeats):
            with db.read() as session:
                before = session.scalar(select(func.coalesce(func.max(Job.id), 0)))
            with db.transaction() as session:
                for _ in range(jobs):
                    enqueue(session, "bench.noop")
            deadline = time.monotonic() + 600
            while True:
                with db.read() as session:
                    done = session.scalar(
                        select(func.count())
                        .select_from(Job)
                        .where(Job.id > before, Job.status == "succeeded")
                    )
                if done >= jobs:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{workers} worker(s) finished {done} of {jobs} jobs in 10 minutes"
                    )
                time.sleep(0.05)
            with db.read() as session:
                first, last = session.execute(
                    select(func.min(Job.finished_at), func.max(Job.finished_at)).where(
                        Job.id > before
                    )
                ).one()
            # From the first job done to the last: an idle worker polls every 0.125-0.5 s,
            # and that wake-up is not the queue's throughput.
            rates.append(round((jobs - 1) / max((last - first).total_seconds(), 1e-6), 1))
        return rates
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            common.stop_process(proc, timeout=60)
        db.dispose()


def run(url: str | None, *, quick: bool) -> dict:
    if not url:
        return {
            "skipped": "set HUB_BENCH_DATABASE_URL (or HUB_TEST_DATABASE_URL) to a PostgreSQL database"
        }
    common.reset_postgres(url)
    jobs, repeats = (1000, 3) if quick else (5000, 3)
    rates = {n: measure(url, n, jobs, repeats) for n in WORKER_COUNTS}
    results: dict = {f"{n}_workers": round(common.median(rates[n]), 1) for n in WORKER_COUNTS}
    results.update(
        jobs=jobs, repeats=repeats, runs={f"{n}_workers": rates[n] for n in WORKER_COUNTS}
    )
    results["ratio_2_to_1"] = round(results["2_workers"] / results["1_workers"], 2)
    return results
