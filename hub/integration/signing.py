"""HMAC signatures, compared in constant time, for every connector that signs.

Shopify signs the raw body (base64), Stripe signs ``"{t}.{body}"`` (hex), and
the hub's own outbound webhooks sign ``"{timestamp}.{body}"`` (hex): all of
them are HMAC-SHA256, so the mechanics live here once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def hmac_sha256(key: str | bytes, message: bytes) -> bytes:
    """The HMAC-SHA256 of ``message`` with ``key`` (text keys as UTF-8), as bytes."""
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, message, hashlib.sha256).digest()


def sign_hex(key: str | bytes, message: bytes) -> str:
    """The signature as lower-case hex (Stripe's ``v1=``, the hub's own webhooks)."""
    return hmac_sha256(key, message).hex()


def sign_base64(key: str | bytes, message: bytes) -> str:
    """The signature as base64 (Shopify's ``X-Shopify-Hmac-Sha256``, WooCommerce's)."""
    return base64.b64encode(hmac_sha256(key, message)).decode()


def matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two signatures as text; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def header(headers: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` present in ``headers``, matched case-insensitively.

    Works on any mapping (a plain dict from the inbox, werkzeug's headers), so
    ``header(h, "X-Shopify-Hmac-Sha256", "shopify-hmac-sha256")`` finds either
    spelling a provider sends.
    """
    lowered = None
    for name in names:
        # Werkzeug's headers answer any spelling directly; a plain dict is lowered
        # once, only when needed (this runs for every header of every webhook).
        value = headers.get(name)
        if value is None:
            if lowered is None:
                lowered = {str(k).lower(): v for k, v in headers.items()}
            value = lowered.get(name.lower())
        if value is not None:
            return str(value)
    return None
