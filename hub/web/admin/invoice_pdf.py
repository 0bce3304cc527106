"""The admin's link to an invoice's PDF: the same document the API answers, for a signed-in person."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for

from hub.core.exceptions import NotFound
from hub.invoicing.drawing import PdfUnavailable
from hub.invoicing.pdf import InvoiceTemplateError
from hub.store.models import Invoice
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.invoice_pdf import pdf_answer


@bp.get("/invoices/<int:invoice_id>/pdf")
def invoice_pdf(invoice_id: int):
    try:
        return pdf_answer(invoice_id)
    except NotFound:
        abort(404)
    except (InvoiceTemplateError, PdfUnavailable) as exc:
        # Back to the order, saying what to fix (the template's file and line).
        with get_hub().db.read() as db:
            invoice = db.get(Invoice, invoice_id)
            order_id = invoice.order_id if invoice is not None else None
        flash(f"The PDF cannot be made: {exc.message}", "error")
        if order_id is None:
            abort(404)
        return redirect(url_for("admin.order", order_id=order_id))
