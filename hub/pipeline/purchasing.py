"""A sent purchase order on its way to the supplier, once: by email, or through the ERP.

``purchase_order.email``: the notifications outbox's mechanics
(:mod:`hub.notifications.outbox`): the sent ledger is checked before the SMTP
server is called and written right after, each attempt recorded (``sending``
first, so a crash mid-send stays visible).

``purchase_order.erp``: the job's channel's connector writes it
(:meth:`~hub.integration.connectors.ErpConnector.export_purchase_order`); the
hub's ledger ``erp_exported_purchase_orders`` makes a retry write nothing twice.
"""

from __future__ import annotations

import time
from typing import Any

from hub.core.exceptions import ConfigError
from hub.integration.connectors import Capability, ErpConnector, can
from hub.notifications import outbox
from hub.pipeline.alerts import SendsEmail
from hub.purchasing.delivery import build_email, ledger_key
from hub.purchasing.document import build_document
from hub.queue.jobs import JobContext
from hub.store.models import PurchaseOrder

EVENT = "purchase_order.sent"


def email_purchase_order(ctx: JobContext) -> None:
    """Email one sent PO (its PDF and CSV attached) to its supplier through the job's channel."""
    po_id = int(ctx.payload["purchase_order_id"])
    key = ledger_key(po_id)
    connector = ctx.connector()
    if not isinstance(connector, SendsEmail):
        raise TypeError(f"channel {ctx.channel_id} cannot send email (not an email channel)")
    config = getattr(connector, "config", {})
    with ctx.hub.db.read() as session:
        if outbox.already_sent(session, key):
            return
        resend = outbox.in_doubt(session, key) > 0
        po = session.get(PurchaseOrder, po_id)
        if po is None:
            return
        recipient = po.supplier.email
        document = build_document(session, ctx.hub.settings, po)
    # Drawn with no transaction open: the PDF can wait seconds for a drawing process.
    message = build_email(
        ctx.hub.settings,
        document,
        po_id,
        sender=config.get("from_address") or "hub@localhost",
        sender_name=config.get("from_name") or "",
    )
    facts: dict[str, Any] = dict(
        channel_id=ctx.channel_id, order_id=None, event_id=None, event_name=EVENT
    )
    with ctx.hub.db.transaction() as session:
        attempt_id = outbox.begin_attempt(session, key, resend=resend, recipient=recipient, **facts)
    started = time.perf_counter()
    try:
        connector.send(message)
    except Exception as exc:
        with ctx.hub.db.transaction() as session:
            outbox.finish_attempt(
                session,
                attempt_id,
                outcome="failed",
                duration_ms=int((time.perf_counter() - started) * 1000),
                error=f"{exc.__class__.__name__}: {exc}",
            )
        raise
    with ctx.hub.db.transaction() as session:
        outbox.finish_attempt(
            session,
            attempt_id,
            outcome="sent",
            status_code=250,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        outbox.record_sent(
            session, key, recipient=recipient, message_id=str(message["Message-ID"]), **facts
        )


def export_purchase_order(ctx: JobContext) -> None:
    """Hand one sent PO to the job's ERP channel (the ``erp_csv`` connector: a CSV file)."""
    po_id = int(ctx.payload["purchase_order_id"])
    connector = ctx.connector()
    if not (isinstance(connector, ErpConnector) and can(connector, Capability.PURCHASE_ORDERS)):
        raise ConfigError(
            f"channel {ctx.channel_id} takes no purchase orders (its connector cannot export them)"
        )
    connector.export_purchase_order(ctx.erp(), po_id)
