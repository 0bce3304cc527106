"""Routing strategies: which locations ship an order, chosen per sales channel.

- ``priority`` (the default, as the hub always routed): the highest-priority
  location that can ship every line, else the smallest split, higher
  priorities first (:mod:`hub.core.allocation`).
- ``nearest``: the closest location that can ship every line; else the split
  with the fewest shipments, then the least total great-circle distance from
  each shipment's location to the address (:mod:`hub.routing.plans`).
- ``cheapest``: the candidate plan (as ``nearest`` finds them) whose quoted
  cost is lowest, a split costing each of its shipments; the
  :data:`QUOTED_CANDIDATES` nearest candidates are quoted
  (:mod:`hub.routing.rates`). When a quote fails the order is routed
  ``nearest`` and the decision says why.

A strategy is the hub's default answer to ``hub_allocate_order``; a plugin
answering that hook still replaces the lot. Each answer is a
:class:`RoutedPlan`: the plan, with the decision that explains it (the
candidates weighed, their distance or cost, and why the winner won), which
the order's ``order.confirmed`` event keeps (:mod:`hub.routing.audit`).

A channel's strategy is kept in ``routing_policies`` (:func:`set_strategy`),
beside the channel rather than in its connector's config.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.core.allocation import LineNeed, Plan
from hub.core.exceptions import NotFound, ValidationError
from hub.integration.lookup import Destination, NoQuote, OrderLookup
from hub.inventory.reservations import line_needs, route_order
from hub.routing.geo import great_circle_km
from hub.routing.plans import Candidate, Place, Search, candidates
from hub.store.models import Channel, RoutingPolicy, utcnow

PRIORITY = "priority"
NEAREST = "nearest"
CHEAPEST = "cheapest"
#: The strategies a sales channel may choose, the default first.
STRATEGIES = (PRIORITY, NEAREST, CHEAPEST)
#: What each strategy does, in words (the channel's page and the API's docs).
STRATEGY_WORDS = {
    PRIORITY: "the highest-priority location that has everything",
    NEAREST: "the nearest location that has everything, else the fewest shipments, nearest",
    CHEAPEST: "the lowest carrier quote (the nearest when quotes fail)",
}
#: How many of the nearest candidate plans ``cheapest`` asks quotes for.
QUOTED_CANDIDATES = 5


class RoutedPlan(list):
    """A plan (``[(location code, {line id: units})]``) with the decision that chose it."""

    def __init__(self, plan: Plan, decision: dict[str, Any]):
        super().__init__(plan)
        self.decision = decision


# --- the setting ---------------------------------------------------------------------------------


def strategy_of(session: Session, channel_id: int | None) -> str:
    """A channel's strategy (``priority`` when none was set)."""
    if channel_id is None:
        return PRIORITY
    row = session.get(RoutingPolicy, channel_id)
    return row.strategy if row is not None else PRIORITY


def set_strategy(session: Session, channel_id: int, strategy: str) -> str:
    """Set a sales channel's strategy; a wrong value changes nothing.

    :raises NotFound: no such channel.
    :raises ValidationError: not one of :data:`STRATEGIES`.
    """
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} does not exist")
    if strategy not in STRATEGIES:
        raise ValidationError(
            f"routing of channel {channel.slug}: {strategy!r} is not a strategy",
            details={"strategy": [f"one of {', '.join(STRATEGIES)}"]},
        )
    row = session.get(RoutingPolicy, channel_id)
    if row is None:
        row = RoutingPolicy(channel_id=channel_id)
        session.add(row)
    row.strategy, row.updated_at = strategy, utcnow()
    session.flush()
    return strategy


# --- routing -------------------------------------------------------------------------------------


def route(lookup: OrderLookup, order: dict[str, Any]) -> RoutedPlan | None:
    """Route ``order`` (as the API shows it) by its channel's strategy; None if it cannot ship.

    None also when stock is not tracked (no location exists).
    """
    if not lookup.tracks_stock():
        return None
    strategy = lookup.routing_strategy(order["id"])
    if strategy == PRIORITY:
        plan = route_order(lookup, order)
        if plan is None:
            return None
        return RoutedPlan(
            plan,
            {
                "strategy": PRIORITY,
                "winner": [code for code, _ in plan],
                "why": "the highest-priority location that can ship every line"
                if len(plan) == 1
                else "no one location has every line: the fewest locations, highest priority first",
                "candidates": [],
            },
        )
    needs = line_needs(order["lines"])
    if not needs:  # gift cards, digital goods: no location has work
        return RoutedPlan([], {"strategy": strategy, "winner": [], "why": "nothing to ship"})
    destination = lookup.destination(order["id"])
    search = candidates(
        needs, _places(lookup, destination), lookup.available({x.sku for x in needs})
    )
    if not search.candidates:
        return None
    if strategy == CHEAPEST:
        return _cheapest(lookup, order, needs, search, destination)
    return _decided(NEAREST, search, search.candidates[0], _nearest_why(search, destination))


