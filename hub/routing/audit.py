"""A routing decision in the audit trail, and in words for people.

The decision (:class:`hub.routing.strategies.RoutedPlan`'s ``decision``) is
kept in the data of the order's ``order.confirmed`` event under ``routing``,
so the reservation and its reason are one row of the history (and no more
events or jobs per order), and the API shows it as it is:

.. code-block:: json

    {"strategy": "nearest", "winner": ["berlin"],
     "why": "the nearest location that can ship every line (504 km)",
     "method": "one shipment", "candidates_found": 2,
     "candidates": [{"locations": ["berlin"], "shipments": 1, "km": 504.2, "chosen": true},
                    {"locations": ["chicago"], "shipments": 1, "km": 7234.9, "chosen": false}]}

``cheapest`` adds each candidate's ``cost_cents`` and ``quotes`` (per shipment:
location, grams, carrier, service, cost, whether cached), and
``"fallback": "nearest"`` when quotes failed. :func:`decision_lines` is the
admin timeline's reading of it.
"""

from __future__ import annotations

from typing import Any

#: Where the decision sits in an event's data.
KEY = "routing"
#: Candidates listed in words at most (the data keeps every one kept).
SHOWN = 5


def decision_of(plan: Any) -> dict[str, Any] | None:
    """The decision a strategy gave with its plan (None for a plugin's plain plan)."""
    decision = getattr(plan, "decision", None)
    return dict(decision) if isinstance(decision, dict) else None


def decision_lines(data: dict[str, Any] | None) -> list[str]:
    """An event's routing decision as lines of words; none when the event has no decision."""
    decision = (data or {}).get(KEY)
    if not isinstance(decision, dict):
        return []
    winner = " + ".join(decision.get("winner") or [])
    strategy = str(decision.get("strategy") or "?")
    head = f"Routed by {strategy}" + (f" to {winner}" if winner else "")
    lines = [f"{head}: {decision.get('why') or ''}".rstrip(": ")]
    shown = list(decision.get("candidates") or [])[:SHOWN]
    for c in shown:
        parts = [" + ".join(c.get("locations") or [])]
        if c.get("km") is not None:
            parts.append(f"{c['km']:,.0f} km")
        if c.get("cost_cents") is not None:
            parts.append(f"{c['cost_cents'] / 100:,.2f} quoted")
        shipments = int(c.get("shipments") or 0)
        parts.append(f"{shipments} shipment{'s' if shipments != 1 else ''}")
        mark = "chosen" if c.get("chosen") else "considered"
        lines.append(f"{mark}: " + ", ".join(parts))
    more = int(decision.get("candidates_found") or 0) - len(shown)
    if more > 0:
        lines.append(f"and {more} more plan{'s' if more != 1 else ''} not listed")
    return lines
