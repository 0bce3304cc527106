"""Prometheus metrics, one registry per hub so tests can build many hubs.

Counters and histograms are counted in the process that does the work (a web
process counts webhooks, a worker counts jobs and outbound requests; ``hub
serve`` runs both). Gauges of what the database holds — jobs by status, orders
by status, the webhook inbox — are read from the database at scrape time, so
every process reports the same truth (:class:`DatabaseCollector`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.store.models import JobStatus

if TYPE_CHECKING:
    from hub.store.db import Database

log = logging.getLogger(__name__)


class Metrics:
    def __init__(self, db: Database | None = None) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "hub_jobs_finished",
            "Jobs run, by kind and outcome",
            ["kind", "status"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "hub_job_duration_seconds",
            "Time spent running a job",
            ["kind"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "hub_webhooks",
            "Inbound webhooks by channel and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.external_seconds = Histogram(
            "hub_external_request_seconds",
            "Outbound HTTP request time by connector",
            ["connector", "status"],
            registry=self.registry,
        )
        self.plugin_errors = Counter(
            "hub_plugin_errors",
            "Plugin implementations of a fan-out hook that raised (logged, isolated)",
            ["plugin", "hook"],
            registry=self.registry,
        )
        if db is not None:
            self.registry.register(DatabaseCollector(db))
        self._webhook_counters: dict[tuple[str, str], Any] = {}

    def webhook(self, channel: str, outcome: str) -> None:
        """Count one inbound webhook (ingest's hot path: the labelled counter is looked up once)."""
        counter = self._webhook_counters.get((channel, outcome))
        if counter is None:
            counter = self._webhook_counters.setdefault(
                (channel, outcome), self.webhooks.labels(channel=channel, outcome=outcome)
            )
        counter.inc()

    def plugin_error(self, plugin: str, hook: str) -> None:
        self.plugin_errors.labels(plugin=plugin, hook=hook).inc()

    def job_finished(self, kind: str, status: str, seconds: float) -> None:
        self.jobs.labels(kind=kind, status=status).inc()
        self.job_seconds.labels(kind=kind).observe(seconds)


class DatabaseCollector(Collector):
    """Gauges computed from the database when Prometheus scrapes."""

    def __init__(self, db: Database):
        self.db = db

    def describe(self):
        # Nothing at registration time: describing would otherwise query the database.
        return []

    def collect(self):
        from sqlalchemy import func, select

        from hub.store.models import Job, Order, WebhookEvent, utcnow

        jobs = GaugeMetricFamily(
            "hub_jobs", "Jobs in the queue table, by kind and status", labels=["kind", "status"]
        )
        lag = GaugeMetricFamily(
            "hub_jobs_oldest_due_seconds",
            "Age of the oldest queued or failed job that is due (0: none)",
        )
        orders = GaugeMetricFamily(
            "hub_orders", "Orders by channel and status", labels=["channel", "status"]
        )
        inbox = GaugeMetricFamily(
            "hub_webhook_events", "The webhook inbox by status", labels=["status"]
        )
        up = GaugeMetricFamily(
            "hub_database_up", "1 when the database answered the scrape's queries"
        )
        try:
            from hub.store.models import Channel

            with self.db.read() as session:
                for kind, status, count in session.execute(
                    select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
                ):
                    jobs.add_metric([kind, status], count)
                now = utcnow()
                oldest = session.scalar(
                    select(func.min(Job.run_at)).where(
                        Job.status.in_((JobStatus.QUEUED, JobStatus.FAILED)), Job.run_at <= now
                    )
                )
                lag.add_metric([], _age(now, oldest))
                for slug, status, count in session.execute(
                    select(Channel.slug, Order.status, func.count())
                    .join(Channel, Order.channel_id == Channel.id)
                    .group_by(Channel.slug, Order.status)
                ):
                    orders.add_metric([slug, status], count)
                for status, count in session.execute(
                    select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
                ):
                    inbox.add_metric([status], count)
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics: the database did not answer: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (jobs, lag, orders, inbox, up)


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    return max(0.0, (now - then).total_seconds())
