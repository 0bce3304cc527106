"""Benchmark (i): resident memory of ``hub serve`` over a long run of the whole flow.

``hub serve`` (web app, worker, scheduler: what a merchant runs) runs in its own
process on a fresh SQLite data dir; this process holds the sandboxes of
:class:`hub.demo.sandboxes.Sandboxes` (their memory grows with every order they
keep, so they are not in the measured process), configures the demo's channels
(:func:`hub.demo.scenario.configure_hub`), stocks the locations and feeds the
orders as the demo does (the stores' pulls and their webhooks), but steadily:
50 in the stores at the start, all the way through before the rest come (the
warm-up: each worker thread's first invoice PDF loads WeasyPrint's fonts and
caches once, tens of MB in steps), then ``rate`` a second, as a shop's day brings
them, so every stage of the flow (the invoice emails too) runs all along
instead of in waves behind a backlog. (Fed as a burst, the first invoice PDF
of a 2,000-order run came after the 1,400th shipment, and WeasyPrint's one-time
load, about 50 MB, read as growth.) The server's
resident memory (``VmRSS``) is read each time another order has shipped; the
answer gives it at ``first`` shipped orders and at the end, and the growth
between them (the target: flat within ±10 %). The figures are of ``hub serve``
with the processes it started (its PDF drawing process, hub.invoicing.drawing),
summed, so memory moved out of the server still counts; the server's own is given
beside them. The judged figure leaves out the resident pages of the SQLite file the
server reads through a memory map (:func:`mapped_mb`): the file's page cache, which
grows with the database, not the hub's memory (``docs/benchmarks.md``, (i)).

    python -m bench.memory --orders 10000 --first 2000
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common

#: The growth of resident memory between the first checkpoint and the end that still counts as flat.
FLAT = 0.10


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (all resident memory) or ``RssAnon`` (without mapped files) of ``pid``."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def mapped_mb(pid: int, under: Path) -> float:
    """Resident pages of ``pid``'s memory maps of files under ``under`` (``/proc/pid/smaps``):
    the SQLite database the hub reads through a memory map (``PRAGMA mmap_size``)."""
    total_kb, counting = 0, False
    prefix = f"{under.resolve()}{os.sep}"  # the folder's files, not a sibling named alike
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            field = line.split(maxsplit=5)
            # A mapping's header (address perms offset dev inode [path]), or one of its fields.
            if not field[0].endswith(":"):
                counting = len(field) == 6 and field[5].startswith(prefix)
            elif counting and field[0] == "Rss:":
                total_kb += int(field[1])
    return total_kb / 1024


def tree_rss_mb(pid: int, field: str = "VmRSS") -> float:
    """:func:`rss_mb` of ``pid`` and of every process it started (a child that ends meanwhile
    counts as nothing)."""
    total = rss_mb(pid, field)
    for child in common.process_tree(pid)[1:]:
        try:
            total += rss_mb(child, field)
        except OSError:  # it ended meanwhile
            pass
    return total


def run(
    n_orders: int, first: int, *, rate: float = 5.0, timeout: float | None = None
) -> dict[str, Any]:
    """The flow for ``n_orders`` through a ``hub serve`` process; its RSS at ``first`` and at
    ``n_orders`` shipped orders."""
    from sqlalchemy import func, select

    from hub.channels.manage import request_sync
    from hub.demo.sandboxes import Sandboxes
    from hub.demo.scenario import (
        DEMO_SELLER,
        OrderFeeder,
        configure_hub,
        periodic_kinds,
        progress,
        stock_locations,
    )
    from hub.runtime.hub import Hub
    from hub.store import migrate
    from hub.store.config import Settings
    from hub.store.models import Channel, Order

    if not 0 < first < n_orders:
        raise ValueError("first must lie between 0 and the number of orders")
    timeout = timeout if timeout is not None else 300 + 3.0 * n_orders + n_orders / rate
    with tempfile.TemporaryDirectory(prefix="hub-bench-memory-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        seller = {f"HUB_{k.upper()}": v for k, v in DEMO_SELLER.items()}
        env = common.hub_env(data_dir=str(data_dir), **seller)
        settings = Settings.from_env(
            {},
            data_dir=data_dir,
            allow_private_targets=True,
            secret_key=common.SECRET_KEY,
            **DEMO_SELLER,
        )
        hub = Hub(settings)
        try:
            migrate.upgrade(hub.db)
            port = common.free_port()
            url = f"http://127.0.0.1:{port}"
            with Sandboxes(
                n_orders, seed=7, woocommerce_share=0.25, initial=min(50, n_orders)
            ) as sandboxes:
                channels = configure_hub(hub, sandboxes, url, data_dir=data_dir)
                stock_locations(hub, sandboxes.demand())
                server = common.start_process(
                    ["-m", "hub", "serve", "--port", str(port), "--workers", "4"], env=env
                )
                try:
                    common.wait_http(f"{url}/healthz", server)
                    started = time.perf_counter()
                    samples: list[tuple[int, float]] = [(0, tree_rss_mb(server.pid))]
                    anon: list[float] = [tree_rss_mb(server.pid, "RssAnon")]
                    alone: list[float] = [rss_mb(server.pid)]
                    database: list[float] = [mapped_mb(server.pid, data_dir)]
                    with hub.db.transaction() as session:
                        for channel_id in (channels.shopify, channels.woocommerce):
                            if channel_id is not None:
                                request_sync(hub, session, session.get(Channel, channel_id))
                    # Warm-up: the first 50 orders all the way through (their invoice PDFs
                    # drawn) before the rest come: each worker thread's first PDF loads
                    # WeasyPrint's fonts and caches once (tens of MB, step by step).
                    kinds = periodic_kinds(hub)
                    warm_until = time.monotonic() + timeout
                    while time.monotonic() < warm_until and server.poll() is None:
                        warm = progress(hub, kinds)
                        if warm["orders"] and not warm["open_jobs"]:
                            break
                        time.sleep(1.0)
                    feeder = OrderFeeder(
                        sandboxes,
                        f"{url}/webhooks/{channels.slugs['shopify']}",
                        woo_webhook_url=f"{url}/webhooks/{channels.slugs['woocommerce']}",
                        batch=2,
                        every=2 / rate,
                    )
                    feeder.start()
                    deadline = time.monotonic() + timeout
                    shipped = 0
                    try:
                        while shipped < n_orders:
                            if server.poll() is not None:
                                raise RuntimeError(
                                    f"hub serve exited {server.returncode}:\n"
                                    f"{common.process_log(server)[-2000:]}"
                                )
                            if time.monotonic() > deadline:
                                raise RuntimeError(
                                    f"only {shipped} of {n_orders} orders shipped in {timeout:.0f} s"
                                )
                            with hub.db.read() as session:
                                shipped = (
                                    session.scalar(
                                        select(func.count())
                                        .select_from(Order)
                                        .where(Order.status == "shipped")
                                    )
                                    or 0
                                )
                            if shipped > samples[-1][0]:
                                samples.append((shipped, tree_rss_mb(server.pid)))
                                anon.append(tree_rss_mb(server.pid, "RssAnon"))
                                alone.append(rss_mb(server.pid))
                                database.append(mapped_mb(server.pid, data_dir))
                            time.sleep(1.0)
                    finally:
                        feeder.stop()
                    elapsed = time.perf_counter() - started
                    state = progress(hub)
                finally:
                    common.stop_process(server)
        finally:
            hub.close()
    k = next(i for i, (n, _) in enumerate(samples) if n >= first)
    at_first, at_end = samples[k][1], samples[-1][1]
    return {
        "orders": n_orders,
        "first": first,
        "elapsed_s": round(elapsed, 1),
        "rss_mb_at_start": round(samples[0][1], 1),
        "rss_mb_at_first": round(at_first, 1),
        "rss_mb_at_end": round(at_end, 1),
        "rss_mb_peak": round(max(r for _, r in samples), 1),
        "growth": round(at_end / at_first - 1, 4),
        # Without SQLite's memory-mapped database file (SQLITE_MMAP_BYTES), whose pages count
        # in VmRSS as the file grows though they are the kernel's page cache of the file
        # (clean, shared, dropped under pressure; a hub reading with read() would have
        # the same pages cached, uncounted): what the judgement is made on.
        "database_mb_at_first": round(database[k], 1),
        "database_mb_at_end": round(database[-1], 1),
        "without_database_mb_at_first": round(at_first - database[k], 1),
        "without_database_mb_at_end": round(at_end - database[-1], 1),
        "without_database_growth": round((at_end - database[-1]) / (at_first - database[k]) - 1, 4),
        # Without any mapped file (libraries' code too): the processes' own memory.
        "anon_mb_at_first": round(anon[k], 1),
        "anon_mb_at_end": round(anon[-1], 1),
        "anon_growth": round(anon[-1] / anon[k] - 1, 4),
        # The hub's own process without its PDF drawing process.
        "server_rss_mb_at_first": round(alone[k], 1),
        "server_rss_mb_at_end": round(alone[-1], 1),
        "server_growth": round(alone[-1] / alone[k] - 1, 4),
        "rate": rate,
        "dead_jobs": state["dead_jobs"],
        "samples": [(n, round(r, 1)) for n, r in samples[:: max(1, len(samples) // 50)]],
        "load_average": common.load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--first", type=int, default=None, help="default: a fifth of --orders")
    args = parser.parse_args(argv)
    first = args.first if args.first is not None else max(1, args.orders // 5)
    try:
        out = run(args.orders, first)
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
