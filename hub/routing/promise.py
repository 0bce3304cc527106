"""The delivery promise: the day a fulfilment group ships by and the day it is delivered by.

- **Ship by**: a location ships on its working days (ISO weekdays, per location,
  Monday to Friday unless set); an order routed there before the location's
  cut-off time (in the shop's time zone, :mod:`hub.runtime.shop_settings`) ships
  that day, one routed after it (or on a day off) the next working day.
- **Deliver by**: the ship-by day plus the transit days, counted in carrier
  working days (Monday to Friday). Transit days come from the carrier's quote when
  routing has one for the group, else from the transit table
  (:class:`~hub.store.models.TransitTime`: per destination country, ``*`` for
  anywhere else; ``air_days`` when the group's service flies). No row: no
  deliver-by day is promised.

The date arithmetic (:func:`ship_date`, :func:`add_working_days`) is pure;
:func:`promise_groups` records the promise on an order's pending groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.routing.late import is_late
from hub.routing.late import marks_of as late_marks_of
from hub.routing.service_levels import is_air_service
from hub.store.models import FulfillmentGroup, Location, LocationPromise, Order, TransitTime, utcnow

#: A location without settings: orders in by 14:00, Monday to Friday, ship that day.
DEFAULT_CUTOFF = "14:00"
DEFAULT_WORKING_DAYS = "12345"
#: Carriers move parcels Monday to Friday.
CARRIER_DAYS = frozenset({1, 2, 3, 4, 5})
#: The zone of the transit table that holds for every country without its own row.
ANY_ZONE = "*"
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_CUTOFF = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_cutoff(text: str) -> time:
    """``"14:30"`` as a time. :raises ValidationError: not HH:MM."""
    found = _CUTOFF.match(text.strip())
    if not found:
        raise ValidationError(
            f"cut-off {text!r} is not a time of day (HH:MM, 24 hours)",
            details={"cutoff": "HH:MM, 24 hours"},
        )
    return time(int(found[1]), int(found[2]))


def parse_working_days(text: str) -> frozenset[int]:
    """``"12345"`` (ISO weekday digits) as a set. :raises ValidationError: no valid day."""
    days = {int(c) for c in text if c in "1234567"}
    if not days or any(c not in "1234567" for c in text):
        raise ValidationError(
            f"working days {text!r} are not ISO weekday digits (1 = Monday … 7 = Sunday)",
            details={"working_days": "digits 1 (Monday) to 7 (Sunday)"},
        )
    return frozenset(days)


def days_in_words(days: Iterable[int]) -> str:
    """``{1, 2, 3, 4, 5}`` as ``"Mon–Fri"``, else the days listed."""
    ordered = sorted(set(days))
    if ordered and ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{DAY_NAMES[ordered[0] - 1]}–{DAY_NAMES[ordered[-1] - 1]}"
    return ", ".join(DAY_NAMES[d - 1] for d in ordered)


def ship_date(at: datetime, cutoff: time, working_days: frozenset[int]) -> date:
    """The day an order routed at ``at`` (local time of the shop) ships."""
    day = at.date()
    if day.isoweekday() in working_days and at.time() < cutoff:
        return day
    day += timedelta(days=1)
    while day.isoweekday() not in working_days:
        day += timedelta(days=1)
    return day


def add_working_days(start: date, days: int, working_days: frozenset[int] = CARRIER_DAYS) -> date:
    """``days`` working days after ``start`` (0: ``start`` itself)."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.isoweekday() in working_days:
            left -= 1
    return day


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingDays:
    """A location's cut-off and working days, as the promise uses them."""

    cutoff: str = DEFAULT_CUTOFF
    working_days: str = DEFAULT_WORKING_DAYS

    @property
    def in_words(self) -> str:
        return f"cut-off {self.cutoff}, {days_in_words(parse_working_days(self.working_days))}"


