"""Marshmallow fields that schemas share: connector config schemas, and what people send.

Config comes from JSON (the API), from an HTML form (the admin UI) and from the
CLI, so a list may arrive as a list or as one comma-separated string.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields

from hub.core.exceptions import ValidationError as HubValidationError
from hub.core.money import Money


class StringList(fields.Field[list[str]]):
    """A list of strings, given as a list or as ``"a, b, c"``; blanks dropped, order kept.

    :param choices: when given, every item must be one of them.
    """

    def __init__(self, *, choices: Iterable[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices) if choices is not None else None

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[str]:
        if isinstance(value, str):
            items = value.replace("\n", ",").split(",")
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            items = list(value)
        else:
            raise ValidationError("must be a list of strings or a comma-separated string")
        out: list[str] = []
        for item in (i.strip() for i in items):
            if item and item not in out:
                out.append(item)
        if self.choices is not None:
            unknown = [i for i in out if i not in self.choices]
            if unknown:
                raise ValidationError(
                    f"unknown: {', '.join(unknown)} (choose from {', '.join(self.choices)})"
                )
        return out

    def _serialize(
        self, value: Iterable[str] | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> list[str] | None:
        return None if value is None else list(value)


def validate_encoding(name: str) -> None:
    """A text encoding Python knows (``utf-8``, ``cp1252``, ``latin-1`` …)."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValidationError(f"unknown text encoding {name!r}") from None


class StrictBoolean(fields.Boolean):
    """A JSON boolean, ``true`` or ``false``, and nothing else.

    marshmallow's ``Boolean`` also reads 1, 0, "yes", "off", "t" … as booleans:
    a client that sends the wrong type would be taken to mean something. The
    field says so in its (OpenAPI) description.
    """

    #: Appended to the field's description: the spellings it accepts.
    SPELLINGS = "JSON `true` or `false` only (not 1, 0 or a string)."
    default_error_messages = {"invalid": "must be true or false (a JSON boolean)"}

    def __init__(self, **kwargs: Any) -> None:
        metadata = dict(kwargs.pop("metadata", None) or {})
        metadata["description"] = f"{metadata.get('description', '')} {self.SPELLINGS}".strip()
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


class DecimalString(fields.String):
    """A money amount as a decimal string ("409.94"); parsed against the currency later."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError('must be a decimal string such as "19.99"')
        return str(value).strip()


# --- what every channel's mapping reads -------------------------------------------------------


def utc_timestamp(value: Any, service: str) -> datetime | None:
    """An ISO 8601 timestamp from ``service`` as an aware UTC datetime; None when missing.

    A timestamp without an offset is taken as UTC (WooCommerce's ``*_gmt`` fields).

    :raises hub.core.exceptions.ValidationError: it is not a timestamp.
    """
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise HubValidationError(f"unreadable {service} timestamp {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def minor_units(value: Any, currency: str) -> int:
    """Minor units of a money string in ``currency`` (``"-9.00"`` is -900); missing is zero."""
    if value in (None, ""):
        return 0
    return Money.parse(str(value), currency).amount
