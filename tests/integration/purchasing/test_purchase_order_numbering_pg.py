"""Purchase order numbers on PostgreSQL: gapless and unique when drafts are made at once."""

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