def shipping_days(session: Session, codes: Iterable[str] | None = None) -> dict[str, ShippingDays]:
    """The locations' settings by code (defaults where none are saved); all, or those of ``codes``."""
    statement = select(
        Location.code, LocationPromise.cutoff, LocationPromise.working_days
    ).outerjoin(LocationPromise, LocationPromise.location_id == Location.id)
    if codes is not None:
        statement = statement.where(Location.code.in_(sorted(set(codes))))
    rows = session.execute(statement).all()
    return {
        code: ShippingDays(cutoff or DEFAULT_CUTOFF, days or DEFAULT_WORKING_DAYS)
        for code, cutoff, days in rows
    }


def set_shipping_days(
    session: Session, location_code: str, *, cutoff: str, working_days: str, actor: str
) -> LocationPromise:
    """Save a location's cut-off and working days. :raises ValidationError, NotFound."""
    location = session.scalars(select(Location).where(Location.code == location_code)).first()
    if location is None:
        raise NotFound(f"location {location_code!r} does not exist")
    at = parse_cutoff(cutoff)
    days = parse_working_days(working_days.strip())
    row = session.get(LocationPromise, location.id)
    if row is None:
        row = LocationPromise(location_id=location.id)
        session.add(row)
    row.cutoff = at.strftime("%H:%M")
    row.working_days = "".join(str(d) for d in sorted(days))
    row.updated_by = actor
    row.updated_at = utcnow()
    session.flush()
    return row


def transit_table(session: Session) -> list[TransitTime]:
    """The transit table, countries first by code, ``*`` last."""
    rows = list(session.scalars(select(TransitTime)))
    return sorted(rows, key=lambda r: (r.zone == ANY_ZONE, r.zone))


def set_transit(
    session: Session, zone: str, days: int, air_days: int | None, *, actor: str
) -> TransitTime:
    """Save the working days in transit to ``zone`` (a country code or ``*``)."""
    zone = zone.strip().upper()
    errors = {}
    if zone != ANY_ZONE and not re.fullmatch(r"[A-Z]{2}", zone):
        errors["zone"] = "a 2-letter country code, or * for anywhere else"
    if not 0 <= days <= 60:
        errors["days"] = "0 to 60 working days"
    if air_days is not None and not 0 <= air_days <= 60:
        errors["air_days"] = "0 to 60 working days"
    if errors:
        raise ValidationError(
            "the transit time was not saved: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            details=errors,
        )
    row = session.get(TransitTime, zone)
    if row is None:
        row = TransitTime(zone=zone)
        session.add(row)
    row.days = days
    row.air_days = air_days
    row.updated_by = actor
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_transit(session: Session, zone: str) -> None:
    row = session.get(TransitTime, zone.strip().upper())
    if row is None:
        raise NotFound(f"no transit time for {zone!r}")
    session.delete(row)


# --- the promise ---------------------------------------------------------------------------------


def transit_for(
    table: Mapping[str, TransitTime], country: str, *, air: bool
) -> tuple[int, str] | None:
    """Working days in transit to ``country`` from the table, and the row's zone; None: no row."""
    row = table.get(country.upper()) or table.get(ANY_ZONE)
    if row is None:
        return None
    days = row.air_days if air and row.air_days is not None else row.days
    return days, row.zone


def promise_groups(
    session: Session,
    order: Order,
    zone: tzinfo,
    *,
    now: datetime | None = None,
    quoted_transit_days: Mapping[str, int] | None = None,
) -> None:
    """Record the promise on each of the order's pending groups.

    ``quoted_transit_days``: transit days the carrier quoted, by group key (they
    win over the transit table). Call after :func:`hub.routing.service_levels.assign`
    (an air service may travel faster).
    """
    pending = [g for g in order.fulfillment_groups if g.status == "pending"]
    if not pending:
        return
    local = (now or utcnow()).astimezone(zone)
    days_by_code = shipping_days(session, (g.location_code for g in pending))
    table = {row.zone: row for row in session.scalars(select(TransitTime))}
    country = str((order.shipping_address or {}).get("country_code") or "")
    for group in pending:
        promise_group(
            group,
            local,
            days_by_code.get(group.location_code, ShippingDays()),
            table,
            country,
            quoted=(quoted_transit_days or {}).get(group.key),
        )


