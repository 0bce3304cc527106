"""The returns list, read the same way by the API, the admin UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from hub.queue.kinds import JobKind
from hub.store.models import Job, Order, Return, ReturnLine
from hub.store.queries import Found, fetch


@dataclass(frozen=True)
class ReturnFilters:
    """What a list of returns can be narrowed by; the filters given combine with AND."""

    status: str | None = None
    order_id: int | None = None


def returns_statement(filters: ReturnFilters = ReturnFilters()) -> Select[Return]:
    """The returns the filters select, unordered, with their lines, order lines and locations."""
    statement = select(Return).options(
        selectinload(Return.lines).joinedload(ReturnLine.order_line),
        selectinload(Return.lines).joinedload(ReturnLine.location),
    )
    if filters.status:
        statement = statement.where(Return.status == filters.status)
    if filters.order_id is not None:
        statement = statement.where(Return.order_id == filters.order_id)
    return statement


def search_returns(
    session: Session,
    filters: ReturnFilters = ReturnFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[Return]:
    """The returns the filters select, newest first (paging as :func:`hub.store.queries.fetch`)."""
    return fetch(
        session,
        returns_statement(filters),
        Return.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )


def refund_jobs_by_order(session: Session, order_ids: set[int]) -> dict[int, list[Job]]:
    """The refund jobs of several orders in one query (to show a page of returns' progress)."""
    out: dict[int, list[Job]] = {}
    if order_ids:
        for job in session.scalars(
            select(Job)
            .where(Job.kind == JobKind.PAYMENT_REFUND, Job.order_id.in_(order_ids))
            .order_by(Job.id)
        ):
            if job.order_id is not None:
                out.setdefault(job.order_id, []).append(job)
    return out


def refund_jobs(session: Session, order_id: int) -> list[Job]:
    """Every ``payment.refund`` job of one order (to show its returns' progress)."""
    return refund_jobs_by_order(session, {order_id}).get(order_id, [])


def status_counts(session: Session) -> dict[str, int]:
    """How many returns are in each status."""
    return dict(session.execute(select(Return.status, func.count()).group_by(Return.status)).all())


def order_labels(session: Session, order_ids: set[int]) -> dict[int, str]:
    """The numbers of the orders of a page of returns."""
    if not order_ids:
        return {}
    return dict(
        session.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids))).all()
    )
