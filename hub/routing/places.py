"""Where a location is: its address and coordinates, set by people (API, CLI, admin).

Routing by distance (:mod:`hub.routing.geo`) needs each location's latitude and
longitude. A person gives them, or gives the address and lets the hub place it
with its offline tables (:mod:`hub.routing.geocode`) by postal code or town; a
country alone is too coarse for a warehouse and is not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.inventory.levels import get_location
from hub.routing import geocode
from hub.routing.geo import check_coordinates
from hub.store.models import Location

#: A location's address parts and their longest length (the columns').
ADDRESS_PARTS: dict[str, int] = {
    "address1": 200,
    "address2": 200,
    "city": 100,
    "province_code": 16,
    "zip": 20,
    "country_code": 2,
}
#: Placements a location's address may be given coordinates by (a country is too coarse).
GOOD_ENOUGH = (geocode.EXACT, geocode.POSTAL_CODE, geocode.CITY)


@dataclass(frozen=True)
class PlaceOutcome:
    location: Location
    #: What happened to the coordinates, in words ("as given", "placed by city (Berlin, DE) ...").
    note: str


def location_address(location: Location) -> dict[str, str]:
    """The location's address parts by name."""
    return {part: getattr(location, part) or "" for part in ADDRESS_PARTS}


def location_place(location: Location) -> dict[str, Any]:
    """Where a location is, as the API shows it: its address, latitude and longitude."""
    return {
        "address": location_address(location),
        "latitude": location.latitude,
        "longitude": location.longitude,
    }


def set_location_place(session: Session, code: str, changes: Mapping[str, Any]) -> PlaceOutcome:
    """Change where location ``code`` is: any of its address parts, and its coordinates.

    ``changes`` holds the parts to change (a missing key keeps the part), and
    ``latitude`` and ``longitude`` together (both None clears them). When no
    coordinates are given and the address moved, or the location has none, the
    address is placed by postal code or town; an address that moved and cannot
    be placed so leaves the location without coordinates (the old ones were
    another place's). Everything is checked before anything changes: bad input
    raises :class:`ValidationError` naming each wrong field.
    """
    location = get_location(session, code)
    errors: dict[str, str] = {}
    address = location_address(location)
    for part, longest in ADDRESS_PARTS.items():
        if part not in changes:
            continue
        value = "" if changes[part] is None else str(changes[part]).strip()
        if part == "country_code":
            value = value.upper()
            if value and not (len(value) == 2 and value.isalpha()):
                errors[part] = "is a two-letter country code (US, DE, GB)"
                continue
        if len(value) > longest:
            errors[part] = f"has at most {longest} characters"
            continue
        address[part] = value
    given = "latitude" in changes or "longitude" in changes
    point: tuple[float, float] | None = None
    if given:
        try:
            point = check_coordinates(changes.get("latitude"), changes.get("longitude"))
        except ValidationError as exc:
            errors.update(exc.details)
    if errors:
        raise ValidationError(
            f"location {location.code} cannot be placed so: "
            + "; ".join(f"{k} {v}" for k, v in errors.items()),
            details=errors,
        )
    moved = address != location_address(location)
    for part, value in address.items():
        setattr(location, part, value)
    if given:
        location.latitude, location.longitude = point if point else (None, None)
        note = "coordinates as given" if point else "coordinates cleared"
    elif moved or location.latitude is None:
        placed = geocode.OFFLINE.place(address) if address["country_code"] else None
        if placed and placed.precision in GOOD_ENOUGH:
            location.latitude, location.longitude = placed.latitude, placed.longitude
            note = geocode.describe(placed.precision, placed.source, address)
        elif moved and location.latitude is not None:
            location.latitude = location.longitude = None
            note = (
                "coordinates cleared: the address moved and the hub could not place it by"
                " postal code or town; give latitude and longitude"
            )
        else:
            note = "not placed: give latitude and longitude, or a postal code or town and country"
    else:
        note = "coordinates kept"
    session.flush()
    return PlaceOutcome(location, note)
