"""Candidate plans: one shipment when a place has everything, else the fewest shipments,
nearest first; the split search stays bounded however many locations hold a little."""

from __future__ import annotations

import time

from hub.core.allocation import LineNeed
from hub.routing.plans import EXACT_SEARCH_LIMIT, Place, candidates


def test_places_with_everything_are_each_a_candidate_nearest_first():
    places = [Place("far", 9, 900.0), Place("near", 0, 100.0), Place("unknown", 5, None)]
    stock = {("A", "far"): 5, ("A", "near"): 5, ("A", "unknown"): 5}
    found = candidates([LineNeed(1, "A", 2)], places, stock)
    assert found.method == "one shipment"
    assert [c.locations for c in found.candidates] == [["near"], ["far"], ["unknown"]]
    assert [c.km for c in found.candidates] == [100.0, 900.0, None]


def test_a_split_takes_the_fewest_shipments_then_the_least_total_distance():
    places = [Place(code, 0, km) for code, km in (("a1", 10.0), ("a2", 50.0), ("b1", 30.0))]
    places.append(Place("c1", 0, 5.0))
    stock = {("A", "a1"): 1, ("A", "a2"): 2, ("B", "b1"): 2, ("A", "c1"): 1, ("B", "c1"): 0}
    found = candidates([LineNeed(1, "A", 2), LineNeed(2, "B", 1)], places, stock)
    assert found.method == "exact split"
    best = found.candidates[0]
    # a2 has both units of A: two shipments (a2 + b1, 80 km) beat three (a1 + c1 + b1, 45 km).
    assert best.shipments == 2 and best.locations == ["b1", "a2"] and best.km == 80.0
    assert all(c.shipments == 2 for c in found.candidates)


def test_short_stock_gives_no_candidate():
    found = candidates([LineNeed(1, "A", 3)], [Place("x", 0, 1.0)], {("A", "x"): 2})
    assert found.candidates == [] and found.found == 0


def test_many_small_holders_are_covered_greedily_within_bounds():
    # 4 SKUs, 60 locations each holding one of them: the smallest cover (4) is past
    # the exact search limit, so the greedy search answers, quickly, with 4 shipments.
    places = [Place(f"p{n:02d}", 0, float(n)) for n in range(60)]
    stock = {(f"S{n % 4}", f"p{n:02d}"): 1 for n in range(60)}
    lines = [LineNeed(i, f"S{i}", 1) for i in range(4)]
    started = time.perf_counter()
    found = candidates(lines, places, stock)
    assert time.perf_counter() - started < 2.0
    assert found.method == "greedy split" and EXACT_SEARCH_LIMIT < 60**3
    best = found.candidates[0]
    assert best.shipments == 4
    assert best.locations == ["p00", "p01", "p02", "p03"] and best.km == 6.0


def test_a_decision_reads_as_lines_of_words():
    from hub.routing.audit import decision_lines

    data = {
        "routing": {
            "strategy": "cheapest",
            "winner": ["hamburg"],
            "why": "the lowest quoted cost (16.17) of 2 quoted plans",
            "candidates_found": 7,
            "candidates": [
                {"locations": ["salzburg"], "shipments": 1, "km": 116.2, "cost_cents": 1960},
                {
                    "locations": ["hamburg"],
                    "shipments": 1,
                    "km": 612.4,
                    "cost_cents": 1617,
                    "chosen": True,
                },
            ],
        }
    }
    assert decision_lines(data) == [
        "Routed by cheapest to hamburg: the lowest quoted cost (16.17) of 2 quoted plans",
        "considered: salzburg, 116 km, 19.60 quoted, 1 shipment",
        "chosen: hamburg, 612 km, 16.17 quoted, 1 shipment",
        "and 5 more plans not listed",
    ]
    assert decision_lines(
        {"routing": {"strategy": "nearest", "winner": [], "why": "nothing to ship"}}
    ) == ["Routed by nearest: nothing to ship"]
    assert decision_lines({"skus": {"A": 1}}) == [] and decision_lines(None) == []
