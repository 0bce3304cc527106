"""Sign-in throttling: repeated failures for one email from one address lock that pair.

After :data:`MAX_FAILURES` failed sign-ins within :data:`WINDOW` for the same
(email, client address), further attempts are refused until :data:`LOCKOUT`
has passed, whether the password is right or not. A successful sign-in clears
the count. Counts live in the database, so every web process sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.store.models import LoginThrottle, utcnow

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class Lock:
    """A refusal: the pair is locked until ``until``."""

    until: datetime

    def minutes_left(self, now: datetime | None = None) -> int:
        seconds = (self.until - (now or utcnow())).total_seconds()
        return max(1, int(-(-seconds // 60)))


def _key(email: str, ip: str) -> tuple[str, str]:
    return (email or "").strip().lower()[:320], (ip or "unknown")[:64]


def check(session: Session, email: str, ip: str, *, now: datetime | None = None) -> Lock | None:
    """Return the lock on (email, ip) if it is locked now, else None."""
    now = now or utcnow()
    email, ip = _key(email, ip)
    row = session.scalars(
        select(LoginThrottle).where(LoginThrottle.email == email, LoginThrottle.ip == ip)
    ).one_or_none()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return Lock(row.locked_until)
    return None


def record_failure(
    session: Session, email: str, ip: str, *, now: datetime | None = None
) -> Lock | None:
    """Count a failed sign-in; return the lock if this failure triggered one."""
    now = now or utcnow()
    email, ip = _key(email, ip)
    query = select(LoginThrottle).where(LoginThrottle.email == email, LoginThrottle.ip == ip)
    row = session.scalars(query.with_for_update()).one_or_none()
    if row is None:
        row = LoginThrottle(email=email, ip=ip, failures=0, first_failure_at=now)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            # A concurrent failure created it first: count on theirs.
            row = session.scalars(query.with_for_update()).one()
    if now - row.first_failure_at > WINDOW or (
        row.locked_until is not None and row.locked_until <= now
    ):
        # The old window or lock is over: start counting afresh.
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= MAX_FAILURES:
        row.locked_until = now + LOCKOUT
    # Keep the table small: forget pairs nobody has failed with for a day.
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.first_failure_at < now - timedelta(days=1),
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
        )
    )
    return Lock(row.locked_until) if row.locked_until is not None else None


def clear(session: Session, email: str, ip: str) -> None:
    """Forget the failures of (email, ip): called after a successful sign-in."""
    email, ip = _key(email, ip)
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.email == email, LoginThrottle.ip == ip)
    )
