"""`hub demo`: the whole flow against the sandboxes, judged on the summary it prints.

Two sales channels feed one flow: the Shopify store and, one order in four, the
WooCommerce store; each shipment goes back to the store its order came from.
"""

import re

import pytest
from sqlalchemy import text

from hub.store.db import Database
from hub.testing import hub_cmd, truncate_all

ORDERS = 12
WOO_ORDERS = ORDERS // 4  # the WooCommerce store's share


def _rows(out: str) -> dict[str, str]:
    return {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("│") for line in out.splitlines())
        if len(cells) == 4
    }


def test_demo_ships_every_order_once_with_no_dead_jobs(tmp_path):
    proc = hub_cmd(
        "demo",
        "--orders",
        str(ORDERS),
        "--exit",
        "--data-dir",
        str(tmp_path / "demo"),
        data_dir=tmp_path,
        COLUMNS="120",
    )
    out = proc.stdout
    rows = _rows(out)
    assert rows["orders shipped"] == str(ORDERS), out
    assert rows["dead jobs"] == "0", out
    assert not any(
        name.startswith("orders ")
        and name != "orders shipped"
        and not name.startswith(("orders split", "orders from "))
        for name in rows
    ), out
    # Both sales channels, into one flow.
    assert rows["orders from Shopify store"] == str(ORDERS - WOO_ORDERS), out
    assert rows["orders from WooCommerce store"] == str(WOO_ORDERS), out
    # Counted at the sandboxes: one capture per order (whichever store took it), and
    # each label told to the store its order came from: a Shopify fulfilment or a
    # WooCommerce note, every WooCommerce order completed.
    assert rows["captures at Stripe"] == str(ORDERS), out
    labels = int(rows["labels bought at ShipStation"])
    assert labels >= ORDERS, out
    notes, completed = map(
        int,
        re.fullmatch(
            r"(\d+) notes, (\d+) completed", rows["fulfilments pushed to WooCommerce"]
        ).groups(),
    )
    assert completed == WOO_ORDERS and notes >= WOO_ORDERS, out
    assert int(rows["fulfilments pushed to Shopify"]) + notes == labels, out
    # The Shopify store's orders are cash sales: each invoiced once, paid, when captured.
    # (A return refunded later, after delivery, adds a credit note in its own series.)
    invoices = [i for i in _invoices(tmp_path / "demo" / "hub.db") if i[0] == "invoice"]
    assert [(kind, status) for kind, status, _ in invoices] == [("invoice", "paid")] * (
        ORDERS - WOO_ORDERS
    ), invoices
    assert [int(number[-6:]) for _, _, number in invoices] == list(range(1, len(invoices) + 1))
    # Every email once: as many messages as distinct Message-IDs; each order was
    # confirmed and shipped (a split order also heard it partly shipped), and each
    # invoice went to its customer.
    emails, ids = map(
        int, re.fullmatch(r"(\d+) \((\d+) Message-IDs\)", rows["emails sent (SMTP)"]).groups()
    )
    assert emails == ids and emails == 2 * ORDERS + (labels - ORDERS) + len(invoices), out
    assert rows["webhook deliveries (CRM)"] == str(2 * ORDERS), out  # confirmed + shipped
    assert rows["ERP export"].endswith(f", {ORDERS} orders"), out
    # Two warehouses on two continents (Berlin, Chicago) both ship; every address is
    # placed by its postal code or town (the demo's stores send real ones).
    assert int(rows["shipments from EAST"]) > 0 and int(rows["shipments from WEST"]) > 0, out
    placed = {k: int(v) for k, v in rows.items() if k.startswith("addresses ")}
    assert set(placed) <= {"addresses placed by postal code", "addresses placed by city"}, out
    assert sum(placed.values()) == ORDERS, out
    assert float(rows["orders/s"]) > 0
    # Every order has its customer, and some customers came back (the shop's returning buyers).
    unlinked, most = _customers(tmp_path / "demo" / "hub.db")
    assert unlinked == 0 and most >= 2, (unlinked, most)
    # A year of history forecast, suggestions, and one purchase order cycle whose
    # receipt released the order that waited for it (hub.demo.replenishment).
    assert int(rows["forecasts made"]) > 0 and int(rows["replenishment suggestions"]) > 0, out
    assert _cycle(tmp_path / "demo" / "hub.db") == ("received", "released"), out
    # After delivery (hub.demo.aftercare): one satisfaction email per order, one review
    # request per "yes", every fifth customer's case resolved by a replacement.
    # The carriers delivered every order first, by AfterShip's signed webhooks (hub.demo.carrier).
    assert rows["delivered by the carrier (AfterShip)"].startswith(f"{ORDERS} orders ("), out
    assert rows["delivered (then asked)"] == str(ORDERS), out
    assert rows["satisfaction checks"] == f"{ORDERS} sent ({ORDERS} emails)", out
    requests, yes, review_emails = re.fullmatch(
        r"(\d+) after (\d+) yes \((\d+) emails\)", rows["review requests"]
    ).groups()
    assert requests == yes == review_emails == str(ORDERS - ORDERS // 5), out
    assert rows["cases"] == f"{ORDERS // 5} ({ORDERS // 5} resolved by a replacement)", out
    # The backordered order's customer, and the customer of an order held out of stock
    # (its SKU on no purchase order, no backorder allowed), heard of the wait once each.
    assert rows["delay notices"] == "2 (#B1 backordered, #B2 out of stock; 2 emails)", out
    # Every fourth happy customer (no case) asked for a return on the tracking page: each
    # approved (by the channel's rule, or a person above its maximum), received; the
    # refunds went through Stripe, the first one an exchange when a variant was in stock.
    happy = ORDERS - ORDERS // 5
    asked = -(-happy // 4)
    requested, by_rule, by_person, refunded = map(
        int,
        re.fullmatch(
            r"(\d+) requested, (\d+) approved by rule \((\d+) by a person\), (\d+) refunded",
            rows["self-service returns"],
        ).groups(),
    )
    exchanges = int(rows["exchanges"])
    assert requested == asked and by_rule + by_person == asked, out
    # The rule approved exactly those up to its maximum (1000.00, 1000 yen); the desk the rest.
    approvals = _approvals(tmp_path / "demo" / "hub.db")
    assert len(approvals) == asked, approvals
    for actor, currency, amount in approvals:
        most = 1000 * (1 if currency == "JPY" else 100)
        assert actor == ("rule:returns" if amount <= most else "demo desk"), approvals
    assert exchanges in (0, 1) and refunded == asked - exchanges, out
    received, at_stripe = map(
        int, re.match(r"(\d+) \((\d+) refunds at Stripe", rows["returns received"]).groups()
    )
    assert received == asked and at_stripe == refunded, out
    # Every email once: an approval per return, a refund email per refund.
    assert rows["return emails"] == f"{asked} approvals, {refunded} refunds", out
    # The whole run's emails, the arc's included, each once: the flow's, the delay email,
    # a satisfaction check per order, a review request per "yes", the returns' emails.
    # (The cases' replacements, the backordered order and the refunds add order emails
    # of their own; the count is all the SMTP server saw, each with its own Message-ID.)
    in_all, in_all_ids = map(
        int,
        re.fullmatch(
            r"(\d+) \((\d+) Message-IDs, 0 twice\)", rows["emails in all (SMTP)"]
        ).groups(),
    )
    assert in_all == in_all_ids, out
    assert in_all >= emails + 2 + ORDERS + happy + asked + refunded, out


def _cycle(path) -> tuple[str, str]:
    """(the purchase order's status, its backorder's status) in the demo's hub."""
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            po = session.execute(text("SELECT status FROM purchase_orders")).scalar_one()
            backorder = session.execute(
                text("SELECT group_concat(DISTINCT status) FROM backorders")
            ).scalar_one()
            return po, backorder
    finally:
        db.dispose()


def _approvals(path) -> list[tuple[str, str, int]]:
    """(who approved, currency, refund with shipping) of each return customers asked for."""
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            return [
                tuple(row)
                for row in session.execute(
                    text(
                        "SELECT e.actor, r.currency, r.refund_amount + r.shipping_refund"
                        " FROM returns r JOIN order_events e ON e.order_id = r.order_id"
                        " AND e.name = 'order.return_approved'"
                        " WHERE r.created_by = 'customer' ORDER BY r.id"
                    )
                )
            ]
    finally:
        db.dispose()


def _invoices(path) -> list[tuple[str, str, str]]:
    """(kind, status, number) of the invoices the demo's hub issued, in number order."""
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            return [
                tuple(row)
                for row in session.execute(
                    text("SELECT kind, status, number FROM invoices ORDER BY number")
                )
            ]
    finally:
        db.dispose()


def _customers(path) -> tuple[int, int]:
    """(orders without a customer, the most orders one customer has) in the demo's hub."""
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            unlinked = session.execute(
                text("SELECT count(*) FROM orders WHERE customer_id IS NULL")
            ).scalar_one()
            most = session.execute(
                text("SELECT max(n) FROM (SELECT count(*) AS n FROM orders GROUP BY customer_id)")
            ).scalar_one()
            return unlinked, most
    finally:
        db.dispose()


def test_demo_refuses_a_data_dir_that_holds_a_hub(tmp_path):
    hub_cmd("init", data_dir=tmp_path)
    proc = hub_cmd(
        "demo",
        "--orders",
        "1",
        "--exit",
        "--data-dir",
        str(tmp_path),
        data_dir=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert "holds a hub already" in proc.stderr


@pytest.mark.postgres
def test_demo_runs_on_postgresql_when_asked(tmp_path, pg_url):
    try:
        out = hub_cmd(
            "demo",
            "--orders",
            "4",
            "--exit",
            "--data-dir",
            str(tmp_path / "demo"),
            "--database-url",
            pg_url,
            data_dir=tmp_path,
            COLUMNS="120",
        ).stdout
    finally:
        db = Database(pg_url)
        truncate_all(db)  # leave the shared test database empty
        db.dispose()
    rows = _rows(out)
    assert (rows["orders shipped"], rows["dead jobs"], rows["captures at Stripe"]) == (
        "4",
        "0",
        "4",
    ), out
