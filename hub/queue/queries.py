"""The jobs list (and its dead letters), read the same way by the API, the admin UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hub.store.models import Job, JobStatus
from hub.store.queries import Found, fetch

#: Statuses where the newest trouble matters more than the newest job.
TROUBLE = (JobStatus.DEAD, JobStatus.FAILED)


@dataclass(frozen=True)
class JobFilters:
    """What a list of jobs can be narrowed by; the filters given combine with AND."""

    status: str | None = None
    kind: str | None = None
    channel_id: int | None = None


def jobs_statement(filters: JobFilters = JobFilters()) -> Select[Job]:
    """The jobs the filters select, unordered."""
    statement = select(Job)
    if filters.status:
        statement = statement.where(Job.status == filters.status)
    if filters.kind:
        statement = statement.where(Job.kind == filters.kind)
    if filters.channel_id is not None:
        statement = statement.where(Job.channel_id == filters.channel_id)
    return statement


def search_jobs(
    session: Session,
    filters: JobFilters = JobFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
    trouble_first: bool = False,
) -> Found[Job]:
    """The jobs the filters select, newest first.

    With ``trouble_first`` and a ``failed`` or ``dead`` status, the job that
    failed most recently comes first (it cannot be paged with ``before_id``).
    """
    order_by = None
    if trouble_first and filters.status in TROUBLE:
        if before_id is not None:
            raise ValueError("trouble_first pages by offset, not by before_id")
        order_by = (Job.updated_at.desc(), Job.id.desc())
    return fetch(
        session,
        jobs_statement(filters),
        Job.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
        order_by=order_by,
    )


def status_counts(session: Session) -> dict[str, int]:
    """How many jobs are in each status."""
    return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def kinds(session: Session) -> list[str]:
    """Every kind of job there is, by name."""
    return list(session.scalars(select(Job.kind).distinct().order_by(Job.kind)))


def job_states(session: Session, dedupe_keys: set[str]) -> dict[str, tuple[int, str]]:
    """``{dedupe_key: (job id, status)}`` of the jobs queued under these keys."""
    if not dedupe_keys:
        return {}
    return {
        key: (job_id, status)
        for key, job_id, status in session.execute(
            select(Job.dedupe_key, Job.id, Job.status).where(Job.dedupe_key.in_(dedupe_keys))
        ).all()
        if key is not None
    }
