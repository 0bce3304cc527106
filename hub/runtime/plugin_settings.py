"""Settings of plugins that are not connectors: each plugin's own marshmallow schema.

A plugin returns ``{name: SchemaClass}`` from ``hub_register_settings``; the
admin UI shows each schema as a form (as a channel's config form is made),
the schema validates what is saved, fields marked
``metadata={"secret": True}`` are encrypted at rest with the hub's
:class:`~hub.store.secrets.SecretBox` and never shown back. The plugin reads
its values at run time: ``ctx.plugin_settings(name)`` in a job handler,
``lookup.plugin_settings(name)`` in an order rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import Schema, missing
from marshmallow import ValidationError as SchemaError
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.store.models import PluginSettings, utcnow
from hub.store.secrets import MASK, SecretBox


def secret_fields(schema: type[Schema]) -> frozenset[str]:
    """Names of the fields the schema marks ``secret`` in their metadata."""
    return frozenset(name for name, f in schema().fields.items() if f.metadata.get("secret"))


def defaults(schema: type[Schema]) -> dict[str, Any]:
    """What each field with a ``load_default`` holds before anything is saved."""
    out: dict[str, Any] = {}
    for name, f in schema().fields.items():
        if f.load_default is not missing:
            out[f.data_key or name] = (
                f.load_default() if callable(f.load_default) else f.load_default
            )
    return out


@dataclass(frozen=True)
class StoredSettings:
    """A plugin's settings as saved: values (secrets decrypted), and who saved them when."""

    values: dict[str, Any]
    #: Secret fields with a value stored (a form shows them as "stored", never the value).
    stored_secrets: frozenset[str]
    updated_at: datetime | None = None
    updated_by: str = ""


class PluginSettingsStore:
    """Every plugin's settings schema, and its values read and saved in a session."""

    def __init__(self, schemas: Mapping[str, type[Schema]], secrets: SecretBox):
        self.schemas = dict(schemas)
        self.secrets = secrets

    def schema(self, name: str) -> type[Schema]:
        try:
            return self.schemas[name]
        except KeyError:
            known = ", ".join(sorted(self.schemas)) or "none"
            raise NotFound(
                f"no plugin registers settings named {name!r} (known: {known})"
            ) from None

    def stored(self, session: Session, name: str) -> StoredSettings:
        """What is saved for ``name`` (nothing saved: empty), secrets decrypted."""
        secret = secret_fields(self.schema(name))
        row = session.get(PluginSettings, name)
        if row is None:
            return StoredSettings({}, frozenset())
        values = {
            k: (self.secrets.decrypt(v) if k in secret and v not in (None, "") else v)
            for k, v in (row.values or {}).items()
        }
        return StoredSettings(
            values,
            frozenset(k for k in secret if values.get(k) not in (None, "")),
            row.updated_at,
            row.updated_by,
        )

    def read(self, session: Session, name: str) -> dict[str, Any]:
        """The settings a plugin runs with: the schema's defaults, then what was saved.

        :raises NotFound: no plugin registers settings named ``name``.
        """
        return {**defaults(self.schema(name)), **self.stored(session, name).values}

    def save(
        self, session: Session, name: str, submitted: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        """Validate a whole submitted form with the plugin's schema and store it; return it loaded.

        A secret field left blank (or sent as the mask) keeps its stored value.

        :raises ValidationError: the schema's errors, per field (nothing is stored).
        """
        schema = self.schema(name)
        secret = secret_fields(schema)
        current = self.stored(session, name).values
        merged = {k: v for k, v in current.items() if k in secret}
        for key, value in submitted.items():
            if key in secret and value in (None, "", MASK):
                continue
            merged[key] = value
        try:
            loaded: dict[str, Any] = schema().load(merged)
        except SchemaError as exc:
            raise ValidationError(
                f"invalid settings of {name}", details=exc.normalized_messages()
            ) from exc
        row = session.get(PluginSettings, name)
        if row is None:
            row = PluginSettings(plugin=name)
            session.add(row)
        row.values = {
            k: (self.secrets.encrypt(str(v)) if k in secret and v not in (None, "") else v)
            for k, v in loaded.items()
        }
        row.updated_at = utcnow()
        row.updated_by = actor
        session.flush()
        return loaded
