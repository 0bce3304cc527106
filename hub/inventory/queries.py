"""Stock levels, read the same way by the API, the admin UI and the CLI.

One set of filters (:class:`LevelFilters`) and one statement
(:func:`levels_statement`); each surface orders and pages it as it shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, contains_eager

from hub.core.exceptions import ValidationError
from hub.store.models import Location, StockLevel


@dataclass(frozen=True)
class LevelFilters:
    """What stock levels can be narrowed by; the filters given combine with AND."""

    #: Exactly this SKU.
    sku: str | None = None
    #: SKUs containing this text, in any case (the search box).
    q: str | None = None
    #: A location's code.
    location: str | None = None


def levels_statement(
    session: Session, filters: LevelFilters = LevelFilters()
) -> Select[StockLevel]:
    """The levels the filters select, each with its location loaded, unordered.

    :raises ValidationError: ``filters.location`` names no location.
    """
    statement = (
        select(StockLevel)
        .join(Location, Location.id == StockLevel.location_id)
        .options(contains_eager(StockLevel.location))
    )
    if filters.sku:
        statement = statement.where(StockLevel.sku == filters.sku)
    if filters.q:
        statement = statement.where(StockLevel.sku.icontains(filters.q, autoescape=True))
    if filters.location:
        location_id = session.scalar(select(Location.id).where(Location.code == filters.location))
        if location_id is None:
            raise ValidationError(
                f"there is no location {filters.location!r}",
                details={"location": ["unknown location"]},
            )
        statement = statement.where(StockLevel.location_id == location_id)
    return statement
