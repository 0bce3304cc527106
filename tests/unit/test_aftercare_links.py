"""The satisfaction check's links: for one order and one purpose, signed, expiring."""

from __future__ import annotations

import time

import pytest

from hub.aftercare.links import ANSWER_DAYS, LinkExpired, Signer
from hub.core.exceptions import NotFound


def test_a_link_opens_its_order_for_its_purpose_only():
    signer = Signer(b"k" * 32)
    answer = signer.answer_token(41)
    assert signer.order_of(answer) == 41
    with pytest.raises(NotFound):  # an answer link is no unsubscribe link
        signer.order_to_unsubscribe(answer)
    assert signer.order_to_unsubscribe(signer.unsubscribe_token(41)) == 41
    with pytest.raises(NotFound):  # another key (another hub) signed it
        Signer(b"x" * 32).order_of(answer)
    with pytest.raises(NotFound):  # tampered: the payload names another order
        signer.order_of(Signer(b"k" * 32).answer_token(42)[:-3] + answer[-3:])


def test_an_answer_link_expires(monkeypatch):
    signer = Signer(b"k" * 32)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - ANSWER_DAYS * 86400 - 60)
    old = signer.answer_token(7)
    monkeypatch.setattr(time, "time", lambda: now)
    with pytest.raises(LinkExpired):
        signer.order_of(old)
