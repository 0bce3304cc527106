"""The orders list for work: filters by date and hold reason, sort by a column, CSV of what is
shown, and bulk actions confirmed with the count — the same filters on the admin, API and CLI."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from admin_helpers import flashes
from click.testing import CliRunner

from hub.accounts.users import create_token
from hub.cli.main import main
from hub.core.order import Customer, Line
from hub.orders import commands
from hub.queue import jobs
from hub.store.models import Job, JobStatus, Order
from hub.testing import TEST_SECRET_KEY, order_data
from hub.web.admin import orders as admin_orders

ROW = re.compile(r'<td><a href="/orders/(\d+)">')


def _admin_ids(browser, **args) -> list[int]:
    page = browser.get("/orders", query_string=args).get_data(as_text=True)
    return [int(n) for n in ROW.findall(page)]


def _api_ids(app, hub, **args) -> list[int]:
    with hub.db.transaction() as db:
        token = create_token(db, "list")[1]
    answer = app.test_client().get(
        "/api/v1/orders", query_string=args, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.get_json()
    return [o["id"] for o in answer.get_json()["data"]]


def _cli_ids(hub, *options: str) -> list[int]:
    env = {
        "HUB_DATA_DIR": str(hub.settings.data_dir),
        "HUB_DATABASE_URL": hub.settings.database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
    }
    result = CliRunner().invoke(main, ["orders", "list", *options], env=env)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return [int(line.split("\t")[0]) for line in lines[1:]]


def _hold(hub, order_id: int, reason: str) -> None:
    with hub.unit_of_work() as work:
        commands.transition(work, order_id, "hold", actor="test", reason=reason)


def _three(hub, make_order) -> dict[str, int]:
    """December 1st's #3001 (10.00), December 2nd's #3002 (30.00, held for its address),
    December 3rd's #3003 (30.00)."""
    made = {}
    for day, number, price in ((1, "#3001", 250), (2, "#3002", 1250), (3, "#3003", 1250)):
        made[number] = make_order(
            hub,
            number=number,
            placed_at=datetime(2026, 12, day, 23, 30, tzinfo=UTC),
            customer=Customer(email=f"c{day}@example.com", name=f"Customer {day}"),
            lines=[Line(sku=f"SKU-{day}", name="Thing", quantity=2, unit_price=price)],
        )
    _hold(hub, made["#3002"], "address_incomplete")
    return made


