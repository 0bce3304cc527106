"""Jobs per second on PostgreSQL with 1, 2 and 4 worker processes.

Workers are real ``hub worker`` processes, started and then left until they are
idle (a new ``hub worker`` builds its geocoding tables in a thread, over a second
of CPU each: measured while that ran, 4 workers showed 650 jobs/s instead of
4,500); those of one count stay for the next, which adds the missing ones. Then
the jobs are enqueued (one INSERT, one transaction) and the clock runs from
the first job finished to the last (the jobs' own ``finished_at``), so an idle
worker's wake-up is not counted. The job itself does nothing, so this measures
the queue: claim (FOR UPDATE SKIP LOCKED), run, finish. Each worker count runs
its batch several times with the same processes; the median counts.

A run lasts well over a second (10,000 jobs when quick): with 1,000 jobs a run
lasted 0.2 s, and one hiccup of the shared machine decided its figure.

Beside the rate, each run measures the CPU time of the worker processes and of
their PostgreSQL backends (``/proc/<pid>/stat``): how many of the machine's CPUs
one worker already keeps busy bounds what a second one can add on this machine
(``ceiling_2_to_1`` = CPUs / CPUs busy with one worker); the whole machine's busy CPUs
(``/proc/stat``, everyone's) say how much of it others took meanwhile.
"""

from __future__ import annotations

import os
import signal
import time

from sqlalchemy import func, insert, select, text

from bench import common
from bench.queue_peers import wait_idle
from hub.queue.jobs import job_row
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


def _backends(db: Database) -> set[int]:
    """The PostgreSQL backends of this database."""
    with db.read() as session:
        return set(
            session.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        )


def _cpu(pids: list[int]) -> float:
    """CPU seconds used so far by those of ``pids`` still there."""
    return sum(common.cpu_seconds(pids).values())


def measure(url: str, counts: tuple[int, ...], jobs: int, repeats: int) -> dict[int, dict]:
    """For each worker count, ``repeats`` times enqueue ``jobs`` and time them all done.

    The processes stay from one count to the next, which adds the missing ones: starting a
    ``hub worker`` costs seconds of CPU. Returns, per count, the runs' rates (jobs/s) and
    per run the CPU seconds of the workers, of their backends and of the whole machine.
    """
    db = Database(url)
    with db.transaction() as session:
        session.execute(text("TRUNCATE jobs RESTART IDENTITY CASCADE"))
    ours = _backends(db)  # the bench's own, not counted
    env = common.hub_env(database_url=url, HUB_PLUGINS="bench.bench_plugin")
    procs: list = []
    measured: dict[int, dict] = {}
    try:
        for workers in counts:
            new = [
                common.start_process(["-m", "hub", "worker"], env=env)
                for _ in range(workers - len(procs))
            ]
            procs += new
            _wait_started(new)
            wait_idle([proc.pid for proc in new])
            measured[workers] = _runs(db, [proc.pid for proc in procs], ours, jobs, repeats)
        return measured
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            common.stop_process(proc, timeout=60)
        db.dispose()


def _runs(db: Database, workers: list[int], ours: set[int], jobs: int, repeats: int) -> dict:
    rates: list[float] = []
    cpu: list[dict] = []
    for _ in range(repeats):
        with db.transaction() as session:  # each run on an empty table, as the first one
            session.execute(text("TRUNCATE jobs CASCADE"))
        with db.read() as session:
            before = session.scalar(select(func.coalesce(func.max(Job.id), 0)))
        backends = sorted(_backends(db) - ours)
        rows = [job_row("bench.noop") for _ in range(jobs)]
        with db.transaction() as session:
            # One multi-row INSERT: the enqueue is not what is timed, and 10,000 enqueue()
            # calls took a second of the run's minute.
            session.execute(insert(Job), rows)
        # From the commit: the workers start then (the enqueue's own CPU is the bench's).
        cpu_workers, cpu_pg, machine = _cpu(workers), _cpu(backends), common.machine_busy_seconds()
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
                    f"{len(workers)} worker(s) finished {done} of {jobs} jobs in 10 minutes"
                )
            time.sleep(0.05)
        cpu_workers, cpu_pg = _cpu(workers) - cpu_workers, _cpu(backends) - cpu_pg
        machine = common.machine_busy_seconds() - machine
        with db.read() as session:
            first, last = session.execute(
                select(func.min(Job.finished_at), func.max(Job.finished_at)).where(Job.id > before)
            ).one()
        # From the first job done to the last: an idle worker's wake-up is not the
        # queue's throughput.
        seconds = max((last - first).total_seconds(), 1e-6)
        rates.append(round((jobs - 1) / seconds, 1))
        cpu.append(
            {
                "seconds": round(seconds, 3),
                "worker_cpu_s": round(cpu_workers, 2),
                "postgres_cpu_s": round(cpu_pg, 2),
                "machine_cpu_s": round(machine, 2),
            }
        )
    return {"rates": rates, "cpu": cpu, "load_average": common.load_average()}


def busy(cpu_runs: list[dict]) -> dict:
    """CPUs kept busy (CPU seconds / wall seconds) over the runs, median, and CPU ms per job."""
    return {
        "worker_cpus": round(
            common.median([r["worker_cpu_s"] / r["seconds"] for r in cpu_runs]), 2
        ),
        "postgres_cpus": round(
            common.median([r["postgres_cpu_s"] / r["seconds"] for r in cpu_runs]), 2
        ),
        # Every process's, ours and others' (the machine is shared).
        "machine_cpus": round(
            common.median([r["machine_cpu_s"] / r["seconds"] for r in cpu_runs]), 2
        ),
    }


def run(url: str | None, *, quick: bool) -> dict:
    if not url:
        return {
            "skipped": "set HUB_BENCH_DATABASE_URL (or HUB_TEST_DATABASE_URL) to a PostgreSQL database"
        }
    common.reset_postgres(url)
    jobs, repeats = (10_000, 3) if quick else (30_000, 5)
    measured = measure(url, WORKER_COUNTS, jobs, repeats)
    results: dict = {
        f"{n}_workers": round(common.median(measured[n]["rates"]), 1) for n in WORKER_COUNTS
    }
    results.update(
        jobs=jobs,
        repeats=repeats,
        runs={f"{n}_workers": measured[n]["rates"] for n in WORKER_COUNTS},
        cpus=os.cpu_count(),
        cpu={f"{n}_workers": busy(measured[n]["cpu"]) for n in WORKER_COUNTS},
        cpu_runs={f"{n}_workers": measured[n]["cpu"] for n in WORKER_COUNTS},
        load_average={str(n): measured[n]["load_average"] for n in WORKER_COUNTS},
    )
    results["ratio_2_to_1"] = round(results["2_workers"] / results["1_workers"], 2)
    one = results["cpu"]["1_workers"]
    used = one["worker_cpus"] + one["postgres_cpus"]
    if used > 0:
        # Two workers need twice the CPU of one: on this machine they cannot go past this.
        results["ceiling_2_to_1"] = round(min(2.0, (os.cpu_count() or 1) / used), 2)
    return results
