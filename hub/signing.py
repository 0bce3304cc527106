"""HMAC signatures, compared in constant time, for every connector that signs.

Shopify signs the raw body (base64), Stripe signs ``"{t}.{body}"`` (hex), and
the hub's own outbound webhooks sign ``"{timestamp}.{body}"`` (hex): all of
them are HMAC-SHA256, so the mechanics live here once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def hmac_sha256(key: str | bytes, message: bytes) -> bytes:
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, message, hashlib.sha256).digest()


def sign_hex(key: str | bytes, message: bytes) -> str:
    return hmac_sha256(key, message).hex()


def sign_base64(key: str | bytes, message: bytes) -> str:
    return base64.b64encode(hmac_sha256(key, message)).decode()


def matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two signatures as text; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())
