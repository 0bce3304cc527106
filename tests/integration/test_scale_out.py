"""The scale-out path on the real PostgreSQL: several worker and scheduler processes.

Real ``hub worker`` and ``hub scheduler`` processes share one database; a
test plugin (tests/support/scale_plugin.py) leaves a line in a file for every
run, so "exactly once" is counted outside the database.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.queue.jobs import enqueue
from hub.store.models import Job
from hub.testing import hub_process_env

pytestmark = pytest.mark.postgres
SUPPORT = Path(__file__).parent.parent / "support"


def start(args, *, data_dir, pg_url, log_file, **env):
    environ = hub_process_env(
        data_dir,
        HUB_DATABASE_URL=pg_url,
        HUB_PLUGINS="scale_plugin",
        PYTHONPATH=f"{SUPPORT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        SCALE_LOG=str(log_file),
        HUB_LOG_LEVEL="INFO",
        HUB_SECRET_KEY="pX1tWcGz6n2WQ6o2mJfQJ0lVuyqQ6vYbJ3m6m0w3i1Q=",
        **env,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "hub", *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=60)


def wait_until(predicate, timeout=120, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def count(hub, *where):
    with hub.db.read() as session:
        return session.scalar(select(func.count()).select_from(Job).where(*where))


def test_two_workers_run_2000_jobs_each_exactly_once(pg_hub, pg_url, tmp_path):
    log_file = tmp_path / "runs.log"
    with pg_hub.db.transaction() as session:
        ids = [enqueue(session, "scale.record") for _ in range(2000)]
    workers = [
        start(["worker"], data_dir=tmp_path, pg_url=pg_url, log_file=log_file) for _ in range(2)
    ]
    started = time.monotonic()
    try:
        assert wait_until(
            lambda: count(pg_hub, Job.kind == "scale.record", Job.status == "succeeded") == 2000
        )
        elapsed = time.monotonic() - started
    finally:
        outputs = [stop(w) for w in workers]
    runs = Counter(line.split()[1] for line in log_file.read_text().splitlines())
    assert sorted(int(i) for i in runs) == sorted(ids)
    assert set(runs.values()) == {1}, "some job ran twice"
    pids = {w.pid for w in workers}
    assert len(pids) == 2
    print(f"\n2 workers: 2000 jobs in {elapsed:.1f}s ({2000 / elapsed:.0f} jobs/s incl. start-up)")
    for _, err in outputs:
        assert "Traceback" not in err


def test_a_job_whose_worker_is_killed_completes_after_its_lease(pg_hub, pg_url, tmp_path):
    log_file = tmp_path / "runs.log"
    with pg_hub.db.transaction() as session:
        job_id = enqueue(session, "scale.slow", {"seconds": 3})
    lease = {"HUB_JOB_LEASE_SECONDS": "3"}
    victim = start(["worker"], data_dir=tmp_path, pg_url=pg_url, log_file=log_file, **lease)
    assert wait_until(
        lambda: log_file.exists() and f"start {job_id}" in log_file.read_text(), timeout=60
    )
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert count(pg_hub, Job.id == job_id, Job.status == "running") == 1  # stranded, for now
    rescuer = start(["worker"], data_dir=tmp_path, pg_url=pg_url, log_file=log_file, **lease)
    try:
        assert wait_until(
            lambda: count(pg_hub, Job.id == job_id, Job.status == "succeeded") == 1, timeout=60
        )
    finally:
        stop(rescuer)
    lines = log_file.read_text().splitlines()
    assert lines.count(f"done {job_id}") == 1
    assert any(line.startswith(f"start {job_id} attempt 2") for line in lines)


def test_two_schedulers_firing_the_same_slots_enqueue_one_job_per_slot(pg_hub, pg_url, tmp_path):
    log_file = tmp_path / "runs.log"
    # Slots are counted from the first spawn to the last stop: the first scheduler fires
    # while the second is still starting, and that takes seconds on a busy machine.
    spawned = time.time()
    schedulers = [
        start(["scheduler"], data_dir=tmp_path, pg_url=pg_url, log_file=log_file, SCALE_TICK="1")
        for _ in range(2)
    ]
    # A worker runs each tick: a tick still queued would hold the next slots back (coalescing).
    worker = start(["worker"], data_dir=tmp_path, pg_url=pg_url, log_file=log_file)
    # Both must be up before the wait starts, so that both fire the same slots.
    early: list[str] = []
    try:
        for proc in schedulers:
            for line in proc.stderr:
                early.append(line)
                if line.strip() == "scheduler started":
                    break
        time.sleep(6)
    finally:
        outputs = [stop(s) for s in schedulers]
        window = time.time() - spawned
        stop(worker)
    jobs = count(pg_hub, Job.kind == "scale.tick")
    logs = "".join(early) + "".join(err for _, err in outputs)
    enqueued = logs.count("enqueued scale.tick")
    already = logs.count("scale.tick for this slot was enqueued already")
    # One job per one-second slot, never two: at most the slots in the window
    # (plus the one each side of it), however many schedulers fired.
    assert 2 <= jobs <= int(window) + 2, f"{jobs} tick jobs in {window:.1f} s"
    # Each slot's job was written by exactly one scheduler (the unique keys below). The
    # log may miss one line per scheduler: stopped between its commit and its log line.
    assert jobs - len(schedulers) <= enqueued <= jobs
    assert already >= 1  # the other fired the same slots and added nothing
    with pg_hub.db.read() as session:
        keys = session.scalars(select(Job.dedupe_key).where(Job.kind == "scale.tick")).all()
    assert len(keys) == len(set(keys))
