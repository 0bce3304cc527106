"""(j) The hub's job queue against procrastinate and PGQueuer, side by side on one PostgreSQL.

The same server, machine and run; each system in its own database (the hub's is
the bench database, the peers' are ``<it>_procrastinate`` and ``<it>_pgqueuer``),
each used as its documentation shows (:mod:`bench.queue_peers_workers`):

- the hub: ``hub worker`` processes; jobs enqueued with :func:`hub.queue.jobs.enqueue`
  in a transaction of the caller's;
- procrastinate: an ``App`` with a ``PsycopgConnector``, async tasks, ``procrastinate
  worker`` processes; ``defer_async`` / ``batch_defer_async``;
- PGQueuer: processes started by ``pgqueuer.run(factory)`` (what ``pgq run`` does) with a
  ``PgQueuer`` on a psycopg connection; its schema
  installed with ``Queries.install``; ``Queries.enqueue`` (a list for a batch).

Every system gets 1, 2 and 4 worker processes (1 and 2 when quick; the hub's and
procrastinate's run one job at a time, the hub claiming up to 8 quick jobs per round
trip; PGQueuer's process runs its batch of 10 concurrently, as it does
by default), idle before each row: a system's processes are started for its first row
and stay (idle while the others take their turn); a larger worker count adds the missing
ones, since starting a ``hub worker`` costs seconds of CPU. A row is jobs of one kind (``noop`` or
``write_row``: one INSERT into ``bench_rows``) enqueued in bulk (one transaction or
call) or one by one (a transaction or call per job, while the workers drain); the clock
runs from the first enqueue to the moment the system's own table says no job is left
to do (read every 10 ms). The systems take turns row by row, so a change in the
machine's load falls on all three.

Idle latency: with one worker process each, a ``probe`` job is enqueued into an idle
queue every 0.2-0.6 s (0.1-0.3 s when quick); its handler sends the time it started over UDP; the latency is
that minus the time just before the enqueue call (commit included).

The peers' databases are dropped when the run ends, also when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import sys
import time
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import common
from hub.queue.jobs import enqueue
from hub.store.db import Database

SYSTEMS = ("hub", "procrastinate", "pgqueuer")
KINDS = ("noop", "write_row")
MODES = ("bulk", "one_by_one")
WORKER_COUNTS = (1, 2, 4)
#: CI's quick run (about a minute): fewer jobs and probes, 1 and 2 workers.
QUICK_WORKER_COUNTS = (1, 2)
BENCH_ROWS = "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, job text NOT NULL)"
#: What each system's own table says is still to do.
LEFT = {
    "hub": "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running', 'failed')",
    "procrastinate": "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
    "pgqueuer": "SELECT count(*) FROM pgqueuer",
}
EMPTY = {
    "hub": "TRUNCATE jobs, bench_rows RESTART IDENTITY CASCADE",
    "procrastinate": "TRUNCATE procrastinate_jobs, bench_rows RESTART IDENTITY CASCADE",
    "pgqueuer": "TRUNCATE pgqueuer, pgqueuer_log, bench_rows RESTART IDENTITY CASCADE",
}


def dsn(url: str, database: str | None = None) -> str:
    """A libpq URI (psycopg's) for the SQLAlchemy ``url``, or for another database on its server."""
    u = make_url(url).set(drivername="postgresql")
    if database:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


class System:
    """One queue under test: its database, its worker processes, its enqueue calls."""

    def __init__(self, name: str, url: str):
        self.name = name
        self.url = url
        base = make_url(url).database
        self.dsn = dsn(url) if name == "hub" else dsn(url, f"{base}_{name}")
        self.procs: list = []
        self.db = Database(url) if name == "hub" else None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app: Any = None  # procrastinate's App, open while the system is
        self.conn: Any = None  # PGQueuer's connection and Queries
        self.queries: Any = None

    # -- setup ------------------------------------------------------------------------------------

    def prepare(self) -> None:
        if self.name == "hub":
            common.reset_postgres(self.url)
        else:
            with psycopg.connect(dsn(self.url), autocommit=True) as conn:
                database = make_url(self.dsn).database
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{database}"')
        self.loop = asyncio.new_event_loop()
        if self.name == "procrastinate":
            from bench.queue_peers_workers import procrastinate_app

            self.app = procrastinate_app(self.dsn)
            self.loop.run_until_complete(self.app.open_async())
            self.loop.run_until_complete(self.app.schema_manager.apply_schema_async())
        elif self.name == "pgqueuer":
            from pgqueuer.queries import Queries

            self.conn = self.loop.run_until_complete(
                psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
            )
            self.queries = Queries.from_psycopg_connection(self.conn)
            self.loop.run_until_complete(self.queries.install())
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(BENCH_ROWS)

    # -- workers ----------------------------------------------------------------------------------

    def start_workers(self, n: int) -> list[int]:
        """Have ``n`` worker processes: start those missing (the ones running stay, idle).

        Returns the new processes' pids. Starting a ``hub worker`` costs seconds of CPU, so
        each row's processes go on to the next row, which adds only the missing ones.
        """
        env = common.hub_env(
            database_url=self.url if self.name == "hub" else None,
            HUB_PLUGINS="bench.queue_peers_workers",
            BENCH_PEER_DSN=self.dsn,
        )
        if self.name == "hub":
            args = ["-m", "hub", "worker"]
        elif self.name == "procrastinate":
            args = ["-m", "procrastinate", "--app", "bench.queue_peers_workers.proc_app"]
            args += ["worker", "--concurrency", "1"]
        else:
            args = ["-m", "bench.queue_peers_workers"]
        new = [common.start_process(args, env=env) for _ in range(n - len(self.procs))]
        self.procs += new
        return [proc.pid for proc in new]

    def signal_workers(self) -> None:
        """Ask the worker processes to stop (SIGTERM), without waiting for them."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def stop_workers(self) -> None:
        self.signal_workers()
        for proc in self.procs:
            common.stop_process(proc, timeout=30)
        self.procs = []

    def check_workers(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"a {self.name} worker exited {proc.returncode}:\n"
                    f"{common.process_log(proc)[-2000:]}"
                )

    # -- enqueue ----------------------------------------------------------------------------------

    def enqueue(self, kind: str, n: int, *, bulk: bool) -> None:
        if self.name == "hub":
            assert self.db is not None
            if bulk:
                with self.db.transaction() as session:
                    for _ in range(n):
                        enqueue(session, f"peers.{kind}")
            else:
                for _ in range(n):
                    with self.db.transaction() as session:
                        enqueue(session, f"peers.{kind}")
        else:
            self._await(self._peer_enqueue(kind, n, bulk))

    def enqueue_probe(self, port: int, token: str) -> None:
        """One probe job, enqueued and committed the system's usual way."""
        if self.name == "hub":
            assert self.db is not None
            with self.db.transaction() as session:
                enqueue(session, "peers.probe", {"port": port, "token": token})
        elif self.name == "procrastinate":
            self._await(self.app.tasks["probe"].defer_async(port=port, token=token))
        else:
            self._await(self.queries.enqueue("probe", f"{port} {token}".encode()))

    def _await(self, coroutine) -> Any:
        assert self.loop is not None
        return self.loop.run_until_complete(coroutine)

    async def _peer_enqueue(self, kind: str, n: int, bulk: bool) -> None:
        if self.name == "procrastinate":
            task = self.app.tasks[kind]
            if bulk:
                await task.batch_defer_async(*({} for _ in range(n)))
            else:
                for _ in range(n):
                    await task.defer_async()
        elif bulk:
            await self.queries.enqueue([kind] * n, [None] * n, [0] * n)
        else:
            for _ in range(n):
                await self.queries.enqueue(kind, None)

    def left(self, conn: psycopg.Connection) -> int:
        return conn.execute(LEFT[self.name]).fetchone()[0]  # type: ignore[index]

    def empty(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(EMPTY[self.name])

    def drop(self) -> None:
        """Drop a peer's own database; from the hub's (the bench database, kept) only the
        bench's own table, so the database holds the hub's schema and nothing more."""
        if self.name == "hub":
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS bench_rows")
            return
        with psycopg.connect(dsn(self.url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{make_url(self.dsn).database}" WITH (FORCE)')

    def close(self) -> None:
        self.stop_workers()
        if self.db is not None:
            self.db.dispose()
        if self.app is not None:
            self._await(self.app.close_async())
        if self.conn is not None:
            self._await(self.conn.close())
        if self.loop is not None:
            self.loop.close()


# --- measuring -----------------------------------------------------------------------------------


def wait_done(system: System, conn: psycopg.Connection, timeout: float) -> float:
    """Read the system's table every 10 ms until nothing is left to do; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        if system.left(conn) == 0:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{system.name}: jobs still left after {timeout:.0f} s")
        system.check_workers()
        time.sleep(0.01)


def rate(system: System, kind: str, n: int, *, bulk: bool) -> dict:
    """Enqueue ``n`` jobs of ``kind`` and time them until all are done."""
    system.empty()
    with psycopg.connect(system.dsn, autocommit=True) as conn:
        started = time.monotonic()
        system.enqueue(kind, n, bulk=bulk)
        enqueued = time.monotonic()
        done = wait_done(system, conn, timeout=300)
        if kind == "write_row":
            rows = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0]  # type: ignore[index]
            if rows != n:
                raise RuntimeError(f"{system.name}: {rows} rows written by {n} write_row jobs")
    return {
        "jobs_per_second": round(n / (done - started), 1),
        "enqueue_seconds": round(enqueued - started, 3),
        "seconds": round(done - started, 3),
    }


def latency(system: System, probes: int, gap: tuple[float, float] = (0.2, 0.6)) -> dict:
    """Enqueue-to-start of ``probes`` probe jobs, one at a time into an idle queue (ms),
    ``gap`` (least, most) seconds apart."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    port = sock.getsockname()[1]
    values = []
    try:
        for i in range(probes + 1):
            time.sleep(random.uniform(*gap))  # idle: the workers are waiting
            token = f"{system.name}-{i}"
            sent = time.time()
            system.enqueue_probe(port, token)
            while True:
                try:
                    got, started = sock.recv(200).decode().split()
                except TimeoutError:
                    system.check_workers()
                    raise RuntimeError(
                        f"{system.name}: probe {token} did not start in 10 s"
                    ) from None
                if got == token:
                    break
            if i:  # the first one warms the workers up
                values.append((float(started) - sent) * 1000)
    finally:
        sock.close()
    return {
        "probes": probes,
        "p50_ms": round(common.percentile(values, 0.50), 1),
        "p99_ms": round(common.percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1),
    }


def warm_up(system: System, new: list[int] | None = None) -> None:
    """Wait until the workers run jobs: a few no-op jobs through the queue; then until the
    ``new`` processes (default: all) are idle."""
    deadline = time.monotonic() + 120
    with psycopg.connect(system.dsn, autocommit=True) as conn:
        system.enqueue("noop", 2 * len(system.procs), bulk=True)
        while system.left(conn):
            system.check_workers()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{system.name}: workers ran no job in 120 s")
            time.sleep(0.05)
    # Idle before measuring: a process may still be starting up after its first job
    # (``hub worker`` builds its geocoding tables in a thread, ~2 s of CPU).
    wait_idle([proc.pid for proc in system.procs] if new is None else new)


def wait_idle(pids: list[int], timeout: float = 90.0) -> None:
    """Wait until every process used under 10 % of a CPU for half a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = common.cpu_seconds(pids)
        time.sleep(0.5)
        after = common.cpu_seconds(pids)
        if gone := set(pids) - (set(before) & set(after)):
            raise RuntimeError(f"worker processes {sorted(gone)} ended")
        if all(after[pid] - before[pid] < 0.05 for pid in pids):
            return
    raise RuntimeError(f"worker processes {pids} still busy after {timeout:.0f} s")


def run(url: str | None, *, quick: bool) -> dict:
    if not url:
        return {
            "skipped": "set HUB_BENCH_DATABASE_URL (or HUB_TEST_DATABASE_URL) to a PostgreSQL database"
        }
    # Quick: probes 0.1-0.3 s apart (the queue is idle well before), a minute in all.
    jobs, probes, gap = (150, 10, (0.1, 0.3)) if quick else (2000, 100, (0.2, 0.6))
    systems = {name: System(name, url) for name in SYSTEMS}
    results: dict = {
        "jobs": jobs,
        "probes": probes,
        "rows": {},
        "latency": {},
        "load_average": {},
    }
    try:
        for s in systems.values():
            s.prepare()
        for workers in QUICK_WORKER_COUNTS if quick else WORKER_COUNTS:
            for name in SYSTEMS:
                system = systems[name]
                warm_up(system, system.start_workers(workers))
                if workers == 1:
                    results["latency"][name] = latency(system, probes, gap)
                for kind in KINDS:
                    for mode in MODES:
                        row = results["rows"].setdefault(f"{kind}.{mode}.{workers}", {})
                        row[name] = rate(system, kind, jobs, bulk=mode == "bulk")
            results["load_average"][str(workers)] = common.load_average()
    finally:
        for s in systems.values():  # all at once: each system's take seconds to stop
            s.signal_workers()
        # Every system closed and every peer database dropped, also after a failure
        # (whose exception is the one raised); one that fails here does not stop the rest.
        for s in systems.values():
            for step in (s.close, s.drop):
                try:
                    step()
                except Exception as exc:
                    print(f"bench (j): {s.name}: {step.__name__} failed: {exc}", file=sys.stderr)
    for row in results["rows"].values():
        hub = row["hub"]["jobs_per_second"]
        row["hub_to_procrastinate"] = round(hub / row["procrastinate"]["jobs_per_second"], 2)
        row["hub_to_pgqueuer"] = round(hub / row["pgqueuer"]["jobs_per_second"], 2)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue_peers", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database_url, quick=args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
