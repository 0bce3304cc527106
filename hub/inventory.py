"""Stock levels: set what is on hand, per SKU and location, with an audit trail.

Every change writes a :class:`hub.models.StockMovement` (who, why, from where)
and enqueues a debounced ``stock.push`` job: the movements are the change feed
the push reads, so only changed SKUs are sent to the sales channels.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .core.exceptions import NotFound, ValidationError
from .jobs import enqueue
from .models import Location, StockLevel, StockMovement, utcnow

#: Stock changes within this window are pushed to the channels together.
PUSH_DEBOUNCE_SECONDS = 5


@dataclass(frozen=True)
class LevelChange:
    sku: str
    location_code: str
    on_hand: int


def get_location(session: Session, code: str) -> Location:
    location = session.scalars(select(Location).where(Location.code == code)).one_or_none()
    if location is None:
        raise NotFound(f"location {code!r} does not exist")
    return location


def upsert_location(session: Session, code: str, *, name: str = "", priority: int = 0,
                    active: bool = True) -> Location:
    code = (code or "").strip()
    if not code:
        raise ValidationError("a location needs a code", details={"code": ["is required"]})
    location = session.scalars(select(Location).where(Location.code == code)).one_or_none()
    if location is None:
        location = Location(code=code, created_at=utcnow())
        session.add(location)
    location.name = name or location.name or code
    location.priority = priority
    location.active = active
    session.flush()
    return location


def set_on_hand(session: Session, changes: Iterable[LevelChange], *, actor: str, reason: str = "",
                source: str = "") -> int:
    """Set on-hand quantities; return how many levels actually changed.

    Levels are locked in a stable order (SKU, location) so two writers never
    deadlock. On hand may not go below what orders reserved.
    """
    locations: dict[str, Location] = {}
    changed = 0
    for change in sorted(changes, key=lambda c: (c.sku, c.location_code)):
        if change.on_hand < 0:
            raise ValidationError(f"on hand for {change.sku} at {change.location_code} cannot be negative")
        location = locations.get(change.location_code) or get_location(session, change.location_code)
        locations[change.location_code] = location
        level = lock_level(session, change.sku, location.id)
        if level.on_hand == change.on_hand:
            continue
        if change.on_hand < level.reserved:
            raise ValidationError(
                f"{change.sku} at {change.location_code}: on hand {change.on_hand} is below the "
                f"{level.reserved} reserved by orders", details={"on_hand": ["below reserved"]})
        delta = change.on_hand - level.on_hand
        level.on_hand = change.on_hand
        session.add(StockMovement(sku=change.sku, location_id=location.id, on_hand_change=delta,
                                  on_hand_after=level.on_hand, reserved_after=level.reserved,
                                  actor=actor, reason=reason, source=source, created_at=utcnow()))
        changed += 1
    if changed:
        session.flush()
        stock_changed(session)
    return changed


def lock_level(session: Session, sku: str, location_id: int) -> StockLevel:
    """The level row for (sku, location), created at zero if missing, locked for update."""
    query = select(StockLevel).where(StockLevel.sku == sku, StockLevel.location_id == location_id)
    level = session.scalars(query.with_for_update()).one_or_none()
    if level is None:
        level = StockLevel(sku=sku, location_id=location_id, on_hand=0, reserved=0, updated_at=utcnow())
        try:
            with session.begin_nested():
                session.add(level)
                session.flush()
        except IntegrityError:
            # Another writer created it first: take theirs.
            level = session.scalars(query.with_for_update()).one()
    return level


def stock_changed(session: Session) -> None:
    """Enqueue the debounced push of changed stock to the sales channels."""
    slot = int(time.time() // PUSH_DEBOUNCE_SECONDS) + 1
    enqueue(session, "stock.push", {}, run_at=datetime.fromtimestamp(slot * PUSH_DEBOUNCE_SECONDS, UTC),
            dedupe_key=f"stock.push:{slot}")
