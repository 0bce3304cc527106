"""Benchmark: pull N orders from the Shopify sandbox into a hub (SQLite or PostgreSQL).

    .venv/bin/python -m bench.shopify_pull --orders 10000 [--database-url postgresql+psycopg://…]
    .venv/bin/python -m bench.shopify_pull --orders 10000 --raw    # the baseline
    .venv/bin/python -m bench.shopify_pull --orders 10000 --fetch-only

The sandbox runs in its own process (so its memory and CPU are not the hub's),
with Shopify's real bucket (40, leaking 2/s) unless told otherwise. The hub
runs one ``channel.pull`` job, exactly as the scheduler would, and the script
reports the throughput (orders/s), the hub process's resident memory after
each page (flat means the pull streams) and its peak RSS.

``--raw`` is what the pull is measured against in ``make bench`` (b): the same
connector fetches the same pages from the same sandbox, and each page's rows
(orders, lines, payments: the columns the hub fills) go in with one
``executemany`` per table in one transaction — no audit events, no jobs, no
ORM. ``--fetch-only`` is the connector alone (HTTP, JSON, mapping).
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.common import free_port, median, peak_rss_mb, reset_postgres, rss_mb
from hub.channels.manage import create_channel, ensure_manual_channel
from hub.channels.port import ChannelPort
from hub.integration.connectors import ChannelInfo
from hub.queue.jobs import Worker, enqueue
from hub.routing.geocode import warm_up
from hub.runtime.hub import Hub
from hub.store import migrate
from hub.store.config import Settings
from hub.store.models import Order, OrderLine, Payment, utcnow
from plugins.shopify.connector import ShopifyConnector
from plugins.shopify.sandbox import DEFAULT_TOKEN, DEFAULT_WEBHOOK_SECRET

CHANNEL_CONFIG = {
    "shop_domain": "hub-demo.myshopify.com",
    "access_token": DEFAULT_TOKEN,
    "webhook_secret": DEFAULT_WEBHOOK_SECRET,
}


def start_sandbox(orders: int, seed: int, bucket: int = 40) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plugins.shopify.sandbox",
            "--orders",
            str(orders),
            "--seed",
            str(seed),
            "--port",
            str(port),
            "--bucket",
            str(bucket),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(
                f"{url}/admin/api/2025-07/shop.json",
                timeout=1,
                headers={"X-Shopify-Access-Token": DEFAULT_TOKEN},
            )
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def _fresh_hub(tmp: str, database_url: str | None) -> Hub:
    if database_url:
        reset_postgres(database_url)
    # The sandbox listens on 127.0.0.1: the hub must be allowed to call it.
    settings = Settings.from_env(
        {}, data_dir=Path(tmp), database_url=database_url, allow_private_targets=True
    )
    hub = Hub(settings)
    migrate.upgrade(hub.db)
    # As `hub worker` does when it starts: the geocoding tables are built before the
    # pull, not charged to its first page (about 1.3 s once per process).
    warm_up()
    return hub


def run(orders: int, seed: int, *, database_url: str | None = None, bucket: int = 40) -> dict:
    """The hub's own pull: one ``channel.pull`` job run by a worker."""
    proc, url = start_sandbox(orders, seed, bucket)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hub = _fresh_hub(tmp, database_url)
            with hub.db.transaction() as session:
                ensure_manual_channel(hub, session)
                channel = create_channel(
                    hub,
                    session,
                    name="Bench store",
                    connector="shopify",
                    config={**CHANNEL_CONFIG, "api_base_url": url},
                )
                channel_id = channel.id
                enqueue(session, "channel.pull", {}, channel_id=channel_id)
            samples: list[tuple[int, float]] = []
            real = ChannelPort.upsert_orders

            def measured(self, batch, **kwargs):
                ids = real(self, batch, **kwargs)
                samples.append((len(ids), rss_mb()))
                return ids

            ChannelPort.upsert_orders = measured
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
            ChannelPort.upsert_orders = real
            ShopifyConnector.fetch_orders = real_fetch
            stored = sum(n for n, _ in samples)
            hub.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    pages = len(samples)
    return {
        "database": "postgresql" if database_url else "sqlite",
        "orders": orders,
        "stored": stored,
        "jobs": ran,
        "pages": pages,
        "requests": sum(c.requests_sent for c in clients),
        "seconds": round(seconds, 2),
        "orders_per_second": round(stored / seconds, 1),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after_pages": [
            round(samples[i][1], 1)
            for i in sorted({0, pages // 4, pages // 2, 3 * pages // 4, pages - 1})
        ]
        if samples
        else [],
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _connector(url: str, channel_id: int = 0) -> ShopifyConnector:
    config = ShopifyConnector.validate_config({**CHANNEL_CONFIG, "api_base_url": url})
    return ShopifyConnector(
        ChannelInfo(
            id=channel_id,
            slug="bench",
            name="bench",
            connector="shopify",
            config=config,
            allow_private_targets=True,  # the sandbox listens on 127.0.0.1
        )
    )


def raw(orders: int, seed: int, *, database_url: str | None = None, bucket: int = 40) -> dict:
    """The baseline: the same pages from the same connector, stored with plain executemany."""
    proc, url = start_sandbox(orders, seed, bucket)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hub = _fresh_hub(tmp, database_url)
            with hub.db.transaction() as session:
                channel_id = create_channel(
                    hub,
                    session,
                    name="Bench store",
                    connector="shopify",
                    config={**CHANNEL_CONFIG, "api_base_url": url},
                ).id
            connector = _connector(url, channel_id)
            tables = (Order.__table__, OrderLine.__table__, Payment.__table__)
            ids = {"order": 0, "line": 0, "payment": 0}
            stored = 0
            started = time.perf_counter()
            for page in connector.fetch_orders(None):
                rows = _rows(page.orders, channel_id, ids)
                with hub.db.engine.begin() as conn:
                    for table, table_rows in zip(tables, rows, strict=True):
                        if table_rows:
                            conn.execute(table.insert(), table_rows)
                stored += len(rows[0])
            seconds = time.perf_counter() - started
            hub.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "database": "postgresql" if database_url else "sqlite",
        "orders": orders,
        "stored": stored,
        "seconds": round(seconds, 2),
        "orders_per_second": round(stored / seconds, 1),
    }


def _rows(batch, channel_id: int, ids: dict[str, int]) -> tuple[list, list, list]:
    """The orders, lines and payments rows of a page, as the hub would fill their columns."""
    orders, lines, payments = [], [], []
    now = utcnow()
    for data in batch:
        ids["order"] += 1
        order_id = ids["order"]
        orders.append(
            {
                "id": order_id,
                "channel_id": channel_id,
                "external_id": str(data.external_id),
                "number": data.number or str(data.external_id),
                "status": "pending",
                "financial_status": data.channel_financial_status or "pending",
                "fulfillment_status": "unfulfilled",
                "channel_financial_status": data.channel_financial_status or "",
                "hold_reasons": [],
                "email": (data.customer.email or "").strip().lower(),
                "customer_name": data.customer.name or "",
                "customer_phone": data.customer.phone or "",
                "customer_external_id": str(data.customer.external_id or ""),
                "shipping_address": data.shipping_address.to_dict()
                if data.shipping_address
                else None,
                "billing_address": data.billing_address.to_dict() if data.billing_address else None,
                "currency": data.currency,
                "subtotal": data.subtotal,
                "shipping": data.shipping,
                "tax": data.tax,
                "discount": data.discount,
                "total": data.total if data.total is not None else data.computed_total,
                "placed_at": data.placed_at or now,
                "external_updated_at": data.updated_at,
                "tags": list(data.tags),
                "notes": data.notes or "",
                "is_test": bool(data.is_test),
                "tracking_token": secrets.token_urlsafe(24),
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        for position, line in enumerate(data.lines):
            ids["line"] += 1
            lines.append(
                {
                    "id": ids["line"],
                    "order_id": order_id,
                    "position": position,
                    "external_id": str(line.external_id or ""),
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "tax": line.tax,
                    "discount": line.discount,
                }
            )
        for p in data.payments:
            ids["payment"] += 1
            payments.append(
                {
                    "id": ids["payment"],
                    "order_id": order_id,
                    "channel_id": None,
                    "reference": p.reference,
                    "status": p.status,
                    "currency": data.currency,
                    "amount": p.amount,
                    "captured_amount": p.captured_amount,
                    "refunded_amount": p.refunded_amount,
                    "disputed": False,
                    "failure_reason": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return orders, lines, payments


def fetch_only(orders: int, seed: int, bucket: int = 40) -> dict:
    """The connector alone (HTTP + JSON + mapping), no database: where the time is not."""
    proc, url = start_sandbox(orders, seed, bucket)
    try:
        connector = _connector(url)
        started = time.perf_counter()
        mapped = sum(len(page.orders) for page in connector.fetch_orders(None))
        seconds = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "orders": orders,
        "mapped": mapped,
        "seconds": round(seconds, 2),
        "orders_per_second": round(mapped / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def compare(database_url: str | None = None, *, quick: bool) -> dict:
    """``make bench`` (b): the hub's pull against the raw baseline, alternating runs, medians.

    The sandbox's bucket is made large enough for the whole pull: pacing to
    Shopify's 2 requests/s is the rate limiter's job (tested on its own), and
    it would make both sides measure the clock instead of the hub.
    """
    orders, repeats = (2000, 3) if quick else (10_000, 3)
    bucket = orders // 100 + 50
    hub_runs, raw_runs = [], []
    for i in range(repeats):
        hub_runs.append(run(orders, seed=i + 1, database_url=database_url, bucket=bucket))
        raw_runs.append(raw(orders, seed=i + 1, database_url=database_url, bucket=bucket))
    hub_rate = median([r["orders_per_second"] for r in hub_runs])
    raw_rate = median([r["orders_per_second"] for r in raw_runs])
    middle = sorted(hub_runs, key=lambda r: r["orders_per_second"])[(repeats - 1) // 2]
    return {
        "database": "postgresql" if database_url else "sqlite",
        "orders": orders,
        "repeats": repeats,
        "hub_orders_per_second": round(hub_rate, 1),
        "raw_orders_per_second": round(raw_rate, 1),
        "ratio": round(hub_rate / raw_rate, 3),
        "hub_runs": [r["orders_per_second"] for r in hub_runs],
        "raw_runs": [r["orders_per_second"] for r in raw_runs],
        "hub_rss_mb_after_pages": middle["rss_mb_after_pages"],
        "stored": [r["stored"] for r in hub_runs],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url", help="PostgreSQL to pull into (emptied first!); default SQLite"
    )
    parser.add_argument("--bucket", type=int, default=40, help="the sandbox's leaky bucket size")
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--fetch-only",
        action="store_true",
        help="measure the connector alone (HTTP, JSON, mapping), without the database",
    )
    what.add_argument(
        "--raw",
        action="store_true",
        help="the baseline: the same pages stored with plain executemany",
    )
    args = parser.parse_args(argv)
    if args.fetch_only:
        result = fetch_only(args.orders, args.seed, args.bucket)
    elif args.raw:
        result = raw(args.orders, args.seed, database_url=args.database_url, bucket=args.bucket)
    else:
        result = run(args.orders, args.seed, database_url=args.database_url, bucket=args.bucket)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
