"""How deep a JSON body nests, measured before it is parsed (hub.web.json_body)."""

import json

import pytest

from hub.web.json_body import MAX_JSON_DEPTH, InvalidJson, nests_deeper_than, parse


@pytest.mark.parametrize(
    "body, too_deep",
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
        (b"[" * 100_000, True),  # never closed: the parser would still recurse
        # Brackets in strings are text, escaped quotes do not end a string.
        (json.dumps({"note": "[" * 500, "q": 'say "[[[" \\'}).encode(), False),
        # Many brackets side by side are not deep.
        (json.dumps([[{"a": []}] for _ in range(200)]).encode(), False),
    ],
)
def test_depth_counts_nesting_outside_strings(body, too_deep):
    assert nests_deeper_than(body) is too_deep


def test_a_body_too_deep_is_refused_before_parsing_as_invalid_json():
    with pytest.raises(InvalidJson) as info:
        parse(b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    assert info.value.code == "invalid_json"
    assert info.value.details == {"max_depth": MAX_JSON_DEPTH}
