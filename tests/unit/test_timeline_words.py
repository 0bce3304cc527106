"""An order's history in words: every event the hub records has a sentence, actors read as people."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.core import events as ev
from hub.core.lifecycle import EVENT_NAMES
from hub.orders.timeline_words import EVENT_WORDS, ChannelName, actor_words, event_words
from hub.queue.kinds import JobKind

ROOT = Path(__file__).resolve().parents[2]


def emitted_event_names() -> set[str]:
    """Every ``order.*`` event name the hub's code can record: hub.core.events, the life
    cycle's table, and each ``"order.<name>"`` string written in hub/ (job kinds aside)."""
    names = {v for k, v in vars(ev).items() if k.isupper() and isinstance(v, str)}
    names |= set(EVENT_NAMES.values())
    for path in (ROOT / "hub").rglob("*.py"):
        names |= set(re.findall(r"[\"'](order\.[a-z_]+)[\"']", path.read_text()))
    job_kinds = {str(kind) for kind in JobKind}
    return {n for n in names if n not in job_kinds}


def test_every_event_the_hub_records_has_a_sentence():
    names = emitted_event_names()
    assert {"order.fulfillment_started", "order.return_refunded", "order.attention"} <= names
    missing = sorted(n for n in names if n not in EVENT_WORDS)
    assert not missing, f"no sentence in hub.orders.timeline_words for: {missing}"
    for name, sentence in EVENT_WORDS.items():
        assert "." not in sentence.rstrip(".") and "_" not in sentence, (name, sentence)
        assert sentence[0].isupper(), (name, sentence)


def test_events_read_as_sentences_not_names():
    assert event_words("order.fulfillment_started") == "Sent to the warehouse"
    assert event_words("order.confirmed") == "Confirmed: the checks passed"
    assert event_words("order.held") == "Put on hold"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("order.gift_wrapped", "Gift wrapped"),
        ("acme.label_printed", "Acme: label printed"),
        ("loyalty-points.points_added", "Loyalty points: points added"),
        ("something", "Something"),
    ],
)
def test_an_event_without_a_sentence_still_reads_as_words(name, words):
    assert event_words(name) == words


CHANNELS = {
    "shipstation": ChannelName("Main warehouse", "ShipStation"),
    "manual": ChannelName("Manual orders", "Manual orders"),
}


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        ("channel:shipstation", "ShipStation (channel Main warehouse)"),
        ("channel:manual", "Manual orders"),
        ("channel:gone", "channel gone"),
        ("user:ann@example.com", "ann@example.com"),
        ("api:bi-tool", "API token bi-tool"),
        ("system", "The hub"),
        ("cli", "The command line"),
        ("customer", "The customer"),
        ("rule:returns", "The returns rule"),
        ("", "The hub"),
        ("someone else", "someone else"),
    ],
)
def test_actors_read_as_people_know_them(actor, words):
    assert actor_words(actor, CHANNELS) == words
