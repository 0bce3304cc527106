"""Stock: locations, levels per SKU and location, and every change to them.

This module is the one place stock levels change. Every change writes a
:class:`hub.store.models.StockMovement` (who, why, from where) and enqueues a
debounced ``stock.push`` job: the movements are the audit trail and the
change feed the push reads, so only changed SKUs are sent to sales channels.

Levels are always locked in one order — SKU, then location id — so two
writers never deadlock on PostgreSQL; SQLite has one writer anyway.
Available is on hand minus reserved; neither ever goes below zero and
reserved never exceeds on hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core.exceptions import ConfigError, NotFound, ValidationError
from hub.integration.connectors import Capability, Connector, SalesConnector, can
from hub.integration.connectors import StockLevel as ChannelStockLevel
from hub.inventory.queries import LevelFilters, levels_statement
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.store.db import before_commit
from hub.store.models import Channel, Location, StockLevel, StockMovement, StockPushMark, utcnow

log = logging.getLogger(__name__)

#: Stock changes within this window are pushed to the channels together.
PUSH_DEBOUNCE_SECONDS = 5
#: Levels sent to a channel per ``push_stock`` call.
PUSH_BATCH_SIZE = 250
#: How long a movement id missing at a push is looked for again (a transaction
#: still running then); rolled-back ids never appear and are dropped after it.
PUSH_GAP_SECONDS = 600
PUSH_MAX_GAPS = 10_000
#: The safety net: a push this often even when no change asked for one.
PUSH_EVERY_SECONDS = 300


@dataclass(frozen=True)
class LevelChange:
    sku: str
    location_code: str
    on_hand: int


@dataclass(frozen=True)
class LevelView:
    """A stock level as people and the API see it."""

    sku: str
    location_code: str
    location_name: str
    on_hand: int
    reserved: int
    available: int
    updated_at: datetime | None

    def to_dict(self) -> dict:
        return {
            "sku": self.sku,
            "location": self.location_code,
            "location_name": self.location_name,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


# --- locations ------------------------------------------------------------------------


def get_location(session: Session, code: str) -> Location:
    location = session.scalars(select(Location).where(Location.code == code)).one_or_none()
    if location is None:
        raise NotFound(f"location {code!r} does not exist")
    return location


def upsert_location(
    session: Session, code: str, *, name: str = "", priority: int = 0, active: bool = True
) -> Location:
    code = (code or "").strip()
    if not code:
        raise ValidationError("a location needs a code", details={"code": ["is required"]})
    if len(code) > 100:
        raise ValidationError(
            "a location code has at most 100 characters", details={"code": ["too long"]}
        )
    location = session.scalars(select(Location).where(Location.code == code)).one_or_none()
    if location is None:
        location = Location(code=code, created_at=utcnow())
        session.add(location)
    location.name = name or location.name or code
    location.priority = priority
    location.active = active
    session.flush()
    return location


def list_locations(session: Session) -> list[Location]:
    """Locations in routing preference: highest priority first."""
    return list(session.scalars(select(Location).order_by(Location.priority.desc(), Location.code)))


def tracking_enabled(session: Session) -> bool:
    """Whether the hub tracks stock at all: it does once any location exists."""
    return session.scalars(select(Location.id).limit(1)).first() is not None


# --- reading levels -------------------------------------------------------------------


def list_levels(
    session: Session,
    filters: LevelFilters | None = None,
    *,
    limit: int = 100,
    after: tuple[str, str] | None = None,
) -> list[LevelView]:
    """Stock levels ordered by SKU then location, ``limit`` at a time.

    :param filters: which levels (:class:`hub.inventory.queries.LevelFilters`).
    :param after: the ``(sku, location_code)`` of the last level of the
        previous page (keyset pagination).
    """
    query = (
        levels_statement(session, filters or LevelFilters())
        .order_by(StockLevel.sku, Location.code)
        .limit(limit)
    )
    if after:
        query = query.where(tuple_(StockLevel.sku, Location.code) > tuple_(*after))
    return [
        LevelView(
            sku=lv.sku,
            location_code=lv.location.code,
            location_name=lv.location.name,
            on_hand=lv.on_hand,
            reserved=lv.reserved,
            available=lv.on_hand - lv.reserved,
            updated_at=lv.updated_at,
        )
        for lv in session.scalars(query)
    ]


def available_by_sku(session: Session, skus: Iterable[str]) -> dict[str, int]:
    """Units available to sell per SKU: the sum over active locations (never negative)."""
    skus = sorted(set(skus))
    out = dict.fromkeys(skus, 0)
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        rows = session.execute(
            select(StockLevel.sku, func.sum(StockLevel.on_hand - StockLevel.reserved))
            .join(Location, Location.id == StockLevel.location_id)
            .where(StockLevel.sku.in_(chunk), Location.active.is_(True))
            .group_by(StockLevel.sku)
        )
        for sku, available in rows:
            out[sku] = max(0, int(available or 0))
    return out


def available_at(session: Session, skus: Iterable[str]) -> dict[tuple[str, str], int]:
    """Units available now (on hand − reserved) by ``(sku, location code)``, active locations."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    # Columns, not entities: always what the database holds now.
    rows = session.execute(
        select(StockLevel.sku, Location.code, StockLevel.on_hand - StockLevel.reserved)
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.sku.in_(wanted), Location.active.is_(True))
    )
    return {(sku, code): int(qty) for sku, code, qty in rows}


