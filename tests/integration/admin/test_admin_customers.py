"""Customers in the admin UI: the list with search, one customer's page, tags and note, merge and
split, export and erasure (issue 20)."""

from __future__ import annotations

import json

from admin_helpers import flashes
from sqlalchemy import select

from hub.channels.manage import ensure_manual_channel
from hub.core.order import Customer as Buyer
from hub.orders import intake
from hub.store.models import Customer, CustomerEvent, Order
from hub.testing import order_data


def store(hub, external_id: str, buyer: Buyer) -> int:
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        order = intake.upsert_order(
            session,
            channel,
            order_data(external_id=external_id, number=f"#{external_id}", customer=buyer),
            actor="test",
        ).order
        return order.customer_id


def test_the_list_finds_a_customer_and_its_page_shows_orders_money_and_addresses(
    browser, admin_hub
):
    ana = store(admin_hub, "1001", Buyer(email="Ana@Example.com", name="Ana Lima"))
    store(admin_hub, "1002", Buyer(email="ana@example.com", name="Ana Lima"))
    store(admin_hub, "1003", Buyer(email="bo@example.com", name="Bo Berg"))
    listed = browser.get("/customers?q=lima").get_data(as_text=True)
    assert "Ana Lima" in listed and "Bo Berg" not in listed
    page = browser.get(f"/customers/{ana}").get_data(as_text=True)
    assert "#1001" in page and "#1002" in page and "#1003" not in page
    assert "89.96" in page  # 2 orders x 44.98
    assert "1 Main St" in page and "Springfield" in page
    # The order page leads to its customer.
    with admin_hub.db.read() as session:
        order_id = session.scalars(select(Order.id).where(Order.external_id == "1001")).one()
    assert f"/customers/{ana}" in browser.get(f"/orders/{order_id}").get_data(as_text=True)


def test_tags_and_note_are_saved_from_the_customer_page(browser, admin_hub):
    ana = store(admin_hub, "1", Buyer(email="ana@example.com"))
    answer = browser.post(
        f"/customers/{ana}",
        {"tags": "b2b, vip, b2b", "note": "pays by invoice"},
        follow_redirects=True,
    )
    assert "Tags and note saved." in flashes(answer.get_data(as_text=True))
    with admin_hub.db.read() as session:
        customer = session.get(Customer, ana)
        assert (customer.tags, customer.note) == (["b2b", "vip"], "pays by invoice")


def test_merge_by_email_then_split_from_the_page(browser, admin_hub):
    ana = store(admin_hub, "1", Buyer(email="ana@example.com", name="Ana"))
    other = store(admin_hub, "2", Buyer(email="ana.lima@work.example", name="Ana L."))
    answer = browser.post(
        f"/customers/{ana}/merge", {"from": "Ana.Lima@work.example"}, follow_redirects=True
    )
    assert any(
        "merged into this one: 1 order moved" in m for m in flashes(answer.get_data(as_text=True))
    )
    page = browser.get(f"/customers/{ana}").get_data(as_text=True)
    assert "#2" in page and "Split" in page
    with admin_hub.db.read() as session:
        merge_id = session.scalars(
            select(CustomerEvent.data).where(CustomerEvent.name == "customer.merged")
        ).one()["merge_id"]
    unknown = browser.post(
        f"/customers/{ana}/merge", {"from": "nobody@example.com"}, follow_redirects=True
    )
    assert any("no customer has" in m for m in flashes(unknown.get_data(as_text=True)))
    split = browser.post(f"/customer-merges/{merge_id}/undo", follow_redirects=True)
    assert any("on its own again" in m for m in flashes(split.get_data(as_text=True)))
    with admin_hub.db.read() as session:
        assert (
            session.scalars(select(Order.customer_id).where(Order.external_id == "2")).one()
            == other
        )


def test_erase_asks_for_the_word_and_export_downloads_json(browser, admin_hub):
    ana = store(admin_hub, "1", Buyer(email="ana@example.com", name="Ana Lima"))
    export = browser.get(f"/customers/{ana}/export")
    assert export.headers["Content-Disposition"] == f'attachment; filename="customer-{ana}.json"'
    assert json.loads(export.get_data())["customer"]["email"] == "ana@example.com"

    refused = browser.post(f"/customers/{ana}/erase", {"confirm": "yes"}, follow_redirects=True)
    assert any("Nothing erased" in m for m in flashes(refused.get_data(as_text=True)))
    with admin_hub.db.read() as session:
        assert session.get(Customer, ana).email == "ana@example.com"
    done = browser.post(f"/customers/{ana}/erase", {"confirm": "Erase"}, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "Personal data erased" in page and "ana@example.com" not in page
    with admin_hub.db.read() as session:
        names = session.scalars(select(CustomerEvent.name).order_by(CustomerEvent.id)).all()
        actors = set(session.scalars(select(CustomerEvent.actor)))
    assert names == ["customer.exported", "customer.erased"]
    assert actors == {"user:admin@example.com"}
