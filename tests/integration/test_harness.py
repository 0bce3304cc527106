"""The channel-level helpers plugin authors test with (issue 18, hurt 3): ``hub.testing.Harness``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub import hookimpl
from hub.core.exceptions import ExternalError, ValidationError
from hub.testing import WebhookTestPlugin

SECRET = "whsec-harness-0123456789"


@pytest.fixture
def hub_plugins():
    return [WebhookTestPlugin()]


def new_order(external_id: str, price: str = "12.50") -> dict:
    return {
        "id": f"evt-{external_id}",
        "topic": "orders/create",
        "order": {"external_id": external_id, "sku": "MUG", "quantity": 2, "price": price},
    }


def test_a_signed_webhook_becomes_an_order_as_the_api_shows_it(any_harness):
    shop = any_harness.add_channel("webhook_test", {"webhook_secret": SECRET})
    answer = any_harness.post_webhook(shop, new_order("W1"))
    assert (answer.status_code, answer.get_json()) == (200, {"status": "accepted"})
    assert any_harness.orders(shop) == []  # stored in the inbox; the job has not run yet

    any_harness.run_jobs()

    order = any_harness.order("W1", shop)
    assert order["channel"] == shop.slug
    assert [(x["sku"], x["quantity"], x["unit_price"]) for x in order["lines"]] == [
        ("MUG", 2, "12.50")
    ]
    [event] = any_harness.webhook_events(shop)
    assert (event["topic"], event["status"]) == ("orders/create", "processed")
    assert {j["kind"] for j in any_harness.jobs(status="dead")} == set()


def test_the_same_delivery_twice_is_a_duplicate(harness):
    shop = harness.add_channel("webhook_test", {"webhook_secret": SECRET})
    assert harness.post_webhook(shop, new_order("W2")).get_json() == {"status": "accepted"}
    assert harness.post_webhook(shop, new_order("W2")).get_json() == {"status": "duplicate"}
    harness.run_jobs()
    assert len(harness.orders(shop)) == 1 and len(harness.webhook_events(shop)) == 1


def test_an_unsigned_or_forged_webhook_is_refused_and_nothing_stored(harness):
    shop = harness.add_channel("webhook_test", {"webhook_secret": SECRET})
    assert harness.post_webhook(shop, new_order("W3"), sign=False).status_code == 401
    forged = harness.post_webhook(
        shop,
        b'{"id": "evt-x", "order": {"external_id": "X"}}',
        headers={"X-Test-Signature": "0" * 64},
        sign=False,
    )
    assert forged.status_code == 401
    harness.run_jobs()
    assert harness.webhook_events(shop) == [] and harness.orders() == []


def test_a_channel_config_the_schema_refuses_names_the_field(harness):
    with pytest.raises(ValidationError) as refused:
        harness.add_channel("webhook_test", {})
    assert "webhook_secret" in refused.value.details


def test_a_pull_runs_now_and_commits_its_cursor(harness):
    shop = harness.add_channel("webhook_test", {"webhook_secret": SECRET})
    job = harness.pull(shop)
    assert (job["kind"], job["status"], job["channel_id"]) == ("channel.pull", "succeeded", shop.id)
    assert harness.channel_state(shop)["cursor"] == {"pulled": True}


class FlakyOnce:
    """A job kind that fails once (retryable), then succeeds."""

    def __init__(self):
        self.calls = 0

    def run(self, ctx):
        self.calls += 1
        if self.calls == 1:
            # Back in a minute: the retry is not due until the clock moves, however slow the run.
            raise ExternalError("the service is down", retryable=True, retry_after=60)

    @hookimpl
    def hub_register_job_handlers(self):
        return {"test.flaky": self.run}


def test_a_retry_waits_for_its_backoff_until_the_clock_moves(make_hub):
    from hub.queue.jobs import enqueue
    from hub.testing import Harness

    flaky = FlakyOnce()
    with Harness(make_hub(plugins=[flaky])) as harness:
        with harness.hub.db.transaction() as session:
            enqueue(session, "test.flaky", {})
        assert harness.run_jobs() == 1
        [job] = harness.jobs("test.flaky")
        assert (job["status"], job["attempts"]) == ("failed", 1)
        assert harness.run_jobs() == 0  # its retry is due later: nothing runs, nothing waits

        assert harness.run_jobs(advance=timedelta(minutes=10)) == 1
        [job] = harness.jobs("test.flaky")
        assert (job["status"], job["attempts"], flaky.calls) == ("succeeded", 2, 2)


def test_the_harness_serves_a_sandbox_until_it_closes(make_hub):
    import requests

    from hub.testing import Harness

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"sandbox"]

    with Harness(make_hub()) as harness:
        url = harness.serve(app)
        assert requests.get(url, timeout=5).text == "sandbox"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