def known_skus(session: Session, skus: Iterable[str]) -> set[str]:
    """Those of ``skus`` that have a stock level at some location."""
    skus = set(skus)
    if not skus:
        return set()
    return set(session.scalars(select(StockLevel.sku).where(StockLevel.sku.in_(skus)).distinct()))


def movements(
    session: Session, *, sku: str | None = None, location: str | None = None, limit: int = 100
) -> list[StockMovement]:
    """The newest stock movements (the audit trail), optionally for one SKU or location."""
    query = select(StockMovement).order_by(StockMovement.id.desc()).limit(limit)
    if sku:
        query = query.where(StockMovement.sku == sku)
    if location:
        query = query.where(StockMovement.location_id == get_location(session, location).id)
    return list(session.scalars(query))


# --- changing levels --------------------------------------------------------------------


def set_on_hand(
    session: Session,
    changes: Iterable[LevelChange],
    *,
    actor: str,
    reason: str = "",
    source: str = "",
) -> int:
    """Set on-hand quantities; return how many levels actually changed.

    On hand may not go below what orders reserved. All or nothing: a bad
    change raises before any level is touched.
    """
    locations: dict[str, Location] = {}
    resolved = []
    for change in changes:
        if not isinstance(change.on_hand, int) or change.on_hand < 0:
            raise ValidationError(
                f"on hand for {change.sku} at {change.location_code} must be a "
                f"whole number of 0 or more",
                details={"on_hand": ["must be >= 0"]},
            )
        _check_sku(change.sku)
        location = locations.get(change.location_code) or get_location(
            session, change.location_code
        )
        locations[change.location_code] = location
        resolved.append((change.sku, location, change.on_hand))
    resolved.sort(key=lambda x: (x[0], x[1].id))
    levels = [
        (lock_level(session, sku, location.id), location, on_hand)
        for sku, location, on_hand in resolved
    ]
    for level, location, on_hand in levels:
        if on_hand < level.reserved:
            raise ValidationError(
                f"{level.sku} at {location.code}: on hand {on_hand} is below the "
                f"{level.reserved} reserved by orders",
                details={"on_hand": ["below reserved"]},
            )
    changed = 0
    for level, _location, on_hand in levels:
        if level.on_hand != on_hand:
            move(
                session,
                level,
                on_hand=on_hand - level.on_hand,
                actor=actor,
                reason=reason,
                source=source,
            )
            changed += 1
    return changed


