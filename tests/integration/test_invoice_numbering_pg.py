"""Invoice numbers on PostgreSQL: gapless and unique under concurrency, nothing lost on rollback.

Each thread issues in a transaction of its own, as web requests and workers do.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from hub.invoicing import actions
from hub.store.models import Invoice

SELLER = dict(seller_legal_name="Acme Trading GmbH", seller_address="Hauptstr. 1|10115 Berlin")
PARALLEL = 50


@pytest.fixture
def hub(make_hub, pg_url):
    from hub.store.db import Database
    from hub.testing import truncate_all

    db = Database(pg_url)
    truncate_all(db)
    db.dispose()
    return make_hub(database_url=pg_url, **SELLER)


def _numbers(hub) -> list[str]:
    with hub.db.read() as session:
        return list(session.scalars(select(Invoice.number).order_by(Invoice.sequence)))


def test_fifty_invoices_issued_at_once_get_fifty_consecutive_numbers(hub, make_order):
    orders = [make_order(hub) for _ in range(PARALLEL)]
    start = threading.Barrier(PARALLEL)

    def issue(order_id: int) -> str:
        start.wait()  # all at once
        with hub.db.transaction() as session:
            return actions.issue_invoice(session, order_id, hub.settings, actor="test").number

    with ThreadPoolExecutor(PARALLEL) as pool:
        issued = list(pool.map(issue, orders))
    year = issued[0].split("-")[1]
    expected = [f"INV-{year}-{n:06d}" for n in range(1, PARALLEL + 1)]
    assert sorted(issued) == expected  # no gap, no duplicate
    assert _numbers(hub) == expected
    with hub.db.read() as session:
        assert session.scalar(text("SELECT next_value FROM invoice_counters")) == PARALLEL + 1


def test_a_rolled_back_invoice_leaves_no_gap(hub, make_order):
    first, second = make_order(hub), make_order(hub)
    with pytest.raises(RuntimeError):
        with hub.db.transaction() as session:
            number = actions.issue_invoice(session, first, hub.settings, actor="test").number
            assert number.endswith("-000001")
            raise RuntimeError("the request failed after numbering")
    with hub.db.transaction() as session:
        actions.issue_invoice(session, second, hub.settings, actor="test")
    assert [n[-6:] for n in _numbers(hub)] == ["000001"]


def test_an_issuer_waiting_on_one_that_rolls_back_takes_its_number(hub, make_order):
    first, second = make_order(hub), make_order(hub)
    numbered, rollback = threading.Event(), threading.Event()

    def doomed() -> None:
        with pytest.raises(RuntimeError), hub.db.transaction() as session:
            actions.issue_invoice(session, first, hub.settings, actor="test")
            numbered.set()
            rollback.wait(30)
            raise RuntimeError("rolled back while another waits")

    def waiting() -> str:
        numbered.wait(30)
        with hub.db.transaction() as session:
            return actions.issue_invoice(session, second, hub.settings, actor="test").number

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(doomed)
        b = pool.submit(waiting)
        _until_someone_waits_for_a_lock(hub)
        rollback.set()
        a.result()
        assert b.result().endswith("-000001")
    assert [n[-6:] for n in _numbers(hub)] == ["000001"]


def _until_someone_waits_for_a_lock(hub) -> None:
    """Poll (bounded) until a session of this database waits on a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(300):
        with hub.db.read() as session:
            if session.scalar(query):
                return
        time.sleep(0.05)
    raise AssertionError("the second issuer never waited for the counter's row lock")
