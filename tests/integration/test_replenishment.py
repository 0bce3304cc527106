"""Replenishment (issue 21): demand history, the forecast job, and the SKU demand and policy API."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from hub.accounts.users import create_token
from hub.core.order import Line
from hub.inventory.levels import upsert_location
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.replenishment.forecasts import run_forecasts
from hub.replenishment.history import demand_history
from hub.store.models import (
    DemandForecast,
    Job,
    Order,
    OrderLine,
    Return,
    ReturnLine,
    StockLevel,
    StockReservation,
    utcnow,
)
from hub.testing import ApiClient

TODAY = date(2026, 6, 1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def order(make_order, hub, day: date, *lines: tuple[str, int], hour: int = 12) -> int:
    return make_order(
        hub,
        placed_at=at(day, hour),
        lines=[
            Line(sku=sku, name=sku, quantity=quantity, unit_price=1000) for sku, quantity in lines
        ],
    )


def line_of(session, order_id: int) -> OrderLine:
    return session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)).one()


@pytest.fixture
def east(hub) -> int:
    with hub.db.transaction() as session:
        return upsert_location(session, "EAST", name="East DC").id


def test_history_nets_cancelled_orders_and_returns_per_day_and_location(any_hub, make_order):
    """On SQLite and PostgreSQL: a day is a UTC day whatever the session's time zone."""
    hub = any_hub
    with hub.db.transaction() as session:
        east = upsert_location(session, "EAST", name="East DC").id
    d1, d2, d3 = date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)
    reserved = order(make_order, hub, d1, ("MUG", 3))
    order(make_order, hub, d1, ("MUG", 2), hour=23)  # pending: no location yet
    cancelled = order(make_order, hub, d2, ("MUG", 5))
    with hub.db.transaction() as session:
        line = line_of(session, reserved)
        session.add(
            StockReservation(
                order_id=reserved,
                order_line_id=line.id,
                location_id=east,
                sku="MUG",
                quantity=3,
                status="consumed",
            )
        )
        session.execute(update(Order).where(Order.id == cancelled).values(status="cancelled"))
        returned = Return(
            order_id=reserved, status="received", currency="USD", received_at=at(d3, 9)
        )
        returned.lines = [ReturnLine(order_line_id=line.id, quantity=1, location_id=east)]
        session.add(returned)
        # A return asked for but not received has not come back: it does not count.
        asked = Return(order_id=reserved, status="requested", currency="USD")
        asked.lines = [ReturnLine(order_line_id=line.id, quantity=2, location_id=east)]
        session.add(asked)

    with hub.db.read() as session:
        history = demand_history(session, ["MUG"], d1, date(2026, 5, 10))["MUG"]

    assert history.total == {d1: 5, d3: -1}
    assert history.by_location == {east: {d1: 3, d3: -1}, None: {d1: 2}}


def seed_sales(hub, make_order, days: int = 60, today: date = TODAY) -> None:
    """MUG sells every day up to yesterday (more on Saturdays), CAP one day in five."""
    for n in range(days):
        day = today - timedelta(days=days - n)
        lines = [("MUG", 4 + (3 if day.weekday() == 5 else 0) + n % 2)]
        if n % 5 == 0:
            lines.append(("CAP", 2))
        order(make_order, hub, day, *lines)


def stored(hub) -> dict[tuple[str, int | None], tuple[str, list[float]]]:
    with hub.db.read() as session:
        rows = session.scalars(select(DemandForecast)).all()
        return {(r.sku, r.location_id): (r.method, r.daily) for r in rows}


def test_the_forecast_job_stores_every_sku_with_history_and_a_second_run_changes_nothing(
    any_hub, make_order
):
    hub = any_hub
    seed_sales(hub, make_order)

    first = run_forecasts(hub, today=TODAY, batch=1)  # one SKU per batch: batches are real
    once = stored(hub)
    run_forecasts(hub, today=TODAY, batch=1)

    assert first.skus == 2 and first.batches == 2
    assert set(once) == {("CAP", None), ("MUG", None)}
    assert once[("MUG", None)][0] == "AutoETS"
    assert once[("CAP", None)][0] == "IMAPA"
    assert all(len(daily) == 28 for _, daily in once.values())
    assert 4 < sum(once[("MUG", None)][1][:7]) / 7 < 7
    assert stored(hub) == once


def test_the_forecast_runs_as_a_job(hub, make_order, run_jobs):
    seed_sales(hub, make_order, days=30, today=utcnow().date())
    with hub.db.transaction() as session:
        job_id = enqueue(session, JobKind.REPLENISHMENT_FORECAST)

    run_jobs(hub)

    with hub.db.read() as session:
        assert session.get(Job, job_id).status == "succeeded"
    assert {key for key in stored(hub)} == {("CAP", None), ("MUG", None)}


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def mug(hub, make_order, east):
    seed_sales(hub, make_order, today=utcnow().date())
    with hub.db.transaction() as session:
        session.add(StockLevel(sku="MUG", location_id=east, on_hand=50, reserved=8))
    run_forecasts(hub)  # today's forecast: the API reads the one stored


