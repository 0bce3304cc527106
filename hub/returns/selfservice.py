"""Returns the customer asks for on the tracking page (``/track/<token>``), and the rule
that approves some of them without a person.

What the customer may send back: units that shipped and no other return takes
(:func:`hub.returns.actions.returnable_quantities`), while the channel's return
window is open and the SKU is not final sale (:mod:`hub.returns.policy`). The
window counts from the day the order was delivered, else the day its last
parcel shipped. The return is created like any other (status ``requested``,
created by ``customer``), so the admin and ``GET /api/v1/returns?status=requested``
list it; then the rule: when the policy approves alone, a request made within
``auto_approve_days`` whose refund is at most ``auto_approve_max`` is approved
at once by ``rule:returns`` (approval sends the instructions email and, for an
exchange, reserves the replacement); any other waits for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from hub.core.exceptions import Conflict, ValidationError
from hub.core.money import Money, MoneyError, exponent
from hub.returns import actions, exchanges
from hub.returns.policy import Policy, policy_for
from hub.store.models import Order, Return, utcnow

#: Why a customer sends something back: what the tracking page offers.
REASONS = (
    "Too small",
    "Too large",
    "Not as described",
    "Damaged or defective",
    "Arrived too late",
    "Changed my mind",
    "Other",
)
#: Who the audit trail names for a customer's request, and for the rule's approval.
CUSTOMER = "customer"
RULE = "rule:returns"


@dataclass(frozen=True)
class CustomerLine:
    line_id: int
    name: str
    sku: str
    #: Units the customer may still send back (0: none, see ``why_not``).
    returnable: int
    #: Why none can be: final sale, or all are already on a return ("" when some can).
    why_not: str
    #: Other variants of the product in stock, to ask for instead.
    variants: list[exchanges.Variant] = field(default_factory=list)


@dataclass(frozen=True)
class CustomerReturns:
    """What the tracking page shows: whether returns are open, each line, the customer's returns."""

    #: Returns can be asked for now.
    open: bool
    #: Why not, in words, when closed ("" when open).
    closed: str
    #: The last day a return can be asked for (None before anything shipped).
    last_day: datetime | None
    lines: list[CustomerLine]
    returns: list[Return]


def window_start(order: Order) -> datetime | None:
    """When the return window starts: delivery if known, else the last parcel's shipping."""
    delivered = [e.created_at for e in order.events if e.name == "order.delivered"]
    if delivered:
        return max(delivered)
    shipped = [s.shipped_at for s in order.shipments if s.status != "voided" and s.shipped_at]
    return max(shipped) if shipped else None


def customer_returns(
    session: Session, order: Order, *, now: datetime | None = None
) -> CustomerReturns:
    """Whether and what the customer of ``order`` may return now."""
    now = now or utcnow()
    policy = policy_for(session, order.channel_id)
    start = window_start(order)
    last_day = start + timedelta(days=policy.window_days) if start else None
    returns = [r for r in order.returns if r.created_by == CUSTOMER or r.status != "rejected"]
    closed = ""
    if order.status not in actions.RETURNABLE_STATUSES or start is None:
        closed = "Returns open once your order has shipped."
    elif policy.window_days == 0:
        closed = "Returns are not taken for this order online; please contact us."
    elif last_day is not None and now > last_day:
        closed = (
            f"The {policy.window_days}-day return window closed on {last_day.strftime('%d %B %Y')}."
        )
    returnable = actions.returnable_quantities(session, order) if not closed else {}
    lines = []
    for line in order.lines:
        if line.quantity <= 0 or not line.requires_shipping:
            continue
        qty = returnable.get(line.id, 0)
        why = ""
        if line.sku in policy.final_sale_skus:
            qty, why = 0, "Final sale: not returnable"
        elif not closed and qty == 0:
            why = "Already on a return" if _on_a_return(order, line.id) else "Not shipped yet"
        lines.append(
            CustomerLine(
                line.id,
                line.name or line.sku,
                line.sku,
                qty,
                why,
                exchanges.variants_in_stock(session, line) if qty else [],
            )
        )
    if not closed and not any(x.returnable for x in lines):
        closed = "Nothing on this order can be returned online."
    return CustomerReturns(not closed, closed, last_day, lines, returns)


def _on_a_return(order: Order, line_id: int) -> bool:
    return any(
        rl.order_line_id == line_id
        for r in order.returns
        if r.status != "rejected"
        for rl in r.lines
    )


def request_return(
    session: Session,
    order: Order,
    request: actions.ReturnRequest,
    *,
    now: datetime | None = None,
) -> Return:
    """Create the customer's return (``requested``), then approve it if the rule says so.

    :raises ValidationError: the window is closed, a line is final sale, or the
        request is wrong (as :func:`hub.returns.actions.create_return`); nothing is written.
    """
    now = now or utcnow()
    view = customer_returns(session, order, now=now)
    if not view.open:
        raise ValidationError(view.closed, details={"order": [view.closed]})
    by_id = {x.line_id: x for x in view.lines}
    errors: dict[str, list[str]] = {}
    for i, item in enumerate(request.lines):
        line = by_id.get(item.line_id)
        if line is not None and line.why_not.startswith("Final sale"):
            errors[f"lines.{i}.line_id"] = [f"{line.name} is final sale and cannot be returned"]
        # The customer chooses what and why, never where the goods go or what is refunded.
        item.restock_location, item.write_off = None, False
    if errors:
        summary = "; ".join(" ".join(v) for v in errors.values())
        raise ValidationError(summary, details=errors)
    request.refund_amount, request.refund_shipping = None, False
    ret = actions.create_return(session, order.id, request, actor=CUSTOMER)
    policy = policy_for(session, order.channel_id)
    if approves_alone(policy, ret, view, now):
        try:
            # In a savepoint: an exchange whose variant sold out meanwhile stays requested
            # (a person decides), the customer's request is kept.
            with session.begin_nested():
                actions.approve_return(
                    session, ret.id, actor=RULE, note="approved by the returns rule"
                )
        except Conflict:
            session.refresh(ret)
    return ret


def approves_alone(policy: Policy, ret: Return, view: CustomerReturns, now: datetime) -> bool:
    """The rule: on, asked within ``auto_approve_days`` of the start, refund under the maximum."""
    if not policy.auto_approve or view.last_day is None:
        return False
    start = view.last_day - timedelta(days=policy.window_days)
    if now > start + timedelta(days=policy.auto_approve_days):
        return False
    if policy.auto_approve_max is None:
        return True
    try:
        most = Money.parse(policy.auto_approve_max, ret.currency).amount
    except MoneyError:  # more decimals than the currency has: compare what it can hold
        most = int(Decimal(policy.auto_approve_max) * 10 ** exponent(ret.currency))
    return ret.refund_amount + ret.shipping_refund <= most


def describe(ret: Return) -> dict[str, Any]:
    """A return as its customer sees it: no internal notes, no locations."""
    words = {
        "requested": "Requested: we will look at it shortly",
        "approved": "Approved: see the email we sent for how to send it back",
        "received": "Received: thank you",
        "refunded": "Refunded" if ret.resolution == "refund" else "Completed",
        "rejected": "Not accepted: we sent you an email",
    }
    return {
        "id": ret.id,
        "status": ret.status,
        "status_words": words.get(ret.status, ret.status),
        "resolution": ret.resolution,
        "lines": [
            {
                "name": rl.order_line.name or rl.order_line.sku,
                "quantity": rl.quantity,
                "exchange_sku": rl.exchange_sku,
            }
            for rl in ret.lines
        ],
        "created_at": ret.created_at,
    }
