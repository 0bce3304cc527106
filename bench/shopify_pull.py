"""Benchmark: pull N orders from the Shopify sandbox into an embedded SQLite hub.

    .venv/bin/python -m bench.shopify_pull --orders 10000

The sandbox runs in its own process (so its memory and CPU are not the hub's),
with Shopify's real bucket (40, leaking 2/s). The hub runs one ``channel.pull``
job, exactly as the scheduler would, and the script reports the throughput
(orders/s), the hub process's resident memory after each page (flat means the
pull streams) and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from hub import migrate
from hub.channels import create_channel, ensure_manual_channel
from hub.config import Settings
from hub.jobs import Worker, enqueue
from hub.port import HubPort
from hub.runtime import Hub
from plugins.shopify.connector import ShopifyConnector
from plugins.shopify.sandbox import DEFAULT_TOKEN, DEFAULT_WEBHOOK_SECRET


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(orders: int, seed: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "plugins.shopify.sandbox", "--orders", str(orders),
                             "--seed", str(seed), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/admin/api/2025-07/shop.json", timeout=1,
                         headers={"X-Shopify-Access-Token": DEFAULT_TOKEN})
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def run(orders: int, seed: int) -> dict:
    proc, url = start_sandbox(orders, seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env({}, data_dir=Path(tmp), secret_key=None)
            hub = Hub(settings)
            migrate.upgrade(hub.db)
            with hub.db.transaction() as session:
                ensure_manual_channel(hub, session)
                channel = create_channel(hub, session, name="Bench store", connector="shopify", config={
                    "shop_domain": "hub-demo.myshopify.com", "access_token": DEFAULT_TOKEN,
                    "webhook_secret": DEFAULT_WEBHOOK_SECRET, "api_base_url": url})
                channel_id = channel.id
                enqueue(session, "channel.pull", {}, channel_id=channel_id)
            samples: list[tuple[int, float]] = []
            real = HubPort.upsert_orders

            def measured(self, batch, **kwargs):
                ids = real(self, batch, **kwargs)
                samples.append((len(ids), rss_mb()))
                return ids

            HubPort.upsert_orders = measured
            clients = []
            real_fetch = ShopifyConnector.fetch_orders

            def fetch(self, cursor):
                clients.append(self.http)
                return real_fetch(self, cursor)

            ShopifyConnector.fetch_orders = fetch
            rss_before = rss_mb()
            started = time.perf_counter()
            ran = Worker(hub, kinds=("channel.pull",), worker_id="bench").run_until_idle()
            seconds = time.perf_counter() - started
            HubPort.upsert_orders = real
            ShopifyConnector.fetch_orders = real_fetch
            stored = sum(n for n, _ in samples)
            hub.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    pages = len(samples)
    return {
        "orders": orders, "stored": stored, "jobs": ran, "pages": pages,
        "requests": sum(c.requests_sent for c in clients), "seconds": round(seconds, 2),
        "orders_per_second": round(stored / seconds, 1),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after_pages": [round(samples[i][1], 1) for i in sorted({0, pages // 4, pages // 2,
                                                                          3 * pages // 4, pages - 1})]
        if samples else [],
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def fetch_only(orders: int, seed: int) -> dict:
    """The connector alone (HTTP + JSON + mapping), no database: where the time is not."""
    from hub.connectors import ChannelInfo

    proc, url = start_sandbox(orders, seed)
    try:
        config = ShopifyConnector.validate_config({
            "shop_domain": "hub-demo.myshopify.com", "access_token": DEFAULT_TOKEN,
            "webhook_secret": DEFAULT_WEBHOOK_SECRET, "api_base_url": url})
        connector = ShopifyConnector(ChannelInfo(id=0, slug="bench", name="bench", connector="shopify",
                                                 config=config))
        started = time.perf_counter()
        mapped = sum(len(page.orders) for page in connector.fetch_orders(None))
        seconds = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"orders": orders, "mapped": mapped, "seconds": round(seconds, 2),
            "orders_per_second": round(mapped / seconds, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fetch-only", action="store_true",
                        help="measure the connector alone (HTTP, JSON, mapping), without the database")
    args = parser.parse_args(argv)
    result = fetch_only(args.orders, args.seed) if args.fetch_only else run(args.orders, args.seed)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