def test_demand_shows_history_forecast_band_days_of_cover_and_the_policy_arithmetic(api, mug):
    response = api.get("/api/v1/skus/MUG/demand?days=14")

    assert response.status_code == 200
    body = response.get_json()
    assert body["sku"] == "MUG" and len(body["history"]) == 14
    forecast = body["forecast"]
    assert forecast["method"] == "AutoETS" and len(forecast["days"]) == 28
    assert all(d["lower"] <= d["quantity"] <= d["upper"] for d in forecast["days"])
    assert body["stock"] == [
        {
            "location": "EAST",
            "location_name": "East DC",
            "on_hand": 50,
            "reserved": 8,
            "available": 42,
        }
    ]
    assert body["days_of_cover"] == pytest.approx(42 / forecast["mean_daily"], abs=0.1)
    policy = body["policy"]
    assert policy["kind"] == "computed" and policy["stored"] is False
    figures = policy["arithmetic"]
    assert figures["z"] == pytest.approx(1.6449, abs=1e-4)
    expected = figures["lead_time_demand"] + figures["safety_stock"]
    assert policy["reorder_point"] == -int(-expected // 1)  # rounded up
    assert policy["lines"][0].startswith("forecast ")


def test_a_fixed_policy_is_stored_and_shown_with_who_set_it(api, mug):
    response = api.open(
        "PUT",
        "/api/v1/skus/MUG/reorder-policy",
        json={"kind": "fixed", "location": "EAST", "min_quantity": 20, "max_quantity": 60},
    )

    assert response.status_code == 200
    assert response.get_json()["reorder_point"] == 20
    shown = api.get("/api/v1/skus/MUG/reorder-policy?location=EAST").get_json()
    assert (shown["kind"], shown["min_quantity"], shown["max_quantity"]) == ("fixed", 20, 60)
    assert shown["updated_by"] == "api:tests" and shown["stored"] is True
    # The other locations keep the default.
    assert api.get("/api/v1/skus/MUG/reorder-policy").get_json()["stored"] is False


def test_a_computed_policy_with_a_longer_lead_time_reorders_higher(api, mug):
    before = api.get("/api/v1/skus/MUG/reorder-policy").get_json()["reorder_point"]
    response = api.open(
        "PUT",
        "/api/v1/skus/MUG/reorder-policy",
        json={"kind": "computed", "lead_time_days": 14, "service_level": 0.99},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["arithmetic"]["lead_time_days"] == 14
    assert body["reorder_point"] > before


@pytest.mark.parametrize(
    "policy, field",
    [
        ({"kind": "fixed", "min_quantity": 10}, "max_quantity"),
        ({"kind": "fixed", "min_quantity": 10, "max_quantity": 5}, "max_quantity"),
        ({"kind": "computed", "service_level": 1.5}, "service_level"),
        ({"kind": "computed", "lead_time_days": -1}, "lead_time_days"),
        ({"kind": "sometimes"}, "kind"),
    ],
)
def test_a_bad_policy_is_422_and_nothing_is_stored(api, mug, policy, field):
    response = api.open("PUT", "/api/v1/skus/MUG/reorder-policy", json=policy)

    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert api.get("/api/v1/skus/MUG/reorder-policy").get_json()["stored"] is False


def test_an_unknown_sku_or_location_is_404(api, mug):
    assert api.get("/api/v1/skus/NOPE/demand").status_code == 404
    assert api.get("/api/v1/skus/NOPE/reorder-policy").status_code == 404
    assert (
        api.open("PUT", "/api/v1/skus/NOPE/reorder-policy", json={"kind": "computed"}).status_code
        == 404
    )
    assert api.get("/api/v1/skus/MUG/demand?location=MOON").status_code == 404


def test_setting_a_policy_needs_the_write_scope(hub, client, mug):
    with hub.db.transaction() as session:
        token = create_token(session, "reader", scope="read")[1]
    reader = ApiClient(client, token)

    assert reader.get("/api/v1/skus/MUG/demand").status_code == 200
    refused = reader.open("PUT", "/api/v1/skus/MUG/reorder-policy", json={"kind": "computed"})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"


def test_the_hub_starts_without_loading_the_forecasting_library():
    code = (
        "import sys; from hub.web import create_app; import hub.pipeline.handlers; "
        "print(sorted(m for m in ('statsforecast', 'pandas', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
