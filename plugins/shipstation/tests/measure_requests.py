"""Count the ShipStation API requests N orders cost end to end (run by hand, not collected).

    .venv/bin/python -m plugins.shipstation.tests.measure_requests --orders 1000 --batch 100

Every order goes the real way on a throw-away SQLite hub: created, confirmed,
fulfilment started, submitted in bulk; the warehouse buys labels in batches of
``--batch`` (1: one label at a time), each batch's SHIP_NOTIFY reaches the hub
and is fetched; then one scheduled poll runs. The sandbox counts the requests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from hub.channels.manage import create_channel, ensure_manual_channel
from hub.orders import intake
from hub.queue.jobs import enqueue
from hub.runtime.hub import Hub
from hub.store import migrate
from hub.store.config import Settings
from hub.store.db import Database
from hub.store.models import Order
from hub.testing import TEST_SECRET_KEY, order_data
from plugins.shipstation.sandbox import ShipStationSandbox
from plugins.shipstation.tests.conftest import (
    API_KEY,
    API_SECRET,
    WEBHOOK_TOKEN,
    run_all,
    serve,
    webhook_app,
)

RATE = 40  # requests a minute, ShipStation's limit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="labels per warehouse batch")
    args = parser.parse_args()
    from hub.pipeline import follow_up

    follow_up.SHIPPING_BATCH_SECONDS = 0.001  # no waiting for the batching slot
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'hub.db'}"
        db = Database(url)
        migrate.upgrade(db)
        db.dispose()
        hub = Hub(
            Settings.from_env(
                {},
                data_dir=Path(tmp),
                database_url=url,
                secret_key=TEST_SECRET_KEY,
                allow_private_targets=True,  # the sandbox listens on 127.0.0.1
            )
        )
        box = ShipStationSandbox(API_KEY, API_SECRET, rate_limit=10**9)
        with serve(box) as api, serve(webhook_app(hub)) as hub_url:
            box.base_url = api
            box.subscribe(f"{hub_url}/webhooks/shipstation?token={WEBHOOK_TOKEN}")
            with hub.db.transaction() as session:
                manual = ensure_manual_channel(hub, session)
                channel_id = create_channel(
                    hub,
                    session,
                    name="ShipStation",
                    connector="shipstation",
                    slug="shipstation",
                    config={
                        "api_key": API_KEY,
                        "api_secret": API_SECRET,
                        "webhook_token": WEBHOOK_TOKEN,
                        "api_base_url": api,
                    },
                ).id
                for n in range(args.orders):
                    intake.upsert_order(
                        session, manual, order_data(external_id=f"M{n}"), actor="measure"
                    )
            started = time.perf_counter()
            run_all(hub, rounds=1000)
            submitted = box.total_calls
            keys = sorted(box.orders)
            for i in range(0, len(keys), args.batch):
                if args.batch == 1:
                    box.create_label(keys[i])
                else:
                    box.create_labels(keys[i : i + args.batch])
            box.deliver_webhooks()
            run_all(hub, rounds=1000)
            by_webhook = box.total_calls - submitted
            with hub.db.transaction() as session:
                enqueue(session, "shipping.poll", {}, channel_id=channel_id)
            run_all(hub)
            by_poll = box.total_calls - submitted - by_webhook
            elapsed = time.perf_counter() - started
            with hub.db.read() as session:
                shipped = session.scalar(
                    select(func.count()).select_from(Order).where(Order.status == "shipped")
                )
        hub.close()
    total = box.total_calls
    print(f"{args.orders} orders, labels in batches of {args.batch}: {shipped} shipped")
    print(
        f"  submission: {submitted} requests {dict((k, v) for k, v in box.calls.items() if 'orders' in k)}"
    )
    print(f"  shipments by webhook: {by_webhook} requests; one poll: {by_poll} requests")
    print(
        f"  total {total} requests = {total / RATE:.1f} min of ShipStation's 40/min budget "
        f"(the first {RATE} go at once: {max(0, total - RATE) / RATE:.1f} min of waiting)"
    )
    print(f"  hub wall time here (no limit): {elapsed:.0f} s")


if __name__ == "__main__":
    main()
