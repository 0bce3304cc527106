"""How a REST API view declares itself: one decorator, used for checking and for the docs.

``@operation(...)`` names the view's query and body schemas and its answers.
At request time it loads the query string and the JSON body through those
schemas (bad JSON → 400, a wrong value → 422 with per-field errors) and passes
them to the view as ``query=`` and ``body=``. :func:`build_spec` then walks the
app's routes and writes the OpenAPI 3 document from the same declarations, so
the documentation cannot drift from what the code checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, request
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError
from werkzeug.exceptions import BadRequest, UnsupportedMediaType
from werkzeug.routing import IntegerConverter

from hub.core.exceptions import ValidationError
from hub.web import json_body
from hub.web.api_schemas import ErrorSchema

#: The attribute a declared view carries its :class:`Operation` in (functions
#: take attributes at run time; their static type does not declare this one).
_OPERATION_ATTR = "api_operation"

#: A path converter for database ids: positive 32-bit integers only, anything else is a 404.
ID = "int(min=1, max=2147483647)"

_ERROR_TEXT = {
    400: "The body is not valid JSON (`invalid_json`), or nests objects and arrays deeper than "
    f"{json_body.MAX_JSON_DEPTH} levels; or it is missing.",
    401: "No valid `Authorization: Bearer <token>` header.",
    404: "No such record.",
    405: "Method not allowed.",
    409: "The request clashes with the record's current state.",
    413: "The body is too large.",
    415: "The body is not sent as `Content-Type: application/json` (`unsupported_media_type`).",
    422: "A field is missing or has a wrong value; `details` names each.",
    502: "The outside service failed or refused.",
}


@dataclass
class Operation:
    summary: str
    tag: str
    description: str = ""
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    #: status -> (schema, an OpenAPI schema dict, or None; description)
    responses: dict[int, tuple[type[Schema] | dict | None, str]] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    #: False: the body may be left out (an empty body loads as ``{}``).
    body_required: bool = True
    #: The success answer's media type (a file download is not JSON).
    media_type: str = "application/json"


def load_json_body(*, required: bool = True) -> Any:
    """The request body parsed as JSON; 400 when it is missing (and required), not JSON or
    nested too deep (:mod:`hub.web.json_body`), 415 when it does not say it is JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if not required:
            return {}
        raise BadRequest("a JSON body is required")
    if not json_body.is_json(request.mimetype):
        raise UnsupportedMediaType(
            f"send the body as application/json (got {request.mimetype or 'no Content-Type'})"
        )
    return json_body.parse(raw)


def load(schema: type[Schema], data: Any, *, what: str) -> Any:
    """Load ``data`` through ``schema``; a failure is a 422 naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationError(
            f"the {what} must be a JSON object",
            details={"_schema": [f"expected an object, got {type(data).__name__}"]},
        )
    try:
        return schema().load(data)
    except SchemaError as exc:
        messages = exc.normalized_messages()
        fields = ", ".join(sorted(str(k) for k in messages)) if isinstance(messages, dict) else ""
        raise ValidationError(
            f"invalid {what}" + (f": check {fields}" if fields else ""),
            details=messages if isinstance(messages, dict) else {"_schema": messages},
        ) from None


def _single_valued_args() -> dict[str, str]:
    """The query parameters, each given once; one given twice is a 422 naming it.

    Taking the first of ``?active=true&active=nonsense`` silently would answer a question
    the caller did not ask.
    """
    repeated = sorted(key for key, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise ValidationError(
            f"invalid query parameters: {', '.join(repeated)} given more than once",
            details={key: ["give this parameter once"] for key in repeated},
        )
    return request.args.to_dict()


def operation(
    summary: str,
    *,
    tag: str,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    ok: tuple[int, type[Schema] | dict | None, str] = (200, None, "OK"),
    also: tuple[tuple[int, type[Schema] | None, str], ...] = (),
    errors: tuple[int, ...] = (),
    body_required: bool = True,
    media_type: str = "application/json",
) -> Callable:
    """Declare a REST view: its schemas for input and answer, and its possible errors.

    :param ok: the success answer ``(status, schema, description)``; ``also``: other successes.
    :param body_required: False when every field of ``body`` is optional and the
        body may be left out altogether (e.g. ``POST /returns/<id>/approve``).
    :param media_type: of the success answers, when not JSON (e.g. ``text/csv``; the
        schema is then an OpenAPI schema dict such as ``{"type": "string"}``).
    """

    def decorate(view: Callable) -> Callable:
        responses = {status: (schema, text) for status, schema, text in (ok, *also)}
        op = Operation(
            summary=summary,
            tag=tag,
            description=_dedent(view.__doc__ or ""),
            query=query,
            body=body,
            responses=responses,
            errors=errors,
            body_required=body_required,
            media_type=media_type,
        )

        @wraps(view)
        def wrapper(**kwargs):
            if query is not None:
                kwargs["query"] = load(query, _single_valued_args(), what="query parameters")
            if body is not None:
                kwargs["body"] = load(body, load_json_body(required=body_required), what="body")
            return view(**kwargs)

        setattr(wrapper, _OPERATION_ATTR, op)
        return wrapper

    return decorate


def _dedent(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines())


# --- the OpenAPI document ------------------------------------------------------------------------

_PATH_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def build_spec(
    app: Flask,
    *,
    blueprint: str,
    title: str,
    version: str,
    description: str,
    extra_schemas: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3 document of every declared view of ``blueprint``."""
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": description},
    )
    spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `hub token create` (or the admin UI).",
        },
    )
    spec.components.schema("Error", schema=ErrorSchema)
    for name, value in (extra_schemas or {}).items():
        spec.components.schema(name, value)
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ())))
    paths: dict[str, dict[str, Any]] = {}
    for rule in rules:
        if not rule.endpoint.startswith(blueprint + "."):
            continue
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, _OPERATION_ATTR, None)
        if op is None:
            continue
        path = _PATH_ARG.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation_dict(rule, op, method)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    out = spec.to_dict()
    out["security"] = [{"bearerAuth": []}]
    return out


def _operation_id(rule, method: str) -> str:
    name = rule.endpoint.split(".", 1)[1]
    methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
    return name if len(methods) == 1 else f"{name}_{method.lower()}"


def _operation_dict(rule, op: Operation, method: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    for name in sorted(rule.arguments):
        converter = rule._converters.get(name)
        if isinstance(converter, IntegerConverter):
            schema = {"type": "integer", "minimum": converter.min or 0}
            if converter.max is not None:
                schema["maximum"] = converter.max
        else:
            schema = {"type": "string", "pattern": "^[^/]+$"}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    responses: dict[str, Any] = {}
    for status, (answer, text) in op.responses.items():
        entry: dict[str, Any] = {"description": text}
        if answer is not None:
            entry["content"] = {op.media_type: {"schema": answer}}
        responses[str(status)] = entry
    errors = set(op.errors) | {401}
    if rule.arguments:
        errors.add(404)
    if op.body is not None:
        errors |= {400, 413, 415, 422}
    if op.query is not None:
        errors.add(422)
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _ERROR_TEXT.get(status, "Error."),
            "content": {"application/json": {"schema": ErrorSchema}},
        }
    responses["default"] = {
        "description": "Any other error, in the same shape.",
        "content": {"application/json": {"schema": ErrorSchema}},
    }
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": _operation_id(rule, method),
        "parameters": parameters,
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.body}},
        }
    return out
