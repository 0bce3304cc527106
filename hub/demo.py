"""``hub demo``: run orders through the flow on an embedded SQLite and show the result.

It works on a fresh data dir (a temporary one unless ``--data-dir`` is given),
prints a summary table, then serves the admin UI until Ctrl-C (``--exit`` stops
after the summary).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select

from . import actions, migrate
from .accounts import set_admin
from .channels import ensure_manual_channel
from .config import Settings
from .core.order import Address, Customer, Line, OrderData
from .jobs import Worker
from .models import Job, Order
from .runtime import Hub
from .serialize import money

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "demo-password"
SKUS = [("TSHIRT-M", "T-shirt M", 1999), ("MUG", "Mug", 1250), ("CAP", "Cap", 1500), ("SOCKS", "Socks", 799)]


def _order(i: int, rng: random.Random) -> OrderData:
    lines = [Line(sku=sku, name=name, quantity=rng.randint(1, 3), unit_price=price)
             for sku, name, price in rng.sample(SKUS, rng.randint(1, 3))]
    return OrderData(
        external_id=f"DEMO-{i:05d}", number=f"D{1000 + i}", currency="USD",
        customer=Customer(email=f"customer{i}@example.com", name=f"Customer {i}"),
        shipping_address=Address(name=f"Customer {i}", address1=f"{i} Main St", city="Springfield",
                                 zip="12345", country_code="US"),
        lines=lines, shipping=500,
    )


def run_demo(*, n_orders: int, data_dir: Path | None, exit_after: bool, port: int) -> dict:
    console = Console()
    data_dir = Path(data_dir or tempfile.mkdtemp(prefix="hub-demo-"))
    hub = Hub(Settings.from_env({}, data_dir=data_dir))
    migrate.upgrade(hub.db)
    with hub.db.transaction() as session:
        ensure_manual_channel(hub, session)
        set_admin(session, ADMIN_EMAIL, ADMIN_PASSWORD)
    rng = random.Random(42)
    worker = Worker(hub, worker_id="demo")
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("capture → confirm → ship", total=n_orders * 2)
        ids = []
        for i in range(n_orders):
            with hub.db.transaction() as session:
                channel = ensure_manual_channel(hub, session)
                ids.append(actions.upsert_order(session, channel, _order(i, rng), actor="demo").order.id)
            progress.advance(task)
        worker.run_until_idle()
        for order_id in ids:
            with hub.db.transaction() as session:
                order = actions.get_order(session, order_id)
                if order.status == "confirmed":
                    actions.transition(session, order_id, "start_fulfillment", actor="demo")
                    actions.transition(session, order_id, "ship", actor="demo")
            progress.advance(task)
        worker.run_until_idle()
    elapsed = time.perf_counter() - started
    summary = _summary(hub, elapsed)
    _print(console, summary, data_dir)
    if not exit_after:
        _serve(hub, console, port)
    hub.close()
    return summary


def _summary(hub: Hub, elapsed: float) -> dict:
    with hub.db.read() as session:
        by_status = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
        total = session.scalar(select(func.coalesce(func.sum(Order.total), 0)))
        dead = session.scalar(select(func.count()).select_from(Job).where(Job.status == "dead"))
        jobs = session.scalar(select(func.count()).select_from(Job))
    n = sum(by_status.values())
    return {"orders": n, "by_status": by_status, "order_value": money(total, "USD"), "jobs": jobs,
            "dead_jobs": dead, "elapsed": elapsed, "orders_per_second": n / elapsed if elapsed else 0.0}


def _print(console: Console, s: dict, data_dir: Path) -> None:
    table = Table(title="hub demo")
    table.add_column("what")
    table.add_column("value", justify="right")
    for status, count in sorted(s["by_status"].items()):
        table.add_row(f"orders {status}", str(count))
    table.add_row("order value", f"{s['order_value']} USD")
    table.add_row("jobs run", str(s["jobs"]))
    table.add_row("dead jobs", str(s["dead_jobs"]))
    table.add_row("elapsed", f"{s['elapsed']:.2f} s")
    table.add_row("orders/s", f"{s['orders_per_second']:.1f}")
    console.print(table)
    console.print(f"data dir: {data_dir}")


def _serve(hub: Hub, console: Console, port: int) -> None:
    from waitress import create_server

    from .web import create_app

    server = create_server(create_app({"HUB": hub}), host="127.0.0.1", port=port, threads=4, ident="hub")
    console.print(f"admin UI: http://127.0.0.1:{server.effective_port}/  "
                  f"(login {ADMIN_EMAIL} / {ADMIN_PASSWORD}); Ctrl-C to stop")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
