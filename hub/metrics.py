"""Prometheus metrics, one registry per hub so tests can build many hubs."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "hub_jobs_finished", "Jobs run, by kind and outcome", ["kind", "status"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "hub_job_duration_seconds", "Time spent running a job", ["kind"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "hub_webhooks", "Inbound webhooks by channel and outcome", ["channel", "outcome"],
            registry=self.registry,
        )
        self.external_seconds = Histogram(
            "hub_external_request_seconds", "Outbound HTTP request time by connector",
            ["connector", "status"], registry=self.registry,
        )

    def job_finished(self, kind: str, status: str, seconds: float) -> None:
        self.jobs.labels(kind=kind, status=status).inc()
        self.job_seconds.labels(kind=kind).observe(seconds)
