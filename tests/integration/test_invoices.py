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