def adjust_on_hand(
    session: Session,
    sku: str,
    location_code: str,
    delta: int,
    *,
    actor: str,
    reason: str = "",
    source: str = "",
) -> StockLevel:
    """Add ``delta`` (negative: remove) to what is on hand; refuse to go below reserved."""
    if not isinstance(delta, int) or delta == 0:
        raise ValidationError(
            "an adjustment needs a non-zero whole number", details={"delta": ["non-zero"]}
        )
    _check_sku(sku)
    location = get_location(session, location_code)
    level = lock_level(session, sku, location.id)
    if level.on_hand + delta < level.reserved:
        raise ValidationError(
            f"{sku} at {location_code}: {level.on_hand} on hand {delta:+d} would be below the "
            f"{level.reserved} reserved by orders",
            details={"delta": ["below reserved"]},
        )
    move(session, level, on_hand=delta, actor=actor, reason=reason, source=source)
    return level


def move(
    session: Session,
    level: StockLevel,
    *,
    on_hand: int = 0,
    reserved: int = 0,
    actor: str,
    reason: str = "",
    source: str = "",
) -> StockMovement:
    """Change a locked level by these deltas and record the movement.

    The one writer of ``on_hand`` and ``reserved``: it refuses any change that
    would make either negative or reserve more than is on hand, so a bug
    elsewhere fails loudly instead of overselling.
    """
    new_on_hand, new_reserved = level.on_hand + on_hand, level.reserved + reserved
    if new_on_hand < 0 or new_reserved < 0 or new_reserved > new_on_hand:
        raise ValidationError(
            f"stock of {level.sku} at location {level.location_id} cannot become {new_on_hand} on hand, "
            f"{new_reserved} reserved ({reason or 'change'})",
            details={"sku": level.sku, "on_hand": new_on_hand, "reserved": new_reserved},
        )
    level.on_hand, level.reserved = new_on_hand, new_reserved
    level.updated_at = utcnow()
    movement = StockMovement(
        sku=level.sku,
        location_id=level.location_id,
        on_hand_change=on_hand,
        reserved_change=reserved,
        on_hand_after=new_on_hand,
        reserved_after=new_reserved,
        actor=actor,
        reason=reason,
        source=source,
        created_at=utcnow(),
    )
    session.add(movement)
    session.flush()
    stock_changed(session)
    return movement


def lock_level(session: Session, sku: str, location_id: int) -> StockLevel:
    """The level row for (sku, location), created at zero if missing, locked for update."""
    query = (
        select(StockLevel)
        .where(StockLevel.sku == sku, StockLevel.location_id == location_id)
        .with_for_update()
        # A level read earlier in this session must show what the lock saw.
        .execution_options(populate_existing=True)
    )
    level = session.scalars(query).one_or_none()
    if level is None:
        level = StockLevel(
            sku=sku, location_id=location_id, on_hand=0, reserved=0, updated_at=utcnow()
        )
        try:
            with session.begin_nested():
                session.add(level)
                session.flush()
        except IntegrityError:
            # Another writer created it first: take theirs.
            level = session.scalars(query).one()
    return level


