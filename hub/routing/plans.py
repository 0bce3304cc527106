"""Candidate plans: the ways an order's stock could ship, each with its distance.

Plain Python, no I/O. A plan is ``[(location code, {line id: units})]``, one
shipment per location (see :mod:`hub.core.allocation`).

Which plans are considered, and why the count stays small:

- **One shipment**: every location that has every line in stock is a
  candidate (at most one per location).
- **Otherwise, a split** with the fewest shipments. Only locations holding
  some of a needed SKU take part. Sets of 2, 3, … of them are tried exactly,
  in order of distance, while the number of sets to try stays within
  :data:`EXACT_SEARCH_LIMIT`; every set of the smallest size that covers the
  order is a candidate. Past the limit (many locations, each with a little),
  the search is greedy: starting from each of the :data:`GREEDY_SEEDS`
  nearest useful locations, repeatedly add the location that covers most of
  what is still missing (the nearer on a tie). Each start gives one
  candidate; those with the fewest shipments are kept. The greedy cover is
  close to the fewest shipments but not guaranteed to be; the work is
  ``seeds × locations × SKUs``, never exponential.

Candidates are ordered nearest first: by shipments, then the total
great-circle distance from each shipment's location to the address, then
location priority. Locations without coordinates (or an address without a
place) have no distance and come after those with one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Any

from hub.core.allocation import LineNeed, Plan, Site, fill, needs_by_sku

#: Above this many location sets to try, splits are searched greedily.
EXACT_SEARCH_LIMIT = 20_000
#: Starting points of the greedy split search.
GREEDY_SEEDS = 5
#: Candidates kept at most (the audit lists them; ``cheapest`` quotes them).
MAX_CANDIDATES = 10


@dataclass(frozen=True, slots=True)
class Place:
    """A location as routing ranks it: code, priority and its distance to the address."""

    code: str
    priority: int
    #: Kilometres to the address by great circle; None when either has no coordinates.
    km: float | None

    @property
    def site(self) -> Site:
        return Site(self.code, self.priority)


@dataclass(slots=True)
class Candidate:
    """One way to ship the order, with what routing weighed."""

    plan: Plan
    #: Total kilometres of its shipments; None when a location's distance is unknown.
    km: float | None
    #: Total quoted cost in cents (``cheapest`` only); None when not quoted.
    cost_cents: int | None = None
    #: Each shipment's quote: ``{location, carrier, service, cost_cents, cached}``.
    quotes: list[dict[str, Any]] = field(default_factory=list)
    #: Location priorities, for ties.
    priorities: tuple[int, ...] = ()

    @property
    def locations(self) -> list[str]:
        return [code for code, _ in self.plan]

    @property
    def shipments(self) -> int:
        return len(self.plan)

    def nearness(self) -> tuple[Any, ...]:
        """Sort key of ``nearest``: fewest shipments, known distance, least km, higher priority."""
        return (
            self.shipments,
            self.km is None,
            self.km if self.km is not None else 0.0,
            tuple(-p for p in self.priorities),
            tuple(self.locations),
        )


@dataclass(frozen=True, slots=True)
class Search:
    """The candidates found, nearest first, and how."""

    candidates: list[Candidate]
    #: ``one shipment``, ``exact split`` or ``greedy split``.
    method: str
    #: Candidates found in all (more than are kept when over :data:`MAX_CANDIDATES`).
    found: int


def rank(places: Sequence[Place]) -> list[Place]:
    """Places nearest first (unknown distances last), then higher priority, then code."""
    return sorted(
        places, key=lambda p: (p.km is None, p.km if p.km is not None else 0.0, -p.priority, p.code)
    )


def candidates(
    lines: Sequence[LineNeed],
    places: Sequence[Place],
    available: Mapping[tuple[str, str], int],
    *,
    limit: int = MAX_CANDIDATES,
) -> Search:
    """The candidate plans for ``lines`` (see the module's doc); none when stock is short.

    :param available: units per ``(sku, location code)``; missing means none.
    """
    lines = [x for x in lines if x.quantity > 0]
    needed = needs_by_sku(lines)
    ranked = rank(places)

    def avail(sku: str, site: Site) -> int:
        return max(0, available.get((sku, site.code), 0))

    def covers(chosen: Sequence[Place]) -> bool:
        return all(sum(avail(sku, p.site) for p in chosen) >= q for sku, q in needed.items())

    by_code = {p.code: p for p in ranked}

    def candidate(chosen: Sequence[Place]) -> Candidate:
        plan = fill(lines, [p.site for p in chosen], avail)
        used = [by_code[code] for code, _ in plan]
        km = None if any(p.km is None for p in used) else sum(p.km or 0.0 for p in used)
        return Candidate(plan, km, priorities=tuple(p.priority for p in used))

    if not lines or not covers(ranked):
        return Search([], "none", 0)
    singles = [candidate([p]) for p in ranked if covers([p])]
    if singles:
        return _kept(singles, "one shipment", limit)
    useful = [p for p in ranked if any(avail(sku, p.site) for sku in needed)]
    found: list[Candidate] | None = _exact_splits(useful, covers, candidate)
    method = "exact split"
    if found is None:
        method = "greedy split"
        found = _greedy_splits(useful, needed, avail, candidate)
    return _kept(found, method, limit)


def _kept(found: list[Candidate], method: str, limit: int) -> Search:
    unique: dict[tuple[Any, ...], Candidate] = {}
    for c in found:
        key = tuple((code, tuple(sorted(group.items()))) for code, group in sorted(c.plan))
        unique.setdefault(key, c)
    ordered = sorted(unique.values(), key=Candidate.nearness)
    return Search(ordered[:limit], method, len(ordered))


def _exact_splits(useful: list[Place], covers: Any, candidate: Any) -> list[Candidate] | None:
    """Every cover of the smallest size, or None when that size is past the search limit."""
    tried = 0
    for size in range(2, len(useful) + 1):
        tried += comb(len(useful), size)
        if tried > EXACT_SEARCH_LIMIT:
            return None
        found = [candidate(chosen) for chosen in combinations(useful, size) if covers(chosen)]
        if found:
            return found
    return None


def _greedy_splits(
    useful: list[Place], needed: Counter[str], avail: Any, candidate: Any
) -> list[Candidate]:
    covers: list[list[Place]] = []
    for seed in useful[:GREEDY_SEEDS]:
        missing = Counter(needed)
        chosen: list[Place] = []
        left = list(useful)
        pick: Place | None = seed
        while pick is not None:
            left.remove(pick)
            chosen.append(pick)
            for sku in list(missing):
                missing[sku] -= min(avail(sku, pick.site), missing[sku])
            missing = +missing
            if not missing:
                break
            gains = [(sum(min(avail(k, p.site), q) for k, q in missing.items()), p) for p in left]
            # ``useful`` is nearest first, so max() keeps the nearest of equal gains.
            best = max(gains, key=lambda g: g[0], default=None)
            pick = best[1] if best is not None and best[0] > 0 else None
        if not missing:
            covers.append(chosen)
    fewest = min(len(c) for c in covers)
    return [candidate(rank(c)) for c in covers if len(c) == fewest]
