"""An invoice's PDF from the REST API and from the admin UI: inline, named after its number."""

from __future__ import annotations

import io

import pytest
from flask import session as flask_session
from pypdf import PdfReader

from hub.accounts.users import create_token
from hub.invoicing.actions import issue_invoice
from hub.store.models import User
from hub.web import create_app
from hub.web.admin import sign_in

SELLER = dict(
    seller_legal_name="Fjord Outfitters GmbH",
    seller_address="Hafenstraße 12|20457 Hamburg|Germany",
    seller_tax_id="DE123456789",
)


@pytest.fixture
def shop(make_hub):
    return make_hub(**SELLER)


@pytest.fixture
def app(shop):
    return create_app({"HUB": shop, "TESTING": True})


def token(hub, scope: str) -> dict[str, str]:
    with hub.db.transaction() as session:
        return {"Authorization": f"Bearer {create_token(session, scope, scope=scope)[1]}"}


def issued(hub, make_order) -> tuple[int, str, str]:
    order_id = make_order(hub)
    with hub.db.transaction() as session:
        invoice = issue_invoice(session, order_id, hub.settings, actor="test")
        return invoice.id, invoice.number, invoice.document["total"]


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_the_api_answers_the_invoice_pdf_inline_named_after_its_number(shop, app, make_order):
    invoice_id, number, total = issued(shop, make_order)

    answer = app.test_client().get(
        f"/api/v1/invoices/{invoice_id}/pdf", headers=token(shop, "read")
    )

    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == f"inline; filename={number}.pdf"
    assert "no-store" in answer.headers["Cache-Control"]
    text = pdf_text(answer.data)
    assert number in text and "Fjord Outfitters GmbH" in text and f"Total USD {total}" in text


def test_the_api_says_which_invoice_is_missing_and_which_template_is_broken(shop, app, make_order):
    client = app.test_client()
    headers = token(shop, "read")
    missing = client.get("/api/v1/invoices/999/pdf", headers=headers)
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == "invoice 999 does not exist"

    invoice_id, _, _ = issued(shop, make_order)
    template = shop.settings.data_dir / "templates" / "invoice.html"
    template.parent.mkdir(parents=True)
    template.write_text("{% if %}", encoding="utf-8")
    broken = client.get(f"/api/v1/invoices/{invoice_id}/pdf", headers=headers)
    assert broken.status_code == 422
    assert broken.json["error"]["code"] == "config_error"
    assert str(template) in broken.json["error"]["message"]
    assert "line 1" in broken.json["error"]["message"]


def test_the_api_pdf_needs_a_token(shop, app, make_order):
    invoice_id, _, _ = issued(shop, make_order)

    assert app.test_client().get(f"/api/v1/invoices/{invoice_id}/pdf").status_code == 401


def signed_in_client(hub, app):
    with hub.db.transaction() as db:
        user = User(email="merchant@example.com", password_hash="x")
        db.add(user)
        db.flush()
        with app.test_request_context():
            sign_in(db, user)
            values = dict(flask_session)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(values)
    return client


def test_the_admin_opens_the_pdf_signed_in_and_only_then(shop, app, make_order):
    invoice_id, number, _ = issued(shop, make_order)

    anonymous = app.test_client().get(f"/invoices/{invoice_id}/pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    client = signed_in_client(shop, app)
    answer = client.get(f"/invoices/{invoice_id}/pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == f"inline; filename={number}.pdf"
    assert number in pdf_text(answer.data)
    assert client.get("/invoices/999/pdf").status_code == 404


def test_the_admin_is_told_what_is_wrong_with_the_template(shop, app, make_order):
    invoice_id, _, _ = issued(shop, make_order)
    template = shop.settings.data_dir / "templates" / "invoice.html"
    template.parent.mkdir(parents=True)
    template.write_text("<p>{{ document.totl }}</p>", encoding="utf-8")
    client = signed_in_client(shop, app)

    answer = client.get(f"/invoices/{invoice_id}/pdf", follow_redirects=True)

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.request.path.startswith("/orders/")
    assert "The PDF cannot be made" in page and str(template) in page and "totl" in page
