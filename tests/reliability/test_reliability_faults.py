"""Every service the hub talks to fails a fifth of the time: all the work still completes, once.

Each sandbox answers 20% of requests with a failure instead: 429 (with
``Retry-After``), 500, a timeout (the request is held past the hub's read
timeout and then carried out: the effect happens, the answer is lost) or a
reset connection; the SMTP server refuses 20% of messages with a 4xx reply.
"""

import os
from collections import Counter

import pytest

from hub.demo.scenario import Scenario
from reliability.support import (
    ORDERS,
    assert_captured_once,
    assert_emails_once,
    assert_labelled_and_fulfilled_once,
    assert_orders_once,
    assert_webhooks_once,
    dead_jobs,
    job_statuses,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_twenty_percent_of_calls_failing_still_completes_everything_once(tmp_path, monkeypatch):
    # The hub gives up on an answer after 1 s; a "timeout" fault holds the request 1.5 s.
    monkeypatch.setenv("HUB_HTTP_TIMEOUT", "2,1")
    seed = int(os.environ.get("HUB_RELIABILITY_SEED", "23"))
    with Scenario(
        ORDERS,
        data_dir=tmp_path / "data",
        seed=seed,
        fault_rate=0.2,
        fault_hold=1.5,
        client_timeouts=1,
        timeout=300,
    ) as scenario:
        summary = scenario.run()
        hub, sandboxes, channels = scenario.hub, scenario.sandboxes, scenario.channels
        faults = {name: f.counts for name, f in sandboxes.faults.items()}
        print("faults injected:", faults, "SMTP refusals:", sandboxes.smtp.refused)
        # The faults were real: every kind, at every HTTP service, and at the SMTP server.
        total = Counter()
        for counts in faults.values():
            total.update(counts)
        assert set(total) == {"429", "500", "timeout", "reset"}
        assert all(sum(counts.values()) > 0 for counts in faults.values()), faults
        assert sandboxes.smtp.refused > 0

        assert not summary.timed_out
        assert summary.by_status == {"shipped": ORDERS}, summary.by_status
        assert dead_jobs(hub) == []
        assert set(job_statuses(hub)) <= {"succeeded", "queued"}  # queued: the next scheduled pulls
        assert_orders_once(hub, sandboxes)
        assert_captured_once(sandboxes, ORDERS)
        assert_labelled_and_fulfilled_once(hub, sandboxes)
        assert_emails_once(hub, sandboxes, channels, exact=True)
        # A delivery whose answer was lost to a held request reached the receiver
        # all the same: the hub's retry is a second copy with the same X-Hub-Delivery.
        assert_webhooks_once(
            hub, sandboxes, channels, allowed_extra=Counter(timeout=faults["receiver"]["timeout"])
        )
