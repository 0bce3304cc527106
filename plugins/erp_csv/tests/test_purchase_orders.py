"""Purchase orders through the ERP folder: a sent PO written once as a file; receipts files booked.

A supplier without an email address (or a PO drafted with ``send_via`` ``erp``)
gets its purchase orders as CSV files in the ERP channel's export folder. The
ERP books deliveries by dropping a receipts file in the import folder: all its
rows become receipts, as the API's, or none of them.
"""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from hub.core.exceptions import ValidationError
from hub.inventory.levels import upsert_location
from hub.purchasing import orders, suppliers
from hub.queue.jobs import Worker, retry
from hub.store.models import (
    ErpExportedPurchaseOrder,
    ErpImport,
    Job,
    PurchaseOrder,
    PurchaseReceipt,
    StockLevel,
)
from plugins.erp_csv.tests.conftest import make_erp

SELLER = dict(seller_legal_name="Fjord Outfitters GmbH", seller_address="Hafenstraße 12|Hamburg")


@pytest.fixture
def erp(make_hub, tmp_path):
    return make_erp(make_hub(**SELLER), tmp_path)


@pytest.fixture
def any_erp(fresh_hubs, tmp_path):
    """On SQLite and on PostgreSQL (row locks, the ledger's unique key)."""
    return make_erp(fresh_hubs(**SELLER), tmp_path)


def supplier(hub, email: str = "") -> int:
    with hub.db.transaction() as db:
        upsert_location(db, "WH1", name="Main warehouse")
        made = suppliers.create_supplier(
            db, {"name": "Nordic Yarn", "email": email, "currency": "EUR", "lead_time_days": 5}
        )
        suppliers.set_supplier_sku(db, made.id, "TEE-M", cost_price=450, supplier_sku="NY-1")
        suppliers.set_supplier_sku(db, made.id, "TEE-L", cost_price=510)
        return made.id


def sent_po(hub, supplier_id: int, **draft) -> tuple[int, str]:
    with hub.db.transaction() as db:
        location_id = upsert_location(db, "WH1", name="Main warehouse").id
        po = orders.create_draft(
            db,
            supplier_id=supplier_id,
            location_id=location_id,
            lines=[orders.DraftLine("TEE-M", 10), orders.DraftLine("TEE-L", 4)],
            actor="test",
            **draft,
        )
        orders.send(db, po.id, actor="test", connectors=hub.connectors)
        return po.id, po.number


def run_jobs(hub) -> None:
    Worker(hub, worker_id="erp-po-test").run_until_idle()


def po_files(erp) -> list[str]:
    return sorted(p.name for p in erp.export_dir.iterdir() if p.name.startswith("purchase-orders-"))


def on_hand(hub, sku: str) -> int:
    with hub.db.read() as db:
        return int(
            db.scalar(
                select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.sku == sku)
            )
        )


