"""The admin pages whose queries differ between databases, on the real PostgreSQL.

(Dates per day, case-insensitive search, row locks for the sign-in throttle,
counting for paging.) The same behaviour is tested on SQLite in the other files.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from admin_helpers import flashes, sign_in

from hub.accounts import throttle
from hub.queue.jobs import dead_letter
from hub.store.models import StockLevel, utcnow

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("admin_hub", ["postgresql"], indirect=True),
]


def test_dashboard_and_orders_on_postgres(browser, admin_hub, make_order):
    for n in range(52):
        make_order(admin_hub, number=f"#PG{n:03d}")
    make_order(admin_hub, number="#OLD", placed_at=utcnow() - timedelta(days=3))
    html = browser.get("/").get_data(as_text=True)
    titles = re.findall(r"<title>(.*?)</title>", html)
    assert f"{utcnow().date().isoformat()} · Manual orders: 52" in titles
    assert f"{(utcnow() - timedelta(days=3)).date().isoformat()} · Manual orders: 1" in titles
    assert "Page 1 of 2 · 53 in all" in browser.get("/orders").get_data(as_text=True)
    found = browser.get("/orders?q=pg051&status=pending&channel=manual").get_data(as_text=True)
    assert "#PG051" in found and "#PG050" not in found


def test_sign_in_throttle_on_postgres(admin_app, admin_hub):
    client = admin_app.test_client()
    for _ in range(throttle.MAX_FAILURES - 1):
        assert sign_in(client, password="guess").status_code == 401
    assert sign_in(client, password="guess").status_code == 429
    assert sign_in(client).status_code == 429


def test_stock_jobs_and_inbox_on_postgres(browser, admin_hub):
    browser.post("/stock/locations", {"code": "main", "priority": "1", "active": "on"})
    answer = browser.post(
        "/stock/levels",
        {"sku": "MUG", "location": "main", "on_hand": "4", "reason": "count"},
        follow_redirects=True,
    )
    assert "MUG at main: on hand is now 4." in flashes(answer.get_data(as_text=True))
    with admin_hub.db.read() as db:
        assert db.query(StockLevel).one().on_hand == 4
    with admin_hub.db.transaction() as db:
        dead_letter(db, "channel.pull", {}, error="ExternalError: gone")
    assert "ExternalError: gone" in browser.get("/jobs?status=dead").get_data(as_text=True)
    assert browser.get("/inbox?status=failed&channel=manual").status_code == 200
