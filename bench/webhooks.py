"""(a) Webhook ingest: signed Shopify deliveries against the hub and a bare Flask endpoint.

Both servers are waitress with the same settings ``hub serve`` uses (16
request threads) and each runs in its own process, so the client (this
process) shares no GIL with them:

- the hub: ``hub serve --workers 0 --no-scheduler`` — the production command,
  with its job worker and scheduler off so what is measured is ingest alone:
  verify the HMAC on the raw body, store the event in the inbox, enqueue its
  ``webhook.process`` job, answer 200;
- the bare endpoint: a Flask app whose ``POST /webhooks/<slug>`` reads the body
  and answers the same JSON (``python -m bench.webhooks bare --port N``).

Deliveries are made (and signed, by the Shopify sandbox's own
:func:`~plugins.shopify.sandbox.webhook_request`) before the clock starts; each
has its own webhook id, so every one is stored. 16 client threads keep one
keep-alive connection each; the rounds alternate between the two servers and
the medians are reported.
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import threading
import time
from pathlib import Path

from bench import common

CONCURRENCY = 16
SERVER_THREADS = 16  # `hub serve --threads` default
SLUG = "bench-shop"


# --- the bare endpoint ------------------------------------------------------------------------


def bare_app():
    from flask import Flask, jsonify, request

    app = Flask("bare")

    @app.post("/webhooks/<slug>")
    def receive(slug: str):
        request.get_data()
        return jsonify(status="accepted")

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


def serve_bare(port: int, threads: int) -> None:
    from waitress import create_server

    create_server(bare_app(), host="127.0.0.1", port=port, threads=threads, ident="hub").run()


# --- the hub's server ---------------------------------------------------------------------------


def prepare_hub(database_url: str | None, data_dir: Path) -> None:
    """Migrate the database and add the Shopify channel the deliveries are for."""
    from hub.channels.manage import create_channel, ensure_manual_channel
    from hub.runtime.hub import Hub
    from hub.store import migrate
    from hub.store.config import Settings
    from plugins.shopify.sandbox import ShopifySandbox

    hub = Hub(
        Settings.from_env(
            {}, data_dir=data_dir, database_url=database_url, secret_key=common.SECRET_KEY
        )
    )
    try:
        migrate.upgrade(hub.db)
        with hub.db.transaction() as session:
            ensure_manual_channel(hub, session)
            create_channel(
                hub,
                session,
                name="Bench shop",
                connector="shopify",
                slug=SLUG,
                config=ShopifySandbox(orders=0).channel_config("http://127.0.0.1:9"),
            )
    finally:
        hub.close()


def deliveries(count: int) -> list[tuple[dict[str, str], bytes]]:
    """``count`` signed ``orders/create`` deliveries of realistic orders, each with its own id."""
    from plugins.shopify.sandbox import ShopifySandbox

    shop = ShopifySandbox(orders=50, seed=3)
    ids = shop.order_ids
    bodies = [shop.order(i) for i in ids]
    return [shop.webhook("orders/create", bodies[n % len(bodies)]) for n in range(count)]


# --- the client ------------------------------------------------------------------------------------


def load(
    port: int, requests: list[tuple[dict[str, str], bytes]], concurrency: int = CONCURRENCY
) -> dict:
    """POST every delivery with ``concurrency`` keep-alive connections; requests/s, latencies."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)

    def client(share):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], []
        start.wait()
        for headers, body in share:
            t0 = time.perf_counter()
            try:
                conn.request("POST", f"/webhooks/{SLUG}", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                bad.append(f"{exc.__class__.__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - t0)
            if response.status != 200 or b"accepted" not in answer:
                bad.append(f"{response.status} {answer[:200]!r}")
        conn.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [
        threading.Thread(target=client, args=(requests[i::concurrency],))
        for i in range(concurrency)
    ]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return {
        "requests": len(requests),
        "failed": len(failures),
        "first_failure": failures[0] if failures else None,
        "seconds": round(seconds, 3),
        "requests_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(common.percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(common.percentile(latencies, 0.99) * 1000, 2),
    }


def run(database_url: str | None = None, *, quick: bool) -> dict:
    """Hub vs bare, alternating rounds; the medians of each and their ratio."""
    per_round, rounds = (1500, 3) if quick else (5000, 5)
    warmup = 300
    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-webhooks-"))
    if database_url:
        common.reset_postgres(database_url)
    prepare_hub(database_url, data_dir)
    env = common.hub_env(database_url=database_url, data_dir=str(data_dir))
    hub_port, bare_port = common.free_port(), common.free_port()
    hub_proc = common.start_process(
        [
            "-m",
            "hub",
            "serve",
            "--port",
            str(hub_port),
            "--threads",
            str(SERVER_THREADS),
            "--workers",
            "0",
            "--no-scheduler",
        ],
        env=env,
    )
    bare_proc = common.start_process(
        [
            "-m",
            "bench.webhooks",
            "bare",
            "--port",
            str(bare_port),
            "--threads",
            str(SERVER_THREADS),
        ],
        env=env,
    )
    try:
        common.wait_http(f"http://127.0.0.1:{hub_port}/healthz", hub_proc)
        common.wait_http(f"http://127.0.0.1:{bare_port}/healthz", bare_proc)
        made = deliveries(warmup * 2 + per_round * rounds * 2)
        batches = iter(made[i : i + per_round] for i in range(warmup * 2, len(made), per_round))
        load(hub_port, made[:warmup])
        load(bare_port, made[warmup : warmup * 2])
        hub_runs, bare_runs = [], []
        for _ in range(rounds):
            bare_runs.append(load(bare_port, next(batches)))
            hub_runs.append(load(hub_port, next(batches)))
    finally:
        common.stop_process(hub_proc)
        common.stop_process(bare_proc)
    hub, bare = _summary(hub_runs), _summary(bare_runs)
    return {
        "database": "postgresql" if database_url else "sqlite",
        "concurrency": CONCURRENCY,
        "server_threads": SERVER_THREADS,
        "requests_per_round": per_round,
        "rounds": rounds,
        "hub": hub,
        "bare": bare,
        "ratio": round(hub["requests_per_second"] / bare["requests_per_second"], 2),
    }


def _summary(runs: list[dict]) -> dict:
    return {
        "requests_per_second": round(common.median([r["requests_per_second"] for r in runs]), 1),
        "p50_ms": round(common.median([r["p50_ms"] for r in runs]), 2),
        "p99_ms": round(common.median([r["p99_ms"] for r in runs]), 2),
        "failed": sum(r["failed"] for r in runs),
        "first_failure": next((r["first_failure"] for r in runs if r["first_failure"]), None),
        "rounds_requests_per_second": [r["requests_per_second"] for r in runs],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    bare = sub.add_parser("bare", help="serve the bare Flask endpoint")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--threads", type=int, default=SERVER_THREADS)
    measure = sub.add_parser("run", help="measure hub against bare and print JSON")
    measure.add_argument("--quick", action="store_true")
    measure.add_argument("--database-url")
    args = parser.parse_args(argv)
    if args.command == "bare":
        serve_bare(args.port, args.threads)
    else:
        print(json.dumps(run(args.database_url, quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
