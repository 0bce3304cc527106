"""Reading a page of rows: the one way every list (API, admin UI, CLI) takes a slice of a query.

Each capability builds the query of its list once (``hub.orders.queries``,
``hub.returns.queries`` …) and hands it to :func:`fetch`; the surfaces differ
only in how they page: the API by keyset (``before_id``, newest first), the
admin UI by page number (``offset``, with the total), the CLI by ``limit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.core.exceptions import ValidationError
from hub.store.models import Channel

T = TypeVar("T")

#: The most rows one call reads, whatever a caller asks for.
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Found(Generic[T]):
    """A slice of a list: its rows, whether more follow, and the total when it was asked for."""

    rows: list[T]
    has_more: bool
    total: int | None = None

    @property
    def last_id(self) -> int | None:
        """The id of the last row, to ask for the next page with ``before_id`` (None when none follow)."""
        return self.rows[-1].id if self.has_more and self.rows else None  # type: ignore[attr-defined]


def channel_id_for_slug(session: Session, slug: str) -> int:
    """The channel's id; a :class:`ValidationError` naming the ``channel`` filter if none has it."""
    channel_id = session.scalars(select(Channel.id).where(Channel.slug == slug)).first()
    if channel_id is None:
        raise ValidationError(
            f"there is no channel {slug!r}", details={"channel": [f"no channel {slug!r}"]}
        )
    return channel_id


def count(session: Session, statement: Select[Any]) -> int:
    """How many rows ``statement`` selects (its ordering and eager loads play no part)."""
    return (
        session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    )


def fetch(
    session: Session,
    statement: Select[Any],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
    order_by: Sequence[ColumnElement[Any]] | None = None,
) -> Found[Any]:
    """One slice of ``statement``, newest (highest id) first unless ``order_by`` says otherwise.

    :param limit: at most this many rows (1 to :data:`MAX_LIMIT`).
    :param before_id: keyset paging: only rows whose id is below it (id order only).
    :param offset: page-number paging: skip this many rows first.
    :param with_total: also count every row the filters select (one more query).
    """
    limit = max(1, min(limit, MAX_LIMIT))
    total = count(session, statement) if with_total else None
    if before_id is not None:
        statement = statement.where(id_column < before_id)
    ordering = tuple(order_by) if order_by else (id_column.desc(),)
    rows = list(
        session.scalars(statement.order_by(*ordering).limit(limit + 1).offset(max(0, offset)))
        .unique()
        .all()
    )
    return Found(rows[:limit], len(rows) > limit, total)
