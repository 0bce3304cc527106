"""Turn the OpenAPI document into what the docs page (``/api/v1/docs``) shows.

The page is plain server-rendered HTML: no script, no CDN, so it works on a
machine without internet and cannot leak tokens to a third party.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

_REF = "#/components/schemas/"


def inline_code(text: str) -> Markup:
    """Escape ``text`` and show its `backticked` spans as code."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text or ""))))


def type_of(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A short description of a JSON schema: ``{"text": "array of", "ref": "Order"}``."""
    schema = schema or {}
    if "$ref" in schema:
        return {"text": "", "ref": schema["$ref"].removeprefix(_REF)}
    kind = schema.get("type", "any")
    if kind == "array":
        inner = type_of(schema.get("items"))
        return {"text": f"array of {inner['text']}".rstrip(), "ref": inner.get("ref")}
    text = kind
    if schema.get("format"):
        text += f" ({schema['format']})"
    if schema.get("nullable"):
        text += ", or null"
    return {"text": text, "ref": None}


def answer_type(content: dict[str, Any] | None) -> dict[str, Any] | None:
    """What an answer carries: its JSON schema's type, or the media type of a file."""
    if not content:
        return None
    media, body = next(iter(content.items()))
    if media != "application/json":
        return {"text": f"{media} file", "ref": None}
    return type_of(body.get("schema"))


def constraints(schema: dict[str, Any]) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of: " + ", ".join(str(x) for x in schema["enum"]))
    for key, label in (
        ("minimum", "min"),
        ("maximum", "max"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("pattern", "pattern"),
        ("default", "default"),
    ):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    return "; ".join(parts)


def schema_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": type_of(prop),
            "required": name in required,
            "description": inline_code(prop.get("description", "")),
            "constraints": constraints(prop),
        }
        for name, prop in (schema.get("properties") or {}).items()
    ]


def operations_for_page(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Operations grouped by tag, in path order, each with its parameters, body and answers."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {})
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "id": op.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": inline_code(op.get("description", "")),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": type_of(p.get("schema")),
                            "description": inline_code(p.get("description", "")),
                            "constraints": constraints(p.get("schema") or {}),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": type_of(body.get("schema")) if body else None,
                    "responses": [
                        {
                            "status": status,
                            "description": inline_code(r.get("description", "")),
                            "type": answer_type(r.get("content")),
                        }
                        for status, r in op.get("responses", {}).items()
                    ],
                }
            )
    schemas = [
        {"name": name, "fields": schema_fields(schema)}
        for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items())
    ]
    out = [{"tag": tag, "operations": ops} for tag, ops in groups.items()]
    out.append({"tag": "schemas", "schemas": schemas, "operations": []})
    return out


def page_intro(spec: dict[str, Any]) -> Markup:
    return inline_code(spec.get("info", {}).get("description", ""))
