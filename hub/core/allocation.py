"""Order routing: which locations ship which lines. Plain Python, no I/O.

The rule: the highest-priority location that can ship every line ships the
whole order; when none can, the order is split across the smallest number of
locations that together can, preferring higher priorities among equally small
sets. Within a split, each SKU is taken from the chosen locations in priority
order, so a line is only divided between two locations when neither has all
of it.

The smallest set is found exactly (sets of size 1, 2, … in priority order)
while the number of candidate sets stays small; past :data:`EXACT_SEARCH_LIMIT`
sets it falls back to a greedy cover (repeatedly take the location that covers
most of what is still missing), which is close to minimal but not guaranteed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb

#: Above this many candidate location sets, routing is greedy instead of exact.
EXACT_SEARCH_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class LineNeed:
    """One order line to route: its id, SKU and quantity."""

    line_id: int
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Site:
    """A location routing may use: its code, its priority (higher ships first)."""

    code: str
    priority: int


#: ``[(location_code, {line_id: quantity})]``: one fulfilment group per location.
Plan = list[tuple[str, dict[int, int]]]

#: Units of a SKU a site can ship: ``avail(sku, site)``, never below 0.
_Avail = Callable[[str, Site], int]
#: Whether a set of sites together has every SKU's quantity.
_Covers = Callable[[Sequence[Site]], bool]


def order_sites(sites: Iterable[Site]) -> list[Site]:
    """Sites in routing preference: highest priority first, then by code (stable)."""
    return sorted(sites, key=lambda s: (-s.priority, s.code))


def needs_by_sku(lines: Iterable[LineNeed]) -> Counter[str]:
    needed: Counter[str] = Counter()
    for line in lines:
        if line.quantity > 0:
            needed[line.sku] += line.quantity
    return needed


def shortages(
    lines: Sequence[LineNeed], sites: Sequence[Site], available: Mapping[tuple[str, str], int]
) -> dict[str, int]:
    """How many units of each SKU are missing even with every site together."""
    missing = {}
    for sku, qty in needs_by_sku(lines).items():
        have = sum(max(0, available.get((sku, s.code), 0)) for s in sites)
        if have < qty:
            missing[sku] = qty - have
    return missing


def route(
    lines: Sequence[LineNeed], sites: Sequence[Site], available: Mapping[tuple[str, str], int]
) -> Plan | None:
    """Route an order's lines to sites; None when all sites together cannot ship it.

    :param lines: the order's lines (lines of quantity 0 or less are skipped).
    :param sites: the locations that may ship (active ones).
    :param available: units available per ``(sku, site code)``; missing means 0.
    :return: groups in site preference order, each ``(code, {line_id: qty})``.
    """
    lines = [x for x in lines if x.quantity > 0]
    if not lines:
        return []
    ranked = order_sites(sites)
    needed = needs_by_sku(lines)

    def avail(sku: str, site: Site) -> int:
        return max(0, available.get((sku, site.code), 0))

    def covers(chosen: Sequence[Site]) -> bool:
        return all(sum(avail(sku, s) for s in chosen) >= qty for sku, qty in needed.items())

    if shortages(lines, ranked, available):
        return None
    for site in ranked:
        if covers([site]):
            return [(site.code, {x.line_id: x.quantity for x in lines})]
    chosen = _smallest_cover(ranked, covers) or _greedy_cover(ranked, needed, avail)
    return fill(lines, chosen, avail)


def _smallest_cover(ranked: list[Site], covers: _Covers) -> list[Site] | None:
    n = len(ranked)
    for size in range(2, n + 1):
        if comb(n, size) > EXACT_SEARCH_LIMIT:
            return None
        # combinations() keeps the input order, so the first cover found is the
        # one with the highest priorities among the covers of this size.
        for chosen in combinations(ranked, size):
            if covers(chosen):
                return list(chosen)
    return None


def _greedy_cover(ranked: list[Site], needed: Counter[str], avail: _Avail) -> list[Site]:
    missing = Counter(needed)
    chosen: list[Site] = []
    left = list(ranked)
    while +missing and left:
        best = max(
            left,
            key=lambda s: (sum(min(avail(k, s), q) for k, q in missing.items()), -ranked.index(s)),
        )
        left.remove(best)
        chosen.append(best)
        for sku in list(missing):
            missing[sku] -= min(avail(sku, best), missing[sku])
    return order_sites(chosen)


def fill(lines: Sequence[LineNeed], chosen: Sequence[Site], avail: _Avail) -> Plan:
    """Divide the lines among ``chosen`` (in that order of preference), which together cover them."""
    left = {(s.code, sku): avail(sku, s) for s in chosen for sku in {x.sku for x in lines}}
    groups: dict[str, dict[int, int]] = {s.code: {} for s in chosen}
    for line in lines:
        want = line.quantity
        # One site with the whole line beats splitting it; every order keeps
        # the SKU's pooled stock enough for the lines still to come.
        whole = next((s for s in chosen if left[(s.code, line.sku)] >= want), None)
        for site in [whole] if whole else chosen:
            take = min(want, left[(site.code, line.sku)])
            if take:
                groups[site.code][line.line_id] = groups[site.code].get(line.line_id, 0) + take
                left[(site.code, line.sku)] -= take
                want -= take
            if not want:
                break
    return [(s.code, groups[s.code]) for s in chosen if groups[s.code]]
