"""The dashboard: money per currency, orders waiting, orders per day, jobs and channels at a glance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial

from flask import render_template
from sqlalchemy import func, select

from hub.channels.queries import webhook_status_counts
from hub.core.lifecycle import STATUSES
from hub.core.money import Money, exponent
from hub.orders import analytics
from hub.pipeline import alerts
from hub.queue.jobs import STATUSES as JOB_STATUSES
from hub.queue.queries import status_counts as job_status_counts
from hub.store.models import Channel, Job, JobStatus, Order, WebhookEvent
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.charts import funnel, stacked_bars

CHART_DAYS = 14
#: Sales charts and top SKUs cover this many days (today included).
SALES_DAYS = 30
#: A channel with a dead job or a failed webhook this recent needs a look.
TROUBLE_WITHIN = timedelta(days=7)


def money_text(amount: int, currency: str) -> str:
    """An amount as a merchant reads it: ``USD 1,234.50``, ``JPY 1,500`` (grouped, exact)."""
    return f"{currency} {Money(amount, currency).to_decimal():,}"


def amount_text(currency: str) -> Callable[[int], str]:
    """:func:`money_text` for one currency, to write a chart's bar titles."""
    return partial(_money_in, currency)


def _money_in(currency: str, amount: int) -> str:
    return money_text(amount, currency)


def axis_text(currency: str) -> Callable[[int], str]:
    """A y-axis tick in whole major units (``150``), short enough for the axis."""
    unit = 10 ** exponent(currency)

    def tick(amount: int) -> str:
        return f"{amount // unit:,}"

    return tick


@dataclass(frozen=True)
class ChannelHealth:
    """How the dashboard shows each channel's state, by one rule with the top bar.

    ``failing`` holds exactly the channels the top bar's alarm counts
    (:func:`hub.pipeline.alerts.failing_channels`), in its words: they are red
    here and there. ``attention`` holds older trouble that is not failing now,
    amber: jobs that gave up or webhook events that failed in
    :data:`TROUBLE_WITHIN`.
    """

    failing: dict[int, list[str]]
    attention: dict[int, list[str]]


def channel_health(db, channels: list[Channel], now: datetime) -> ChannelHealth:
    """Each channel's red (failing now) or amber (trouble this week) reasons."""
    since = now - TROUBLE_WITHIN
    dead = dict(
        db.execute(
            select(Job.channel_id, func.count(Job.id))
            .where(Job.status == JobStatus.DEAD, Job.updated_at >= since)
            .group_by(Job.channel_id)
        ).all()
    )
    hooks = dict(
        db.execute(
            select(WebhookEvent.channel_id, func.count(WebhookEvent.id))
            .where(WebhookEvent.status == "failed", WebhookEvent.received_at >= since)
            .group_by(WebhookEvent.channel_id)
        ).all()
    )
    failing: dict[int, list[str]] = defaultdict(list)
    for channel in alerts.failing_channels(db, now):
        failing[channel.id].append(channel.reason)
    attention: dict[int, list[str]] = {}
    for c in channels:
        why = []
        if n := dead.get(c.id):
            why.append(f"{n} job{'s' if n != 1 else ''} gave up in the last 7 days")
        if n := hooks.get(c.id):
            why.append(f"{n} webhook event{'s' if n != 1 else ''} failed in the last 7 days")
        if c.id in failing:
            failing[c.id].extend(why)
        elif why:
            attention[c.id] = why
    return ChannelHealth(failing=dict(failing), attention=attention)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@bp.get("/")
def dashboard():
    now = datetime.now(UTC)
    today = now.date()
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    since = datetime.combine(days[0], datetime.min.time(), tzinfo=UTC)
    when = func.coalesce(Order.placed_at, Order.created_at)
    day = func.date(when)
    with get_hub().db.read() as db:
        per_day = db.execute(
            select(day, Channel.id, func.count(Order.id))
            .join(Channel, Channel.id == Order.channel_id)
            .where(when >= since)
            .group_by(day, Channel.id)
        ).all()
        by_status = dict(
            db.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        jobs = job_status_counts(db)
        failed_webhooks = webhook_status_counts(db).get("failed", 0)
        channels = list(db.scalars(select(Channel).order_by(Channel.name)))
        # Each channel's newest job failure, when its own last_error says nothing newer.
        job_errors: dict[int, Job] = {}
        for job in db.scalars(
            select(Job)
            .where(Job.status.in_((JobStatus.FAILED, JobStatus.DEAD)), Job.channel_id.is_not(None))
            .order_by(Job.updated_at.desc())
            .limit(500)
        ):
            if job.channel_id is not None:  # as the query says
                job_errors.setdefault(job.channel_id, job)
        # Channels are told apart by name, and by slug too when two share a name.
        names = [c.name for c in channels]
        label = {
            c.id: c.name if names.count(c.name) == 1 else f"{c.name} ({c.slug})" for c in channels
        }
        series: dict[str, dict[date, int]] = defaultdict(dict)
        for d, channel_id, count in per_day:
            series[label[channel_id]][_as_date(d)] = count
        periods = [(name, analytics.period_sales(db, now, n)) for name, n in analytics.PERIODS]
        sales_start = analytics.period_start(now, SALES_DAYS)
        sales_days = [today - timedelta(days=n) for n in range(SALES_DAYS - 1, -1, -1)]
        sales_charts = []
        for currency, per_channel in sorted(
            analytics.revenue_per_day(db, sales_start, now).items()
        ):
            by_name = {label[cid]: per_day for cid, per_day in per_channel.items()}
            totals = {name: sum(per_day.values()) for name, per_day in by_name.items()}
            chart = stacked_bars(
                sales_days, by_name, value=amount_text(currency), axis=axis_text(currency)
            )
            # Sales per channel: biggest first, each bar against the biggest.
            per_channel_bars = funnel(totals, sorted(totals, key=lambda n: (-totals[n], n)))
            sales_charts.append((currency, chart, per_channel_bars))
        return render_template(
            "admin/dashboard.html",
            chart=stacked_bars(days, series),
            chart_days=CHART_DAYS,
            funnel=funnel(by_status, STATUSES),
            orders_total=sum(by_status.values()),
            jobs=[(s, jobs.get(s, 0)) for s in JOB_STATUSES],
            failed_webhooks=failed_webhooks or 0,
            channels=channels,
            job_errors=job_errors,
            health=channel_health(db, channels, now),
            periods=periods,
            sales_charts=sales_charts,
            sales_days=SALES_DAYS,
            top_skus=analytics.top_skus(db, sales_start, now),
            waiting=analytics.waiting(db, now),
            late_days=analytics.LATE_DAYS,
            money=money_text,
        )
