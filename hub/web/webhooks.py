"""Webhook ingress: ``POST /webhooks/<channel-slug>``.

The raw body is read (never more than the configured maximum) and handed,
unparsed, to :func:`hub.inbox.receive`: the channel's connector verifies the
signature on those exact bytes, the event is stored in the inbox in its own
transaction and a job is enqueued to process it. The answer comes at once:

- ``200 {"status": "accepted"}`` — stored, processing is queued;
- ``200 {"status": "duplicate"}`` — the provider sent this event before; nothing new;
- ``401`` missing or bad signature (nothing stored), ``400`` malformed,
  ``404`` unknown or disabled channel, ``413`` body over ``HUB_WEBHOOK_MAX_BYTES``.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request

from .. import inbox
from . import errors, get_hub

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
errors.register_blueprint_handlers(bp)

_CHUNK = 64 * 1024
# The two answers, encoded once (jsonify per request was a tenth of ingest's own time).
_ANSWERS = {status: json.dumps({"status": status}).encode() + b"\n" for status in ("accepted", "duplicate")}


def max_bytes() -> int:
    """The largest body accepted: app config ``WEBHOOK_MAX_BYTES``, else the hub's setting."""
    configured = current_app.config.get("WEBHOOK_MAX_BYTES")
    return int(configured) if configured else get_hub().settings.webhook_max_bytes


class BodyTooLarge(Exception):
    pass


def read_body(limit: int) -> bytes:
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


@bp.post("/<slug>")
def receive(slug: str):
    """Verify, store and acknowledge one inbound webhook."""
    limit = max_bytes()
    try:
        body = read_body(limit)
    except BodyTooLarge:
        return errors.error_response(413, "too_large", f"the body is larger than {limit} bytes",
                                     {"max_bytes": limit})
    # Errors raised here become JSON answers (see hub.web.errors): SignatureError 401,
    # MalformedPayload 400, NotFound 404, ConfigError (a connector that takes no
    # webhooks, a secret that cannot be decrypted) 422.
    receipt = inbox.receive(get_hub(), slug, request.headers, body, request.args)
    return Response(_ANSWERS[receipt.status], mimetype="application/json")
