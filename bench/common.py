"""What every benchmark shares: ports, processes, memory, PostgreSQL resets, medians."""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
#: A fixed Fernet key, so a server process decrypts the channel config its parent stored.
SECRET_KEY = "pX1tWcGz6n2WQ6o2mJfQJ0lVuyqQ6vYbJ3m6m0w3i1Q="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """The highest resident memory this process ever had (VmHWM; ``ru_maxrss`` would
    count the parent's size at fork for a process started by another)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def hub_env(*, database_url: str | None = None, data_dir: str | None = None, **extra: str) -> dict:
    """Environment of a child ``hub`` process: its own data dir, the bench plugins importable."""
    env = {
        **os.environ,
        "HUB_DATA_DIR": data_dir or tempfile.mkdtemp(prefix="hub-bench-"),
        "HUB_SECRET_KEY": SECRET_KEY,
        "HUB_ALLOW_PRIVATE_TARGETS": "1",  # the sandboxes listen on 127.0.0.1
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        **extra,
    }
    env.pop("HUB_DATABASE_URL", None)
    if database_url:
        env["HUB_DATABASE_URL"] = database_url
    return env


def start_process(args: list[str], *, env: dict | None = None) -> subprocess.Popen:
    """Start ``python args…``; its stderr goes to a temporary file (a pipe nobody reads
    would fill up with the server's warnings and stall it)."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
    )
    proc.log = log
    return proc


def json_from_python(args: list[str], what: str) -> dict:
    """Run ``python <args>`` in a fresh process (the bench importable) and answer the JSON
    on the last line it prints; :class:`RuntimeError` with ``what`` and its stderr's end if
    it fails."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def process_log(proc: subprocess.Popen) -> str:
    proc.log.seek(0)
    return proc.log.read().decode(errors="replace")


def wait_http(
    url: str, proc: subprocess.Popen, *, headers: dict | None = None, timeout: float = 60.0
) -> None:
    """Wait until ``url`` answers (any status); fail with the process's stderr if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{' '.join(map(str, proc.args))} exited {proc.returncode}:\n"
                f"{process_log(proc)[-2000:]}"
            )
        try:
            requests.get(url, timeout=1, headers=headers or {})
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = getattr(proc, "log", None)
    if log is not None:
        log.close()


def reset_postgres(url: str) -> None:
    """Empty the bench database and bring it to the current schema."""
    from hub.store import migrate
    from hub.store.db import Database

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()


def repeat(times: int, fn: Callable[[], dict], key: str) -> tuple[dict, list[float]]:
    """Run ``fn`` ``times`` times; return the run with the median ``key`` and every value."""
    runs = [fn() for _ in range(times)]
    values = [r[key] for r in runs]
    ranked = sorted(runs, key=lambda r: r[key])
    return ranked[(len(ranked) - 1) // 2], values


# --- CPU of processes (whole flow with worker processes: are the cores busy already?) ---


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process descending from it (a worker and its PDF drawing process)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds each process has used so far (all its threads); a gone
    process is left out."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:  # utime, stime: fields 14 and 15 of stat, 12 and 13 here
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two :func:`cpu_seconds` samples: a process new in ``after``
    counts from its start; one gone by then is not counted (its last stretch is lost)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def postgres_backends(url: str) -> list[int]:
    """The process ids of the PostgreSQL backends connected to ``url``'s database now (the
    server must run on this machine for their CPU to be read), this query's own left out."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    )
                )
            )
    finally:
        engine.dispose()


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (``/proc/stat``: all
    but idle and iowait), whoever's processes used them."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
