"""Stripe's webhook signature: ``Stripe-Signature: t=…,v1=…[,v1=…][,v0=…]``.

:func:`verify` checks a header exactly as Stripe's own Python library does
(``stripe/_webhook.py``, ``WebhookSignature.verify_header``), so the hub
accepts what Stripe sends and refuses what that library refuses:

1. the header is split on ``,`` and each part on ``=`` (at most twice); the
   FIRST ``t`` is the timestamp (an int), EVERY ``v1`` is a candidate
   signature (several during a secret roll), ``v0`` and unknown schemes are
   ignored;
2. the signed payload is ``b"{t}." + raw body``; the expected signature is
   ``hex(HMAC-SHA256(endpoint secret, signed payload))``;
3. the request is accepted if ANY ``v1`` equals it (constant-time compare);
4. then the timestamp must not be older than ``tolerance`` seconds (a falsy
   tolerance turns the check off, as in Stripe's library).

The errors come in Stripe's order, with its messages: no header at all,
unparsable header, no ``v1``, no match, too old. :func:`sign_header` makes headers the way Stripe does (the sandbox
uses it).
"""

from __future__ import annotations

import hmac
import time

from hub.core.exceptions import SignatureError
from hub.integration.signing import sign_hex

HEADER = "Stripe-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


def expected_signature(secret: str, timestamp: int, payload: bytes) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}.{payload}"`` under the endpoint secret."""
    return sign_hex(secret, b"%d." % timestamp + payload)


def parse_header(header: str) -> tuple[int, list[str]]:
    """``(timestamp, [v1 signatures])`` of a header; raises on what Stripe cannot parse.

    Mirrors Stripe's parser on purpose, quirks included: no whitespace is
    stripped (``"t=1, v1=…"`` has no ``v1``), ``int()`` reads the timestamp.
    """
    items = [part.split("=", 2) for part in header.split(",")]
    timestamp = int([item[1] for item in items if item[0] == "t"][0])
    signatures = [item[1] for item in items if item[0] == SCHEME]
    return timestamp, signatures


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a ``Stripe-Signature`` header against the raw body; return its timestamp.

    :param payload: the raw request body, exactly as received (never re-serialised JSON).
    :param tolerance: maximum age in seconds; ``0``/``None`` disables the age check.
    :param now: the current Unix time (tests pass a fixed clock).
    :raises SignatureError: with Stripe's reason, in Stripe's order.
    """
    if not secret:
        raise SignatureError("no webhook signing secret is configured for this channel")
    if not header:
        # Newer versions of Stripe's library say so before parsing; the outcome is the same.
        raise SignatureError(
            "No Stripe-Signature header value was provided. Read it from the incoming "
            "request's headers and pass it in; if this webhook has already been verified "
            "(or came from a trusted source), use one of the `*_without_verification` "
            "methods instead."
        )
    try:
        timestamp, signatures = parse_header(header)
    except Exception:  # any parsing failure is the same refusal, as in Stripe's library
        raise SignatureError("Unable to extract timestamp and signatures from header") from None
    if not signatures:
        raise SignatureError(f"No signatures found with expected scheme {SCHEME}")
    expected = expected_signature(secret, timestamp, payload).encode()
    # Compare with every candidate (no early exit) so the time taken says nothing.
    results = [
        hmac.compare_digest(expected, s.encode("utf-8", "surrogateescape")) for s in signatures
    ]
    if not any(results):
        raise SignatureError("No signatures found matching the expected signature for payload")
    current = time.time() if now is None else now
    if tolerance and timestamp < current - tolerance:
        raise SignatureError(f"Timestamp outside the tolerance zone ({timestamp})")
    return timestamp


def sign_header(
    payload: bytes,
    secret: str,
    *,
    timestamp: int | None = None,
    extra_secrets: tuple[str, ...] = (),
) -> str:
    """A ``Stripe-Signature`` value as Stripe sends it: ``t=…,v1=…`` (one ``v1`` per secret)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    parts = [f"t={t}"] + [
        f"{SCHEME}={expected_signature(s, t, payload)}" for s in (secret, *extra_secrets)
    ]
    return ",".join(parts)
