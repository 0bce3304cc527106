"""What every benchmark shares: ports, processes, memory, PostgreSQL resets, medians."""

from __future__ import annotations

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
