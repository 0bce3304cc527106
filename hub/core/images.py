"""What kind of image a file is, read from its first bytes (never from its name)."""

from __future__ import annotations

#: The images mail clients show everywhere, by their signature: (subtype, magic bytes).
SIGNATURES = (("png", b"\x89PNG\r\n\x1a\n"), ("jpeg", b"\xff\xd8\xff"), ("gif", b"GIF8"))


def image_subtype(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``gif`` (``image/<subtype>``); None when it is none of them."""
    for subtype, magic in SIGNATURES:
        if data.startswith(magic):
            return subtype
    return None