def promise_group(
    group: FulfillmentGroup,
    local: datetime,
    days: ShippingDays,
    table: Mapping[str, TransitTime],
    country: str,
    *,
    quoted: int | None = None,
) -> None:
    """Set one group's ship-by and deliver-by days, and what they came from."""
    group.ship_by = ship_date(
        local, parse_cutoff(days.cutoff), parse_working_days(days.working_days)
    )
    where = group.location_code or "the warehouse"
    basis = f"{where}: {days.in_words}"
    if quoted is not None:
        group.deliver_by = add_working_days(group.ship_by, quoted)
        basis += f"; {quoted} day(s) in transit, quoted by the carrier"
    else:
        found = transit_for(table, country, air=is_air_service(group.service_code))
        if found is None:
            group.deliver_by = None
            basis += f"; no transit time for {country or 'this address'}"
        else:
            transit, row_zone = found
            group.deliver_by = add_working_days(group.ship_by, transit)
            flies = " by air" if is_air_service(group.service_code) else ""
            basis += f"; {transit} day(s) in transit{flies} to {row_zone} (transit table)"
    group.promise_basis = basis[:200]


def order_promise(order: Order) -> dict[str, date | None]:
    """The whole order's promise: the latest ship-by and deliver-by of its groups."""
    groups = [g for g in order.fulfillment_groups if g.status != "cancelled" and g.ship_by]
    ship = max((g.ship_by for g in groups if g.ship_by), default=None)
    delivers = [g.deliver_by for g in groups]
    deliver = None if not delivers or None in delivers else max(d for d in delivers if d)
    return {"ship_by": ship, "deliver_by": deliver}


def delivery_json(session: Session, order: Order) -> dict[str, Any]:
    """The promise of each fulfilment group, the order's, and whether it is late and why."""
    whole = order_promise(order)
    marks = late_marks_of(session, order.id)
    return {
        "ship_by": whole["ship_by"].isoformat() if whole["ship_by"] else None,
        "deliver_by": whole["deliver_by"].isoformat() if whole["deliver_by"] else None,
        "late": is_late(order, marks),
        "late_causes": [
            {
                "cause": m.cause,
                "group": m.group_key,
                "promised": m.promised.isoformat(),
                "noticed_at": m.noticed_at.isoformat(),
            }
            for m in marks
        ],
        "groups": [
            {
                "key": grp.key,
                "location": grp.location_code,
                "status": grp.status,
                "carrier_code": grp.carrier_code,
                "service_code": grp.service_code,
                "requested_service": grp.requested_service,
                "service_rule": grp.service_rule,
                "ship_by": grp.ship_by.isoformat() if grp.ship_by else None,
                "deliver_by": grp.deliver_by.isoformat() if grp.deliver_by else None,
                "promise_basis": grp.promise_basis,
            }
            for grp in order.fulfillment_groups
        ],
    }


#: Orders the customer is shown a promise for: not delivered, not given up.
_PROMISED_WHILE = ("confirmed", "processing", "partially_shipped", "shipped")


def customer_promise(order: Order) -> dict[str, Any] | None:
    """What the tracking page promises the customer: the days, or None when there is none
    to show (not routed yet, delivered, cancelled)."""
    if order.status not in _PROMISED_WHILE:
        return None
    whole = order_promise(order)
    if whole["ship_by"] is None:
        return None
    return {
        "ship_by": whole["ship_by"],
        "deliver_by": whole["deliver_by"],
        "shipped": order.status == "shipped",
    }
