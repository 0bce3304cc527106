"""Times for people: in the merchant's zone, "4 Dec 2026, 14:05", with "3 min ago" beside it.

The hub keeps times in UTC. The admin shows each one through one macro
(``when`` in ``admin/_macros.html``), which asks :func:`moment` for its parts: the
time in the shop's zone (:mod:`hub.runtime.shop_settings`, read once per request),
a title with the zone and UTC, the ISO UTC value for ``<time datetime>``, and the
distance from now in words. The functions here are pure; :func:`moment` adds the
request's zone and clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from flask import g

from hub.runtime import shop_settings
from hub.web import get_hub

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def as_utc(value: datetime | date | str) -> datetime:
    """An aware UTC time from a stored value (naive values are UTC, as the hub stores them)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local_text(value: datetime, zone: tzinfo) -> str:
    """``value`` in ``zone`` as people write it: ``4 Dec 2026, 14:05`` (no locale needed)."""
    t = as_utc(value).astimezone(zone)
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year}, {t:%H:%M}"


def zone_label(value: datetime, zone: tzinfo) -> str:
    """The zone's name and offset at ``value``: ``Europe/Berlin, UTC+01:00`` (``UTC`` alone)."""
    t = as_utc(value).astimezone(zone)
    offset = t.utcoffset() or timedelta(0)
    name = str(zone) if zone is not UTC else "UTC"
    if name == "UTC":
        return name
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{name}, UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 or unit in ("min", "h") else f"{n} {unit}s"


def relative(value: datetime, now: datetime, zone: tzinfo) -> str:
    """How long ago (or how soon) ``value`` is, in words, counted in the merchant's ``zone``.

    "just now" within a minute either way; "3 min ago" within the hour; "5 h ago" the same
    day; "yesterday" the day before (calendar days in ``zone``); "4 days ago"; "2 months
    ago"; "over a year ago". The future (a job's next run) reads "in 3 min", "in 2 h",
    "tomorrow", "in 3 days".
    """
    value, now = as_utc(value), as_utc(now)
    seconds = (now - value).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    days = abs((now.astimezone(zone).date() - value.astimezone(zone).date()).days)
    if seconds < 3600:
        words = _plural(int(seconds // 60), "min")
    elif days == 0:
        words = _plural(int(seconds // 3600), "h")
    elif days == 1:
        return "tomorrow" if ahead else "yesterday"
    elif days < 45:
        words = _plural(days, "day")
    elif days < 365:
        words = _plural(round(days / 30.44), "month")
    else:
        return "in over a year" if ahead else "over a year ago"
    return f"in {words}" if ahead else f"{words} ago"


@dataclass(frozen=True)
class Moment:
    """One time as a page shows it."""

    #: For ``<time datetime>``: ISO 8601 in UTC (``2026-12-04T13:05:00Z``).
    iso: str
    #: In the merchant's zone: ``4 Dec 2026, 14:05``.
    text: str
    #: For the tooltip: the zone and the same time in UTC.
    title: str
    #: ``3 min ago``.
    ago: str


def moment_of(value: datetime | date | str, zone: tzinfo, now: datetime) -> Moment:
    """Every part of ``value`` that the ``when`` macro shows."""
    utc = as_utc(value)
    text = local_text(utc, zone)
    label = zone_label(utc, zone)
    title = f"{text} ({label})"
    if label != "UTC":
        title += f" · {local_text(utc, UTC)} UTC"
    return Moment(
        iso=utc.isoformat(timespec="seconds").replace("+00:00", "Z"),
        text=text,
        title=title,
        ago=relative(utc, now, zone),
    )


# --- the request's zone and clock ----------------------------------------------------


def shop_zone() -> tzinfo:
    """The merchant's zone for this request: the shop settings, read once per request."""
    if "shop_zone" not in g:
        hub = get_hub()
        with hub.db.read() as db:
            g.shop_zone = shop_settings.read(db, hub.settings).zone
    zone: tzinfo = g.shop_zone
    return zone


def shop_zone_name() -> str:
    zone = shop_zone()
    return "UTC" if zone is UTC else str(zone)


def moment(value: datetime | date | str) -> Moment:
    """``value`` for a page of this request: in the shop's zone, measured from now."""
    return moment_of(value, shop_zone(), datetime.now(UTC))


def shop_time(value: datetime | date | str | None) -> str:
    """``value`` in the shop's zone as text (the ``datetime`` filter); blank for None."""
    if value is None or value == "":
        return ""
    return local_text(as_utc(value), shop_zone())