def _places(lookup: OrderLookup, destination: Destination | None) -> list[Place]:
    here = (
        (destination.latitude, destination.longitude)
        if destination is not None
        and destination.latitude is not None
        and destination.longitude is not None
        else None
    )
    out = []
    for loc in lookup.locations():
        km = None
        if here is not None and loc.latitude is not None and loc.longitude is not None:
            km = great_circle_km(loc.latitude, loc.longitude, here[0], here[1])
        out.append(Place(loc.code, loc.priority, km))
    return out


def _nearest_why(search: Search, destination: Destination | None) -> str:
    best = search.candidates[0]
    if destination is None or destination.latitude is None:
        where = "the shipping address has no place, so distances are unknown: "
        return where + "the fewest shipments, then the highest priority"
    if best.km is None:
        return "no candidate's distance is known: the fewest shipments, then the highest priority"
    if best.shipments == 1:
        return f"the nearest location that can ship every line ({best.km:,.0f} km)"
    return (
        f"no one location has every line: {best.shipments} shipments, the fewest possible"
        f" ({search.method}), and of those the shortest total distance ({best.km:,.0f} km)"
    )


def _cheapest(
    lookup: OrderLookup,
    order: dict[str, Any],
    needs: list[LineNeed],
    search: Search,
    destination: Destination | None,
) -> RoutedPlan:
    grams = lookup.unit_weights({x.sku for x in needs})
    sku_of = {x.line_id: x.sku for x in needs}
    quoted = search.candidates[:QUOTED_CANDIDATES]
    try:
        for c in quoted:
            c.cost_cents = 0
            for code, group in c.plan:
                weight = sum(grams[sku_of[line_id]] * units for line_id, units in group.items())
                q = lookup.quote(order["id"], code, max(1, weight))
                c.cost_cents += q.cost_cents
                c.quotes.append(
                    {
                        "location": code,
                        "grams": weight,
                        "carrier": q.carrier,
                        "service": q.service_code,
                        "cost_cents": q.cost_cents,
                        "cached": q.cached,
                    }
                )
    except NoQuote as exc:
        for c in quoted:
            c.cost_cents, c.quotes = None, []
        why = f"no rate quote ({exc}): routed nearest instead; " + _nearest_why(search, destination)
        return _decided(CHEAPEST, search, search.candidates[0], why, fallback=NEAREST)
    best = min(quoted, key=lambda c: (c.cost_cents, c.nearness()))
    nearest = search.candidates[0]
    cost = _money(best.cost_cents)
    if best is nearest:
        why = f"the lowest quoted cost ({cost}), and the nearest too"
    else:
        why = f"the lowest quoted cost ({cost}) of {len(quoted)} quoted plans"
        if best.km is not None and nearest.km is not None and best.km > nearest.km:
            why += (
                f", though farther ({best.km:,.0f} km) than the nearest plan "
                f"({nearest.km:,.0f} km, {_money(nearest.cost_cents)})"
            )
    return _decided(CHEAPEST, search, best, why)


def _decided(
    strategy: str, search: Search, winner: Candidate, why: str, *, fallback: str | None = None
) -> RoutedPlan:
    decision: dict[str, Any] = {
        "strategy": strategy,
        "winner": winner.locations,
        "why": why,
        "method": search.method,
        "candidates": [_candidate_json(c, c is winner) for c in search.candidates],
        "candidates_found": search.found,
    }
    if fallback:
        decision["fallback"] = fallback
    return RoutedPlan(winner.plan, decision)


def _candidate_json(c: Candidate, chosen: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "locations": c.locations,
        "shipments": c.shipments,
        "km": round(c.km, 1) if c.km is not None else None,
        "chosen": chosen,
    }
    if c.cost_cents is not None:
        out["cost_cents"] = c.cost_cents
        out["quotes"] = c.quotes
    return out


def _money(cents: int | None) -> str:
    return "unknown" if cents is None else f"{cents / 100:,.2f}"
