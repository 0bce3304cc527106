"""Kill -9 the hub at random points of a demo-sized run, restart it, five times: nothing lost or doubled.

The sandboxes live in this test's process and count every effect; the hub is a
real ``hub serve`` process (web app, worker, scheduler) on the same data dir,
killed with SIGKILL while it works and started again. Providers keep
redelivering webhooks the hub did not answer, as they do in production.
"""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from hub import migrate
from hub.channels import request_sync
from hub.config import Settings
from hub.models import Channel
from hub.runtime import Hub
from hub.sandboxes import Sandboxes, free_port
from hub.scenario import OrderFeeder, configure_hub, stock_locations
from hub.testing import hub_process_env, wait_for_http

from .support import (
    ORDERS,
    assert_captured_once,
    assert_emails_once,
    assert_labelled_and_fulfilled_once,
    assert_orders_once,
    assert_webhooks_once,
    dead_jobs,
    drain,
    job_statuses,
    wait_until_settled,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

KILLS = 5


def test_kill_9_and_restart_five_times_loses_and_doubles_nothing(tmp_path):
    seed = int(os.environ.get("HUB_RELIABILITY_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    print(f"reliability seed {seed} (HUB_RELIABILITY_SEED to replay)")
    data = tmp_path / "data"
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    # A short lease: a job whose worker was killed runs again 3 s later.
    env = hub_process_env(data, HUB_JOB_LEASE_SECONDS="3", HUB_LOG_LEVEL="ERROR")
    hub = Hub(Settings.from_env({}, data_dir=data, job_lease_seconds=3))
    migrate.upgrade(hub.db)
    logs = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"hub-{len(logs)}.log", "w")  # noqa: SIM115 - closed at the end
        logs.append(log)
        return subprocess.Popen([sys.executable, "-m", "hub", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)

    with Sandboxes(ORDERS, seed=seed % 1000) as sandboxes:
        channels = configure_hub(hub, sandboxes, hub_url, data_dir=data, pull_every=2, poll_every=2,
                                 erp_every=3)
        stock_locations(hub, sandboxes.demand())
        with hub.db.transaction() as session:
            request_sync(hub, session, session.get(Channel, channels.shopify))
        proc = start()
        feeder = OrderFeeder(sandboxes, f"{hub_url}/webhooks/shopify", batch=1, every=0.4)
        try:
            wait_for_http(f"{hub_url}/healthz")
            feeder.start()
            kills = []
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.3, 2.5))  # a random point of the work
                proc.kill()
                proc.wait()
                kills.append(dict(job_statuses(hub)))
                proc = start()
                wait_for_http(f"{hub_url}/healthz")

            def alive():
                assert proc.poll() is None, "the hub stopped by itself"

            wait_until_settled(hub, sandboxes, ORDERS, timeout=240, alive=alive)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            feeder.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for log in logs:
                log.close()
        assert len(kills) == KILLS
        print("job statuses at each kill:", kills)
        print("counted outside:", sandboxes.counts())
        # No job lost: whatever the kills left queued or running ran to the end.
        drain(hub)
        statuses = job_statuses(hub)
        assert dead_jobs(hub) == []
        assert set(statuses) == {"succeeded"}, statuses

        assert_orders_once(hub, sandboxes)
        with hub.db.read() as session:
            from sqlalchemy import func, select

            from hub.models import Order

            assert dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all()) \
                == {"shipped": ORDERS}
        assert_captured_once(sandboxes, ORDERS)
        assert_labelled_and_fulfilled_once(hub, sandboxes)
        assert_emails_once(hub, sandboxes, channels, exact=False)
        assert_webhooks_once(hub, sandboxes, channels)
    hub.close()
