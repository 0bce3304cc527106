"""Code names (``acme.label_printed``, ``payment.capture``) as words for people."""

from __future__ import annotations

import re


def name_in_words(name: str, *, home: str = "") -> str:
    """``name`` as words: its last part, with its scope in front unless that is ``home``.

    ``acme.label_printed`` → "Acme: label printed"; with ``home="order"``,
    ``order.gift_wrapped`` → "Gift wrapped". For names no sentence is written for yet.
    """
    scope, _, rest = name.rpartition(".")
    text = _spaced(rest) or name
    if scope and scope != home:
        return f"{_spaced(scope).capitalize()}: {text}"
    return text[:1].upper() + text[1:]


def _spaced(part: str) -> str:
    return re.sub(r"[._-]+", " ", part).strip()
