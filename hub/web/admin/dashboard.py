"""The dashboard: orders per day per channel, the status funnel, jobs and channels at a glance."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from flask import render_template
from sqlalchemy import func, select

from hub.channels.queries import webhook_status_counts
from hub.core.lifecycle import STATUSES
from hub.queue.jobs import STATUSES as JOB_STATUSES
from hub.queue.queries import status_counts as job_status_counts
from hub.store.models import Channel, Job, JobStatus, Order
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.charts import funnel, stacked_bars

CHART_DAYS = 14


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@bp.get("/")
def dashboard():
    today = datetime.now(UTC).date()
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
        )
