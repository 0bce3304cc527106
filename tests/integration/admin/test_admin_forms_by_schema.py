"""The admin forms are loaded by the API's own schemas: what the API refuses, the page refuses too."""

from __future__ import annotations

from admin_helpers import flashes
from test_admin_returns import messages, returns_of, shipped  # noqa: F401  (a fixture)

from hub.store.models import Location, Order


def test_a_return_is_refused_for_what_the_api_refuses(browser, admin_hub, shipped):  # noqa: F811
    order_id, line_id = shipped
    too_long = browser.post(
        f"/orders/{order_id}/returns",
        {f"qty-{line_id}": "1", "reason": "x" * 501},
        follow_redirects=True,
    )
    assert "To open a return, give a reason of at most 500 characters." in messages(too_long)
    far_away = browser.post(
        f"/orders/{order_id}/returns",
        {f"qty-{line_id}": "1", f"loc-{line_id}": "w" * 101, "reason": "too small"},
        follow_redirects=True,
    )
    assert "a location code of at most 100 characters" in messages(far_away)
    assert returns_of(admin_hub, order_id) == []

    fine = browser.post(
        f"/orders/{order_id}/returns",
        {f"qty-{line_id}": "1", f"loc-{line_id}": "outlet", "reason": "too small"},
        follow_redirects=True,
    )
    assert "Return 1 opened for 1 unit" in messages(fine)
    browser.post("/returns/1/approve", {"note": "ok"})
    note = browser.post("/returns/1/reject", {"reason": "y" * 2001}, follow_redirects=True)
    assert "Give a reason: Length must be between 1 and 2000." in messages(note)
    assert returns_of(admin_hub, order_id)[0][0] == "approved"


def test_a_location_is_loaded_by_the_api_schema(browser, admin_hub):
    bad = browser.post(
        "/stock/locations", {"code": "main hall", "priority": "1"}, follow_redirects=True
    )
    assert "use letters, digits, dots, dashes and underscores" in " ".join(
        flashes(bad.get_data(as_text=True))
    )
    not_a_number = browser.post(
        "/stock/locations", {"code": "main", "priority": "high"}, follow_redirects=True
    )
    assert "a priority as a whole number (higher ships first)" in " ".join(
        flashes(not_a_number.get_data(as_text=True))
    )
    with admin_hub.db.read() as db:
        assert db.query(Location).count() == 0
    saved = browser.post(
        "/stock/locations",
        {"code": "main", "name": "Main", "priority": "-2", "active": "on"},
        follow_redirects=True,
    )
    assert "Location main saved." in flashes(saved.get_data(as_text=True))
    with admin_hub.db.read() as db:
        location = db.query(Location).one()
        assert (location.code, location.priority, location.active) == ("main", -2, True)


def test_a_transition_is_loaded_by_the_api_schema(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    shipped_by_hand = browser.post(
        f"/orders/{order_id}/transition", {"event": "ship_partial"}, follow_redirects=True
    )
    assert "cannot ship_partial" in " ".join(flashes(shipped_by_hand.get_data(as_text=True)))
    wordy = browser.post(
        f"/orders/{order_id}/transition",
        {"event": "cancel", "reason": "z" * 2001},
        follow_redirects=True,
    )
    assert "at most 2000 characters" in " ".join(flashes(wordy.get_data(as_text=True)))
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).status == "pending"
