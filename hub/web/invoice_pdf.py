"""An invoice's or credit note's PDF, for the REST API and the admin UI.

``GET /api/v1/invoices/<id>/pdf`` (scope ``read``) and the admin UI's
``/invoices/<id>/pdf`` (:mod:`hub.web.admin.invoice_pdf`) answer the same bytes: the frozen document
drawn now by :func:`hub.invoicing.pdf.render_pdf`, with the merchant's template
if there is one, shown inline (``Content-Disposition: inline;
filename=INV-2026-000001.pdf``) and never cached on the way (it names a person).
"""

from __future__ import annotations

import io

from flask import Response, send_file

from hub.core.exceptions import NotFound
from hub.invoicing.pdf import CONTENT_TYPE, filename, render_pdf, templates_dir
from hub.store.models import Invoice
from hub.web import get_hub
from hub.web.api import bp
from hub.web.apidoc import ID, operation


def pdf_answer(invoice_id: int) -> Response:
    """The document's PDF as an inline answer.

    :raises NotFound: no such invoice or credit note.
    :raises hub.invoicing.pdf.InvoiceTemplateError: the merchant's template cannot be rendered.
    """
    hub = get_hub()
    with hub.db.read() as db:
        invoice = db.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} does not exist")
        document = invoice.document
    data = render_pdf(
        document,
        override_dir=templates_dir(hub.settings),
        processes=hub.settings.pdf_processes,
    )
    response = send_file(
        io.BytesIO(data),
        mimetype=CONTENT_TYPE,
        as_attachment=False,
        download_name=filename(document),
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get(f"/invoices/<{ID}:invoice_id>/pdf")
@operation(
    "Get an invoice or credit note as PDF",
    tag="invoices",
    ok=(200, {"type": "string", "format": "binary"}, "The document as an A4 PDF, inline."),
    errors=(422,),
    media_type=CONTENT_TYPE,
)
def get_invoice_pdf(invoice_id: int):
    """Drawn from the document frozen at issue, with the merchant's template
    (`<HUB_DATA_DIR>/templates/invoice.html`) when there is one; 422 `config_error` naming
    the file when that template cannot be rendered. The file is named after the number
    (`INV-2026-000001.pdf`)."""
    return pdf_answer(invoice_id)
