"""The order pages a merchant works in (issue 19): the list's order, what a cancel did to
the money, why a released order is held again, and words instead of codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hub.orders.queries import OrderFilters, search_orders

#: Placed out of id order on purpose: an order pulled late was placed early, and the other way round.
PLACED_DAYS = [3, 400, 1, 0, 30, 2, 700, 1, 5, 60]


def _numbers(html: str) -> list[str]:
    return re.findall(r'href="/orders/\d+">(#D\d+)</a>', html)


def test_the_orders_list_runs_newest_placed_first_across_pages(browser, admin_hub, make_order):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    for n, days in enumerate(PLACED_DAYS * 6):  # 60 orders: two pages of 50
        make_order(admin_hub, number=f"#D{n:03d}", placed_at=now - timedelta(days=days))
    shown = _numbers(browser.get("/orders").get_data(as_text=True))
    shown += _numbers(browser.get("/orders?page=2").get_data(as_text=True))
    assert len(shown) == 60 and len(set(shown)) == 60
    days = [PLACED_DAYS[int(number[2:]) % len(PLACED_DAYS)] for number in shown]
    assert days == sorted(days), "newest placed first, on every page"
    # On a tie (the same time), the later order first: the one with the higher number here.
    today = [int(number[2:]) for number in shown if PLACED_DAYS[int(number[2:]) % 10] == 0]
    assert today == sorted(today, reverse=True)


def test_keyset_pages_follow_the_same_order(admin_hub, make_order):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    for n, days in enumerate(PLACED_DAYS * 2):
        make_order(admin_hub, number=f"#D{n:03d}", placed_at=now - timedelta(days=days))
    with admin_hub.db.read() as db:
        every = [o.id for o in search_orders(db, OrderFilters(), limit=100).rows]
        paged, before = [], None
        while True:
            found = search_orders(db, OrderFilters(), limit=3, before_id=before)
            paged += [o.id for o in found.rows]
            if found.last_id is None:
                break
            before = found.last_id
    assert paged == every and len(every) == 20
