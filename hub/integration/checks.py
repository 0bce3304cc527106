"""What plugins hand the hub, checked where it enters.

Each check answers ``None`` when the value is what the hook or operation
promises, else one line saying what it was instead, naming the field
(``orders[2]``, ``cursor``), short enough for a log line, a job's error and
an exception message. The callers put the plugin (or connector) and the hook
(or operation) in front: ``plugin acme_rules: hub_validate_order returned
'risky' (a str), not a list of hold reasons``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hub.core.order import OrderData
from hub.integration.connectors import OrderPage

#: The longest hold reason a rule may give (it is shown as a label on the order).
MAX_HOLD_REASON = 200


def shown(value: object) -> str:
    """``value`` for a one-line error: its repr (cut at 60 characters) and its type."""
    if isinstance(value, type):
        return f"{value.__qualname__} (a class)"
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} (a {type(value).__name__})"


def hold_reasons_problem(result: object) -> str | None:
    """What is wrong with a ``hub_validate_order`` answer: a list of short strings."""
    if not isinstance(result, list | tuple):
        return f"returned {shown(result)}, not a list of hold reasons (short strings)"
    for i, reason in enumerate(result):
        if not isinstance(reason, str) or not reason.strip():
            return (
                f"returned reasons[{i}] = {shown(reason)}, not a hold reason (a non-empty string)"
            )
        if len(reason) > MAX_HOLD_REASON:
            return (
                f"returned reasons[{i}] of {len(reason)} characters"
                f" (a hold reason is at most {MAX_HOLD_REASON})"
            )
    return None


def orders_problem(orders: object, field: str = "orders") -> str | None:
    """What is wrong with orders a connector hands the hub: a list of :class:`OrderData`."""
    if not isinstance(orders, list | tuple):
        return f"{field} is {shown(orders)}, not a list of OrderData"
    for i, order in enumerate(orders):
        if not isinstance(order, OrderData):
            return f"{field}[{i}] is {shown(order)}, not an OrderData"
    return None


def order_page_problem(page: object) -> str | None:
    """What is wrong with a page ``fetch_orders`` yielded: an :class:`OrderPage` whose
    ``orders`` are OrderData, ``cursor`` a JSON object and ``rejected`` maps ids to reasons."""
    if not isinstance(page, OrderPage):
        return f"yielded {shown(page)}, not an OrderPage (yield OrderPage(orders, cursor={{...}}))"
    problem = orders_problem(page.orders, "OrderPage.orders")
    if problem:
        return f"yielded an OrderPage whose {problem}"
    if not isinstance(page.cursor, Mapping):
        return f"yielded an OrderPage whose cursor is {shown(page.cursor)}, not a dict"
    try:
        json.dumps(dict(page.cursor))
    except (TypeError, ValueError) as exc:
        return f"yielded an OrderPage whose cursor cannot be stored as JSON ({exc})"
    rejected: Any = page.rejected
    if not isinstance(rejected, Mapping) or not all(
        isinstance(k, str | int) and isinstance(v, str) for k, v in rejected.items()
    ):
        return (
            f"yielded an OrderPage whose rejected is {shown(rejected)},"
            " not a dict of order id -> reason"
        )
    return None
