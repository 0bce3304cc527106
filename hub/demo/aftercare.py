"""The demo's after-delivery arc, run once the flow has settled (``hub demo``).

The shipped orders are delivered (the carrier's part, when no tracking channel
did it) and their delivery is moved eight days back — the demo has no week to
wait. The satisfaction check is turned on for the stores' channels, its job
runs and emails every customer once; then the customers answer through the
hub's own web pages over HTTP, as a browser does (the page, its CSRF token, the
button): one in five says something arrived damaged (a case, resolved by a
person with a replacement order at no charge), the others that all is well (a
review request each). Every count comes from the hub and the SMTP sandbox.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import func, select, update

from hub.aftercare import checks
from hub.aftercare import policy as policies
from hub.aftercare.links import Links
from hub.cases import actions as cases
from hub.channels.manage import ensure_manual_channel
from hub.core.lifecycle import OrderStatus
from hub.orders import transitions
from hub.pipeline.aftercare import aftercare_links
from hub.queue.jobs import Worker, enqueue
from hub.queue.kinds import JobKind
from hub.runtime.hub import Hub
from hub.store.models import Case, Order, OrderAuditEvent, SatisfactionCheck, utcnow

#: The days after delivery the demo's channels ask.
CHECK_DAYS = 7
#: One customer in this many says something went wrong.
UNHAPPY_EVERY = 5
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class AftercareSummary:
    delivered: int
    checks_sent: int
    answered_yes: int
    review_requests: int
    cases: int
    replacements: int
    satisfaction_emails: int
    review_emails: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _deliver_shipped(hub: Hub, channel_ids: list[int]) -> int:
    with hub.db.read() as session:
        shipped = session.scalars(
            select(Order.id).where(
                Order.channel_id.in_(channel_ids), Order.status == OrderStatus.SHIPPED
            )
        ).all()
    for order_id in shipped:
        with hub.db.transaction() as session:
            transitions.deliver(session, order_id, actor="carrier (demo)")
    with hub.db.transaction() as session:
        session.execute(
            update(OrderAuditEvent)
            .where(
                OrderAuditEvent.name == checks.ORDER_DELIVERED,
                OrderAuditEvent.order_id.in_(
                    select(Order.id).where(Order.channel_id.in_(channel_ids))
                ),
            )
            .values(created_at=utcnow() - timedelta(days=CHECK_DAYS + 1))
        )
        return (
            session.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.channel_id.in_(channel_ids), Order.status == OrderStatus.DELIVERED)
            )
            or 0
        )


def _answer(web: requests.Session, url: str, data: dict[str, str]) -> None:
    """What a customer's browser does: open the page, then press its button."""
    page = web.get(url, timeout=10)
    page.raise_for_status()
    token = _CSRF.search(page.text)
    answer = web.post(url, data={**data, "csrf_token": token.group(1) if token else ""}, timeout=10)
    answer.raise_for_status()


def run_cycle(hub: Hub, web_url: str, channel_ids: list[int], smtp: Any) -> AftercareSummary:
    """Deliver, ask, answer, resolve; count. ``smtp`` is the demo's SMTP sandbox."""
    started = time.perf_counter()
    with hub.db.transaction() as session:
        for channel_id in channel_ids:
            policies.save(
                session,
                channel_id,
                {
                    "enabled": True,
                    "check_days": CHECK_DAYS,
                    "product_url_template": "https://shop.example/products/{sku}",
                    "review_url_template": "{product_url}#reviews",
                },
                actor="demo",
            )
    delivered = _deliver_shipped(hub, channel_ids)
    with hub.db.transaction() as session:
        enqueue(session, JobKind.SATISFACTION_CHECKS, {})
    Worker(hub, worker_id="demo-aftercare").run_until_idle()

    # The links each email carried, at the demo's web server.
    signed = aftercare_links(hub)
    links = Links(web_url, signed.signer)
    with hub.db.read() as session:
        sent = session.scalars(
            select(SatisfactionCheck.order_id)
            .where(SatisfactionCheck.outcome == "sent")
            .order_by(SatisfactionCheck.order_id)
        ).all()
    for n, order_id in enumerate(sent):
        web = requests.Session()
        if n % UNHAPPY_EVERY == UNHAPPY_EVERY - 1:
            _answer(
                web,
                links.answer(order_id, "no"),
                {"reason": "damaged", "description": "The box was crushed."},
            )
        else:
            _answer(web, links.answer(order_id, "yes"), {})
    # A person resolves each case with a replacement at no charge.
    with hub.db.read() as session:
        open_cases = session.scalars(select(Case.id).where(Case.status == "open")).all()
    for case_id in open_cases:
        with hub.db.transaction() as session:
            cases.reship(session, case_id, ensure_manual_channel(hub, session), actor="demo desk")
            cases.update_case(session, case_id, actor="demo desk", status="resolved")
    Worker(hub, worker_id="demo-aftercare").run_until_idle()

    with hub.db.read() as session:
        counts = checks.counts(session)
        n_cases = session.scalar(select(func.count()).select_from(Case)) or 0
        replacements = (
            session.scalar(
                select(func.count()).select_from(Case).where(Case.replacement_order_id.is_not(None))
            )
            or 0
        )
    subjects = dict(smtp.subjects)
    return AftercareSummary(
        delivered=delivered,
        checks_sent=counts["sent"],
        answered_yes=counts["yes"],
        review_requests=counts["review_requests"],
        cases=n_cases,
        replacements=replacements,
        satisfaction_emails=sum(n for s, n in subjects.items() if s.endswith("arrive well?")),
        review_emails=sum(n for s, n in subjects.items() if s.startswith("Would you review")),
        seconds=time.perf_counter() - started,
    )
