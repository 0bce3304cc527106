"""The admin drafts a purchase order to go through the ERP folder and sends it there."""

from __future__ import annotations

from sqlalchemy import select

from hub.inventory.levels import upsert_location
from hub.queue.jobs import Worker
from hub.store.models import PurchaseOrder, Supplier
from plugins.erp_csv.tests.conftest import make_erp


def test_a_draft_sent_by_erp_from_the_admin_lands_in_the_export_folder(
    browser, admin_hub, tmp_path
):
    erp = make_erp(admin_hub, tmp_path)
    with admin_hub.db.transaction() as db:
        location_id = upsert_location(db, "WH1", name="Main warehouse").id
        db.add(Supplier(name="Acme", currency="EUR", email="orders@acme.example"))
        db.flush()
        supplier_id = db.scalars(select(Supplier.id)).one()
    r = browser.post(
        "/purchase-orders",
        {
            "supplier_id": supplier_id,
            "location_id": location_id,
            "lines": "TEE-M 24 4.50",
            "send_via": "erp",
        },
    )
    assert r.status_code == 302
    with admin_hub.db.read() as db:
        po = db.scalars(select(PurchaseOrder)).one()
    assert po.send_via == "erp"
    page = browser.get(f"/purchase-orders/{po.id}").get_data(as_text=True)
    assert "ERP folder (a CSV file)" in page

    browser.post(f"/purchase-orders/{po.id}/send", {"version": str(po.version)})
    Worker(admin_hub, worker_id="admin-erp").run_until_idle()
    with admin_hub.db.read() as db:
        assert db.get(PurchaseOrder, po.id).status == "sent"
    [written] = [p for p in erp.export_dir.iterdir() if p.name.startswith("purchase-orders-")]
    assert f"{po.number},TEE-M,,24,4.50,108.00,EUR" in written.read_text()
