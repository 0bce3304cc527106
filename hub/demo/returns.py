"""The demo's self-service returns, run after the satisfaction check (``hub demo``).

The stores' channels get a returns policy whose rule approves alone (within 30
days, up to :data:`AUTO_APPROVE_MAX`). Then every :data:`RETURN_EVERY`-th
happy customer (one who said all arrived well and opened no case) asks for a
return on the order's tracking page over HTTP, as a browser does: the page, its
CSRF token, the form with one unit of the first line and a reason. The first
whose page offers another variant in stock asks for an exchange instead. The rule approves (an email with the instructions each), a person
what it leaves (a refund above its maximum, in yen); the warehouse
receives the goods (restocked where they shipped from) and a person refunds
through the Stripe sandbox. Every count comes from the hub, Stripe and the
SMTP sandbox.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import func, select

from hub.queue.jobs import Worker
from hub.returns import actions
from hub.returns import policy as return_policy
from hub.returns.selfservice import RULE
from hub.runtime.hub import Hub
from hub.store.models import Case, Order, OrderAuditEvent, Return, SatisfactionCheck

#: One happy customer in this many sends something back.
RETURN_EVERY = 4
#: The largest refund the demo's rule approves without a person.
AUTO_APPROVE_MAX = "1000.00"
ACTOR = "demo desk"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_QTY = re.compile(r'name="qty-(\d+)"')
_EXCHANGE = re.compile(
    r'<select name="exchange-(\d+)"[^>]*>\s*<option value="">[^<]*</option>\s*'
    r'<option value="([^"]+)"'
)


@dataclass
class ReturnsSummary:
    requested: int
    approved_by_rule: int
    approved_by_a_person: int
    received: int
    refunded: int
    exchanges: int
    stripe_refunds: int
    approval_emails: int
    refund_emails: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def customers_who_return(hub: Hub) -> list[tuple[int, str]]:
    """(order id, tracking token) of every RETURN_EVERY-th order answered "yes" without a case."""
    with hub.db.read() as session:
        rows = session.execute(
            select(Order.id, Order.tracking_token)
            .join(SatisfactionCheck, SatisfactionCheck.order_id == Order.id)
            .where(
                SatisfactionCheck.answer == "yes",
                Order.id.not_in(select(Case.order_id).where(Case.order_id.is_not(None))),
            )
            .order_by(Order.id)
        ).all()
    return [(order_id, token) for n, (order_id, token) in enumerate(rows) if n % RETURN_EVERY == 0]


def _ask(web: requests.Session, page_url: str, *, exchange: bool) -> bool:
    """Open the tracking page and send its returns form; whether it was an exchange."""
    page = web.get(page_url, timeout=10)
    page.raise_for_status()
    token = _CSRF.search(page.text)
    lines = _QTY.findall(page.text)
    if token is None or not lines:
        raise RuntimeError(f"the tracking page {page_url} offers no return")
    offer = _EXCHANGE.search(page.text) if exchange else None
    form = {"csrf_token": token.group(1), "reason": "Too small", "note": "Sent from the demo"}
    if offer is not None:
        form |= {
            f"qty-{offer.group(1)}": "1",
            f"exchange-{offer.group(1)}": offer.group(2),
            "resolution": "exchange",
        }
    else:
        form |= {f"qty-{lines[0]}": "1", "resolution": "refund"}
    answer = web.post(f"{page_url}/returns", data=form, timeout=10)
    answer.raise_for_status()
    return offer is not None


def run_cycle(
    hub: Hub, web_url: str, channel_ids: list[int], smtp: Any, stripe: Any
) -> ReturnsSummary:
    """Ask, approve by rule, receive, refund; count. ``smtp``/``stripe``: the demo's sandboxes."""
    started = time.perf_counter()
    refunds_before = stripe.effects["refunds"]
    with hub.db.transaction() as session:
        for channel_id in channel_ids:
            return_policy.set_policy(
                session,
                channel_id,
                window_days=30,
                auto_approve=True,
                auto_approve_days=30,
                auto_approve_max=AUTO_APPROVE_MAX,
            )
    exchanges = 0
    for _, token in customers_who_return(hub):
        # The first whose page offers another variant in stock asks for it instead.
        exchanges += _ask(requests.Session(), f"{web_url}/track/{token}", exchange=not exchanges)
    # What the rule left to a person (a refund above its maximum): the desk approves it.
    with hub.db.read() as session:
        waiting = session.scalars(
            select(Return.id).where(Return.status == "requested").order_by(Return.id)
        ).all()
    for return_id in waiting:
        with hub.db.transaction() as session:
            actions.approve_return(session, return_id, actor=ACTOR, note="approved at the desk")
    Worker(hub, worker_id="demo-returns").run_until_idle()  # the approval emails
    with hub.db.read() as session:
        approved = session.scalars(
            select(Return.id).where(Return.status == "approved").order_by(Return.id)
        ).all()
    # The parcels come back: the warehouse takes them in, a person refunds.
    for return_id in approved:
        with hub.db.transaction() as session:
            actions.receive_return(session, return_id, actor="demo warehouse")
        with hub.db.transaction() as session:
            ret = actions.get_return(session, return_id)
            if ret.resolution == "refund":
                actions.refund_return(session, return_id, actor=ACTOR)
    Worker(hub, worker_id="demo-returns").run_until_idle()  # refunds at Stripe, their emails

    with hub.db.read() as session:
        by_status = dict(
            session.execute(
                select(Return.status, func.count())
                .where(Return.created_by == "customer")
                .group_by(Return.status)
            ).all()
        )
        by_rule = (
            session.scalar(
                select(func.count())
                .select_from(OrderAuditEvent)
                .where(
                    OrderAuditEvent.name == "order.return_approved",
                    OrderAuditEvent.actor == RULE,
                )
            )
            or 0
        )
    subjects = dict(smtp.subjects)
    return ReturnsSummary(
        requested=sum(by_status.values()),
        approved_by_rule=by_rule,
        approved_by_a_person=len(waiting),
        received=by_status.get("received", 0) + by_status.get("refunded", 0),
        refunded=by_status.get("refunded", 0),
        exchanges=exchanges,
        stripe_refunds=stripe.effects["refunds"] - refunds_before,
        approval_emails=sum(
            n for s, n in subjects.items() if re.search(r"^Your (return|exchange) .* approved$", s)
        ),
        refund_emails=sum(n for s, n in subjects.items() if s.startswith("A refund ")),
        seconds=time.perf_counter() - started,
    )
