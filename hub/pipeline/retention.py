"""Bounded data: finished work is purged once it is older than ``HUB_RETENTION_DAYS``.

What goes, in small batches (one transaction each, so a purge never holds the
database for long and a crash loses nothing but the batch in hand):

- **succeeded jobs** (their payloads with them): what they did is in the
  order's history;
- **processed and ignored webhook events** (their raw bodies with them):
  every provider stops redelivering within days (Shopify after 48 hours);
- **delivery attempts** of notifications that were delivered or skipped: the
  sent ledger (``notifications_sent``, one row per delivery) stays, so nothing
  is ever sent twice;
- **rate quotes** that expired (``rate_quotes``, :mod:`hub.routing.rates`): a
  quote is refreshed in place when asked again, so only keys no order has
  needed since go;
- **case photo files** no case records any more (their customer was erased):
  :func:`hub.cases.photos.prune`, whatever their age.

What stays: orders and their history (audit events, payments, shipments,
returns), stock movements, dead and unfinished jobs, webhook events that
failed or were rejected, attempts of notifications never delivered: what a
person may still need to decide on.

The ``hub.purge`` job runs hourly (:mod:`hub.pipeline.defaults`); ``hub purge``
runs it by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.engine import CursorResult

from hub.cases import photos as case_photos
from hub.queue.jobs import JobContext
from hub.runtime.hub import Hub
from hub.store.models import (
    Job,
    JobStatus,
    NotificationAttempt,
    NotificationSent,
    RateQuote,
    WebhookEvent,
    utcnow,
)

log = logging.getLogger(__name__)

#: Rows deleted per transaction.
BATCH = 1000
#: A purge job stops after this long and leaves the rest to the next one.
TIME_BUDGET_SECONDS = 60.0


@dataclass(frozen=True)
class Rule:
    """One kind of finished work: its table and which of its rows, older than ``before``, go."""

    name: str
    model: Any
    where: Callable[[datetime], ColumnElement[bool]]


RULES: tuple[Rule, ...] = (
    Rule(
        "succeeded jobs",
        Job,
        lambda before: (Job.status == JobStatus.SUCCEEDED.value) & (Job.finished_at < before),
    ),
    Rule(
        "processed webhook events",
        WebhookEvent,
        lambda before: (
            WebhookEvent.status.in_(["processed", "ignored"]) & (WebhookEvent.processed_at < before)
        ),
    ),
    Rule(
        "delivery attempts",
        NotificationAttempt,
        lambda before: (
            (NotificationAttempt.created_at < before)
            & or_(
                NotificationAttempt.outcome == "skipped",
                NotificationAttempt.idempotency_key.in_(select(NotificationSent.idempotency_key)),
            )
        ),
    ),
    Rule("expired rate quotes", RateQuote, lambda before: RateQuote.expires_at < before),
)


def purge(
    hub: Hub,
    before: datetime,
    *,
    batch: int = BATCH,
    budget_seconds: float | None = None,
) -> dict[str, int]:
    """Delete finished work older than ``before``; how many rows of each kind went.

    :param budget_seconds: stop after about this long (the next purge goes on);
        None purges everything due.
    """
    started = time.monotonic()
    removed: dict[str, int] = {}
    for rule in RULES:
        removed[rule.name] = 0
        ids = select(rule.model.id).where(rule.where(before)).order_by(rule.model.id).limit(batch)
        while True:
            with hub.db.transaction() as session:
                result = session.execute(
                    delete(rule.model).where(rule.model.id.in_(ids)),
                    execution_options={"synchronize_session": False},
                )
                count = cast(CursorResult[Any], result).rowcount
            removed[rule.name] += count
            if count < batch:
                break
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                log.info("purge: time is up; the next purge goes on (%s)", removed)
                return removed
    return removed


def purge_job(ctx: JobContext) -> None:
    """``hub.purge``: what finished more than ``HUB_RETENTION_DAYS`` ago goes."""
    hub = ctx.hub
    before = utcnow() - timedelta(days=hub.settings.retention_days)
    removed = purge(hub, before, budget_seconds=TIME_BUDGET_SECONDS)
    # Case photos no case records any more (their customer was erased): the files go too.
    with hub.db.read() as session:
        removed["case_photos"] = case_photos.prune(hub.settings.data_dir, session)
    if any(removed.values()):
        log.info("purge: removed %s (finished before %s)", removed, before.isoformat())
