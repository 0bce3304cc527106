"""Invoices and credit notes (issue 20): when they are issued, what they say, how they are corrected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.channels.manage import ensure_manual_channel
from hub.core.order import Line, PaymentData, ShipmentData
from hub.core.status import PaymentStatus
from hub.invoicing import actions, policy
from hub.invoicing.queries import receivables
from hub.orders import shipments, transitions
from hub.store.models import Invoice, Order, utcnow

SELLER = dict(
    seller_legal_name="Acme Trading GmbH",
    seller_address="Hauptstr. 1|10115 Berlin|Germany",
    seller_tax_id="DE123456789",
    seller_email="billing@acme.example",
)


@pytest.fixture
def hub(make_hub):
    return make_hub(**SELLER)


def _policy(hub, issue_on, terms=0, by_tag=None):
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        policy.set_policy(
            session,
            channel.id,
            issue_on=issue_on,
            payment_terms_days=terms,
            terms_by_tag=by_tag or {},
        )


def _invoices(hub, order_id=None) -> list[Invoice]:
    with hub.db.read() as session:
        query = select(Invoice).order_by(Invoice.id)
        if order_id is not None:
            query = query.where(Invoice.order_id == order_id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def _paid(total=4498):
    return [PaymentData(reference="pi_1", amount=total, status="captured", captured_amount=total)]


def _ship_all(hub, order_id):
    with hub.db.transaction() as session:
        transitions.start_fulfillment(session, order_id, actor="test")
        shipments.ship(session, order_id, ShipmentData(external_id="shp_1"), actor="test")


# --- when ----------------------------------------------------------------------------------


def test_a_cash_sale_is_invoiced_paid_when_its_payment_is_captured(hub, make_order, run_jobs):
    _policy(hub, "capture")
    order_id = make_order(hub, payments=_paid())
    run_jobs(hub)
    [invoice] = _invoices(hub, order_id)
    year = invoice.issued_at.year
    assert invoice.number == f"INV-{year}-000001"
    assert (invoice.kind, invoice.status, invoice.total, invoice.amount_paid) == (
        "invoice",
        "paid",
        4498,
        4498,
    )
    assert invoice.due_at is None and invoice.document["payment_terms"] == "Paid"
    run_jobs(hub)  # nothing more: once per order per trigger
    assert len(_invoices(hub, order_id)) == 1


def test_an_order_on_account_is_invoiced_open_at_shipment_with_net_days(hub, make_order, run_jobs):
    _policy(hub, "shipment", terms=14, by_tag={"b2b": 30})
    b2b = make_order(hub, tags=["b2b", "wholesale"])
    retail = make_order(hub)
    run_jobs(hub)
    assert _invoices(hub) == []  # confirmed, not shipped: nothing yet
    for order_id in (b2b, retail):
        _ship_all(hub, order_id)
    run_jobs(hub)
    [b2b_invoice] = _invoices(hub, b2b)
    [retail_invoice] = _invoices(hub, retail)
    for invoice, days in ((b2b_invoice, 30), (retail_invoice, 14)):
        assert (invoice.status, invoice.amount_paid, invoice.payment_terms_days) == (
            "open",
            0,
            days,
        )
        assert invoice.due_at == invoice.issued_at + timedelta(days=days)
        assert invoice.document["payment_terms"] == (
            f"Net {days} (due {invoice.due_at.date().isoformat()})"
        )
        assert invoice.document["amount_due"] == "44.98"
    assert {b2b_invoice.sequence, retail_invoice.sequence} == {1, 2}


def test_a_channel_without_a_policy_is_never_invoiced(hub, make_order, run_jobs):
    order_id = make_order(hub, payments=_paid())
    run_jobs(hub)
    _ship_all(hub, order_id)
    run_jobs(hub)
    assert _invoices(hub) == []


def test_no_invoice_is_issued_without_a_seller(make_hub, make_order):
    hub = make_hub()  # no HUB_SELLER_LEGAL_NAME
    order_id = make_order(hub, payments=_paid())
    with pytest.raises(Exception, match="HUB_SELLER_LEGAL_NAME"):
        with hub.db.transaction() as session:
            actions.issue_invoice(session, order_id, hub.settings, actor="test")
    assert _invoices(hub) == []


def test_a_second_invoice_for_the_same_order_is_refused_unless_asked_for(hub, make_order):
    order_id = make_order(hub)
    with hub.db.transaction() as session:
        first = actions.issue_invoice(session, order_id, hub.settings, actor="test").number
    with pytest.raises(Exception, match=f"invoiced already: {first}"):
        with hub.db.transaction() as session:
            actions.issue_invoice(session, order_id, hub.settings, actor="test")
    with hub.db.transaction() as session:
        actions.issue_invoice(session, order_id, hub.settings, actor="test", another=True)
    assert [i.sequence for i in _invoices(hub, order_id)] == [1, 2]


# --- payments ------------------------------------------------------------------------------


def test_payments_captured_later_make_an_open_invoice_partly_then_wholly_paid(
    hub, make_order, run_jobs
):
    from hub.core.order import PaymentUpdate
    from hub.orders import payments

    order_id = make_order(hub, payments=[PaymentData(reference="pi_9", amount=4498)])
    with hub.db.transaction() as session:
        actions.issue_invoice(session, order_id, hub.settings, actor="test")
    for captured, status in ((2000, "partially_paid"), (4498, "paid")):
        with hub.db.transaction() as session:
            payments.apply_payment_update(
                session,
                PaymentUpdate(
                    reference="pi_9",
                    occurred_at=utcnow(),
                    status=PaymentStatus.CAPTURED,
                    captured_amount=captured,
                ),
                actor="gateway",
            )
        run_jobs(hub)
        [invoice] = _invoices(hub, order_id)
        assert (invoice.status, invoice.amount_paid) == (status, captured)


# --- credit notes --------------------------------------------------------------------------


def test_a_refund_at_the_gateway_is_credited_once_in_its_own_series(hub, make_order, run_jobs):
    from hub.core.order import PaymentUpdate, RefundData
    from hub.orders import payments

    _policy(hub, "capture")
    order_id = make_order(hub, payments=_paid())
    run_jobs(hub)
    [invoice] = _invoices(hub, order_id)
    for _ in range(2):  # the gateway tells it twice: one refund
        with hub.db.transaction() as session:
            payments.apply_payment_update(
                session,
                PaymentUpdate(
                    reference="pi_1",
                    occurred_at=utcnow(),
                    refunds=[RefundData(external_id="re_1", amount=1000, reason="goodwill")],
                ),
                actor="gateway",
            )
        run_jobs(hub)
    invoice_now, note = _invoices(hub, order_id)
    assert note.number == f"CN-{note.issued_at.year}-000001"
    assert (note.kind, note.total, note.credit_of_id) == ("credit_note", 1000, invoice.id)
    assert note.document["credit_of"]["number"] == invoice.number
    assert note.document["total"] == "10.00" and "goodwill" in note.document["notes"]
    assert (invoice_now.amount_credited, invoice_now.status) == (1000, "paid")
    assert invoice_now.document == invoice.document  # the invoice itself is never edited


def test_a_cancelled_unpaid_invoice_is_credited_in_full_and_void(hub, make_order, run_jobs):
    _policy(hub, "shipment", terms=30)
    order_id = make_order(hub)
    run_jobs(hub)
    with hub.db.transaction() as session:
        invoice = actions.issue_invoice(session, order_id, hub.settings, actor="test")
        number = invoice.number
    with hub.db.transaction() as session:
        transitions.cancel(session, order_id, actor="test", reason="customer changed their mind")
    run_jobs(hub)
    invoice, note = _invoices(hub, order_id)
    assert (invoice.number, invoice.status, invoice.amount_credited) == (number, "void", 4498)
    assert (note.kind, note.total) == ("credit_note", 4498)
    assert note.document["lines"] == invoice.document["lines"]
    assert note.document["taxes"] == invoice.document["taxes"]
    assert note.document["total"] == invoice.document["total"] == "44.98"
    run_jobs(hub)
    with hub.db.transaction() as session:  # a replayed credit changes nothing
        assert actions.credit_order(session, order_id, hub.settings, actor="test") == []
    assert len(_invoices(hub, order_id)) == 2


def test_a_refund_the_sales_channel_made_is_credited_once(hub, make_order, run_jobs):
    from hub.core.order import ChannelRefund
    from hub.testing import order_data

    _policy(hub, "capture")
    order_id = make_order(hub, external_id="SHOP-1", payments=_paid())
    run_jobs(hub)
    refund = ChannelRefund(external_id="rf_1", amount=1999, lines={}, reason="damaged")
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        from hub.orders import intake

        for _ in range(2):
            intake.upsert_order(
                session,
                channel,
                order_data(
                    external_id="SHOP-1",
                    payments=_paid(),
                    channel_refunds=[refund],
                    updated_at=utcnow(),
                ),
                actor="test",
            )
    run_jobs(hub)
    _, note = _invoices(hub, order_id)
    assert (note.kind, note.total, note.source_key) == (
        "credit_note",
        1999,
        f"channel-refund:{order_id}:rf_1",
    )


# --- receivables ---------------------------------------------------------------------------


def test_receivables_sum_what_is_owed_by_age_and_overdue_per_currency(hub, make_order):
    now = utcnow()
    _policy(hub, "shipment", terms=30)
    ages = {5: "USD", 45: "USD", 75: "USD", 120: "USD", 10: "EUR"}
    for days, currency in ages.items():
        order_id = make_order(hub, currency=currency)
        with hub.db.transaction() as session:
            actions.issue_invoice(
                session, order_id, hub.settings, actor="test", now=now - timedelta(days=days)
            )
    paid = make_order(hub, payments=_paid())
    with hub.db.transaction() as session:
        actions.issue_invoice(session, paid, hub.settings, actor="test")
    eur, usd = _receivables(hub, now)
    assert usd.buckets == {"0-30": 4498, "31-60": 4498, "61-90": 4498, "90+": 4498}
    assert (usd.open, usd.invoices) == (4 * 4498, 4)
    assert (usd.overdue, usd.overdue_invoices) == (3 * 4498, 3)  # due after 30 days
    assert (eur.open, eur.overdue, eur.buckets["0-30"]) == (4498, 0, 4498)


def _receivables(hub, now):
    with hub.db.read() as session:
        return receivables(session, now=now)


# --- the document --------------------------------------------------------------------------


def test_the_document_names_seller_buyer_lines_and_totals_of_the_order(hub, make_order):
    order_id = make_order(
        hub,
        lines=[
            Line(sku="TEE-M", name="T-shirt M", quantity=2, unit_price=2000, tax=760),
            Line(sku="BOOK", name="A book", quantity=1, unit_price=1000, tax=70),
        ],
        shipping=500,
        tax=925,  # 19% of the shirts, 7% of the book, 19% of the shipping
    )
    with hub.db.transaction() as session:
        doc = actions.issue_invoice(session, order_id, hub.settings, actor="test").document
        order = session.get(Order, order_id)
        total = order.total
    assert doc["seller"] == {
        "legal_name": "Acme Trading GmbH",
        "address_lines": ["Hauptstr. 1", "10115 Berlin", "Germany"],
        "tax_id": "DE123456789",
        "email": "billing@acme.example",
    }
    assert doc["buyer"]["email"] == "ann@example.com"
    assert doc["buyer"]["shipping_address"]["city"] == "Springfield"
    assert (doc["currency"], doc["exponent"], doc["taxes_included"]) == ("USD", 2, False)
    assert [(x["sku"], x["tax_rate"], x["total"]) for x in doc["lines"]] == [
        ("TEE-M", "19%", "40.00"),
        ("BOOK", "7%", "10.00"),
    ]
    assert doc["taxes"] == [
        {"rate": "19%", "base": "45.00", "amount": "8.55"},
        {"rate": "7%", "base": "10.00", "amount": "0.70"},
    ]
    assert (doc["subtotal"], doc["shipping"], doc["tax"], doc["total"]) == (
        "50.00",
        "5.00",
        "9.25",
        "64.25",
    )
    assert total == 6425
