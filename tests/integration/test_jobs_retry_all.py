"""Retry all: every dead job of one kind (and of one channel) queued again at once, from the CLI."""

from __future__ import annotations

from sqlalchemy import select

from hub.channels.manage import create_channel
from hub.queue.jobs import dead_letter
from hub.store.models import Job


def _statuses(hub) -> dict[int, str]:
    with hub.db.read() as session:
        return {i: s for i, s in session.execute(select(Job.id, Job.status))}


def test_jobs_retry_all_queues_the_dead_jobs_of_one_kind_only(cli, hub):
    with hub.db.transaction() as session:
        shop = create_channel(hub, session, name="Shop", connector="manual", config={})
        other = create_channel(hub, session, name="Other", connector="manual", config={})
        pulls = [
            dead_letter(session, "channel.pull", {}, error="boom", channel_id=shop.id)
            for _ in range(3)
        ]
        elsewhere = dead_letter(session, "channel.pull", {}, error="boom", channel_id=other.id)
        notify = dead_letter(session, "notify", {}, error="boom")

    one_channel = cli("jobs", "retry", "--all", "--kind", "channel.pull", "--channel", str(shop.id))
    assert one_channel.exit_code == 0 and "3 dead channel.pull jobs queued" in one_channel.stdout
    statuses = _statuses(hub)
    assert [statuses[j] for j in pulls] == ["queued"] * 3
    assert statuses[elsewhere] == "dead" and statuses[notify] == "dead"

    every = cli("jobs", "retry", "--all", "--kind", "channel.pull")
    assert "1 dead channel.pull job queued" in every.stdout
    assert _statuses(hub)[notify] == "dead"


def test_jobs_retry_all_needs_a_kind(cli, hub):
    result = cli("jobs", "retry", "--all")
    assert result.exit_code == 2 and "--all needs --kind" in result.output
