"""Shared HTTP mechanics every connector leans on: Link pagination and leaky-bucket pacing."""

from __future__ import annotations

import pytest

from hub.integration.http import LeakyBucketLimiter, parse_link_header


def test_link_header_targets_may_hold_commas():
    value = (
        '<https://s.example/a.json?limit=2&fields=id,name&page_info=n1>; rel="next", '
        '<https://s.example/a.json?limit=2&page_info=p1>; rel="previous"'
    )
    assert parse_link_header(value) == {
        "next": "https://s.example/a.json?limit=2&fields=id,name&page_info=n1",
        "previous": "https://s.example/a.json?limit=2&page_info=p1",
    }


@pytest.mark.parametrize("value", [None, "", "garbage", '<https://x>; title="no rel"'])
def test_link_header_without_links_is_empty(value):
    assert parse_link_header(value) == {}


def test_unquoted_and_multiple_rels_are_read():
    assert parse_link_header("<https://x/2>; rel=next") == {"next": "https://x/2"}
    assert parse_link_header('<https://x/1>; rel="first prev"') == {
        "first": "https://x/1",
        "prev": "https://x/1",
    }


class _Bucket(LeakyBucketLimiter):
    def read_bucket(self, response):
        return response


def test_a_leaky_bucket_waits_only_past_its_threshold_and_queues_callers():
    now = [0.0]
    limiter = _Bucket(size=10, leak_rate=1.0, threshold=0.5, clock=lambda: now[0])
    assert [limiter.before_request() for _ in range(5)] == [0, 0, 0, 0, 0]
    assert limiter.before_request() == pytest.approx(1.0)
    assert limiter.before_request() == pytest.approx(2.0)
    now[0] = 100.0
    limiter.after_response((9, 10))  # what the service says wins
    assert limiter.before_request() == pytest.approx(5.0)
