"""Invoices in the admin UI: the list with receivables by age on top, one document, the order's block.

The reading is :mod:`hub.invoicing.queries`' (the API reads the same), the
issuing :func:`hub.invoicing.actions.issue_invoice`. The PDF link goes to
``/admin/invoices/<id>/pdf`` when the PDF view is installed.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from hub.core.invoicing import InvoiceKind, InvoiceStatus
from hub.invoicing import actions
from hub.invoicing import queries as invoice_queries
from hub.invoicing.serialize import invoice_json, receivables_json
from hub.store.models import Invoice, utcnow
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, page_of

#: The PDF view (hub.web.admin.invoice_pdf), linked when it is there.
PDF_ENDPOINT = "admin.invoice_pdf"


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        flash(f"{name.replace('_', ' ')}: {raw!r} is not a date (YYYY-MM-DD); ignored", "error")
        return None


def pdf_url(invoice_id: int) -> str | None:
    """The admin's PDF of an invoice, when the PDF view is installed."""
    if PDF_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(PDF_ENDPOINT, invoice_id=invoice_id)


@bp.app_template_global("order_invoices")
def order_invoices(order_id: int) -> list[dict[str, Any]]:
    """The order page's Invoices block: the order's invoices and credit notes, oldest first."""
    with get_hub().db.read() as db:
        now = utcnow()
        return [
            invoice_json(i, now=now) | {"pdf_url": pdf_url(i.id)}
            for i in actions.order_invoices(db, order_id)
        ]


@bp.get("/invoices")
def invoices():
    status = request.args.get("status", "")
    status = status if status in set(InvoiceStatus) else ""
    kind = request.args.get("kind", "")
    kind = kind if kind in set(InvoiceKind) else ""
    overdue = request.args.get("overdue") == "1"
    q = request.args.get("q", "").strip()[:100]
    issued_from, issued_to = _day("issued_from"), _day("issued_to")
    filters = invoice_queries.InvoiceFilters(
        status=status or None,
        kind=kind or None,
        overdue=overdue,
        q=q or None,
        issued_from=issued_from,
        issued_to=issued_to,
    )
    now = utcnow()
    with get_hub().db.read() as db:
        page = page_of(partial(invoice_queries.search_invoices, db, filters))
        labels = invoice_queries.order_labels(db, {i.order_id for i in page.items})
        rows = [invoice_json(i, order_number=labels.get(i.order_id), now=now) for i in page.items]
        receivables = [receivables_json(r) for r in invoice_queries.receivables(db, now=now)]
    return render_template(
        "admin/invoices.html",
        page=page,
        rows=rows,
        receivables=receivables,
        statuses=list(InvoiceStatus),
        kinds=list(InvoiceKind),
        status=status,
        kind=kind,
        overdue=overdue,
        q=q,
        issued_from=issued_from.isoformat() if issued_from else "",
        issued_to=issued_to.isoformat() if issued_to else "",
        filtered=any([status, kind, overdue, q, issued_from, issued_to]),
    )


@bp.get("/invoices/<int:invoice_id>")
def invoice(invoice_id: int):
    with get_hub().db.read() as db:
        found = db.get(Invoice, invoice_id)
        if found is None:
            abort(404)
        labels = invoice_queries.order_labels(db, {found.order_id})
        shown = invoice_json(found, order_number=labels.get(found.order_id), detail=True)
        related = [
            invoice_json(i)
            for i in actions.order_invoices(db, found.order_id)
            if i.id == found.credit_of_id or i.credit_of_id == found.id
        ]
    return render_template(
        "admin/invoice.html",
        invoice=shown,
        doc=shown["document"],
        related=related,
        pdf_url=pdf_url(invoice_id),
    )


@bp.post("/orders/<int:order_id>/invoices")
def invoice_issue(order_id: int):
    """Issue the order's invoice now (the order page's button)."""
    hub = get_hub()
    try:
        with hub.db.transaction() as db:
            number = actions.issue_invoice(db, order_id, hub.settings, actor=g.user.actor).number
    except Exception as exc:  # noqa: BLE001  (shown to the person, logged when unexpected)
        flash_error(exc)
    else:
        flash(f"Invoice {number} issued.", "success")
    return redirect(url_for("admin.order", order_id=order_id) + "#invoices")
