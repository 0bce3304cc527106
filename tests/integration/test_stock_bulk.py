"""The bulk path of set_on_hand: the same rules as one by one, a few statements per batch."""

from __future__ import annotations

from sqlalchemy import select

from hub.inventory.bulk import set_on_hand_many
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.store.models import Job, Location, StockLevel, StockMovement


def levels(hub) -> dict[tuple[str, str], tuple[int, int]]:
    with hub.db.read() as session:
        rows = session.execute(
            select(StockLevel.sku, Location.code, StockLevel.on_hand, StockLevel.reserved).join(
                Location, Location.id == StockLevel.location_id
            )
        ).all()
    return {(sku, code): (on_hand, reserved) for sku, code, on_hand, reserved in rows}


def test_bulk_sets_levels_records_movements_and_refuses_only_the_bad_changes(any_hub):
    hub = any_hub
    with hub.db.transaction() as session:
        upsert_location(session, "WH1")
        upsert_location(session, "STORE")
        set_on_hand(
            session, [LevelChange("A", "WH1", 10), LevelChange("B", "WH1", 3)], actor="test"
        )
        level = session.scalars(select(StockLevel).where(StockLevel.sku == "A")).one()
        level.reserved = 4

    with hub.db.transaction() as session:
        loaded = session.scalars(select(StockLevel).where(StockLevel.sku == "B")).one()
        result = set_on_hand_many(
            session,
            [
                LevelChange("A", "WH1", 2),  # below the 4 reserved: refused
                LevelChange("B", "WH1", 3),  # unchanged
                LevelChange("C", "STORE", 5),  # new level
                LevelChange("C", "STORE", 6),  # the later one wins
                LevelChange("D", "MARS", 1),  # unknown location
                LevelChange("E", "WH1", -1),  # negative
                LevelChange("B", "STORE", 8),
            ],
            actor="channel:erp",
            reason="ERP stock import",
            source="stock.csv",
        )
        assert loaded.on_hand == 3  # what the session had loaded is read again

    assert result.changed == 2
    assert [(c.sku, reason) for c, reason in result.refused] == [
        ("D", "unknown location 'MARS'"),
        ("E", "on hand for E at WH1 must be a whole number of 0 or more"),
        ("A", "A at WH1: on hand 2 is below the 4 reserved by orders"),
    ]
    assert levels(hub) == {
        ("A", "WH1"): (10, 4),
        ("B", "WH1"): (3, 0),
        ("C", "STORE"): (6, 0),
        ("B", "STORE"): (8, 0),
    }
    with hub.db.read() as session:
        moves = session.scalars(
            select(StockMovement)
            .where(StockMovement.actor == "channel:erp")
            .order_by(StockMovement.sku)
        ).all()
        assert [(m.sku, m.on_hand_change, m.on_hand_after, m.source) for m in moves] == [
            ("B", 8, 8, "stock.csv"),
            ("C", 6, 6, "stock.csv"),
        ]
        assert session.scalars(select(Job).where(Job.kind == "stock.push")).first() is not None


def test_nothing_to_change_changes_nothing(hub):
    with hub.db.transaction() as session:
        upsert_location(session, "WH1")
        set_on_hand(session, [LevelChange("A", "WH1", 1)], actor="test")
    with hub.db.transaction() as session:
        for job in session.scalars(select(Job).where(Job.kind == "stock.push")):
            session.delete(job)

    with hub.db.transaction() as session:
        result = set_on_hand_many(session, [LevelChange("A", "WH1", 1)], actor="test")

    assert (result.changed, result.refused) == (0, [])
    with hub.db.read() as session:
        assert session.scalars(select(Job).where(Job.kind == "stock.push")).first() is None
