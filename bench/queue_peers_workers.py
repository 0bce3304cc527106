"""The three queues' job handlers for bench (j), loaded by their worker processes.

Every system runs the same three jobs, each written the way its documentation shows:

- ``noop``: does nothing (what is measured is the queue);
- ``write_row``: inserts one row into ``bench_rows`` of the system's own database;
- ``probe``: says "started" (a UDP datagram with the wall-clock time) to the bench
  process, which measures enqueue-to-start latency on an idle queue.

The hub's handlers are a hub plugin (``HUB_PLUGINS=bench.queue_peers_workers``);
procrastinate's app is ``proc_app`` (``procrastinate --app bench.queue_peers_workers.proc_app
worker``); PGQueuer's factory is ``create_pgqueuer`` (``pgq run
bench.queue_peers_workers:create_pgqueuer``). The peers' database is in ``BENCH_PEER_DSN``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

from sqlalchemy import text

from hub import hookimpl

WRITE_ROW = "INSERT INTO bench_rows (job) VALUES (%s)"
_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def say_started(port: int, token: str) -> None:
    """Tell the bench process (on 127.0.0.1:``port``) that probe ``token`` started now."""
    _udp.sendto(f"{token} {time.time():.6f}".encode(), ("127.0.0.1", int(port)))


# --- the hub -------------------------------------------------------------------------------------


def _hub_noop(ctx) -> None:
    """Nothing: the queue is what is measured."""


def _hub_write_row(ctx) -> None:
    with ctx.db.write() as conn:
        conn.execute(text("INSERT INTO bench_rows (job) VALUES (:job)"), {"job": str(ctx.id)})


def _hub_probe(ctx) -> None:
    say_started(ctx.payload["port"], ctx.payload["token"])


@hookimpl
def hub_register_job_handlers():
    return {"peers.noop": _hub_noop, "peers.write_row": _hub_write_row, "peers.probe": _hub_probe}


# --- procrastinate -------------------------------------------------------------------------------


def procrastinate_app(conninfo: str):
    """A procrastinate ``App`` on ``conninfo`` with the three tasks."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name="noop")
    async def noop() -> None:
        """Nothing."""

    @app.task(name="write_row", pass_context=True)
    async def write_row(context) -> None:
        # The app's own connector pool: the documented way for a task to reach its database.
        pool = context.app.connector.pool
        async with pool.connection() as conn:
            await conn.execute(WRITE_ROW, (str(context.job.id),))

    @app.task(name="probe")
    async def probe(port: int, token: str) -> None:
        say_started(port, token)

    return app


try:
    proc_app: Any = procrastinate_app(os.environ.get("BENCH_PEER_DSN", ""))
except ImportError:  # the bench extra is not installed: the hub's side still loads
    proc_app = None


# --- PGQueuer ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def create_pgqueuer():
    """``pgq run``'s factory: a PgQueuer on autocommit psycopg connections, as its docs show."""
    import psycopg
    from pgqueuer import PgQueuer
    from pgqueuer.db import PsycopgDriver
    from pgqueuer.models import Job

    dsn = os.environ["BENCH_PEER_DSN"]
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    rows = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    pgq = PgQueuer(PsycopgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        """Nothing."""

    @pgq.entrypoint("write_row")
    async def write_row(job: Job) -> None:
        await rows.execute(WRITE_ROW, (str(job.id),))

    @pgq.entrypoint("probe")
    async def probe(job: Job) -> None:
        port, token = (job.payload or b"").decode().split()
        say_started(int(port), token)

    try:
        yield pgq
    finally:
        await rows.close()
        await conn.close()


if __name__ == "__main__":
    # PGQueuer's worker process: what ``pgq run bench.queue_peers_workers:create_pgqueuer`` does,
    # through its documented ``pgqueuer.run`` (the 1.6.0 CLI fails on its own --log-level).
    import asyncio

    import pgqueuer

    asyncio.run(pgqueuer.run(create_pgqueuer))