@pytest.mark.parametrize(
    "admin_hub", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_placed_dates_and_hold_reason_filter_the_same_on_every_surface(
    browser, admin_app, admin_hub, make_order
):
    made = _three(admin_hub, make_order)
    # The whole of the "to" day counts: #3002 was placed at 23:30 on the 2nd.
    expected = [made["#3002"], made["#3001"]]
    assert _admin_ids(browser, placed_from="2026-12-01", placed_to="2026-12-02") == expected
    assert _api_ids(admin_app, admin_hub, placed_from="2026-12-01", placed_to="2026-12-02") == (
        expected
    )
    assert _cli_ids(admin_hub, "--placed-from", "2026-12-01", "--placed-to", "2026-12-02") == (
        expected
    )
    held = [made["#3002"]]
    assert _admin_ids(browser, hold_reason="address_incomplete") == held
    assert _api_ids(admin_app, admin_hub, hold_reason="address_incomplete") == held
    assert _cli_ids(admin_hub, "--hold-reason", "address_incomplete") == held
    assert _admin_ids(browser, hold_reason="out_of_stock") == []
    page = browser.get("/orders?hold_reason=address_incomplete").get_data(as_text=True)
    assert '<option value="address_incomplete" selected>The shipping address is incomplete' in page


@pytest.mark.parametrize(
    "admin_hub", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_list_sorts_by_a_column_both_ways_ties_by_id(browser, admin_hub, make_order):
    made = _three(admin_hub, make_order)
    a, b, c = made["#3001"], made["#3002"], made["#3003"]
    assert _admin_ids(browser) == [c, b, a]  # the default: newest placed first
    assert _admin_ids(browser, sort="number") == [a, b, c]
    assert _admin_ids(browser, sort="-number") == [c, b, a]
    assert _admin_ids(browser, sort="total") == [a, b, c]  # #3002 and #3003 tie: by id
    assert _admin_ids(browser, sort="-total") == [c, b, a]
    assert _admin_ids(browser, sort="status") == [b, a, c]  # on_hold before pending
    assert _cli_ids(admin_hub, "--sort", "total") == [a, b, c]
    page = browser.get("/orders?sort=total").get_data(as_text=True)
    assert '<a href="/orders?sort=-total" class="sort">Total ↑</a>' in page  # pressed again: ↓


def test_the_csv_has_every_page_of_the_filter_with_formulas_neutralised(
    browser, admin_hub, make_order, monkeypatch
):
    monkeypatch.setattr(admin_orders, "CSV_BATCH", 2)  # streamed in batches: all of them come
    ids = [
        make_order(
            admin_hub,
            number=f"#40{n}",
            customer=Customer(email=f"d{n}@example.com", name=f'=HYPERLINK("x","{n}")'),
        )
        for n in range(5)
    ]
    other = make_order(admin_hub, number="#9999")
    page = browser.get("/orders?q=%2340&sort=number").get_data(as_text=True)
    assert 'href="/orders.csv?q=%2340&amp;sort=number"' in page  # the link keeps the filters
    answer = browser.get("/orders.csv?q=%2340&sort=number")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "number", "channel"]
    assert [int(r[0]) for r in rows[1:]] == ids and other not in {int(r[0]) for r in rows[1:]}
    assert rows[1][7] == '\'=HYPERLINK("x","0")'  # shown, never run


def test_a_bulk_cancel_asks_with_the_count_then_reports_each_order(browser, admin_hub, make_order):
    first, second, third = (make_order(admin_hub, number=f"#50{n}") for n in range(3))
    with admin_hub.unit_of_work() as work:
        commands.transition(work, third, "cancel", actor="test")
    ids = [str(first), str(second), str(third)]
    asked = browser.post("/orders/bulk", {"action": "cancel", "order_id": ids})
    page = asked.get_data(as_text=True)
    assert "<h1>Cancel 3 orders?</h1>" in page and ">Cancel 3 orders</button>" in page
    with admin_hub.db.read() as db:  # nothing happens before the confirmation
        assert {db.get(Order, i).status for i in (first, second)} == {"pending"}
    done = browser.post(
        "/orders/bulk", {"action": "cancel", "order_id": ids, "confirm": "yes"}
    ).get_data(as_text=True)
    assert "Cancel 3 orders: 3 done, 0 refused" in done
    assert done.count("Done: now cancelled") == 2
    assert "#502</a></td><td>Done: already cancelled</td>" in done  # the same again: harmless
    with admin_hub.db.read() as db:
        assert {db.get(Order, i).status for i in (first, second)} == {"cancelled"}


def test_bulk_hold_needs_a_reason_and_release_and_retry_report_each_order(
    browser, admin_hub, make_order
):
    first, second = make_order(admin_hub, number="#601"), make_order(admin_hub, number="#602")
    ids = [str(first), str(second)]
    refused = browser.post(
        "/orders/bulk", {"action": "hold", "order_id": ids, "confirm": "yes"}, follow_redirects=True
    )
    assert "A hold needs a reason: say what a person must look at." in flashes(
        refused.get_data(as_text=True)
    )
    held = browser.post(
        "/orders/bulk",
        {"action": "hold", "reason": "call the customer", "order_id": ids, "confirm": "yes"},
    ).get_data(as_text=True)
    assert "Hold 2 orders: 2 done, 0 refused" in held
    browser.post("/orders/bulk", {"action": "release", "order_id": [ids[0]], "confirm": "yes"})
    again = browser.post(
        "/orders/bulk", {"action": "hold", "reason": "x", "order_id": ids, "confirm": "yes"}
    ).get_data(as_text=True)
    assert "Hold 2 orders: 2 done, 0 refused" in again
    released = browser.post(
        "/orders/bulk", {"action": "cancel", "order_id": [ids[0]], "confirm": "yes"}
    ).get_data(as_text=True)
    assert "1 done" in released
    refused = browser.post(
        "/orders/bulk", {"action": "release", "order_id": ids, "confirm": "yes"}
    ).get_data(as_text=True)
    assert "Release 2 orders: 1 done, 1 refused" in refused, refused.split("<main")[1]
    with admin_hub.db.transaction() as db:
        job_id = jobs.enqueue(db, "order.check", {"order_id": first}, order_id=first)
        db.get(Job, job_id).status = JobStatus.DEAD
    retried = browser.post(
        "/orders/bulk", {"action": "retry", "order_id": ids, "confirm": "yes"}
    ).get_data(as_text=True)
    assert "1 done, 1 refused" in retried and "1 job queued again" in retried
    assert "has no failed or dead jobs" in retried
    with admin_hub.db.read() as db:
        assert db.get(Job, job_id).status == JobStatus.QUEUED


def test_a_bulk_action_without_the_csrf_token_is_refused(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    answer = browser.client.post(
        "/orders/bulk", data={"action": "cancel", "order_id": [str(order_id)], "confirm": "yes"}
    )
    assert answer.status_code == 400
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).status == "pending"


def test_a_bulk_release_runs_the_checks_and_says_why_an_order_is_held_again(
    browser, admin_hub, make_order
):
    no_zip = order_data().shipping_address
    no_zip.zip = ""
    bad = make_order(admin_hub, number="#801", shipping_address=no_zip)
    good = make_order(admin_hub, number="#802")
    for order_id in (bad, good):
        _hold(admin_hub, order_id, "look at it")
    page = browser.post(
        "/orders/bulk",
        {"action": "release", "order_id": [str(bad), str(good)], "confirm": "yes"},
    ).get_data(as_text=True)
    assert "Release 2 orders: 2 done, 0 refused" in page
    assert "#801</a></td><td>Done: released, but held again — The shipping address has no " in page
    assert "#802</a></td><td>Done: released — the checks passed, now confirmed" in page


def test_the_list_sorts_by_channel_name(browser, admin_hub, make_order):
    from hub.channels.manage import create_channel
    from hub.orders import intake

    manual = make_order(admin_hub, number="#901")  # "Manual orders"
    with admin_hub.db.transaction() as db:
        store = create_channel(
            admin_hub,
            db,
            name="Atlas store",
            connector="vault",
            config={"account": "a", "api_token": "t"},
        )
        atlas = intake.upsert_order(
            db, store, order_data(external_id="A1", number="#902"), actor="test"
        ).order.id
    assert _admin_ids(browser, sort="channel") == [atlas, manual]
    assert _admin_ids(browser, sort="-channel") == [manual, atlas]
    assert _cli_ids(admin_hub, "--sort", "channel") == [atlas, manual]
