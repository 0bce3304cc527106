"""Low-stock alerts: the merchant hears once per crossing, not on every stock change.

Each (SKU, location) keeps whether it was last seen below its reorder point
(``low_stock_states``). :func:`crossings` compares what :func:`~hub.replenishment.positions.positions`
says now with that state: a position that went below is returned (and marked
below) once; while it stays below nothing more is said; when available +
incoming is back at or above the point the state is re-armed, so the next
crossing is told again. The ``replenishment.low_stock`` job
(:mod:`hub.pipeline.replenishment`) runs it periodically and after stock
arrives, and emails what crossed; the admin's top bar counts :func:`low_count`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.replenishment.positions import Position, positions
from hub.store.models import LowStockState, utcnow


def crossings(
    session: Session, incoming: dict[tuple[str, int], int], *, now: datetime | None = None
) -> list[Position]:
    """Mark what went below its reorder point since the last check, re-arm what came back.

    :return: the positions that crossed below now (each told once per crossing).
    """
    now = now or utcnow()
    states = {
        (s.sku, s.location_id): s for s in session.scalars(select(LowStockState).with_for_update())
    }
    crossed = []
    for p in positions(session, incoming):
        state = states.get((p.sku, p.location_id))
        if p.low and (state is None or not state.below):
            if state is None:
                state = LowStockState(sku=p.sku, location_id=p.location_id)
                session.add(state)
            state.below, state.changed_at = True, now
            crossed.append(p)
        elif not p.low and state is not None and state.below:
            state.below, state.changed_at = False, now
    session.flush()
    return crossed


def low_count(session: Session) -> int:
    """How many (SKU, location) are below their reorder point, as last checked."""
    return session.scalar(select(func.count(LowStockState.id)).where(LowStockState.below)) or 0


def email_text(crossed: list[Position]) -> tuple[str, str]:
    """The subject and body of the email about positions that just went low."""
    n = len(crossed)
    subject = f"hub: {n} SKU{'s' if n != 1 else ''} low on stock"
    lines = [
        f"- {p.sku} at {p.location}: available {p.available} + incoming {p.incoming}"
        f" is below the reorder point {p.reorder_point}"
        for p in crossed
    ]
    body = (
        "These went below their reorder point:\n"
        + "\n".join(lines)
        + "\n\nThe Replenishment page suggests what to buy and makes the purchase orders."
    )
    return subject, body
