"""``hub demo``: the whole flow on sandboxes, with a progress bar, a summary, then the admin UI.

It runs :class:`hub.demo.scenario.Scenario` on an embedded SQLite in a fresh data dir
(a temporary one unless ``--data-dir`` is given): two sales channels (a Shopify
store, and a WooCommerce store taking one order in four), Stripe, ShipStation, an
SMTP server and a CRM's webhook endpoint on loopback, and the hub serving its web
app, running a worker and a scheduler. The summary counts the orders of each sales
channel and what happened where it happened: captures at Stripe, labels at
ShipStation, fulfilments at Shopify and notes at WooCommerce, emails at the SMTP
server, deliveries at the CRM. Then
the admin UI is served (its URL and login printed) until Ctrl-C; ``--exit``
stops after the summary. The exit status is 1 when an order did not ship or a
job died.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.demo.scenario import ADMIN_EMAIL, ADMIN_PASSWORD, Scenario, Summary

#: The progress bar's rows: (label, how to read its count from the scenario's progress).
STAGES = (
    ("orders in the hub", lambda s: s["orders"]),
    ("payments captured", lambda s: s["captured"]),
    ("orders shipped", lambda s: s["by_status"].get("shipped", 0)),
)


def run_demo(
    *,
    n_orders: int,
    data_dir: Path | None,
    exit_after: bool,
    port: int,
    database_url: str | None = None,
    console: Console | None = None,
) -> Summary:
    console = console or Console()
    console.print(
        f"[bold]hub demo[/bold]: {n_orders} orders from two sales channels (Shopify and "
        f"WooCommerce sandboxes) through capture (Stripe), shipping (ShipStation), "
        f"fulfilment back to each store, emails, webhooks and the ERP export"
    )
    with (
        _logs_through(console),
        Scenario(
            n_orders,
            data_dir=data_dir,
            port=port,
            database_url=database_url,
            replenishment=True,
            aftercare=True,
        ) as scenario,
    ):
        hub, server = scenario.hub, scenario.server
        assert hub is not None and server is not None, "entering the scenario starts them"
        console.print(
            f"data dir: {scenario.data_dir}"
            + (
                f" (database: {hub.db.engine.url.render_as_string(hide_password=True)})"
                if database_url
                else ""
            )
        )
        with Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            tasks = [bar.add_task(label, total=n_orders) for label, _ in STAGES]
            pushed = bar.add_task("fulfilments pushed", total=None)

            def on_progress(state: dict) -> None:
                for task, (_, count) in zip(tasks, STAGES, strict=True):
                    bar.update(task, completed=count(state))
                bar.update(pushed, completed=state["pushed"], total=max(state["shipments"], 1))

            scenario.on_progress = on_progress
            summary = scenario.run()
        print_summary(console, summary)
        if not exit_after:
            server.start_work()  # retries from the UI run; the schedule goes on
            console.print(
                f"\nadmin UI: [bold]{server.url}/[/bold]  login [bold]{ADMIN_EMAIL}[/bold] "
                f"/ [bold]{ADMIN_PASSWORD}[/bold]   (Ctrl-C to stop)"
            )
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                console.print("stopping")
    return summary


@contextmanager
def _logs_through(console: Console) -> Iterator[None]:
    """Log lines (a retried job's warning) print above the progress bar, not through it."""
    root = logging.getLogger()
    before = root.handlers[:]
    root.handlers = [RichHandler(console=console, show_path=False, show_time=False)]
    try:
        yield
    finally:
        root.handlers = before


def succeeded(summary: Summary) -> bool:
    return (
        not summary.timed_out
        and summary.dead_jobs == 0
        and summary.open_orders == 0
        and summary.shipped == summary.orders
    )


def print_summary(console: Console, s: Summary) -> None:
    outside = s.outside
    table = Table(title=f"hub demo: {s.orders} orders")
    table.add_column("what")
    table.add_column("value", justify="right")
    for channel, count in sorted(s.by_channel.items()):
        table.add_row(f"orders from {channel}", str(count))
    for status, count in sorted(s.by_status.items()):
        table.add_row(f"orders {status}", str(count))
    table.add_row("orders split across locations", str(s.split_orders))
    for code, count in sorted(s.shipments_by_location.items()):
        table.add_row(f"shipments from {code}", str(count))
    for precision in ("exact", "postal_code", "city", "country"):
        if s.placed.get(precision):
            words = precision.replace("_", " ")
            table.add_row(f"addresses placed by {words}", str(s.placed[precision]))
    if s.placed.get("not placed"):
        table.add_row("addresses not placed", str(s.placed["not placed"]))
    for currency, amount in s.captured.items():
        table.add_row(f"captured in {currency}", amount)
    table.add_row("captures at Stripe", str(outside["captures"]))
    table.add_row("labels bought at ShipStation", str(outside["labels"]))
    table.add_row("fulfilments pushed to Shopify", str(outside["fulfilments"]))
    if outside["woo_notes"] or "orders from WooCommerce store" in s.by_channel:
        table.add_row(
            "fulfilments pushed to WooCommerce",
            f"{outside['woo_notes']} notes, {outside['woo_completed']} completed",
        )
    table.add_row(
        "emails sent (SMTP)", f"{outside['emails']} ({outside['email_message_ids']} Message-IDs)"
    )
    table.add_row("webhook deliveries (CRM)", str(outside["webhook_deliveries"]))
    table.add_row("ERP export", f"{s.erp_files} file(s), {s.erp_orders} orders")
    if s.replenishment:
        r = s.replenishment
        table.add_row(
            "sales history seeded", f"{r['history_orders']} days, {r['history_lines']} lines"
        )
        table.add_row("forecasts made", str(r["forecasts"]))
        table.add_row("replenishment suggestions", str(r["suggestions"]))
        table.add_row("purchase order cycle", " -> ".join(r["steps"]))
        table.add_row(
            "delay notices",
            f"{r['delay_notices']} ({', '.join(r['delays'])}; {r.get('delay_emails', 0)} emails)",
        )
        table.add_row("replenishment took", f"{r['seconds']:.1f} s")
    if s.carrier:
        c = s.carrier
        table.add_row(
            "delivered by the carrier (AfterShip)",
            f"{c['delivered']} orders ({c['registered']} shipments followed,"
            f" {c['webhooks']} signed webhooks, {c['seconds']:.1f} s)",
        )
    if s.aftercare:
        a = s.aftercare
        table.add_row("delivered (then asked)", str(a["delivered"]))
        table.add_row(
            "satisfaction checks", f"{a['checks_sent']} sent ({a['satisfaction_emails']} emails)"
        )
        table.add_row(
            "review requests",
            f"{a['review_requests']} after {a['answered_yes']} yes ({a['review_emails']} emails)",
        )
        table.add_row("cases", f"{a['cases']} ({a['replacements']} resolved by a replacement)")
    if s.returns:
        x = s.returns
        table.add_row(
            "self-service returns",
            f"{x['requested']} requested, {x['approved_by_rule']} approved by rule"
            f" ({x['approved_by_a_person']} by a person), {x['refunded']} refunded",
        )
        table.add_row(
            "returns received",
            f"{x['received']} ({x['stripe_refunds']} refunds at Stripe, {x['seconds']:.1f} s)",
        )
        table.add_row("exchanges", str(x["exchanges"]))
        table.add_row(
            "return emails", f"{x['approval_emails']} approvals, {x['refund_emails']} refunds"
        )
    if s.emails_in_all:
        e = s.emails_in_all
        table.add_row(
            "emails in all (SMTP)",
            f"{e['emails']} ({e['message_ids']} Message-IDs, {e['duplicates']} twice)",
        )
    table.add_row("jobs run", str(s.jobs))
    table.add_row("dead jobs", str(s.dead_jobs))
    table.add_row("elapsed", f"{s.elapsed:.1f} s")
    table.add_row("orders/s", f"{s.orders_per_second:.1f}")
    console.print(table)
    if s.timed_out:
        console.print("[red]the flow did not finish in time[/red]")
    if not succeeded(s):
        console.print(
            f"[red]not every order shipped ({s.shipped} of {s.orders}) or jobs died "
            f"({s.dead_jobs}): see the admin UI's jobs page[/red]"
        )
