"""A sent purchase order reaches its supplier by email, once, with its PDF and its lines as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from hub.core.exceptions import ValidationError
from hub.notifications import outbox
from hub.purchasing import delivery, orders
from hub.queue.jobs import retry
from hub.store.models import Job, PurchaseOrder
from hub.testing import connections_held
from tests.integration.purchasing.conftest import sent_po


def test_a_sent_purchase_order_is_emailed_to_the_supplier_with_pdf_and_csv_once(
    hub, shop, smtp, run_jobs
):
    po_id = sent_po(shop)
    run_jobs(hub)
    with hub.db.read() as db:
        number = db.get(PurchaseOrder, po_id).number

    [message] = smtp.messages
    assert message["To"] == "Acme Textiles <orders@acme.example>"
    assert message["Subject"] == f"Purchase order {number} from Fjord Outfitters GmbH"
    pdf, table = list(message.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", f"{number}.pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert number in text and "Acme Textiles" in text and "65.40 EUR" in text
    assert (table.get_content_type(), table.get_filename()) == ("text/csv", f"{number}.csv")
    content = table.get_content()
    rows = list(
        csv.DictReader(io.StringIO(content if isinstance(content, str) else content.decode()))
    )
    assert [(r["sku"], r["supplier_sku"], r["quantity"], r["unit_cost"]) for r in rows] == [
        ("TEE-M", "AC-1", "10", "4.50"),
        ("TEE-L", "", "4", "5.10"),
    ]

    # Once per PO: a person's retry of the job sends nothing more.
    with hub.db.transaction() as db:
        job = db.scalars(select(Job).where(Job.kind == "purchase_order.email")).one()
        assert job.status == "succeeded"
        assert outbox.already_sent(db, f"purchase_order:{po_id}:sent").recipient == (
            "orders@acme.example"
        )
        job.status = "dead"
        retry(db, job.id)
    run_jobs(hub)
    assert len(smtp.messages) == 1


def test_the_purchase_order_pdf_is_drawn_with_no_transaction_open(
    hub, shop, smtp, run_jobs, monkeypatch
):
    real, held = delivery.render_pdf, []

    def drawing(*args, **kwargs):
        held.append(connections_held(hub))
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery, "render_pdf", drawing)
    sent_po(shop)
    run_jobs(hub)
    assert held == [0]
    [message] = smtp.messages
    assert [a.get_content_type() for a in message.iter_attachments()] == [
        "application/pdf",
        "text/csv",
    ]


def test_a_supplier_without_email_cannot_be_sent_to_and_the_po_stays_a_draft(hub, shop):
    with hub.db.transaction() as db:
        po = orders.create_draft(
            db,
            supplier_id=shop.supplier_id,
            location_id=shop.location_id,
            lines=[orders.DraftLine("TEE-M", 1)],
            actor="test",
        )
        po.supplier.email = ""
        po_id = po.id
    with pytest.raises(ValidationError, match="no email address"), hub.db.transaction() as db:
        orders.send(db, po_id, actor="test")
    with hub.db.read() as db:
        assert db.get(PurchaseOrder, po_id).status == "draft"
        assert db.scalars(select(Job).where(Job.kind == "purchase_order.email")).all() == []
