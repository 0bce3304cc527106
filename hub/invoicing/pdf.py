"""Invoice PDFs: an invoice's frozen ``document`` through a Jinja template, drawn by WeasyPrint.

The bundled template (``templates/invoice.html``, A4 with print CSS) can be
replaced by the merchant: a file ``invoice.html`` in the templates folder
(:func:`templates_dir`: ``<HUB_DATA_DIR>/templates``) wins over it. Merchants
write that file, so it runs in Jinja's sandbox with undefined names as errors;
a template that cannot be read or rendered raises :class:`InvoiceTemplateError`
naming the file (and the line, when Jinja knows it), and no PDF is made.

WeasyPrint never reaches the network: its URL fetcher serves ``data:`` URLs
and files inside the template folders (the bundled one and the merchant's, for
a logo beside the template), and refuses everything else, so a template (or a
customer's name that got into one) cannot make the hub call out. The drawing
itself runs in a separate process (:mod:`hub.invoicing.drawing`), so its tenth
of a second of CPU per page does not hold up the hub's threads.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session

from hub.core.events import OrderEvent
from hub.core.exceptions import ConfigError
from hub.core.invoicing import CREDIT_NOTE_ISSUED, INVOICE_ISSUED
from hub.integration.connectors import Attachment
from hub.invoicing.drawing import draw
from hub.store.config import Settings
from hub.store.models import Invoice

log = logging.getLogger(__name__)

BUILTIN = Path(__file__).parent / "templates"
TEMPLATE = "invoice.html"
CONTENT_TYPE = "application/pdf"


class InvoiceTemplateError(ConfigError):
    """The invoice template cannot be read or rendered (the message names the file)."""


def templates_dir(settings: Settings) -> Path:
    """The merchant's templates folder: an ``invoice.html`` there replaces the bundled one."""
    return settings.data_dir / "templates"


def filename(document: dict[str, Any]) -> str:
    """The PDF's file name: the document's number (``INV-2026-000001.pdf``)."""
    number = str(document.get("number") or "invoice")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in number).strip(".-")
    return f"{safe or 'invoice'}.pdf"


def _date(value: object) -> str:
    """An ISO timestamp as the date a reader expects on paper (``2026-12-04``)."""
    if not value:
        return ""
    text = str(value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return text


def _address_lines(address: object) -> list[str]:
    """An address (either key set: ``line1``/``address1``, ``region``/``province``…) as lines."""
    if not isinstance(address, dict):
        return []

    def pick(*keys: str) -> str:
        return next((str(address[k]).strip() for k in keys if address.get(k)), "")

    city = " ".join(filter(None, (pick("postal_code", "zip"), pick("city"))))
    lines = [
        pick("name"),
        pick("company"),
        pick("line1", "address1"),
        pick("line2", "address2"),
        city,
        pick("region", "province"),
        pick("country", "country_code"),
    ]
    return [line for line in lines if line]


def environment(override_dir: Path | None) -> SandboxedEnvironment:
    """The sandboxed Jinja environment: the merchant's folder first, then the bundled one."""
    loaders = [FileSystemLoader(str(override_dir))] if override_dir else []
    env = SandboxedEnvironment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(str(BUILTIN))]),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = _date
    env.filters["address_lines"] = _address_lines
    return env


def template_path(override_dir: Path | None, template: str = TEMPLATE) -> Path:
    """The file the PDF is rendered from: the merchant's ``template`` if there is one.

    ``template``: ``invoice.html`` (invoices, credit notes) or ``purchase_order.html``.
    """
    if override_dir is not None and (override_dir / template).is_file():
        return override_dir / template
    return BUILTIN / template


#: Environments made by :func:`_environment`, so a template is compiled once, not per PDF.
_ENVIRONMENTS: dict[tuple[str | None, str], SandboxedEnvironment] = {}
_ENVIRONMENTS_LOCK = threading.Lock()
_ENVIRONMENTS_KEPT = 16


