"""Jobs per second on PostgreSQL with 1, 2 and 4 worker processes.

Workers are real ``hub worker`` processes, started and idle before the jobs
are enqueued (in one transaction); the clock runs from that commit until the
last job succeeded. The job itself does nothing, so this measures the queue:
claim (FOR UPDATE SKIP LOCKED), run, finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from hub import migrate
from hub.db import Database
from hub.jobs import enqueue
from hub.models import Job

ROOT = Path(__file__).resolve().parent.parent


def _reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()


def run_once(url: str, workers: int, jobs: int) -> float:
    db = Database(url)
    with db.transaction() as session:
        session.execute(text("TRUNCATE jobs RESTART IDENTITY CASCADE"))
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_PLUGINS": "bench.bench_plugin",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HUB_DATA_DIR": tempfile.mkdtemp(prefix="hub-bench-"),
           "HUB_SECRET_KEY": "pX1tWcGz6n2WQ6o2mJfQJ0lVuyqQ6vYbJ3m6m0w3i1Q="}
    procs = [subprocess.Popen([sys.executable, "-m", "hub", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(workers)]
    try:
        for proc in procs:  # each says "worker … started" once it polls
            proc.stderr.readline()
        time.sleep(0.5)
        with db.transaction() as session:
            for _ in range(jobs):
                enqueue(session, "bench.noop")
        started = time.perf_counter()
        while True:
            with db.read() as session:
                done = session.scalar(select(func.count()).select_from(Job).where(Job.status == "succeeded"))
            if done >= jobs:
                break
            time.sleep(0.02)
        return jobs / (time.perf_counter() - started)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        db.dispose()


def run(url: str | None, *, quick: bool) -> dict:
    if not url:
        return {"skipped": "set HUB_BENCH_DATABASE_URL (or HUB_TEST_DATABASE_URL) to a PostgreSQL database"}
    _reset(url)
    jobs = 1000 if quick else 5000
    results = {f"{n}_workers": round(run_once(url, n, jobs), 1) for n in (1, 2, 4)}
    results["jobs"] = jobs
    results["ratio_2_to_1"] = round(results["2_workers"] / results["1_workers"], 2)
    return results