def test_a_po_sent_by_erp_is_written_once_as_a_csv_file_in_the_export_folder(any_erp):
    hub = any_erp.hub
    po_id, number = sent_po(hub, supplier(hub))  # no email address: by ERP

    run_jobs(hub)
    [name] = po_files(any_erp)
    with open(any_erp.export_dir / name, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [
        (r["po_number"], r["sku"], r["supplier_sku"], r["quantity"], r["unit_cost"]) for r in rows
    ] == [
        (number, "TEE-M", "NY-1", "10", "4.50"),
        (number, "TEE-L", "", "4", "5.10"),
    ]
    assert {r["ship_to"] for r in rows} == {"WH1"} and rows[0]["expected_at"]
    assert not [p for p in any_erp.export_dir.iterdir() if p.name.startswith(".")]

    # Once: a person's retry of the job writes nothing more.
    with hub.db.transaction() as db:
        job = db.scalars(select(Job).where(Job.kind == "purchase_order.erp")).one()
        assert (job.status, job.channel_id) == ("succeeded", any_erp.channel_id)
        assert db.scalar(select(func.count()).select_from(ErpExportedPurchaseOrder)) == 1
        job.status = "dead"
        retry(db, job.id)
    run_jobs(hub)
    assert po_files(any_erp) == [name]
    # The ERP's order export does not write the PO again either.
    assert any_erp.run("erp.export") == "succeeded"
    assert po_files(any_erp) == [name]


def test_a_po_drafted_for_erp_cannot_be_sent_without_an_erp_channel(make_hub):
    hub = make_hub(**SELLER)
    supplier_id = supplier(hub, email="orders@nordic.example")
    with hub.db.transaction() as db:
        location_id = upsert_location(db, "WH1").id
        po_id = orders.create_draft(
            db,
            supplier_id=supplier_id,
            location_id=location_id,
            lines=[orders.DraftLine("TEE-M", 1)],
            actor="test",
            send_via="erp",
        ).id
    with pytest.raises(ValidationError, match="no enabled ERP channel"):
        with hub.db.transaction() as db:
            orders.send(db, po_id, actor="test", connectors=hub.connectors)
    with hub.db.read() as db:
        assert db.get(PurchaseOrder, po_id).status == "draft"
        assert db.scalars(select(Job).where(Job.kind == "purchase_order.erp")).all() == []


def test_a_receipts_file_books_partial_receipts_once_even_when_dropped_twice(any_erp):
    hub = any_erp.hub
    po_id, number = sent_po(hub, supplier(hub, email="orders@nordic.example"), send_via="erp")
    content = f"po_number;sku;quantity;location\r\n{number};TEE-M;6;WH1\r\n{number};TEE-L;4;\r\n"
    any_erp.drop("receipts-0001.csv", content)

    assert any_erp.run("erp.import") == "succeeded"
    with hub.db.read() as db:
        po = db.get(PurchaseOrder, po_id)
        assert po.status == "partially_received"
        assert {line.sku: line.received_quantity for line in po.lines} == {"TEE-M": 6, "TEE-L": 4}
        [receipt] = db.scalars(select(PurchaseReceipt)).all()
        assert receipt.source == "receipts-0001.csv"
        assert receipt.received_by == "channel:erp"
    assert (on_hand(hub, "TEE-M"), on_hand(hub, "TEE-L")) == (6, 4)
    assert (any_erp.import_dir / "archive" / "receipts-0001.csv").exists()

    # The same file again (another name, same content): a duplicate, nothing booked twice.
    any_erp.drop("receipts-0001-again.csv", content)
    assert any_erp.run("erp.import") == "succeeded"
    with hub.db.read() as db:
        assert db.scalar(select(func.count()).select_from(PurchaseReceipt)) == 1
        statuses = db.scalars(select(ErpImport.status).order_by(ErpImport.id)).all()
    assert statuses == ["succeeded", "duplicate"]
    assert (on_hand(hub, "TEE-M"), on_hand(hub, "TEE-L")) == (6, 4)

    # The rest arrives: the PO is received.
    any_erp.drop("receipts-0002.csv", f"po_number,sku,quantity\n{number},TEE-M,4\n")
    assert any_erp.run("erp.import") == "succeeded"
    with hub.db.read() as db:
        assert db.get(PurchaseOrder, po_id).status == "received"
    assert on_hand(hub, "TEE-M") == 10


def test_a_receipts_file_with_bad_rows_books_nothing_and_names_each_bad_row(erp):
    hub = erp.hub
    po_id, number = sent_po(hub, supplier(hub))
    erp.drop(
        "receipts-bad.csv",
        "PO_Number,SKU,Quantity,Location\n"
        f"{number},TEE-M,5,WH1\n"  # fine on its own
        f"{number},TEE-L,3,WH1\n"
        f"{number},TEE-L,2,WH1\n"  # 5 of TEE-L in the file, only 4 open
        "PO-1999-000001,TEE-M,1,WH1\n"
        f"{number},SOCK-1,1,WH1\n"
        f"{number},TEE-M,two,WH1\n"
        f"{number},TEE-M,1,NOWHERE\n",
    )
    assert erp.run("erp.import") == "succeeded"

    with hub.db.read() as db:
        po = db.get(PurchaseOrder, po_id)
        assert po.status == "sent"
        assert {line.received_quantity for line in po.lines} == {0}
        assert db.scalars(select(PurchaseReceipt)).all() == []
        row = db.scalars(select(ErpImport)).one()
    assert (on_hand(hub, "TEE-M"), on_hand(hub, "TEE-L")) == (0, 0)
    assert row.status == "failed"
    assert row.error.startswith("6 of 7 rows refused, nothing booked: line 3: 5 of TEE-L")
    assert row.rows_rejected == 6
    note = (erp.import_dir / "failed" / "receipts-bad.csv.error.txt").read_text()
    assert "line 3: 5 of TEE-L received on" in note and "only 4 of 4 still open" in note
    assert "line 4: 5 of TEE-L" in note
    assert "line 5: no purchase order PO-1999-000001" in note
    assert f"line 6: SOCK-1 is not on purchase order {number}" in note
    assert "line 7: quantity 'two' is not a whole number of 1 or more" in note
    assert "line 8: unknown location 'NOWHERE'" in note
    assert "line 2" not in note
    assert (erp.import_dir / "failed" / "receipts-bad.csv").exists()


def test_a_receipts_file_for_a_draft_po_is_refused(erp):
    hub = erp.hub
    supplier_id = supplier(hub)
    with hub.db.transaction() as db:
        location_id = upsert_location(db, "WH1").id
        number = orders.create_draft(
            db,
            supplier_id=supplier_id,
            location_id=location_id,
            lines=[orders.DraftLine("TEE-M", 3)],
            actor="test",
        ).number
    erp.drop("receipts-draft.csv", f"po_number,sku,quantity\n{number},TEE-M,3\n")
    assert erp.run("erp.import") == "succeeded"
    with hub.db.read() as db:
        row = db.scalars(select(ErpImport)).one()
    assert row.status == "failed"
    assert f"purchase order {number} is draft: it takes no receipt" in row.error
    assert on_hand(hub, "TEE-M") == 0


def test_a_stock_file_is_still_a_stock_file(erp):
    erp.drop("stock.csv", "sku,location,on_hand\nTEE-M,WH1,7\n")
    assert erp.run("erp.import") == "succeeded"
    assert on_hand(erp.hub, "TEE-M") == 7


def test_the_api_drafts_a_po_for_the_erp_and_sends_it_there(erp):
    from hub.accounts.users import create_token
    from hub.testing import ApiClient
    from hub.web import create_app

    hub = erp.hub
    supplier_id = supplier(hub, email="orders@nordic.example")
    with hub.db.transaction() as db:
        token = create_token(db, "erp-test", scope="admin")[1]
    api = ApiClient(create_app({"HUB": hub, "TESTING": True}).test_client(), token)
    body = {
        "supplier_id": supplier_id,
        "location": "WH1",
        "lines": [{"sku": "TEE-M", "quantity": 3}],
    }

    refused = api.post("/api/v1/purchase-orders", json={**body, "send_via": "fax"})
    assert refused.status_code == 422 and "send_via" in refused.get_json()["error"]["details"]

    made = api.post("/api/v1/purchase-orders", json={**body, "send_via": "erp"})
    assert made.status_code == 201 and made.get_json()["send_via"] == "erp"
    po = made.get_json()
    sent = api.post(f"/api/v1/purchase-orders/{po['id']}/send", json={"version": po["version"]})
    assert sent.status_code == 200 and sent.get_json()["status"] == "sent"
    run_jobs(hub)
    [name] = po_files(erp)
    assert f"{po['number']},TEE-M,NY-1,3,4.50" in (erp.export_dir / name).read_text()
