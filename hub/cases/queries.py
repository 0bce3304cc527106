"""The cases list and one case, read the same way by the API and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from hub.cases.actions import REASONS, STATUS_WORDS
from hub.orders.serialize import iso
from hub.store.models import Case, Order
from hub.store.queries import Found, fetch


@dataclass(frozen=True)
class CaseFilters:
    """What a list of cases can be narrowed by; the filters given combine with AND."""

    status: str | None = None
    order_id: int | None = None
    customer_id: int | None = None
    assignee_id: int | None = None


def cases_statement(filters: CaseFilters = CaseFilters()) -> Select[Case]:
    statement = select(Case).options(
        joinedload(Case.order).load_only(Order.id, Order.number),
        joinedload(Case.assignee),
        selectinload(Case.notes),
    )
    if filters.status:
        statement = statement.where(Case.status == filters.status)
    if filters.order_id is not None:
        statement = statement.where(Case.order_id == filters.order_id)
    if filters.customer_id is not None:
        statement = statement.where(Case.customer_id == filters.customer_id)
    if filters.assignee_id is not None:
        statement = statement.where(Case.assignee_id == filters.assignee_id)
    return statement


def search_cases(
    session: Session,
    filters: CaseFilters = CaseFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[Case]:
    """The cases the filters select, newest first (paging as :func:`hub.store.queries.fetch`)."""
    return fetch(
        session,
        cases_statement(filters),
        Case.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )


def find_case(session: Session, case_id: int) -> Case | None:
    return session.scalars(cases_statement().where(Case.id == case_id)).unique().one_or_none()


def status_counts(session: Session) -> dict[str, int]:
    """How many cases are in each status."""
    return dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).all())


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "order_id": case.order_id,
        "order_number": case.order.label if case.order is not None else "",
        "customer_id": case.customer_id,
        "status": case.status,
        "status_words": STATUS_WORDS.get(case.status, case.status),
        "reason": case.reason,
        "reason_words": REASONS.get(case.reason, case.reason),
        "assignee": (
            {"id": case.assignee.id, "email": case.assignee.email}
            if case.assignee is not None
            else None
        ),
        "return_id": case.return_id,
        "replacement_order_id": case.replacement_order_id,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "resolved_at": iso(case.resolved_at),
    }


def case_detail(case: Case) -> dict[str, Any]:
    out = case_summary(case)
    out.update(
        {
            "description": case.description,
            "opened_by": case.opened_by,
            "photos": [
                {
                    "index": i,
                    "name": p.get("name", ""),
                    "content_type": p.get("content_type", ""),
                    "size": p.get("size", 0),
                }
                for i, p in enumerate(case.photos or [])
            ],
            "notes": [
                {"id": n.id, "author": n.author, "body": n.body, "created_at": iso(n.created_at)}
                for n in case.notes
            ],
        }
    )
    return out
