"""Time zones by their IANA names ("Europe/Berlin"): the merchant's zone, checked once.

The hub keeps every time in UTC; the merchant's zone (``HUB_TIMEZONE``, then the
shop settings) only changes how times are shown to people.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

#: The zone times are shown in until the merchant picks one.
DEFAULT_ZONE = "UTC"


class UnknownTimeZone(ValueError):
    """A name that is not an IANA time zone ("Europe/Berlin", "America/New_York", "UTC")."""


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, sorted (for a form's suggestions)."""
    return tuple(sorted(available_timezones()))


def time_zone(name: str) -> tzinfo:
    """The zone called ``name`` (an IANA name; "UTC" always works, even without zone data).

    Case does not matter ("europe/berlin" is Europe/Berlin).

    :raises UnknownTimeZone: the name is blank, malformed or not a known zone; the
        message names it and gives an example.
    """
    cleaned = (name or "").strip()
    if cleaned.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    if cleaned not in zone_names():
        # Only names from the zone list are looked up: never a path ("../x") in zoneinfo.
        cleaned = {n.lower(): n for n in zone_names()}.get(cleaned.lower(), "")
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(
            f"{name!r} is not a time zone: use an IANA name such as"
            " 'Europe/Berlin', 'America/New_York' or 'UTC'"
        ) from None


def canonical_name(name: str) -> str:
    """The name as stored: trimmed, and "UTC" for every spelling of UTC.

    :raises UnknownTimeZone: as :func:`time_zone`.
    """
    zone = time_zone(name)
    return DEFAULT_ZONE if zone is UTC else str(zone)
