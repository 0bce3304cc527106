"""Periodic work: APScheduler fires, the jobs table dedupes.

Each firing enqueues a job whose dedupe key names its time slot
(``kind:channel:slot``, slot = epoch seconds // interval). Triggers are aligned
to multiples of the interval, so every scheduler computes the same slot for the
same firing and running two or more schedulers never doubles the work — one of
them can die and the other keeps going.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .jobs import PeriodicJob, enqueue
from .runtime import Hub

log = logging.getLogger(__name__)

#: How often the scheduler re-reads the channels (added, removed, re-timed).
REFRESH_SECONDS = 30


def slot_key(job: PeriodicJob, now: float) -> str:
    slot = int(now // job.every_seconds)
    return f"periodic:{job.kind}:{job.channel_id or '-'}:{job.every_seconds}:{slot}"


def fire(hub: Hub, job: PeriodicJob, now: float | None = None) -> int | None:
    """Enqueue this slot's job unless some scheduler already did; return its id or None."""
    now = time.time() if now is None else now
    with hub.db.transaction() as session:
        return enqueue(session, job.kind, dict(job.payload), channel_id=job.channel_id,
                       dedupe_key=slot_key(job, now))


class Scheduler:
    def __init__(self, hub: Hub):
        self.hub = hub
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._stop = threading.Event()
        self._ids: set[str] = set()

    def start(self) -> None:
        self._scheduler.start()
        self.refresh()
        self._scheduler.add_job(self.refresh, IntervalTrigger(seconds=REFRESH_SECONDS),
                                id="hub:refresh", coalesce=True, max_instances=1)

    def refresh(self) -> None:
        """Match the APScheduler jobs to the periodic jobs the hub has now."""
        try:
            wanted = {self._job_id(j): j for j in self.hub.periodic_jobs()}
        except Exception:
            log.exception("scheduler: could not read the periodic jobs")
            return
        for job_id in self._ids - wanted.keys():
            self._scheduler.remove_job(job_id)
        for job_id, job in wanted.items():
            if job_id in self._ids:
                continue
            every = job.every_seconds
            # Align the first firing to a multiple of the interval: every
            # scheduler then fires at the same instants and agrees on the slot.
            start = datetime.fromtimestamp((time.time() // every + 1) * every, UTC)
            self._scheduler.add_job(self._fire, IntervalTrigger(seconds=every, start_date=start),
                                    args=[job], id=job_id, coalesce=True, max_instances=1,
                                    misfire_grace_time=every)
        self._ids = set(wanted)

    def _fire(self, job: PeriodicJob) -> None:
        try:
            job_id = fire(self.hub, job)
        except Exception:
            log.exception("scheduler: could not enqueue %s", job.kind)
            return
        if job_id:
            log.info("scheduler: enqueued %s (job %s)", job.kind, job_id)
        else:
            log.info("scheduler: %s for this slot was enqueued already", job.kind)

    @staticmethod
    def _job_id(job: PeriodicJob) -> str:
        return f"{job.kind}:{job.channel_id or '-'}:{job.every_seconds}"

    def run_forever(self) -> None:
        self.start()
        self._stop.wait()
        self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
