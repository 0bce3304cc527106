"""Admin UI sessions kept by the hub, so that ending one really ends it.

The browser's cookie holds only a random value; the hub keeps its SHA-256 with
the person and when the session was last seen (:class:`AdminSession`). A
session ends when its row goes: at sign-out (:func:`end`), when the person's
password is set (:func:`end_all`, from ``users.set_admin``), on "sign out
everywhere" (:func:`end_all`), and when it was idle longer than the hub's
``session_idle_minutes`` (:func:`resume`). A copy of the cookie is then worth
nothing, wherever it is.

``last_seen_at`` is written at most once per :data:`TOUCH_EVERY`, not on every
page (a write per request would serialise SQLite's one writer), so a session
may end up to that much before its idle limit is reached exactly.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.store.db import Database
from hub.store.models import AdminSession, User, utcnow

#: ``last_seen_at`` is rewritten only when it is older than this.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Person:
    """Who a live session belongs to."""

    user_id: int
    email: str


def _digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def start(session: Session, user_id: int, *, idle: timedelta, now: datetime | None = None) -> str:
    """Open a session for the person; return the value for the cookie (stored hashed only)."""
    now = now or utcnow()
    plain = secrets.token_urlsafe(32)
    session.add(
        AdminSession(token_hash=_digest(plain), user_id=user_id, created_at=now, last_seen_at=now)
    )
    # Keep the table small: sessions nobody used within the idle limit are over anyway.
    session.execute(delete(AdminSession).where(AdminSession.last_seen_at < now - idle))
    session.flush()
    return plain


def resume(
    database: Database, plain: str | None, *, idle: timedelta, now: datetime | None = None
) -> Person | None:
    """The person of the live session ``plain`` names, or None if it has ended.

    A session idle for longer than ``idle`` ends here. Reads only, unless the
    session must end or its ``last_seen_at`` is older than :data:`TOUCH_EVERY`.
    """
    if not plain:
        return None
    now = now or utcnow()
    digest = _digest(plain)
    with database.read() as db:
        row = db.execute(
            select(AdminSession.id, AdminSession.last_seen_at, User.id, User.email)
            .join(User, User.id == AdminSession.user_id)
            .where(AdminSession.token_hash == digest)
        ).one_or_none()
    if row is None:
        return None
    session_id, last_seen, user_id, email = row
    if now - last_seen > idle:
        with database.transaction() as db:
            db.execute(delete(AdminSession).where(AdminSession.id == session_id))
        return None
    if now - last_seen > TOUCH_EVERY:
        with database.transaction() as db:
            db.execute(
                update(AdminSession).where(AdminSession.id == session_id).values(last_seen_at=now)
            )
    return Person(user_id, email)


def end(session: Session, plain: str | None) -> None:
    """End the session ``plain`` names (signing out); nothing if it has ended already."""
    if plain:
        session.execute(delete(AdminSession).where(AdminSession.token_hash == _digest(plain)))


def end_all(session: Session, user_id: int) -> int:
    """End every session of the person (a new password, "sign out everywhere"); return how many."""
    result = session.execute(delete(AdminSession).where(AdminSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)