def lock_skus(session: Session, skus: Iterable[str]) -> list[StockLevel]:
    """Lock every existing level of these SKUs, in the stable (SKU, location id) order."""
    skus = sorted(set(skus))
    if not skus:
        return []
    return list(
        session.scalars(
            select(StockLevel)
            .where(StockLevel.sku.in_(skus))
            .order_by(StockLevel.sku, StockLevel.location_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _check_sku(sku: str) -> None:
    if not isinstance(sku, str) or not sku.strip() or len(sku) > 100:
        raise ValidationError(
            f"SKU {sku!r} must be 1 to 100 characters", details={"sku": ["invalid"]}
        )


def stock_changed(session: Session) -> None:
    """Have the debounced push of changed stock enqueued when this transaction commits.

    The job row is written just before the commit, after every level lock the
    transaction takes: writers of the same debounce slot wait on each other's
    job row only when they hold no lock another one needs (no deadlock).
    """
    before_commit(session, JobKind.STOCK_PUSH, _enqueue_stock_push)


def _enqueue_stock_push(session: Session) -> None:
    slot = int(time.time() // PUSH_DEBOUNCE_SECONDS) + 1
    enqueue(
        session,
        JobKind.STOCK_PUSH,
        {},
        dedupe_key=JobKind.STOCK_PUSH.key(slot),
        run_at=datetime.fromtimestamp(slot * PUSH_DEBOUNCE_SECONDS, UTC),
    )
    # The same slot looks again for SKUs gone below their reorder point (one email per
    # crossing, hub.pipeline.replenishment): after stock changes, not on each one.
    enqueue(
        session,
        JobKind.LOW_STOCK_CHECK,
        {},
        dedupe_key=JobKind.LOW_STOCK_CHECK.key(slot),
        run_at=datetime.fromtimestamp(slot * PUSH_DEBOUNCE_SECONDS, UTC),
    )


# --- pushing stock to sales channels --------------------------------------------------------


def push_all_again(session: Session, channel_id: int) -> None:
    """Have the next push send the channel every SKU, not only those changed since its last.

    For a channel whose config changed what it takes (Shopify: a location
    newly mapped holds nothing until it is sent all of its stock).
    """
    session.execute(delete(StockPushMark).where(StockPushMark.channel_id == channel_id))
    stock_changed(session)


def pushes_stock(connector_cls: type[Connector]) -> bool:
    """Whether a connector takes stock from the hub (it declares ``push_stock``)."""
    return "sales" in connector_cls.roles and can(connector_cls, Capability.PUSH_STOCK)


def push_stock(ctx: JobContext) -> None:
    """``stock.push``: hand the push to one job per sales channel that takes stock.

    Each channel's push is a job of its own, so a channel that fails is
    retried alone and never holds the others back.
    """
    hub = ctx.hub
    with hub.db.transaction() as session:
        for channel in session.scalars(
            select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.id)
        ):
            cls = hub.connectors.get(channel.connector)
            if cls is not None and pushes_stock(cls):
                enqueue(
                    session,
                    JobKind.STOCK_PUSH_CHANNEL,
                    {},
                    channel_id=channel.id,
                    dedupe_key=JobKind.STOCK_PUSH_CHANNEL.key(channel.id, ctx.id),
                )


def push_stock_to_channel(ctx: JobContext) -> None:
    """``stock.push.channel``: send a channel the available stock of every SKU changed since its last push.

    The channel's mark is the highest movement id pushed; a channel never
    pushed to gets every SKU. Ids are handed out before commit, so a movement
    can become visible after a higher one was pushed: the ids missing below
    the mark at push time (*gaps*: transactions still running, or rolled
    back) are looked for again on the next pushes, for :data:`PUSH_GAP_SECONDS`.
    Levels go in batches of :data:`PUSH_BATCH_SIZE`.
    """
    hub = ctx.hub
    now = time.time()
    with hub.db.read() as session:
        mark = session.get(StockPushMark, ctx.channel_id)
        if mark is None:
            top = session.scalar(select(func.max(StockMovement.id))) or 0
            skus = set(session.scalars(select(StockLevel.sku).distinct()))
            gaps: dict[int, float] = {}
        else:
            gaps = {
                int(i): float(t) for i, t in mark.gaps or [] if now - float(t) < PUSH_GAP_SECONDS
            }
            condition = StockMovement.id > mark.movement_id
            if gaps:
                condition = or_(condition, StockMovement.id.in_(sorted(gaps)))
            seen = dict(
                session.execute(select(StockMovement.id, StockMovement.sku).where(condition)).all()
            )
            skus = set(seen.values())
            top = max([mark.movement_id, *seen])
            for i in set(gaps) & set(seen):
                del gaps[i]
            for i in range(mark.movement_id + 1, top):
                if i not in seen:
                    gaps[i] = now
            if len(gaps) > PUSH_MAX_GAPS:  # a huge rollback: keep the newest ids
                gaps = dict(sorted(gaps.items())[-PUSH_MAX_GAPS:])
        skus_to_push = sorted(skus)
        channel = session.get(Channel, ctx.require_channel())
        state = dict(channel.state or {}) if channel is not None else {}
    if skus_to_push:
        connector = ctx.connector()
        if not isinstance(connector, SalesConnector):
            # Only sales channels are given this job (pushes_stock); a channel
            # whose connector changed role since cannot take stock.
            raise ConfigError(
                f"channel {ctx.channel_id}: the {connector.name} connector is not a sales connector"
            )
        with hub.db.read() as session:
            levels = channel_levels(session, connector, skus_to_push)
        for number, batch in enumerate(_batches(levels), start=1):
            connector.push_stock(
                batch, state=state, idempotency_key=f"{ctx.idempotency_key}-{number}"
            )
        log.info("pushed %d stock level(s) to channel %s", len(levels), connector.channel.slug)
    with hub.db.transaction() as session:
        mark = session.get(StockPushMark, ctx.channel_id)
        if mark is None:
            mark = StockPushMark(channel_id=ctx.channel_id, movement_id=0)
            session.add(mark)
        mark.movement_id = max(mark.movement_id, top)
        mark.gaps = [[i, t] for i, t in sorted(gaps.items())]
        mark.pushed_at = utcnow()


def channel_levels(
    session: Session, connector: SalesConnector, skus: list[str]
) -> list[ChannelStockLevel]:
    """What a sales channel is sent of ``skus``: the sum over active locations per SKU or,
    for a channel that takes stock per location, each SKU at every location it asked for.

    Per location, an inactive location (or one without a level of the SKU)
    counts 0: nothing there is for sale. Codes the hub has no location of are
    left out, with a warning (a typo in the channel's mapping must not zero a
    location on the channel).
    """
    codes = connector.stock_locations() if can(connector, Capability.STOCK_BY_LOCATION) else None
    if codes is None:
        return [
            ChannelStockLevel(sku=sku, location_code="", available=qty)
            for sku, qty in sorted(available_by_sku(session, skus).items())
        ]
    known = {
        code: active
        for code, active in session.execute(
            select(Location.code, Location.active).where(Location.code.in_(sorted(set(codes))))
        )
    }
    unknown = sorted(set(codes) - set(known))
    if unknown:
        log.warning(
            "channel %s asks for stock of locations %s, which the hub does not have: not pushed",
            connector.channel.slug,
            ", ".join(unknown),
        )
    at: dict[tuple[str, str], int] = {}
    for start in range(0, len(skus), 500):
        at.update(available_at(session, skus[start : start + 500]))
    return [
        ChannelStockLevel(
            sku=sku,
            location_code=code,
            available=max(0, at.get((sku, code), 0)) if known[code] else 0,
        )
        for sku in skus
        for code in sorted(known)
    ]


def _batches(levels: list[ChannelStockLevel]) -> Iterable[list[ChannelStockLevel]]:
    """Levels in calls of about :data:`PUSH_BATCH_SIZE`, never splitting one SKU's locations.

    A channel may add up the levels of one SKU that land on one of its own
    locations (two hub warehouses mapped to one Shopify location): they must
    come in the same call.
    """
    batch: list[ChannelStockLevel] = []
    for i, level in enumerate(levels):
        starts_sku = i == 0 or levels[i - 1].sku != level.sku
        if starts_sku and len(batch) >= PUSH_BATCH_SIZE:
            yield batch
            batch = []
        batch.append(level)
    if batch:
        yield batch


JOB_HANDLERS = {JobKind.STOCK_PUSH: push_stock, JobKind.STOCK_PUSH_CHANNEL: push_stock_to_channel}
