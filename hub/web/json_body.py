"""JSON bodies from outside (the REST API's, a webhook's): how deep they may nest, what they say they are.

Python's ``json`` parser recurses once per level of nesting, so a body of a
hundred thousand ``[`` exhausts the stack (a ``RecursionError``, answered 500)
before any schema sees it. Every body is therefore measured first by a flat
scan of its bytes and refused (400 ``invalid_json``) when it nests deeper than
:data:`MAX_JSON_DEPTH`; real payloads (a Shopify order, a Stripe event) nest a
handful of levels. A ``RecursionError`` that gets past the scan anyway (a body
in UTF-16, which ``json.loads`` also reads) is the same 400.
"""

from __future__ import annotations

import json
from typing import Any

from hub.core.exceptions import MalformedPayload

#: How deep a JSON body may nest (each object or array one level; ``{"a": [1]}`` is 2).
MAX_JSON_DEPTH = 64

#: Every byte but the brackets and the quote: what the scan keeps of a body.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_OPENERS = frozenset(b"[{")


class InvalidJson(MalformedPayload):
    """A body that is not JSON, or nests deeper than :data:`MAX_JSON_DEPTH` (400)."""

    code = "invalid_json"


def nests_deeper_than(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` opens more than ``limit`` objects or arrays inside each other.

    Brackets inside strings do not count. Linear in the body's size and done
    in C but for a loop over the brackets; a body with no more than ``limit``
    of them is not scanned at all. Exact for valid JSON; for anything else it
    may err either way, and the parser refuses that body regardless.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:  # escaped backslashes, then escaped quotes: neither ends a string
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Split at the quotes, every other piece is outside the strings.
    outside = b"".join(raw.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    depth = 0
    for byte in outside:
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def check_depth(raw: bytes) -> None:
    """Raise :class:`InvalidJson` when ``raw`` nests deeper than :data:`MAX_JSON_DEPTH`."""
    if nests_deeper_than(raw):
        raise InvalidJson(
            f"the body nests JSON deeper than {MAX_JSON_DEPTH} levels",
            details={"max_depth": MAX_JSON_DEPTH},
        )


def parse(raw: bytes) -> Any:
    """``raw`` as JSON, or :class:`InvalidJson` saying why not (too deep, not JSON)."""
    check_depth(raw)
    try:
        return json.loads(raw)
    except RecursionError:
        raise InvalidJson(
            f"the body nests JSON deeper than {MAX_JSON_DEPTH} levels",
            details={"max_depth": MAX_JSON_DEPTH},
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(f"the body is not valid JSON: {exc}") from None


def is_json(mimetype: str) -> bool:
    """Whether a request's media type (without parameters) says its body is JSON."""
    mimetype = mimetype.lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )
