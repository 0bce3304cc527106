"""Purchasing in the admin: the supplier form with field errors, prices, a draft and its refusals."""

from __future__ import annotations

from sqlalchemy import select

from hub.inventory.levels import upsert_location
from hub.store.models import PurchaseOrder, Supplier, SupplierSku


def test_supplier_form_refuses_bad_fields_next_to_them_then_saves(browser, admin_hub):
    page = browser.get("/suppliers/new")
    assert page.status_code == 200 and b"New supplier" in page.data
    r = browser.post("/suppliers/new", {"name": "", "currency": "EURO", "lead_time_days": "x"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "has-error" in html and "EURO" in html and "Not a valid integer" in html
    r = browser.post(
        "/suppliers/new",
        {"name": "Acme", "currency": "eur", "email": "orders@acme.example", "lead_time_days": "9"},
    )
    assert r.status_code == 302
    with admin_hub.db.read() as db:
        supplier = db.scalars(select(Supplier)).one()
        assert (supplier.currency, supplier.lead_time_days) == ("EUR", 9)
    r = browser.post(
        f"/suppliers/{supplier.id}/skus", {"sku": "TEE-M", "cost_price": "4.5", "preferred": "on"}
    )
    assert r.status_code == 302
    with admin_hub.db.read() as db:
        row = db.scalars(select(SupplierSku)).one()
        assert (row.sku, row.cost_price, row.preferred) == ("TEE-M", 450, True)
    assert "4.50 EUR" in browser.get(f"/suppliers/{supplier.id}").get_data(as_text=True)
    assert "Acme" in browser.get("/suppliers").get_data(as_text=True)


def test_a_draft_from_the_form_and_a_receipt_refused_before_it_is_sent(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        location = upsert_location(db, "WH1", name="Main warehouse")
        db.add(Supplier(name="Acme", currency="EUR", email="orders@acme.example"))
        db.flush()
        supplier_id = db.scalars(select(Supplier.id)).one()
        location_id = location.id
    r = browser.post(
        "/purchase-orders",
        {"supplier_id": supplier_id, "location_id": location_id, "lines": "TEE-M 24 4.50\nTEE-L"},
    )
    assert r.status_code == 302  # refused: the second line has no quantity
    assert "line 2" in browser.get("/purchase-orders").get_data(as_text=True)
    r = browser.post(
        "/purchase-orders",
        {"supplier_id": supplier_id, "location_id": location_id, "lines": "TEE-M 24 4.50"},
    )
    with admin_hub.db.read() as db:
        po = db.scalars(select(PurchaseOrder)).one()
    assert r.headers["Location"].endswith(f"/purchase-orders/{po.id}")
    page = browser.get(f"/purchase-orders/{po.id}").get_data(as_text=True)
    assert po.number in page and "Send to supplier" in page and "Receive a delivery" not in page
    browser.post(f"/purchase-orders/{po.id}/receive", {"qty-TEE-M": "3"})
    page = browser.get(f"/purchase-orders/{po.id}").get_data(as_text=True)
    assert "is draft: cannot receive_partial" in page
    assert "Purchasing" in browser.get("/stock").get_data(as_text=True)


def test_the_sku_page_shows_what_is_incoming_where(browser, admin_hub):
    from hub.inventory.levels import LevelChange, set_on_hand
    from hub.purchasing import orders

    with admin_hub.db.transaction() as db:
        location = upsert_location(db, "WH1", name="Main warehouse")
        set_on_hand(db, [LevelChange("MUG", "WH1", 3)], actor="test")
        supplier = Supplier(name="Acme", currency="EUR", email="")
        db.add(supplier)
        db.flush()
        po = orders.create_draft(
            db,
            supplier_id=supplier.id,
            location_id=location.id,
            lines=[orders.DraftLine("MUG", 40, "2.00")],
            actor="test",
        )
        po.status = "sent"  # as if sent (sending needs an email channel)
    html = browser.get("/skus/MUG").get_data(as_text=True)
    stocked = html[html.index('id="stocked"') :]
    assert '<th class="num">Incoming</th>' in stocked
    assert '<td class="num">40</td>' in stocked


def test_pages_of_a_supplier_or_po_that_does_not_exist_are_not_found(browser):
    assert browser.get("/suppliers/999").status_code == 404
    assert browser.get("/purchase-orders/999").status_code == 404
