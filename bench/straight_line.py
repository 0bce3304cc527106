"""Benchmark (h): the whole flow against the simplest correct program doing the same work.

The baseline (:func:`baseline`) is one process, one thread, no queue, no outbox,
no audit trail: it pulls the orders from the Shopify sandbox and stores them
with plain inserts, captures each payment at the Stripe sandbox, emails the
order confirmation and the invoice (its PDF drawn by the hub's own template
and WeasyPrint, as the hub's email attaches it), posts the CRM webhook, sends
the parcels to the ShipStation sandbox in batches (an order whose SKUs sit in
both warehouses is two parcels, as the hub routes it), reads the shipments
back until every parcel has its label, pushes each fulfilment to Shopify,
emails each shipment and posts the CRM's ``order.shipped``, and writes the ERP
export file. The sandboxes are :class:`hub.demo.sandboxes.Sandboxes`, exactly
as the hub's flow uses them, with the Shopify store taking every order: the
hub's side (:func:`hub_flow`) is :class:`hub.demo.scenario.Scenario` with
``woocommerce_share=0``, so both sides do the same outside work for the same
orders. :func:`compare` runs them in turn, each in its own process, and
answers the ratio of orders per second.

    python -m bench.straight_line --orders 200 [--database-url URL] [--hub]
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import resource
import smtplib
import sys
import tempfile
import time
from collections import Counter, defaultdict
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

from bench import common

SHOPIFY_API = "/admin/api/2025-07"
#: ShipStation takes up to 100 orders per ``createorders`` call.
SHIPSTATION_BATCH = 100
TABLES = ("sl_shipments", "sl_lines", "sl_orders")
SCHEMA = (
    """CREATE TABLE sl_orders (
        id BIGINT PRIMARY KEY, number TEXT NOT NULL, email TEXT, name TEXT,
        currency TEXT NOT NULL, total TEXT NOT NULL, intent TEXT, status TEXT NOT NULL,
        body TEXT NOT NULL)""",
    """CREATE TABLE sl_lines (
        id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL REFERENCES sl_orders (id),
        sku TEXT, name TEXT, quantity INTEGER NOT NULL, price TEXT NOT NULL)""",
    """CREATE TABLE sl_shipments (
        order_key TEXT PRIMARY KEY, order_id BIGINT NOT NULL REFERENCES sl_orders (id),
        tracking TEXT NOT NULL, carrier TEXT, fulfillment_id BIGINT)""",
)


def _warehouses(demand: Counter) -> dict[str, str]:
    """SKU -> warehouse, as :func:`hub.demo.scenario.stock_locations` stocks them."""
    return {sku: ("WEST" if n % 5 == 4 else "EAST") for n, sku in enumerate(sorted(demand))}


def _address(a: dict[str, Any] | None) -> dict[str, Any]:
    a = a or {}
    return {
        "name": a.get("name") or "",
        "street1": a.get("address1") or "",
        "street2": a.get("address2") or "",
        "city": a.get("city") or "",
        "state": a.get("province_code") or "",
        "postalCode": a.get("zip") or "",
        "country": a.get("country_code") or "",
    }


def _invoice_document(order: dict[str, Any], number: int, seller: dict[str, Any]) -> dict:
    """The invoice the hub's template draws, from the Shopify order as pulled."""
    lines, taxes = [], defaultdict(lambda: [0.0, 0.0])
    for item in order["line_items"]:
        tax = sum(float(t["price"]) for t in item.get("tax_lines") or [])
        rate = (item.get("tax_lines") or [{}])[0].get("rate")
        price = float(item["price"])
        lines.append(
            {
                "sku": item.get("sku") or "",
                "name": item.get("name") or item.get("title") or "",
                "quantity": item["quantity"],
                "unit_price": item["price"],
                "discount": item.get("total_discount") or "0.00",
                "tax_rate": f"{float(rate) * 100:g}%" if rate is not None else "",
                "tax": f"{tax:.2f}",
                "total": f"{price * item['quantity']:.2f}",
            }
        )
        if rate is not None:
            taxes[f"{float(rate) * 100:g}%"][0] += price * item["quantity"]
            taxes[f"{float(rate) * 100:g}%"][1] += tax
    total = order["total_price"]
    return {
        "kind": "invoice",
        "number": f"INV-{number:06d}",
        "issued_at": order.get("processed_at") or order.get("created_at"),
        "due_at": None,
        "currency": order["currency"],
        "status": "paid",
        "seller": seller,
        "buyer": {
            "name": (order.get("billing_address") or {}).get("name") or "",
            "email": order.get("email") or "",
            "phone": order.get("phone") or "",
            "billing_address": order.get("billing_address") or {},
            "shipping_address": order.get("shipping_address") or {},
        },
        "order": {"number": order["name"], "placed_at": order.get("created_at")},
        "lines": lines,
        "taxes": [
            {"rate": rate, "base": f"{base:.2f}", "amount": f"{tax:.2f}"}
            for rate, (base, tax) in sorted(taxes.items())
        ],
        "taxes_included": bool(order.get("taxes_included")),
        "subtotal": order.get("subtotal_price") or total,
        "discount": order.get("total_discounts") or "0.00",
        "shipping": (order.get("total_shipping_price_set") or {})
        .get("shop_money", {})
        .get("amount", "0.00"),
        "tax": order.get("total_tax") or "0.00",
        "total": total,
        "amount_paid": total,
        "amount_due": "0.00",
        "payment_terms": "Paid at checkout",
        "notes": "",
    }


