"""Files that go with a notification (an invoice's PDF) reach the customer as parts of the email."""

from __future__ import annotations

import pytest

from hub.core.events import OrderEvent
from hub.integration.connectors import Attachment, Capability, can
from plugins.email.tests.test_email import add_channel
from plugins.email.tests.test_templates import order

#: Bytes no text encoding would carry unharmed: NUL, high bytes, CR LF, a lone CR.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\x00\x01\xff\xfe\r\n\rbinary tail" * 50


def invoice_event(name="order.invoice_issued", **data):
    return OrderEvent(
        name=name,
        order_id=7,
        id=41,
        data={"invoice_id": 3, "number": "INV-2026-000001", "total": "29.90", **data},
    )


def attached(message):
    return [part for part in message.iter_attachments()]


def test_the_invoice_email_carries_the_pdf_with_its_name_and_exact_bytes(hub, smtp_server):
    smtp_server.start()
    connector = hub.connector_for_id(add_channel(hub, smtp_server.port))
    assert can(connector, Capability.ATTACHMENTS)

    delivery = connector.notify(
        invoice_event(),
        order(),
        idempotency_key="notify:1:41",
        attachments=[Attachment("INV-2026-000001.pdf", "application/pdf", PDF)],
    )

    assert delivery.recipient == "zoe@example.com"
    [message] = smtp_server.messages
    assert message["Subject"] == "Your invoice INV-2026-000001 for order #1007"
    [part] = attached(message)
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == "INV-2026-000001.pdf"
    assert part.get_content_disposition() == "attachment"
    assert part.get_content() == PDF
    # The words are still there, beside the file.
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "invoice INV-2026-000001 for order #1007: €29.90" in body
    assert "attached" in body
    assert message.get_body(preferencelist=("html",)) is not None


def test_a_credit_note_email_names_the_invoice_it_credits(hub, smtp_server):
    smtp_server.start()
    connector = hub.connector_for_id(add_channel(hub, smtp_server.port))

    connector.notify(
        invoice_event(
            "order.credit_note_issued", number="CN-2026-000001", credit_of="INV-2026-000001"
        ),
        order(),
        idempotency_key="notify:1:42",
        attachments=[Attachment("CN-2026-000001.pdf", "application/pdf", PDF)],
    )

    [message] = smtp_server.messages
    assert message["Subject"] == "Your credit note CN-2026-000001 for order #1007"
    assert "credits invoice INV-2026-000001" in message.get_body(("plain",)).get_content()
    assert [p.get_filename() for p in attached(message)] == ["CN-2026-000001.pdf"]


def test_an_email_without_attachments_has_no_file_parts(hub, smtp_server):
    smtp_server.start()
    connector = hub.connector_for_id(add_channel(hub, smtp_server.port))

    connector.notify(
        OrderEvent(name="order.confirmed", order_id=7, id=43), order(), idempotency_key="k"
    )

    [message] = smtp_server.messages
    assert attached(message) == []
    assert message.get_content_type() == "multipart/alternative"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("", "application/pdf"), ("../x.pdf", "application/pdf"), ("x.pdf", "pdf")],
)
def test_an_attachment_needs_a_plain_name_and_a_mime_type(filename, content_type):
    with pytest.raises(ValueError):
        Attachment(filename, content_type, b"")
