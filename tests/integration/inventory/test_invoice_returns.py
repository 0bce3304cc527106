"""Credit notes for returns and refunds through the payment channel (issue 20), once each.

A paid order is invoiced at capture; a return refunded through the gateway is credited
with its lines, once, however often the jobs run; a cancelled paid order's invoice is
credited in full (the refund of the cancellation adds no second note).
"""

from __future__ import annotations

import pytest
import responses
from inventory_helpers import create_channel_for, stock
from sqlalchemy import select
from test_inventory_returns import (
    GATEWAY,
    TOTAL,
    StripeLikeStub,
    open_return,
    received,
    ship_everything,
)

from hub.core.order import Customer, PaymentData
from hub.invoicing import policy
from hub.returns import actions as returns
from hub.store.db import Database
from hub.store.models import Invoice, Order
from hub.testing import truncate_all

SELLER = dict(seller_legal_name="Acme Trading GmbH", seller_address="Hauptstr. 1|10115 Berlin")


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request, make_hub, fakes, new_order, run_jobs):
    """A hub invoicing at capture, with a gateway, and a paid order of 2 × TSHIRT-M, invoiced."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        db = Database(url)
        truncate_all(db)
        db.dispose()
    hub = make_hub(plugins=[fakes], database_url=url, **SELLER)
    create_channel_for(hub, "fake-gateway", api_base_url=GATEWAY)
    stock(hub, {("TSHIRT-M", "wh"): 5})
    oid = new_order(
        hub,
        customer=Customer(email="ann@example.com", name="Ann"),
        payments=[
            PaymentData(
                reference="pi_1",
                amount=TOTAL,
                status="captured",
                channel="fake-gateway",
                captured_amount=TOTAL,
            )
        ],
    )
    with hub.db.transaction() as session:
        channel_id = session.get(Order, oid).channel_id
        policy.set_policy(session, channel_id, issue_on="capture")
    run_jobs(hub)
    return hub, oid


def _documents(hub, oid) -> list[Invoice]:
    with hub.db.read() as session:
        rows = list(
            session.scalars(select(Invoice).where(Invoice.order_id == oid).order_by(Invoice.id))
        )
        session.expunge_all()
        return rows


def test_a_refunded_return_is_credited_once_with_its_lines(shop, run_jobs):
    hub, oid = shop
    [invoice] = _documents(hub, oid)
    assert (invoice.status, invoice.total) == ("paid", TOTAL)
    line_id = ship_everything(hub, oid)[0]
    run_jobs(hub)
    with responses.RequestsMock() as rsps:
        StripeLikeStub(rsps)
        rid = open_return(hub, oid, line_id, 1, refund_shipping=True)
        received(hub, rid)
        with hub.db.transaction() as session:
            returns.refund_return(session, rid, actor="user:ann")
        run_jobs(hub)
        run_jobs(hub)
    invoice, note = _documents(hub, oid)  # the gateway's refund adds no second note
    assert (note.kind, note.credit_of_id, note.total, note.source_key) == (
        "credit_note",
        invoice.id,
        1999 + 500,
        f"return:{rid}",
    )
    assert [(x["sku"], x["quantity"], x["total"]) for x in note.document["lines"]] == [
        ("TSHIRT-M", 1, "19.99"),
        ("", 1, "5.00"),
    ]
    assert note.document["lines"][1]["name"] == "Shipping"
    assert note.document["total"] == "24.99" and "too small" in note.document["notes"]
    assert (invoice.amount_credited, invoice.status) == (2499, "paid")


def test_a_cancelled_paid_order_is_credited_once_in_full(shop, run_jobs):
    hub, oid = shop
    from hub.orders import transitions

    with responses.RequestsMock() as rsps:
        StripeLikeStub(rsps)
        with hub.db.transaction() as session:
            transitions.cancel(session, oid, actor="user:ann", reason="out of stock")
        run_jobs(hub)
    invoice, note = _documents(hub, oid)
    assert (note.kind, note.total, note.source_key) == (
        "credit_note",
        TOTAL,
        f"cancel:{invoice.id}",
    )
    # It was paid: the money went back by the refund, and the invoice stays paid, credited.
    assert (invoice.status, invoice.amount_credited) == ("paid", TOTAL)
