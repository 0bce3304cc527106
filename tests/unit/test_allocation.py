"""Routing: one location when one can ship it all, else the fewest locations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core import allocation
from hub.core.allocation import LineNeed, Site, route, shortages


def test_the_highest_priority_location_that_has_everything_ships_it_all():
    lines = [LineNeed(1, "A", 2), LineNeed(2, "B", 1)]
    sites = [Site("small", 9), Site("big", 5), Site("bigger", 1)]
    stock = {
        ("A", "small"): 2,
        ("A", "big"): 2,
        ("B", "big"): 1,
        ("A", "bigger"): 9,
        ("B", "bigger"): 9,
    }
    assert route(lines, sites, stock) == [("big", {1: 2, 2: 1})]


def test_a_split_uses_the_fewest_locations_not_the_greedy_choice():
    # Greedy by priority takes p1 (A) then needs p2 (B) and p3 (C): three parcels.
    # q has B and C, so {p1, q} ships in two.
    lines = [LineNeed(1, "A", 1), LineNeed(2, "B", 1), LineNeed(3, "C", 1)]
    sites = [Site("p1", 9), Site("p2", 8), Site("p3", 7), Site("q", 1)]
    stock = {("A", "p1"): 1, ("B", "p2"): 1, ("C", "p3"): 1, ("B", "q"): 1, ("C", "q"): 1}
    assert route(lines, sites, stock) == [("p1", {1: 1}), ("q", {2: 1, 3: 1})]


def test_a_line_is_split_only_when_no_chosen_location_has_all_of_it():
    lines = [LineNeed(1, "A", 5)]
    stock = {("A", "x"): 3, ("A", "y"): 4}
    assert route(lines, [Site("x", 2), Site("y", 1)], stock) == [("x", {1: 3}), ("y", {1: 2})]


def test_not_enough_anywhere_routes_nothing_and_says_what_is_missing():
    lines = [LineNeed(1, "A", 5), LineNeed(2, "B", 1)]
    stock = {("A", "x"): 3, ("A", "y"): 1, ("B", "x"): 1}
    sites = [Site("x", 0), Site("y", 0)]
    assert route(lines, sites, stock) is None
    assert shortages(lines, sites, stock) == {"A": 1}


def test_lines_of_one_sku_share_its_stock():
    lines = [LineNeed(1, "A", 2), LineNeed(2, "A", 2)]
    assert route(lines, [Site("x", 0)], {("A", "x"): 3}) is None
    assert route(lines, [Site("x", 0)], {("A", "x"): 4}) == [("x", {1: 2, 2: 2})]


def test_many_locations_fall_back_to_a_greedy_cover(monkeypatch):
    monkeypatch.setattr(allocation, "EXACT_SEARCH_LIMIT", 1)
    lines = [LineNeed(1, "A", 1), LineNeed(2, "B", 1)]
    sites = [Site("a", 3), Site("b", 2), Site("ab-low", 1)]
    stock = {("A", "a"): 1, ("B", "b"): 1, ("A", "ab-low"): 0, ("B", "ab-low"): 1}
    plan = route(lines, sites, stock)
    assert sorted(code for code, _ in plan) == ["a", "b"]


@settings(max_examples=200, deadline=None)
@given(
    needs=st.lists(st.tuples(st.sampled_from("ABC"), st.integers(1, 4)), min_size=1, max_size=4),
    stock=st.dictionaries(
        st.tuples(st.sampled_from("ABC"), st.sampled_from(["w1", "w2", "w3", "w4"])),
        st.integers(0, 5),
    ),
)
def test_a_plan_covers_every_line_within_stock_with_no_smaller_plan(needs, stock):
    from itertools import combinations

    lines = [LineNeed(i, sku, q) for i, (sku, q) in enumerate(needs, start=1)]
    sites = [Site("w1", 4), Site("w2", 3), Site("w3", 2), Site("w4", 1)]
    plan = route(lines, sites, stock)
    if shortages(lines, sites, stock):
        assert plan is None
        return
    got = {}
    used: dict[tuple[str, str], int] = {}
    for code, group in plan:
        for line_id, qty in group.items():
            got[line_id] = got.get(line_id, 0) + qty
            sku = lines[line_id - 1].sku
            used[(sku, code)] = used.get((sku, code), 0) + qty
    assert got == {x.line_id: x.quantity for x in lines}
    assert all(qty <= stock.get(key, 0) for key, qty in used.items())
    need = {}
    for x in lines:
        need[x.sku] = need.get(x.sku, 0) + x.quantity
    for size in range(1, len(plan)):
        for chosen in combinations(sites, size):
            assert not all(
                sum(stock.get((sku, s.code), 0) for s in chosen) >= q for sku, q in need.items()
            )
