"""Shared HTTP mechanics every connector leans on: Link pagination and leaky-bucket pacing."""

from __future__ import annotations

import pytest
import requests

from hub.integration.http import LeakyBucketLimiter


def test_link_header_targets_may_hold_commas():
    """Shopify's page_info links carry ``fields=id,name``: requests' ``response.links`` reads them."""
    response = requests.Response()
    response.headers["Link"] = (
        '<https://s.example/a.json?limit=2&fields=id,name&page_info=n1>; rel="next", '
        '<https://s.example/a.json?limit=2&page_info=p1>; rel="previous"'
    )
    assert response.links["next"]["url"] == (
        "https://s.example/a.json?limit=2&fields=id,name&page_info=n1"
    )
    assert response.links["previous"]["url"] == "https://s.example/a.json?limit=2&page_info=p1"


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
