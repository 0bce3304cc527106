"""The shop's own settings (its time zone), kept in the database so every process sees them.

They live in the ``plugin_settings`` table under the row :data:`ROW`: a plugin's
settings name starts with a letter (``hub_register_settings``), so no plugin can
take it, and no migration was needed. Until a person saves them, the hub runs
with its environment's defaults (``HUB_TIMEZONE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as SchemaError
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.core.timezones import UnknownTimeZone, canonical_name, time_zone
from hub.store.config import Settings
from hub.store.models import PluginSettings, utcnow

#: The settings row of the hub itself (plugins' names start with a letter).
ROW = "_hub"


def _known_zone(name: str) -> None:
    try:
        time_zone(name)
    except UnknownTimeZone as exc:
        raise SchemaError(str(exc)) from None


class ShopSettingsSchema(Schema):
    """What a person may set for the whole shop."""

    time_zone = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), _known_zone],
        metadata={
            "label": "Time zone",
            "help": (
                "The admin shows every time in this zone (an IANA name such as "
                "Europe/Berlin or America/New_York). The hub keeps times in UTC either way."
            ),
        },
    )


@dataclass(frozen=True)
class ShopSettings:
    """The shop's settings as the hub runs with them, and who saved them when."""

    time_zone: str
    updated_at: datetime | None = None
    updated_by: str = ""

    @property
    def zone(self) -> tzinfo:
        return time_zone(self.time_zone)


def read(session: Session, settings: Settings) -> ShopSettings:
    """The saved shop settings, or the environment's defaults where nothing is saved.

    A stored zone this system no longer knows (zone data removed) falls back to the default.
    """
    row = session.get(PluginSettings, ROW)
    values = row.values if row is not None else {}
    zone = values.get("time_zone") or settings.time_zone
    try:
        zone = canonical_name(zone)
    except UnknownTimeZone:
        zone = settings.time_zone
    if row is None:
        return ShopSettings(zone)
    return ShopSettings(zone, row.updated_at, row.updated_by)


def save(session: Session, submitted: Mapping[str, Any], *, actor: str) -> ShopSettings:
    """Check the submitted settings and store them (the zone by its canonical name).

    :raises ValidationError: per field (``details``); nothing is stored.
    """
    try:
        loaded = ShopSettingsSchema().load(dict(submitted))
    except SchemaError as exc:
        raise ValidationError(
            "the shop settings were not saved", details=exc.normalized_messages()
        ) from exc
    values = {"time_zone": canonical_name(loaded["time_zone"])}
    row = session.get(PluginSettings, ROW)
    if row is None:
        row = PluginSettings(plugin=ROW)
        session.add(row)
    row.values = values
    row.updated_at = utcnow()
    row.updated_by = actor
    session.flush()
    return ShopSettings(values["time_zone"], row.updated_at, actor)
