"""HTML forms generated from a connector's marshmallow config schema.

The schema is the one source of truth: each field becomes an input whose label
and help come from the field's metadata (``label``, ``help``), whose input type
follows the field's type (``Email`` → email, ``Url`` → url, ``Integer`` →
number, ``Boolean`` → checkbox, a ``OneOf`` validator → a select), and which is
marked required when the schema requires it. Fields marked
``metadata={"secret": True}`` become password inputs that are never filled
back: on edit, leaving one blank keeps the stored value.

Validation stays on the server (the form has ``novalidate``): the schema's
messages are shown next to their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, missing, validate

from hub.integration.fields import StringList

CHECKBOX, SELECT, MULTISELECT = "checkbox", "select", "multiselect"
LIST, PASSWORD, NUMBER = "list", "password", "number"


@dataclass
class FormField:
    """One input of a generated form, ready for the template."""

    name: str
    label: str
    kind: str  # text | email | url | number | password | checkbox | select | multiselect | list
    required: bool = False
    help: str = ""
    secret: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: Any = ""
    stored: bool = False  # a secret field that has a value stored (never shown)
    retype: bool = False  # a secret typed into a submission that failed: it must be typed again
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def input_id(self) -> str:
        return f"f-{self.name}"

    @property
    def has_help(self) -> bool:
        """Whether a help line is shown under the input (secrets and lists always get one)."""
        return bool(self.help) or self.secret or self.kind == LIST


def _choices(f: fields.Field) -> list[tuple[str, str]] | None:
    for v in f.validators:
        if isinstance(v, validate.OneOf):
            labels = list(v.labels) if v.labels else []
            return [
                (str(c), str(labels[i]) if i < len(labels) else str(c))
                for i, c in enumerate(v.choices)
            ]
    return None


def _attrs(f: fields.Field) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for v in f.validators:
        if isinstance(v, validate.Range):
            if v.min is not None:
                attrs["min"] = v.min
            if v.max is not None:
                attrs["max"] = v.max
        elif isinstance(v, validate.Length) and v.max is not None:
            attrs["maxlength"] = v.max
    if isinstance(f, fields.Integer):
        attrs["step"] = 1
    elif isinstance(f, fields.Number):
        attrs["step"] = "any"
    if f.metadata.get("placeholder"):
        attrs["placeholder"] = f.metadata["placeholder"]
    return attrs


def _kind(f: fields.Field) -> tuple[str, list[tuple[str, str]]]:
    if f.metadata.get("secret"):
        return PASSWORD, []
    if isinstance(f, fields.Boolean):
        return CHECKBOX, []
    if isinstance(f, fields.List):
        inner = _choices(f.inner)
        return (MULTISELECT, inner) if inner else (LIST, [])
    if isinstance(f, StringList):
        # Shown and typed as "a, b, c" (what the field parses), never as a Python list.
        return LIST, []
    choices = _choices(f)
    if choices:
        return SELECT, choices
    if isinstance(f, fields.Email):
        return "email", []
    if isinstance(f, fields.Url):
        return "url", []
    if isinstance(f, fields.Number):
        return NUMBER, []
    return "text", []


def _key(name: str, f: fields.Field) -> str:
    return f.data_key or name


def _default(f: fields.Field) -> Any:
    default = f.load_default
    return missing if callable(default) else default


def _display(kind: str, value: Any) -> Any:
    if value is missing or value is None:
        return [] if kind in (MULTISELECT,) else (False if kind == CHECKBOX else "")
    if kind == CHECKBOX:
        return bool(value)
    if kind == MULTISELECT:
        return [str(v) for v in value]
    if kind == LIST:
        return ", ".join(str(v) for v in value)
    return str(value)


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        out = []
        for key, value in messages.items():
            out += [
                f"item {int(key) + 1}: {m}" if str(key).isdigit() else m for m in _flatten(value)
            ]
        return out
    if isinstance(messages, list | tuple):
        return [m for item in messages for m in _flatten(item)]
    return [str(messages)]


def build(
    schema_cls: type[Schema],
    *,
    stored: Mapping[str, Any] | None = None,
    submitted: Mapping[str, Any] | None = None,
    errors: Mapping[str, Any] | None = None,
    stored_secrets: frozenset[str] = frozenset(),
) -> list[FormField]:
    """The form's fields, filled from the stored config or what was just submitted.

    :param stored: the channel's current config (decrypted values of secret
        fields are ignored: a secret is never put back into a page).
    :param submitted: the parsed values of a submission that failed validation.
    :param errors: the schema's messages by field.
    :param stored_secrets: secret fields that have a value stored.
    """
    errors = errors or {}
    out: list[FormField] = []
    for name, f in schema_cls().fields.items():
        if f.dump_only:
            continue
        key = _key(name, f)
        kind, choices = _kind(f)
        if kind == PASSWORD:
            value: Any = ""
        elif submitted is not None:
            value = _display(kind, submitted.get(key, missing if kind != CHECKBOX else False))
        elif stored is not None:
            value = _display(kind, stored.get(name, missing))
        else:
            value = _display(kind, _default(f))
        out.append(
            FormField(
                name=key,
                label=f.metadata.get("label") or name.replace("_", " ").capitalize(),
                kind=kind,
                required=bool(f.required),
                help=f.metadata.get("help", ""),
                secret=kind == PASSWORD,
                choices=choices,
                value=value,
                stored=name in stored_secrets,
                retype=kind == PASSWORD and bool(submitted and submitted.get(key)),
                errors=_flatten(errors.get(key, errors.get(name, []))),
                attrs=_attrs(f),
            )
        )
    return out


def parse(schema_cls: type[Schema], form) -> dict[str, Any]:
    """Turn a submitted form into the mapping the schema loads.

    Blank inputs are left out, so the schema's defaults apply and its
    "required" messages show; a checkbox is always a boolean. ``form`` is a
    werkzeug ``MultiDict`` (``request.form``).
    """
    data: dict[str, Any] = {}
    for name, f in schema_cls().fields.items():
        if f.dump_only:
            continue
        key = _key(name, f)
        kind, _ = _kind(f)
        if kind == CHECKBOX:
            data[key] = form.get(key) in ("on", "true", "1", "yes")
        elif kind == MULTISELECT:
            data[key] = [v for v in form.getlist(key) if v]
        elif kind == LIST:
            raw = form.get(key, "")
            if raw.strip():
                data[key] = [
                    part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()
                ]
        else:
            raw = form.get(key, "")
            # Secrets are taken as typed (a password may start with a space); the rest is trimmed.
            value = raw if kind == PASSWORD else raw.strip()
            if value != "":
                data[key] = value
    return data


def schema_level_errors(errors: Mapping[str, Any], schema_cls: type[Schema]) -> list[str]:
    """Messages that belong to no input of the form (``_schema``, unknown fields)."""
    known = {_key(n, f) for n, f in schema_cls().fields.items()} | set(schema_cls().fields)
    out = []
    for key, value in (errors or {}).items():
        if key not in known:
            prefix = "" if key == "_schema" else f"{key}: "
            out += [prefix + m for m in _flatten(value)]
    return out
