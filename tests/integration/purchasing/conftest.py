"""Fixtures for purchasing: an SMTP server behind an email channel, a supplier, a location."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hub.inventory.levels import upsert_location
from hub.purchasing import orders, suppliers
from plugins.email.tests.conftest import SmtpServer
from tests.integration.test_invoice_email import with_email_channel

BUYER = dict(
    seller_legal_name="Fjord Outfitters GmbH",
    seller_address="Hafenstraße 12|20457 Hamburg",
    seller_email="buying@fjord.example",
)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def hub(make_hub, smtp):
    """Here every hub has an email channel (the SMTP server ``smtp``) and a buyer's name."""
    return with_email_channel(make_hub(**BUYER), smtp)


@pytest.fixture
def shop(hub) -> SimpleNamespace:
    """A location ``main`` and a supplier selling TEE-M (4.50 EUR) and TEE-L (5.10 EUR)."""
    with hub.db.transaction() as db:
        location_id = upsert_location(db, "main", name="Main warehouse").id
        supplier = suppliers.create_supplier(
            db,
            {
                "name": "Acme Textiles",
                "email": "orders@acme.example",
                "currency": "EUR",
                "lead_time_days": 10,
            },
        )
        suppliers.set_supplier_sku(db, supplier.id, "TEE-M", cost_price=450, supplier_sku="AC-1")
        suppliers.set_supplier_sku(db, supplier.id, "TEE-L", cost_price=510)
        return SimpleNamespace(hub=hub, supplier_id=supplier.id, location_id=location_id)


def sent_po(shop, quantities=(("TEE-M", 10), ("TEE-L", 4))) -> int:
    """A PO for ``quantities`` drafted and sent; its id."""
    with shop.hub.db.transaction() as db:
        po = orders.create_draft(
            db,
            supplier_id=shop.supplier_id,
            location_id=shop.location_id,
            lines=[orders.DraftLine(sku, n) for sku, n in quantities],
            actor="test",
        )
        orders.send(db, po.id, actor="test")
        return po.id
