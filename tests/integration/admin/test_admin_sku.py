"""The admin's SKU page (issue 21): history and forecast band, days of cover, where it is
stocked, and the reorder policy with its arithmetic."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.core.order import Line
from hub.inventory.levels import upsert_location
from hub.replenishment.forecasts import run_forecasts
from hub.store.models import ReorderPolicy, StockLevel, utcnow


@pytest.fixture
def mug(admin_hub, make_order):
    today = utcnow().date()
    for n in range(1, 61):
        day = today - timedelta(days=n)
        make_order(
            admin_hub,
            placed_at=utcnow() - timedelta(days=n),
            lines=[Line(sku="MUG", name="Mug", quantity=3 + day.weekday() % 3, unit_price=900)],
        )
    with admin_hub.db.transaction() as session:
        east = upsert_location(session, "EAST", name="East DC")
        session.add(StockLevel(sku="MUG", location_id=east.id, on_hand=40, reserved=4))
    run_forecasts(admin_hub)


def test_the_sku_page_shows_the_chart_cover_stock_and_the_reorder_arithmetic(browser, mug):
    page = browser.get("/skus/MUG").get_data(as_text=True)

    assert "<polyline" in page and "<polygon" in page  # the forecast line and its band
    assert page.count("<rect x=") >= 60  # a bar per day sold
    assert 'class="num days-of-cover">' in page
    assert "East DC" in page and ">36<" in page  # available at EAST
    assert "forecast " in page and "/day × 7 days" in page and "reorder point ⌈" in page


def test_the_stock_list_links_each_row_to_its_sku_page(browser, mug):
    page = browser.get("/stock").get_data(as_text=True)

    assert 'href="/skus/MUG?location=EAST"' in page


def test_a_fixed_policy_saved_on_the_page_is_its_reorder_point(browser, admin_hub, mug):
    response = browser.post(
        "/skus/MUG/policy",
        data={"kind": "fixed", "location": "EAST", "min_quantity": "15", "max_quantity": "45"},
    )

    assert response.status_code == 302
    page = browser.get("/skus/MUG?location=EAST").get_data(as_text=True)
    assert 'class="reorder-point">15<' in page and 'class="order-up-to">45<' in page
    assert "set by" in page


def test_a_bad_policy_is_refused_with_the_field_named_and_nothing_saved(browser, admin_hub, mug):
    response = browser.post(
        "/skus/MUG/policy",
        data={"kind": "fixed", "min_quantity": "30", "max_quantity": "10"},
    )

    assert response.status_code == 422
    assert "must be at least min_quantity" in response.get_data(as_text=True)
    with admin_hub.db.read() as session:
        assert session.scalars(select(ReorderPolicy)).all() == []


def test_an_unknown_sku_is_404(browser, mug):
    assert browser.get("/skus/NOPE").status_code == 404
