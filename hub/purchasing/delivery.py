"""How a sent purchase order reaches its supplier: by email (PDF and CSV), or through the ERP.

:func:`dispatch` runs in the transaction that marks the PO sent and enqueues one
job (dedupe key per PO), so the PO leaves if and only if it was sent:

- ``email``: ``purchase_order.email`` (:func:`hub.pipeline.purchasing.email_purchase_order`)
  goes through the notifications outbox like every customer email: the sent
  ledger's key ``purchase_order:<id>:sent`` is checked first and written right
  after, each attempt on record, the supplier as the recipient;
- ``erp``: ``purchase_order.erp`` (:func:`hub.pipeline.purchasing.export_purchase_order`)
  hands it to the first enabled channel whose connector declares
  :attr:`~hub.integration.connectors.Capability.PURCHASE_ORDERS` (the ``erp_csv``
  connector writes it as a CSV file into its export folder), once per channel
  (the ledger ``erp_exported_purchase_orders``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.integration.connectors import Capability, Connector, can
from hub.invoicing.pdf import CONTENT_TYPE, filename, render_pdf, templates_dir
from hub.purchasing.document import lines_csv
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.store.config import Settings
from hub.store.models import Channel, PurchaseOrder

#: The connector whose SMTP settings carry purchase orders (as they carry the admins' alerts).
EMAIL_CONNECTOR = "email"
EMAIL, ERP = "email", "erp"
#: How a purchase order may reach its supplier.
ROUTES = (EMAIL, ERP)
TEMPLATE = "purchase_order.html"


def ledger_key(po_id: int) -> str:
    """The sent ledger's key of a PO's email: one email per PO, ever."""
    return f"purchase_order:{po_id}:sent"


def email_channel(session: Session) -> int | None:
    """The first enabled ``email`` channel, or None."""
    return session.scalar(
        select(Channel.id)
        .where(Channel.connector == EMAIL_CONNECTOR, Channel.enabled.is_(True))
        .order_by(Channel.id)
        .limit(1)
    )


def erp_channel(session: Session, connectors: Mapping[str, type[Connector]]) -> int | None:
    """The first enabled channel whose connector takes purchase orders, or None."""
    for channel_id, name in session.execute(
        select(Channel.id, Channel.connector).where(Channel.enabled.is_(True)).order_by(Channel.id)
    ):
        cls = connectors.get(name)
        if cls is not None and can(cls, Capability.PURCHASE_ORDERS):
            return channel_id
    return None


def _erp_route(
    session: Session, po: PurchaseOrder, connectors: Mapping[str, type[Connector]] | None
) -> int:
    channel_id = erp_channel(session, connectors or {})
    if channel_id is None:
        raise ValidationError(
            f"no enabled ERP channel takes purchase orders to send {po.number} through: add an "
            "ERP (CSV files) channel with an export folder on the Channels page, or send it by "
            "email",
            details={"channel": ["no ERP channel"]},
        )
    return channel_id


def check_route(
    session: Session, po: PurchaseOrder, connectors: Mapping[str, type[Connector]] | None = None
) -> None:
    """Refuse to send a PO that has no way to its supplier (nothing is marked sent then).

    :param connectors: the hub's connectors by name, to find an ERP channel for ``erp``.
    """
    if po.send_via == ERP:
        _erp_route(session, po, connectors)
        return
    if not po.supplier.email:
        raise ValidationError(
            f"supplier {po.supplier.name} has no email address: add one to send {po.number}",
            details={"email": ["missing"]},
        )
    if email_channel(session) is None:
        raise ValidationError(
            f"no enabled email channel to send {po.number} through: add one on the Channels page",
            details={"channel": ["no email channel"]},
        )


def dispatch(
    session: Session,
    po: PurchaseOrder,
    *,
    actor: str,
    connectors: Mapping[str, type[Connector]] | None = None,
) -> None:
    """Enqueue the PO's way out, in the sending transaction."""
    if po.send_via == ERP:
        enqueue(
            session,
            JobKind.PURCHASE_ORDER_ERP,
            {"purchase_order_id": po.id, "actor": actor},
            channel_id=_erp_route(session, po, connectors),
            dedupe_key=JobKind.PURCHASE_ORDER_ERP.key(po.id),
        )
    elif po.send_via == EMAIL:
        enqueue(
            session,
            JobKind.PURCHASE_ORDER_EMAIL,
            {"purchase_order_id": po.id, "actor": actor},
            channel_id=email_channel(session),
            dedupe_key=JobKind.PURCHASE_ORDER_EMAIL.key(po.id),
        )


def build_email(
    settings: Settings, document: dict[str, Any], po_id: int, *, sender: str, sender_name: str
) -> EmailMessage:
    """The supplier's email: a short text, the PO's PDF and its lines as CSV.

    ``document``: the PO's (:func:`~hub.purchasing.document.build_document`), read in a
    transaction that has ended: drawing the PDF can wait seconds for a drawing process.
    """
    pdf = render_pdf(
        document,
        override_dir=templates_dir(settings),
        template=TEMPLATE,
        processes=settings.pdf_processes,
    )
    buyer = document["buyer"]["legal_name"] or sender_name or "us"
    message = EmailMessage()
    message["Subject"] = f"Purchase order {document['number']} from {buyer}"
    message["From"] = formataddr((sender_name or buyer, sender))
    supplier = document["supplier"]
    message["To"] = formataddr((supplier["name"], supplier["email"]))
    if settings.seller_email:
        message["Reply-To"] = settings.seller_email
    # From the ledger key: a resend after a crash carries the same id, so it can be dropped.
    digest = hashlib.sha256(ledger_key(po_id).encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@{sender.rpartition('@')[2] or 'hub'}>"
    lines = "\n".join(
        f"- {line['quantity']} x {line['sku']}"
        + (f" ({line['supplier_sku']})" if line["supplier_sku"] else "")
        for line in document["lines"]
    )
    message.set_content(
        f"Hello {supplier['name']},\n\nplease supply the following "
        f"(purchase order {document['number']}),"
        f" delivered to {document['ship_to']['name']}:\n\n{lines}\n\n"
        f"Total: {document['total']} {document['currency']}\n\n"
        "The purchase order is attached as PDF, and its lines as CSV.\n\n"
        f"{buyer}\n"
    )
    message.add_attachment(
        pdf, maintype="application", subtype=CONTENT_TYPE.split("/")[1], filename=filename(document)
    )
    message.add_attachment(
        lines_csv(document), maintype="text", subtype="csv", filename=f"{document['number']}.csv"
    )
    return message
