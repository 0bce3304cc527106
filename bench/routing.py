"""(g) Routing: milliseconds per order for each strategy, in the same run, on the same orders.

A fresh SQLite hub with 50 locations (half in North America, half in Europe,
each with coordinates and a postal code), 2,000 SKUs each stocked at a fifth
of the locations at random (so some orders must split), and 1,000 orders of
one to three lines to addresses spread over both continents (seeded: every
run routes the same orders). Each order is routed by the hub's default
``hub_allocate_order`` (:func:`hub.routing.strategies.route`) with the hub's
:class:`~hub.orders.lookup.SessionLookup`, as confirmation calls it, for

- ``priority`` (what the hub always did),
- ``nearest``,
- ``cheapest`` with rate quotes from the ShipStation sandbox over loopback
  (two carriers): **cold** (the quote cache empty at the start; it fills as
  the run goes, so the first order to each origin, zone and weight band pays
  the requests) and **warm** (the same orders again, every quote cached).

Routing only: the reservation that follows is the same for every strategy and
is timed in the whole flow (c). The figure is wall time per order (mean and
p95), with the number of quote requests the run made.

    python -m bench.routing [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

SEED = 22
#: North America and Europe, roughly: (lat min, lat max, lon min, lon max, country).
REGIONS = ((30.0, 47.0, -122.0, -72.0, "US"), (41.0, 55.0, -4.0, 20.0, "DE"))


def _point(rng: random.Random, region: tuple) -> tuple[float, float, str, str]:
    lat0, lat1, lon0, lon1, country = region
    return (
        round(rng.uniform(lat0, lat1), 4),
        round(rng.uniform(lon0, lon1), 4),
        f"{rng.randint(10000, 99999)}",
        country,
    )


def fresh_hub(data_dir: Path):
    """A migrated SQLite hub that may call the sandbox on 127.0.0.1."""
    from hub.runtime.hub import Hub
    from hub.store import migrate
    from hub.store.config import Settings

    hub = Hub(
        Settings.from_env(
            {},
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'hub.db'}",
            allow_private_targets=True,
        )
    )
    migrate.upgrade(hub.db)
    return hub


def seed(hub, sandbox, *, locations: int, skus: int, orders: int) -> list[int]:
    """Locations, stock, the ShipStation channel and the orders; return the orders' ids."""
    from hub.channels.manage import create_channel, ensure_manual_channel
    from hub.core.order import Address, Customer, Line, OrderData
    from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
    from hub.orders import intake
    from hub.store.models import Order

    rng = random.Random(SEED)
    codes = []
    with hub.db.transaction() as session:
        for n in range(locations):
            lat, lon, zip_code, country = _point(rng, REGIONS[n % 2])
            code = f"wh{n:02d}"
            loc = upsert_location(session, code, priority=rng.randint(0, 9))
            loc.latitude, loc.longitude, loc.zip, loc.country_code = lat, lon, zip_code, country
            sandbox.add_origin(zip_code, country)
            codes.append(code)
        changes = [
            LevelChange(f"SKU-{k:04d}", code, rng.randint(20, 200))
            for k in range(skus)
            for code in rng.sample(codes, max(1, locations // 5))
        ]
        set_on_hand(session, changes, actor="bench", reason="set-up", source="bench")
        create_channel(
            hub,
            session,
            name="ShipStation",
            connector="shipstation",
            slug="shipstation",
            config={
                "api_key": sandbox.api_key,
                "api_secret": sandbox.api_secret,
                "webhook_token": "bench-webhook-token-0123",
                "api_base_url": sandbox.base_url,
                "rate_carriers": "ups, fedex",
            },
        )
        channel = ensure_manual_channel(hub, session)
        ids = []
        for n in range(orders):
            lat, lon, zip_code, country = _point(rng, REGIONS[rng.randint(0, 1)])
            data = OrderData(
                external_id=f"R{n}",
                number=f"#R{n}",
                currency="USD",
                customer=Customer(email=f"r{n}@example.com", name="Bench"),
                shipping_address=Address(
                    name="Bench", address1="1 Road", city="Town", zip=zip_code, country_code=country
                ),
                lines=[
                    Line(
                        sku=f"SKU-{rng.randrange(skus):04d}",
                        name="Item",
                        quantity=rng.randint(1, 3),
                        unit_price=1000,
                    )
                    for _ in range(rng.randint(1, 3))
                ],
                shipping=500,
            )
            order = intake.upsert_order(session, channel, data, actor="bench").order
            row = session.get(Order, order.id)
            assert row is not None
            row.ship_latitude, row.ship_longitude, row.ship_geo_precision = lat, lon, "postal_code"
            ids.append(order.id)
    return ids


def route_all(hub, order_ids: list[int], strategy: str) -> dict[str, Any]:
    """Route every order by ``strategy`` (one transaction per order, committed); time each."""
    from hub.channels.manage import ensure_manual_channel
    from hub.orders.lookup import SessionLookup
    from hub.orders.serialize import order_detail
    from hub.routing import strategies
    from hub.store.models import Order

    with hub.db.transaction() as session:
        strategies.set_strategy(session, ensure_manual_channel(hub, session).id, strategy)
    times, routed, fallbacks = [], 0, 0
    for oid in order_ids:
        with hub.db.transaction() as session:
            detail = order_detail(session.get(Order, oid))
            started = time.perf_counter()
            # As a confirmation does: its own unit of work's rate book and lookup.
            rates = hub.service("rate_quotes")
            lookup = SessionLookup(session, hub.settings, rates=rates)
            plan = strategies.route(lookup, detail)
            times.append((time.perf_counter() - started) * 1000)
        if plan is not None:
            routed += 1
            fallbacks += bool(plan.decision.get("fallback"))
    return {
        "ms_per_order": round(sum(times) / len(times), 3),
        "p95_ms": round(common.percentile(times, 95), 3),
        "routed": routed,
        "fallbacks": fallbacks,
    }


def run(quick: bool) -> dict:
    from hub.integration.sandbox import serve
    from hub.store.models import RateQuote
    from plugins.shipstation.sandbox import ShipStationSandbox

    locations, skus, orders = (20, 400, 200) if quick else (50, 2000, 1000)
    sandbox = ShipStationSandbox("bench-key", "bench-secret", rate_limit=1_000_000)
    with tempfile.TemporaryDirectory(prefix="hub-bench-routing-") as tmp, serve(sandbox) as url:
        sandbox.base_url = url
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        hub = fresh_hub(data_dir)
        try:
            ids = seed(hub, sandbox, locations=locations, skus=skus, orders=orders)
            out: dict[str, Any] = {"locations": locations, "skus": skus, "orders": len(ids)}
            out["priority"] = route_all(hub, ids, "priority")
            out["nearest"] = route_all(hub, ids, "nearest")
            with hub.db.transaction() as session:
                session.query(RateQuote).delete()
            before = sandbox.count("POST", "/shipments/getrates")
            out["cheapest_cold"] = route_all(hub, ids, "cheapest")
            middle = sandbox.count("POST", "/shipments/getrates")
            out["cheapest_warm"] = route_all(hub, ids, "cheapest")
            out["cheapest_cold"]["quote_requests"] = middle - before
            out["cheapest_warm"]["quote_requests"] = (
                sandbox.count("POST", "/shipments/getrates") - middle
            )
        finally:
            hub.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 orders, 20 locations, 400 SKUs")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