def _environment(override_dir: Path | None, path: Path) -> SandboxedEnvironment:
    """:func:`environment` for this folder, kept while ``path`` is the file that wins.

    Jinja keeps the compiled template and compiles it again when its file changes
    (``auto_reload``); the key names the winning file, so a merchant's template
    put in place (or removed) after a render is used by the next one.
    """
    key = (str(override_dir) if override_dir is not None else None, str(path))
    with _ENVIRONMENTS_LOCK:
        env = _ENVIRONMENTS.get(key)
        if env is None:
            if len(_ENVIRONMENTS) >= _ENVIRONMENTS_KEPT:
                _ENVIRONMENTS.pop(next(iter(_ENVIRONMENTS)))
            env = _ENVIRONMENTS[key] = environment(override_dir)
    return env


def render_html(
    document: dict[str, Any], *, override_dir: Path | None = None, template: str = TEMPLATE
) -> str:
    """The document as HTML from ``template``; :class:`InvoiceTemplateError` if it cannot be."""
    path = template_path(override_dir, template)
    env = _environment(override_dir, path)
    try:
        return env.get_template(template).render(document=document, invoice=document)
    except TemplateNotFound as exc:  # an {% include %} of a file that is not there
        raise InvoiceTemplateError(
            f"invoice template {path} includes {exc.name}, which does not exist"
        ) from exc
    except TemplateError as exc:
        where = ""
        if isinstance(exc, TemplateSyntaxError) and exc.lineno:
            where = f" (line {exc.lineno})"
        raise InvoiceTemplateError(
            f"invoice template {path} cannot be rendered{where}: {exc.__class__.__name__}: {exc}",
            details={"template": str(path)},
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvoiceTemplateError(
            f"invoice template {path} is not UTF-8 text ({exc.reason} at byte {exc.start})",
            details={"template": str(path)},
        ) from exc


def event_documents(session: Session, event: OrderEvent) -> list[dict[str, Any]]:
    """The documents that go with an order event's notification: an issued document.

    For ``order.invoice_issued`` and ``order.credit_note_issued`` (``data.invoice_id``),
    the document's frozen ``document``; for any other event, none. Read in the caller's
    transaction and drawn by :func:`attachments` after it has ended: a PDF can wait
    seconds for a drawing process, and a transaction held open meanwhile keeps SQLite
    from checkpointing its log (at 1,000 orders the log grew from 4.7 to 80.7 MB while
    invoice emails queued for their PDFs) and PostgreSQL's vacuum from cleaning up.
    """
    if event.name not in (INVOICE_ISSUED, CREDIT_NOTE_ISSUED):
        return []
    invoice_id = (event.data or {}).get("invoice_id")
    invoice = session.get(Invoice, invoice_id) if isinstance(invoice_id, int) else None
    if invoice is None or invoice.order_id != event.order_id:
        return []
    return [invoice.document]


def attachments(settings: Settings, documents: list[dict[str, Any]]) -> list[Attachment]:
    """Each document as a PDF attachment, as it renders now (its content is frozen; the
    template may be the merchant's). Call it with no transaction open."""
    return [
        Attachment(
            filename=filename(document),
            content_type=CONTENT_TYPE,
            content=render_pdf(
                document, override_dir=templates_dir(settings), processes=settings.pdf_processes
            ),
        )
        for document in documents
    ]


def render_pdf(
    document: dict[str, Any],
    *,
    override_dir: Path | None = None,
    template: str = TEMPLATE,
    processes: int = 1,
) -> bytes:
    """The invoice or credit note ``document`` as PDF bytes (A4); another ``template``
    (``purchase_order.html``) draws another kind of document the same way.

    :param document: the invoice's frozen ``document`` (shape in docs/invoices.md).
    :param override_dir: the merchant's templates folder (:func:`templates_dir`), if any.
    :param processes: drawing processes (``Settings.pdf_processes``; 0 draws in this
        thread): :mod:`hub.invoicing.drawing`.
    :raises InvoiceTemplateError: the template cannot be rendered (names the file).
    :raises PdfUnavailable: WeasyPrint's system libraries are missing.
    """
    html = render_html(document, override_dir=override_dir, template=template)
    base = template_path(override_dir, template).parent
    roots = [BUILTIN.resolve(), *([override_dir.resolve()] if override_dir else [])]
    return draw(html, base_url=base.as_uri() + "/", roots=roots, processes=processes)
