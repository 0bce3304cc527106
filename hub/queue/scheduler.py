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
from sqlalchemy import bindparam, select, text

from hub.integration.jobs import PeriodicJob
from hub.queue.jobs import enqueue
from hub.runtime.hub import Hub
from hub.store.models import Channel, Job

log = logging.getLogger(__name__)

#: How often the scheduler re-reads the channels (added, removed, re-timed).
REFRESH_SECONDS = 30


def slot_key(job: PeriodicJob, now: float) -> str:
    slot = int(now // job.every_seconds)
    return f"periodic:{job.kind}:{job.channel_id or '-'}:{job.every_seconds}:{slot}"


def fire(hub: Hub, job: PeriodicJob, now: float | None = None) -> int | None:
    """Enqueue this slot's job unless some scheduler already did, or an earlier slot's job
    has not started yet; return its id or None.

    Coalescing: when the workers are behind, an earlier firing still waiting
    will do this slot's work too (a pull reads from its cursor, a poll from its
    window, an export takes whatever is unexported), so queueing another would
    only add to the backlog (pulls and stock pushes piled up behind order work
    in the large runs of `make bench` (c)).
    """
    now = time.time() if now is None else now
    with hub.db.transaction() as session:
        if job.channel_id is not None and not session.scalar(
            select(Channel.enabled).where(Channel.id == job.channel_id)
        ):
            # Disabled or deleted since the schedule was read: refresh drops it.
            return None
        waiting = session.execute(_WAITING, {"prefix": _like_prefix(job)}).first()
        if waiting is not None:
            return None
        return enqueue(
            session,
            job.kind,
            dict(job.payload),
            channel_id=job.channel_id,
            dedupe_key=slot_key(job, now),
        )


# A queued job, or a failed one waiting for its retry, of the same periodic job (any slot).
_WAITING = (
    select(Job.id)
    .where(
        text("status IN ('queued', 'failed')"),
        Job.dedupe_key.like(bindparam("prefix"), escape="\\"),
    )
    .limit(1)
)


def _like_prefix(job: PeriodicJob) -> str:
    prefix = slot_key(job, 0.0).rsplit(":", 1)[0] + ":"
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Scheduler:
    def __init__(self, hub: Hub):
        self.hub = hub
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._stop = threading.Event()
        self._ids: set[str] = set()

    def start(self) -> None:
        self._scheduler.start()
        self.refresh()
        self._scheduler.add_job(
            self.refresh,
            IntervalTrigger(seconds=REFRESH_SECONDS),
            id="hub:refresh",
            coalesce=True,
            max_instances=1,
        )

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
            self._scheduler.add_job(
                self._fire,
                IntervalTrigger(seconds=every, start_date=start),
                args=[job],
                id=job_id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=every,
            )
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
            log.info(
                "scheduler: %s for this slot was enqueued already, or an earlier one has not "
                "started yet",
                job.kind,
            )

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
