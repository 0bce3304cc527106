"""Purchase orders on PostgreSQL: gapless numbers and receipts that never over-book, at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from hub.purchasing import orders
from hub.store.db import Database
from hub.store.models import PurchaseOrder
from hub.testing import truncate_all
from tests.integration.purchasing.conftest import BUYER, with_email_channel

PARALLEL = 20


@pytest.fixture
def hub(make_hub, pg_url, smtp):
    db = Database(pg_url)
    truncate_all(db)
    db.dispose()
    return with_email_channel(make_hub(database_url=pg_url, **BUYER), smtp)


@pytest.mark.postgres
def test_twenty_drafts_made_at_once_get_twenty_consecutive_numbers(hub, shop):
    start = threading.Barrier(PARALLEL)

    def draft(i: int) -> None:
        start.wait()
        with hub.db.transaction() as db:
            po = orders.create_draft(
                db,
                supplier_id=shop.supplier_id,
                location_id=shop.location_id,
                lines=[orders.DraftLine("TEE-M", i + 1)],
                actor=f"buyer {i}",
            )
            if i % 5 == 4:  # a rolled-back draft gives its number back
                db.rollback()
                return
            assert po.number

    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(draft, range(PARALLEL)))
    with hub.db.read() as db:
        numbers = sorted(db.scalars(select(PurchaseOrder.number)))
    year = numbers[0][3:7]
    assert numbers == [f"PO-{year}-{n:06d}" for n in range(1, PARALLEL - PARALLEL // 5 + 1)]


@pytest.mark.postgres
def test_receipts_racing_on_postgresql_never_book_more_than_was_ordered(hub, shop):
    from hub.core.exceptions import Conflict, ValidationError
    from hub.purchasing import receiving
    from hub.store.models import StockLevel
    from tests.integration.purchasing.conftest import sent_po

    po_id = sent_po(shop, (("TEE-M", 10),))
    start = threading.Barrier(PARALLEL)

    def receive_two(_: int) -> bool:
        start.wait()
        try:
            with hub.db.transaction() as db:
                receiving.receive(db, po_id, [("TEE-M", 2)], actor="dock")
        except (ValidationError, Conflict):  # too many, or the PO was full already
            return False
        return True

    with ThreadPoolExecutor(PARALLEL) as pool:
        booked = list(pool.map(receive_two, range(PARALLEL)))
    assert booked.count(True) == 5
    with hub.db.read() as db:
        po = db.get(PurchaseOrder, po_id)
        assert (po.status, po.lines[0].received_quantity) == ("received", 10)
        assert db.scalar(select(StockLevel.on_hand).where(StockLevel.sku == "TEE-M")) == 10