class _Mail:
    """One SMTP connection for the whole run."""

    def __init__(self, port: int, sender: str):
        self.smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        self.sender = sender
        self.sent = 0

    def send(self, order: dict[str, Any], subject: str, body: str, pdf: tuple | None = None):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, order["email"], subject
        msg.set_content(body)
        msg.add_alternative(f"<p>{body}</p>", subtype="html")
        if pdf is not None:
            name, data = pdf
            msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
        self.smtp.send_message(msg)
        self.sent += 1

    def close(self) -> None:
        self.smtp.quit()


def baseline(n_orders: int, database_url: str | None = None, *, seed: int = 7) -> dict[str, Any]:
    """The straight-line program for ``n_orders`` orders; see the module docstring."""
    from hub.demo.sandboxes import Sandboxes
    from hub.demo.scenario import DEMO_SELLER
    from hub.invoicing.pdf import filename, render_pdf

    seller = {
        "legal_name": DEMO_SELLER["seller_legal_name"],
        "address_lines": DEMO_SELLER["seller_address"].split("|"),
        "tax_id": DEMO_SELLER["seller_tax_id"],
        "email": DEMO_SELLER["seller_email"],
    }
    with tempfile.TemporaryDirectory(prefix="hub-bench-straight-") as tmp:
        url = database_url or f"sqlite:///{tmp}/straight.db"
        engine = create_engine(url)
        with engine.begin() as conn:
            for table in TABLES:
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            for statement in SCHEMA:
                conn.execute(text(statement))
        with Sandboxes(n_orders, seed=seed, woocommerce_share=0.0) as sb:
            rest = n_orders - sb.placed
            sb.checkout(sb.shop.add_orders(rest))  # placed before the clock, no webhooks
            sb.placed += rest
            sb.shop_placed += rest
            warehouse = _warehouses(sb.demand())
            sb.shipstation.start_auto_ship(every=0.3)
            http = requests.Session()
            shop = {"X-Shopify-Access-Token": sb.shop.access_token}
            stripe = {"Authorization": f"Bearer {sb.stripe.secret_key}"}
            ss_auth = (sb.shipstation.api_key, sb.shipstation.api_secret)
            crm_secret = sb.webhook_secret.encode()

            def crm(event: str, order: dict[str, Any]) -> None:
                body = json.dumps({"event": event, "order": order["id"]}).encode()
                stamp = str(int(time.time()))
                mac = hmac.new(crm_secret, stamp.encode() + b"." + body, hashlib.sha256)
                http.post(
                    sb.receiver_url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Hub-Timestamp": stamp,
                        "X-Hub-Signature-256": "sha256=" + mac.hexdigest(),
                        "X-Hub-Event": event,
                        "X-Hub-Delivery": f"{event}:{order['id']}",
                    },
                    timeout=30,
                ).raise_for_status()

            phases: dict[str, float] = {}
            started, cpu = time.perf_counter(), time.process_time()
            # 1. Pull every order, a page at a time, each page in one transaction.
            orders: dict[int, dict[str, Any]] = {}
            page_url: str | None = f"{sb.shop_url}{SHOPIFY_API}/orders.json"
            params: dict[str, Any] | None = {"status": "any", "limit": 250}
            while page_url:
                got = http.get(page_url, params=params, headers=shop, timeout=30)
                got.raise_for_status()
                page = got.json()["orders"]
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            "INSERT INTO sl_orders (id, number, email, name, currency, total, "
                            "intent, status, body) VALUES (:id, :number, :email, :name, "
                            ":currency, :total, :intent, 'pending', :body)"
                        ),
                        [
                            {
                                "id": o["id"],
                                "number": o["name"],
                                "email": o.get("email"),
                                "name": (o.get("customer") or {}).get("first_name"),
                                "currency": o["currency"],
                                "total": o["total_price"],
                                "intent": sb.shop.intent_id(o["id"]),
                                "body": json.dumps(o),
                            }
                            for o in page
                        ],
                    )
                    conn.execute(
                        text(
                            "INSERT INTO sl_lines (id, order_id, sku, name, quantity, price) "
                            "VALUES (:id, :order_id, :sku, :name, :quantity, :price)"
                        ),
                        [
                            {
                                "id": li["id"],
                                "order_id": o["id"],
                                "sku": li.get("sku"),
                                "name": li.get("name"),
                                "quantity": li["quantity"],
                                "price": li["price"],
                            }
                            for o in page
                            for li in o["line_items"]
                        ],
                    )
                orders.update((o["id"], o) for o in page)
                page_url, params = got.links.get("next", {}).get("url"), None
            phases["pull"] = round(time.perf_counter() - started - sum(phases.values()), 2)
            # 2. Capture each payment, then confirm and invoice the order.
            mail = _Mail(sb.smtp.port, "orders@hub-demo.example")
            for number, order in enumerate(sorted(orders.values(), key=lambda o: o["id"]), 1):
                intent = sb.shop.intent_id(order["id"])
                http.post(
                    f"{sb.stripe_url}/v1/payment_intents/{intent}/capture",
                    headers={**stripe, "Idempotency-Key": f"capture:{order['id']}"},
                    timeout=30,
                ).raise_for_status()
                with engine.begin() as conn:
                    conn.execute(
                        text("UPDATE sl_orders SET status = 'paid' WHERE id = :id"),
                        {"id": order["id"]},
                    )
                mail.send(order, f"Order {order['name']} confirmed", "Thank you for your order.")
                crm("order.confirmed", order)
                document = _invoice_document(order, number, seller)
                mail.send(
                    order,
                    f"Your invoice {document['number']}",
                    "Your invoice is attached.",
                    (filename(document), render_pdf(document, processes=0)),
                )
            phases["capture_confirm_invoice"] = round(
                time.perf_counter() - started - sum(phases.values()), 2
            )
            # 3. Parcels (one per order and warehouse) to ShipStation in batches.
            parcels: dict[str, tuple[int, list[dict[str, Any]]]] = {}
            for order in orders.values():
                by_place = defaultdict(list)
                for li in order["line_items"]:
                    by_place[warehouse.get(li.get("sku") or "", "EAST")].append(li)
                for place, items in sorted(by_place.items()):
                    parcels[f"{order['id']}-{place}"] = (order["id"], items)
            keys = sorted(parcels)
            for i in range(0, len(keys), SHIPSTATION_BATCH):
                batch = [
                    {
                        "orderNumber": orders[parcels[k][0]]["name"],
                        "orderKey": k,
                        "orderDate": orders[parcels[k][0]]["created_at"],
                        "orderStatus": "awaiting_shipment",
                        "customerEmail": orders[parcels[k][0]].get("email"),
                        "billTo": _address(orders[parcels[k][0]].get("billing_address")),
                        "shipTo": _address(orders[parcels[k][0]].get("shipping_address")),
                        "items": [
                            {
                                "lineItemKey": str(li["id"]),
                                "sku": li.get("sku") or "",
                                "name": li.get("name") or "",
                                "quantity": li["quantity"],
                                "unitPrice": float(li["price"]),
                            }
                            for li in parcels[k][1]
                        ],
                    }
                    for k in keys[i : i + SHIPSTATION_BATCH]
                ]
                http.post(
                    f"{sb.shipstation_url}/orders/createorders",
                    json=batch,
                    auth=ss_auth,
                    timeout=60,
                ).raise_for_status()
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE sl_orders SET status = 'processing' WHERE status = 'paid'")
                )
            phases["shipstation_send"] = round(
                time.perf_counter() - started - sum(phases.values()), 2
            )
            # 4. Read the shipments back until every parcel has its label.
            labels: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + 300 + n_orders
            while len(labels) < len(parcels):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(labels)} of {len(parcels)} parcels shipped")
                page_no, pages = 1, 1
                while page_no <= pages:
                    got = http.get(
                        f"{sb.shipstation_url}/shipments",
                        params={"page": page_no, "pageSize": 500},
                        auth=ss_auth,
                        timeout=60,
                    )
                    got.raise_for_status()
                    answer = got.json()
                    for s in answer["shipments"]:
                        if not s.get("voided") and s["orderKey"] in parcels:
                            labels.setdefault(s["orderKey"], s)
                    pages, page_no = answer.get("pages") or 1, page_no + 1
                if len(labels) < len(parcels):
                    time.sleep(0.3)
            phases["shipments_wait"] = round(
                time.perf_counter() - started - sum(phases.values()), 2
            )
            # 5. Each shipment: recorded, pushed to Shopify, emailed, told to the CRM.
            shipped: Counter = Counter()
            parcels_of = Counter(order_id for order_id, _ in parcels.values())
            for key in keys:
                order_id, items = parcels[key]
                label = labels[key]
                fos = http.get(
                    f"{sb.shop_url}{SHOPIFY_API}/orders/{order_id}/fulfillment_orders.json",
                    headers=shop,
                    timeout=30,
                )
                fos.raise_for_status()
                ids = {li["id"] for li in items}
                groups = [
                    {
                        "fulfillment_order_id": fo["id"],
                        "fulfillment_order_line_items": [
                            {"id": li["id"], "quantity": li["fulfillable_quantity"]}
                            for li in fo["line_items"]
                            if li["line_item_id"] in ids and li["fulfillable_quantity"]
                        ],
                    }
                    for fo in fos.json()["fulfillment_orders"]
                ]
                pushed = http.post(
                    f"{sb.shop_url}{SHOPIFY_API}/fulfillments.json",
                    headers=shop,
                    json={
                        "fulfillment": {
                            "line_items_by_fulfillment_order": [
                                g for g in groups if g["fulfillment_order_line_items"]
                            ],
                            "tracking_info": {
                                "number": label["trackingNumber"],
                                "company": label.get("carrierCode") or "",
                            },
                            "notify_customer": False,
                        }
                    },
                    timeout=30,
                )
                pushed.raise_for_status()
                shipped[order_id] += 1
                done = shipped[order_id] == parcels_of[order_id]
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            "INSERT INTO sl_shipments (order_key, order_id, tracking, carrier, "
                            "fulfillment_id) VALUES (:key, :order_id, :tracking, :carrier, :fid)"
                        ),
                        {
                            "key": key,
                            "order_id": order_id,
                            "tracking": label["trackingNumber"],
                            "carrier": label.get("carrierCode"),
                            "fid": pushed.json()["fulfillment"]["id"],
                        },
                    )
                    conn.execute(
                        text("UPDATE sl_orders SET status = :status WHERE id = :id"),
                        {"id": order_id, "status": "shipped" if done else "partially_shipped"},
                    )
                order = orders[order_id]
                mail.send(
                    order,
                    f"Order {order['name']} {'shipped' if done else 'partly shipped'}",
                    f"Tracking number {label['trackingNumber']}.",
                )
                if done:
                    crm("order.shipped", order)
            mail.close()
            phases["fulfil_notify"] = round(time.perf_counter() - started - sum(phases.values()), 2)
            # 6. The ERP export: one file of every order and its lines.
            export = Path(tmp) / "orders.csv"
            with engine.connect() as conn, export.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["order", "number", "status", "sku", "quantity", "price"])
                writer.writerows(
                    conn.execute(
                        text(
                            "SELECT o.id, o.number, o.status, l.sku, l.quantity, l.price "
                            "FROM sl_orders o JOIN sl_lines l ON l.order_id = o.id ORDER BY o.id"
                        )
                    )
                )
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            phases["erp_export"] = round(elapsed - sum(phases.values()), 2)
            with engine.connect() as conn:
                stored = conn.execute(
                    text("SELECT count(*) FROM sl_orders WHERE status = 'shipped'")
                ).scalar_one()
            outside = _outside(sb.counts())
        with engine.begin() as conn:
            for table in TABLES:
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
    return {
        "orders": n_orders,
        "database": "postgresql" if database_url else "sqlite",
        "elapsed_s": round(elapsed, 2),
        "orders_per_s": round(n_orders / elapsed, 2),
        "cpu_ms_per_order": round(1000 * cpu / n_orders, 1),
        "shipped": stored,
        "parcels": len(parcels),
        "outside": outside,
        "sound": stored == n_orders and outside["fulfilments"] == len(parcels),
        "phases_s": phases,
    }


