"""The life cycle is a table: every (status, event) pair either moves or is refused."""

import pytest

from hub.core import lifecycle
from hub.core.exceptions import InvalidTransition

PAIRS = [(status, event) for status in lifecycle.STATUSES for event in lifecycle.EVENTS]


@pytest.mark.parametrize(("status", "event"), PAIRS)
def test_every_status_event_pair_moves_by_the_table_or_is_refused(status, event):
    moves = lifecycle.TRANSITIONS[event]
    if status in moves:
        assert lifecycle.next_status("#1001", status, event) == moves[status]
    elif status in moves.values():
        # Repeating the current state is a no-op.
        assert lifecycle.next_status("#1001", status, event) == status
    else:
        with pytest.raises(InvalidTransition) as info:
            lifecycle.next_status("#1001", status, event)
        err = info.value
        assert (err.order, err.status, err.event) == ("#1001", status, event)
        assert "#1001" in str(err) and status in str(err) and event in str(err)
        assert err.allowed == lifecycle.allowed_events(status)


def test_unknown_event_is_refused_with_the_allowed_ones():
    with pytest.raises(InvalidTransition) as info:
        lifecycle.next_status("#7", "pending", "teleport")
    assert info.value.allowed == ["confirm", "hold", "cancel"]


def test_final_statuses_allow_only_returns_or_nothing():
    assert lifecycle.allowed_events("cancelled") == []
    assert lifecycle.allowed_events("returned") == []
    assert set(lifecycle.allowed_events("completed")) == {"return_partial", "return"}


def test_every_event_has_a_past_tense_name():
    assert set(lifecycle.EVENT_NAMES) == set(lifecycle.TRANSITIONS)
    assert all(
        name.startswith("order.") and name.endswith(("ed", ".held"))
        for name in lifecycle.EVENT_NAMES.values()
    )


def test_every_target_is_a_known_status():
    for moves in lifecycle.TRANSITIONS.values():
        assert set(moves) <= set(lifecycle.STATUSES)
        assert set(moves.values()) <= set(lifecycle.STATUSES)
