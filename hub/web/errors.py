"""JSON errors for the machine-facing surfaces (REST API, webhooks, metrics).

Every error a machine gets has one shape, made by :func:`error_response`::

    {"error": {"code": "validation_error", "message": "…", "details": {…}}}

Domain errors (:class:`hub.core.exceptions.HubError`) map to a status by their
class; HTTP errors keep their status; anything else is a 500 whose answer says
nothing about the cause (the traceback goes to the log, never to the client).
Pages for people (the admin UI) keep their own error pages: the handlers here
answer JSON only under :data:`JSON_PREFIXES`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as HTTPNotFound

from hub.core.exceptions import (
    ConcurrencyError,
    ConfigError,
    Conflict,
    ExternalError,
    HubError,
    InvalidTransition,
    MalformedPayload,
    NotFound,
    RetryLater,
    SignatureError,
    ValidationError,
)

log = logging.getLogger(__name__)

#: Paths whose errors are answered as JSON, whatever raised them (routing too).
JSON_PREFIXES: tuple[str, ...] = ("/api/", "/webhooks/", "/metrics")

#: Status of each domain error class; the first match in this order wins.
_STATUS: tuple[tuple[type[HubError], int], ...] = (
    (InvalidTransition, 409),
    (ConcurrencyError, 409),
    (Conflict, 409),
    (NotFound, 404),
    (SignatureError, 401),
    (MalformedPayload, 400),
    (ValidationError, 422),
    (ConfigError, 422),
    (RetryLater, 503),
    (ExternalError, 502),
)

#: The ``code`` of an HTTP error without a domain meaning.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
}


def error_response(status: int, code: str, message: str, details: Any = None):
    """The one JSON error answer: ``{"error": {"code", "message", "details"}}``."""
    response = jsonify(error={"code": code, "message": message, "details": details or {}})
    response.status_code = status
    return response


def status_for(exc: HubError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def hub_error_response(exc: HubError):
    """The answer for a domain error: its class's status, its code, message and details."""
    return error_response(status_for(exc), exc.code, exc.message, exc.details)


def http_error_response(exc: HTTPException):
    status = exc.code or 500
    response = error_response(status, _HTTP_CODES.get(status, "error"), _http_message(exc))
    # Werkzeug's MethodNotAllowed carries them; other HTTPExceptions do not.
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hub"'
    return response


def _http_message(exc: HTTPException) -> str:
    if exc.code == 405:
        allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
        return f"{request.method} is not allowed here" + (
            f" (allowed: {allowed})" if allowed else ""
        )
    if exc.code == 404:
        return f"nothing at {request.path}"
    return exc.description or exc.name


def unexpected_error_response(exc: Exception):
    """A bug: log it with its traceback, tell the client only that it happened."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        500, "internal_error", "the hub failed to handle this request; the error is logged"
    )


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def init_app(app: Flask) -> None:
    """Answer routing errors (unknown path, wrong method) with JSON on machine paths.

    Errors raised inside a machine blueprint's views are handled by that
    blueprint (see :func:`register_blueprint_handlers`). A routing error happens
    before any view is found; it is answered here, first thing, from the
    request's ``routing_exception``: so the admin UI stays free to register its
    own 404/405 pages for the paths of people, in any order.
    """

    def json_routing_error():
        exc = request.routing_exception
        if isinstance(exc, (HTTPNotFound, MethodNotAllowed)) and wants_json():
            return http_error_response(exc)
        return None

    app.before_request_funcs.setdefault(None, []).insert(0, json_routing_error)


def register_blueprint_handlers(bp) -> None:
    """Make every error raised in ``bp``'s views a JSON error answer."""
    bp.register_error_handler(HubError, hub_error_response)
    bp.register_error_handler(HTTPException, http_error_response)
    bp.register_error_handler(Exception, unexpected_error_response)
