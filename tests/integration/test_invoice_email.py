"""An issued invoice reaches the customer by email with its PDF, once, through the notify outbox."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from hub.channels.manage import create_channel
from hub.invoicing import pdf
from hub.invoicing.actions import issue_invoice
from hub.notifications import outbox as notifications
from hub.notifications.queries import search_attempts
from hub.queue.jobs import retry
from hub.store.models import Job, OrderAuditEvent, utcnow
from hub.testing import connections_held
from plugins.email.tests.conftest import SmtpServer

SELLER = dict(
    seller_legal_name="Fjord Outfitters GmbH",
    seller_address="Hafenstraße 12|20457 Hamburg|Germany",
    seller_tax_id="DE123456789",
    seller_email="billing@fjord.example",
)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def shop(make_hub, smtp):
    return with_email_channel(make_hub(**SELLER), smtp)


@pytest.fixture
def any_shop(fresh_hubs, smtp):
    """On SQLite and on PostgreSQL."""
    return with_email_channel(fresh_hubs(**SELLER), smtp)


def with_email_channel(hub, smtp):
    with hub.db.transaction() as session:
        create_channel(
            hub,
            session,
            name="Customer email",
            connector="email",
            config={
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "security": "none",
                "from_address": "orders@fjord.example",
                "from_name": "Fjord Outfitters",
            },
        )
    return hub


def invoice_emails(smtp):
    return [m for m in smtp.messages if m["Subject"].startswith("Your invoice")]


def invoice_notify_job(session) -> Job:
    """The notify job of the order.invoice_issued event (one email channel)."""
    event_id = session.scalars(
        select(OrderAuditEvent.id).where(OrderAuditEvent.name == "order.invoice_issued")
    ).one()
    return session.scalars(
        select(Job).where(Job.kind == "notify", Job.dedupe_key.endswith(f":{event_id}"))
    ).one()


def issue(hub, order_id):
    with hub.db.transaction() as session:
        invoice = issue_invoice(session, order_id, hub.settings, actor="test")
        return invoice.id, invoice.number, invoice.document["total"]


def test_an_issued_invoice_is_emailed_to_the_customer_with_its_pdf_once(
    any_shop, smtp, make_order, run_jobs
):
    shop = any_shop
    order_id = make_order(shop)
    run_jobs(shop)
    invoice_id, number, total = issue(shop, order_id)
    run_jobs(shop)

    [message] = invoice_emails(smtp)
    assert message["To"] == "Ann Smith <ann@example.com>"
    assert message["Subject"] == f"Your invoice {number} for order #1001"
    [pdf] = list(message.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == f"{number}.pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert number in text and "Fjord Outfitters GmbH" in text and f"Total USD {total}" in text

    # Once per invoice: the job run again (a person's retry) sends nothing more.
    with shop.db.transaction() as session:
        job = invoice_notify_job(session)
        assert job.status == "succeeded"
        sent = notifications.list_sent(session, order_id=order_id)
        assert [s["event"] for s in sent].count("order.invoice_issued") == 1
        job.status = "dead"
        retry(session, job.id)
    run_jobs(shop)
    assert len(invoice_emails(smtp)) == 1


def test_the_pdf_is_drawn_with_no_transaction_open(
    any_shop, smtp, make_order, run_jobs, monkeypatch
):
    """A PDF can wait seconds for its drawing process: no database connection is held meanwhile
    (an open read kept SQLite from checkpointing its log, PostgreSQL's vacuum from cleaning)."""
    shop = any_shop
    real, held = pdf.render_pdf, []

    def drawing(*args, **kwargs):
        held.append(connections_held(shop))
        return real(*args, **kwargs)

    monkeypatch.setattr(pdf, "render_pdf", drawing)
    order_id = make_order(shop)
    run_jobs(shop)
    issue(shop, order_id)
    run_jobs(shop)
    assert held == [0]
    [message] = invoice_emails(smtp)
    assert [a.get_content_type() for a in message.iter_attachments()] == ["application/pdf"]


def test_the_merchants_template_draws_the_attached_pdf(shop, smtp, make_order, run_jobs):
    templates = shop.settings.data_dir / "templates"
    templates.mkdir(parents=True)
    (templates / "invoice.html").write_text(
        "<p>Rechnung {{ document.number }} über {{ document.total }} {{ document.currency }}</p>",
        encoding="utf-8",
    )
    order_id = make_order(shop)
    _, number, total = issue(shop, order_id)
    run_jobs(shop)

    [message] = invoice_emails(smtp)
    [pdf] = list(message.iter_attachments())
    text = PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text()
    assert f"Rechnung {number} über {total} USD" in text


def test_a_broken_template_fails_the_email_visibly_and_a_fixed_one_sends_it(
    shop, smtp, make_order, run_jobs
):
    template = shop.settings.data_dir / "templates" / "invoice.html"
    template.parent.mkdir(parents=True)
    template.write_text("<p>{{ document.numbr }}</p>", encoding="utf-8")
    order_id = make_order(shop)
    _, number, _ = issue(shop, order_id)
    run_jobs(shop)

    assert invoice_emails(smtp) == []
    with shop.db.read() as session:
        job = invoice_notify_job(session)
        assert job.status == "dead"  # a template error: retrying cannot help
        assert str(template) in job.last_error and "numbr" in job.last_error
        [attempt] = [
            a
            for a in search_attempts(session, limit=50).rows
            if a.event_name == "order.invoice_issued"
        ]
        assert attempt.outcome == "failed" and str(template) in attempt.error
        job_id = job.id

    template.write_text("<p>Invoice {{ document.number }}</p>", encoding="utf-8")
    with shop.db.transaction() as session:
        retry(session, job_id)
        session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
    run_jobs(shop)
    [message] = invoice_emails(smtp)
    assert [p.get_filename() for p in message.iter_attachments()] == [f"{number}.pdf"]
