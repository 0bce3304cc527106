"""Webhook ingress: ``POST /webhooks/<channel-slug>``.

The raw body is read (never more than the configured maximum) and handed,
unparsed, to :func:`hub.channels.inbox.receive`: the channel's connector verifies the
signature on those exact bytes, the event is stored in the inbox in its own
transaction and a job is enqueued to process it. The answer comes at once:

- ``200 {"status": "accepted"}`` — stored, processing is queued;
- ``200 {"status": "duplicate"}`` — the provider sent this event before; nothing new;
- ``401`` missing or bad signature (nothing stored), ``400`` malformed (a
  body nested deeper than 64 levels is ``invalid_json``, refused unread),
  ``404`` unknown or disabled channel, ``413`` body over ``HUB_WEBHOOK_MAX_BYTES``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from hub.channels import inbox
from hub.core.exceptions import HubError
from hub.web import errors, get_hub, json_body

if TYPE_CHECKING:
    from hub.runtime.hub import Hub

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
errors.register_blueprint_handlers(bp)

_CHUNK = 64 * 1024
# The two answers, encoded once (jsonify per request was a tenth of ingest's own time).
_ANSWERS = {
    status: json.dumps({"status": status}).encode() + b"\n" for status in ("accepted", "duplicate")
}


def max_bytes(app=None) -> int:
    """The largest body accepted: app config ``WEBHOOK_MAX_BYTES``, else the hub's setting."""
    app = app or current_app
    configured = app.config.get("WEBHOOK_MAX_BYTES")
    return int(configured) if configured else app.extensions["hub"].settings.webhook_max_bytes


class BodyTooLarge(Exception):
    pass


def read_body(request: Request, limit: int) -> bytes:
    """Read the raw request body, refusing (before reading further) once it passes ``limit``.

    A declared ``Content-Length`` over the limit is refused without reading a
    byte; a chunked body is read until it passes the limit, then refused.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge
    stream = request.stream
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
    return b"".join(parts)


def answer(hub: Hub, slug: str, request: Request, limit: int) -> bytes:
    """Verify, store and acknowledge one delivery: the answer's body (status 200).

    Errors are raised, and answered by :func:`error_answer`: :class:`BodyTooLarge`
    413; SignatureError 401, MalformedPayload 400 (``invalid_json`` for a body
    nested deeper than :data:`~hub.web.json_body.MAX_JSON_DEPTH`), NotFound 404,
    ConfigError (a connector that takes no webhooks, a secret that cannot be
    decrypted) 422.
    """
    body = read_body(request, limit)
    # Before the connector parses it: a body nested thousands deep would exhaust the stack.
    json_body.check_depth(body)
    # Werkzeug's Headers is no Mapping by type (iterating it yields pairs), but it
    # answers the reads a connector makes (get, items, in; any spelling of a name).
    headers = cast("Mapping[str, str]", request.headers)
    return _ANSWERS[inbox.receive(hub, slug, headers, body, request.args).status]


def error_answer(exc: Exception, limit: int):
    """The JSON error answer for what :func:`answer` raised (in a request context)."""
    if isinstance(exc, BodyTooLarge):
        return errors.error_response(
            413, "too_large", f"the body is larger than {limit} bytes", {"max_bytes": limit}
        )
    if isinstance(exc, RecursionError):  # a connector's parser, past the depth check
        exc = json_body.InvalidJson(
            f"the body nests JSON deeper than {json_body.MAX_JSON_DEPTH} levels"
        )
    if isinstance(exc, HubError):
        return errors.hub_error_response(exc)
    if isinstance(exc, HTTPException):  # the client went away mid-body, …
        return errors.http_error_response(exc)
    return errors.unexpected_error_response(exc)


@bp.post("/<slug>")
def receive(slug: str):
    """Verify, store and acknowledge one inbound webhook.

    The route names the URL (``url_for``, the API's webhook URLs); the requests
    themselves are answered below Flask by :class:`Ingress`, which calls the same
    :func:`answer`. This view serves an app without it.
    """
    limit = max_bytes()
    try:
        return Response(answer(get_hub(), slug, request, limit), mimetype="application/json")
    except (BodyTooLarge, HubError, RecursionError) as exc:
        return error_answer(exc, limit)


class Ingress:
    """WSGI middleware: ``POST /webhooks/<slug>`` answered before Flask, the rest passed on.

    Ingest is the hub's hottest path (``make bench`` (a)): Flask's request
    context, its session (a cookie signature check), its response object and
    its after-request hooks cost a large share of the server's time for a
    request that needs none of them (see ``docs/benchmarks.md``). The request is read with werkzeug's ``Request``
    (the same headers, query and body Flask would give the view); an error is
    answered by the app's own JSON error answers, made in a request context.
    Any other method or path goes to the app unchanged (a ``GET`` gets its 405).
    """

    PREFIX = "/webhooks/"

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(self.PREFIX):
            return self.wsgi_app(environ, start_response)
        slug = path[len(self.PREFIX) :]
        if not slug or "/" in slug:
            return self.wsgi_app(environ, start_response)
        limit = max_bytes(self.app)
        try:
            body = answer(self.app.extensions["hub"], slug, Request(environ), limit)
        except Exception as exc:  # noqa: BLE001 - every error gets its JSON answer
            with self.app.request_context(environ):
                response = error_answer(exc, limit)
            return response(environ, start_response)
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]
