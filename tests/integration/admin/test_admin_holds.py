"""The holds queue (issue 19, gap "Holds queue"): held orders oldest first with reasons in
words and what to do, counts per reason that filter, and the one-click resolutions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from admin_helpers import flashes
from sqlalchemy import select

from hub.core.order import Customer
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import transitions
from hub.store.models import Order, OrderAuditEvent
from hub.testing import order_data

PLACED = datetime(2026, 12, 1, 9, tzinfo=UTC)

#: Every test on SQLite and on the real PostgreSQL (JSON hold reasons, row locks, the ordering).
pytestmark = pytest.mark.parametrize(
    "admin_hub", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _held(admin_hub, make_order, run_jobs, **overrides) -> int:
    order_id = make_order(admin_hub, **overrides)
    run_jobs(admin_hub)
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).status == "on_hold"
    return order_id


def _status(admin_hub, order_id: int) -> tuple[str, list[str]]:
    with admin_hub.db.read() as db:
        order = db.get(Order, order_id)
        return order.status, list(order.hold_reasons or [])


def _no_zip():
    address = order_data().shipping_address
    address.zip = ""
    return address


def _stock(admin_hub, **by_location: int) -> None:
    with admin_hub.db.transaction() as db:
        for code in by_location:
            upsert_location(db, code, name=f"Warehouse {code}")
        set_on_hand(
            db,
            [LevelChange("TSHIRT-M", code, qty) for code, qty in by_location.items()],
            actor="test",
        )


def test_the_queue_lists_held_orders_oldest_first_with_reasons_in_words_and_what_to_do(
    browser, admin_hub, make_order, run_jobs
):
    newer = _held(admin_hub, make_order, run_jobs, number="#NEW", total=9999, placed_at=PLACED)
    older = _held(
        admin_hub,
        make_order,
        run_jobs,
        number="#OLD",
        shipping_address=_no_zip(),
        placed_at=PLACED - timedelta(days=3),
    )
    make_order(admin_hub, number="#FINE")
    run_jobs(admin_hub)
    page = browser.get("/holds").get_data(as_text=True)
    assert page.index("#OLD") < page.index("#NEW"), "the order waiting longest comes first"
    assert "#FINE" not in page
    assert "The shipping address has no postal code" in page
    assert "Fill in what the address lacks" in page
    assert "do not add up to the total" in page and "if the total charged is right" in page
    assert "address_incomplete</" not in page and ">totals_mismatch" not in page
    assert f'href="/orders/{older}"' in page and f'href="/orders/{newer}"' in page
    # The navigation leads here.
    assert 'href="/holds"' in browser.get("/orders").get_data(as_text=True)


def test_counts_per_reason_filter_the_queue(browser, admin_hub, make_order, run_jobs):
    _held(admin_hub, make_order, run_jobs, number="#T1", total=9999)
    _held(admin_hub, make_order, run_jobs, number="#T2", total=9998)
    _held(admin_hub, make_order, run_jobs, number="#A1", shipping_address=_no_zip())
    page = browser.get("/holds").get_data(as_text=True)
    tiles = dict(
        (words.strip(), int(n))
        for n, words in re.findall(r'<span class="num">(\d+)</span>([^<]+)</a>', page)
    )
    assert tiles["all on hold"] == 3
    assert tiles["totals do not add up"] == 2
    assert tiles["address incomplete"] == 1
    assert tiles["payment failed"] == 0
    filtered = browser.get("/holds?reason=totals_mismatch").get_data(as_text=True)
    assert "#T1" in filtered and "#T2" in filtered and "#A1" not in filtered


def test_fixing_the_address_inline_records_it_releases_and_checks_at_once(
    browser, admin_hub, make_order, run_jobs
):
    order_id = _held(admin_hub, make_order, run_jobs, shipping_address=_no_zip())
    page = browser.get("/holds").get_data(as_text=True)
    form = page[page.index('class="address-fix"') :]
    form = form[: form.index("</form>")]
    assert 'name="zip"' in form and 'name="city"' not in form, "only what is missing is asked"

    refused = browser.post(f"/holds/{order_id}/address", data={"zip": "  "}, follow_redirects=True)
    assert any("still lacks zip" in m for m in flashes(refused.get_data(as_text=True)))
    assert _status(admin_hub, order_id) == ("on_hold", ["address_incomplete"])

    done = browser.post(f"/holds/{order_id}/address", data={"zip": "90210"}, follow_redirects=True)
    said = " ".join(flashes(done.get_data(as_text=True)))
    assert "the shipping address is saved" in said
    assert "the checks passed and it is now confirmed" in said
    assert _status(admin_hub, order_id)[0] == "confirmed"
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).shipping_address["zip"] == "90210"
        names = list(
            db.scalars(
                select(OrderAuditEvent.name)
                .where(OrderAuditEvent.order_id == order_id)
                .order_by(OrderAuditEvent.id)
            )
        )
    assert names[-3:] == ["order.updated", "order.released", "order.confirmed"]


def test_a_bad_country_code_is_refused_like_the_address_rule(
    browser, admin_hub, make_order, run_jobs
):
    address = order_data().shipping_address
    address.country_code = ""
    order_id = _held(admin_hub, make_order, run_jobs, shipping_address=address)
    done = browser.post(
        f"/holds/{order_id}/address", data={"country_code": "USA"}, follow_redirects=True
    )
    assert any("two-letter code" in m for m in flashes(done.get_data(as_text=True)))
    assert _status(admin_hub, order_id)[0] == "on_hold"


def test_a_possible_duplicate_links_the_other_order_and_can_be_accepted(
    browser, admin_hub, make_order, run_jobs
):
    bob = Customer(email="bob@example.com", name="Bob Jones")
    first = make_order(admin_hub, number="#B1", customer=bob, placed_at=PLACED)
    run_jobs(admin_hub)
    second = _held(
        admin_hub,
        make_order,
        run_jobs,
        number="#B2",
        customer=bob,
        placed_at=PLACED + timedelta(minutes=2),
    )
    assert _status(admin_hub, second) == ("on_hold", ["possible_duplicate"])
    page = browser.get("/holds?reason=possible_duplicate").get_data(as_text=True)
    card = page[page.index('aria-label="Order #B2"') :]
    assert f'The other order: <a href="/orders/{first}">#B1</a>' in card
    done = browser.post(f"/holds/{second}/accept-duplicate", data={}, follow_redirects=True)
    assert "accepted as not a duplicate — it is now confirmed" in " ".join(
        flashes(done.get_data(as_text=True))
    )
    assert _status(admin_hub, second)[0] == "confirmed"


def test_out_of_stock_shows_stock_per_location_and_try_again_reserves(
    browser, admin_hub, make_order, run_jobs
):
    _stock(admin_hub, WH1=1, WH2=0)
    order_id = _held(admin_hub, make_order, run_jobs, number="#S1")  # 2 × TSHIRT-M
    assert _status(admin_hub, order_id) == ("on_hold", ["out_of_stock"])
    page = browser.get("/holds").get_data(as_text=True)
    assert "TSHIRT-M</strong>: 2 wanted, 1 missing" in page
    assert "Available: Warehouse WH1 1, Warehouse WH2 0" in page
    assert "picking one by hand is not supported" in page

    again = browser.post(f"/holds/{order_id}/retry", data={}, follow_redirects=True)
    assert "released, but held again — Not enough stock" in " ".join(
        flashes(again.get_data(as_text=True))
    )
    _stock(admin_hub, WH2=5)
    done = browser.post(f"/holds/{order_id}/retry", data={}, follow_redirects=True)
    assert "now confirmed" in " ".join(flashes(done.get_data(as_text=True)))
    assert _status(admin_hub, order_id)[0] == "confirmed"


def test_cancel_and_confirm_anyway_go_through_the_order_actions_and_come_back(
    browser, admin_hub, make_order, run_jobs
):
    cancel_me = _held(admin_hub, make_order, run_jobs, number="#C1", total=9999)
    confirm_me = _held(admin_hub, make_order, run_jobs, number="#C2", total=9998)
    page = browser.get("/holds").get_data(as_text=True)
    assert "Really cancel order #C1?" in page and "Confirm anyway" in page
    back = browser.post(
        f"/orders/{cancel_me}/transition", data={"event": "cancel", "next": "/holds"}
    )
    assert back.headers["Location"].endswith("/holds")
    browser.post(f"/orders/{confirm_me}/transition", data={"event": "confirm", "next": "/holds"})
    assert _status(admin_hub, cancel_me)[0] == "cancelled"
    assert _status(admin_hub, confirm_me)[0] == "confirmed"
    # An outside address is never followed.
    away = browser.post(
        f"/orders/{cancel_me}/transition", data={"event": "hold", "reason": "x", "next": "//evil"}
    )
    assert away.headers["Location"].endswith(f"/orders/{cancel_me}")
    assert "No order is on hold" in browser.get("/holds").get_data(as_text=True)


def test_a_hold_a_person_typed_is_shown_as_typed_with_a_general_step(
    browser, admin_hub, make_order
):
    order_id = make_order(admin_hub, number="#P1")
    with admin_hub.db.transaction() as db:
        transitions.hold(db, order_id, "call the customer first", actor="test")
    page = browser.get("/holds").get_data(as_text=True)
    assert "call the customer first" in page and "release the hold when it is dealt with" in page