#: What the sandboxes counted that both sides must match (:meth:`Sandboxes.counts`).
OUTSIDE = ("captures", "labels", "fulfilments", "emails", "webhook_deliveries")


def _outside(counts: dict[str, Any]) -> dict[str, int]:
    return {k: counts[k] for k in OUTSIDE}


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its children that ended (the PDF drawing processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def hub_flow(n_orders: int, database_url: str | None = None) -> dict[str, Any]:
    """The hub's whole flow on the same sandboxes, the Shopify store taking every order."""
    from hub.demo.scenario import Scenario
    from hub.invoicing import drawing

    with tempfile.TemporaryDirectory(prefix="hub-bench-straight-hub-") as tmp:
        with Scenario(
            n_orders,
            data_dir=Path(tmp) / "data",
            database_url=database_url,
            timeout=600 + n_orders * 2.0,
            woocommerce_share=0.0,
        ) as scenario:
            cpu = _cpu_with_children()
            summary = scenario.run()
            # The PDF drawing processes end here, so their CPU is counted (RUSAGE_CHILDREN).
            drawing.shutdown()
            cpu = _cpu_with_children() - cpu
    return {
        "orders": n_orders,
        "database": "postgresql" if database_url else "sqlite",
        "elapsed_s": round(summary.elapsed, 2),
        "orders_per_s": round(summary.orders_per_second, 2),
        "cpu_ms_per_order": round(1000 * cpu / n_orders, 1),
        "shipped": summary.shipped,
        "dead_jobs": summary.dead_jobs,
        "jobs": summary.jobs,
        "outside": _outside(summary.outside),
        "sound": summary.shipped == n_orders and summary.dead_jobs == 0 and not summary.timed_out,
    }


def _in_process(which: str, n_orders: int, database_url: str | None) -> dict[str, Any]:
    """Run ``hub_flow`` or ``baseline`` in a fresh process (its own threads and memory)."""
    args = ["-m", "bench.straight_line", "--orders", str(n_orders), "--json"]
    if which == "hub":
        args.append("--hub")
    if database_url:
        args += ["--database-url", database_url]
    return common.json_from_python(args, f"straight_line {which} {n_orders}")


def compare(n_orders: int, database_url: str | None = None, *, rounds: int = 1) -> dict[str, Any]:
    """Hub and baseline in turn, ``rounds`` times each; medians and their ratio."""
    hub_runs, base_runs = [], []
    load = [common.load_average()]
    for _ in range(rounds):
        if database_url:
            common.reset_postgres(database_url)
        hub_runs.append(_in_process("hub", n_orders, database_url))
        base_runs.append(_in_process("baseline", n_orders, database_url))
        load.append(common.load_average())
    hub_rate = common.median([r["orders_per_s"] for r in hub_runs])
    base_rate = common.median([r["orders_per_s"] for r in base_runs])
    return {
        "orders": n_orders,
        "database": "postgresql" if database_url else "sqlite",
        "hub_orders_per_second": hub_rate,
        "baseline_orders_per_second": base_rate,
        "ratio": round(hub_rate / base_rate, 3) if base_rate else None,
        # CPU of each process per order (the sandboxes' share included on both sides): on a
        # loaded machine a multi-threaded process gets more of the CPU than a one-threaded one.
        "hub_cpu_ms_per_order": common.median([r["cpu_ms_per_order"] for r in hub_runs]),
        "baseline_cpu_ms_per_order": common.median([r["cpu_ms_per_order"] for r in base_runs]),
        "sound": all(r["sound"] for r in hub_runs + base_runs),
        "hub_runs": hub_runs,
        "baseline_runs": base_runs,
        "load_average": load,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.straight_line", description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--hub", action="store_true", help="run the hub's flow instead")
    parser.add_argument("--compare", action="store_true", help="both, side by side")
    parser.add_argument("--json", action="store_true", help="one line of JSON")
    args = parser.parse_args(argv)
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    if args.compare:
        out = compare(args.orders, args.database_url)
    elif args.hub:
        out = hub_flow(args.orders, args.database_url)
    else:
        out = baseline(args.orders, args.database_url)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
