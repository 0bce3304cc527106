"""Kill -9 the hub at random points of a demo-sized run, restart it, five times: nothing lost or doubled.

The sandboxes live in this test's process and count every effect; the hub runs
as real processes on the same data dir, killed with SIGKILL while they work and
started again. Providers keep redelivering webhooks the hub did not answer, as
they do in production. The hub runs in the shape each database is deployed in
(docs/deploy.md):

- SQLite: one ``hub serve`` process (web app, two worker threads, scheduler);
  each kill point kills it.
- PostgreSQL: the scale-out shape, five processes: the web app on gunicorn
  (``gunicorn --workers 2 --threads 16 "hub.web:create_app()"``), two
  ``hub worker --concurrency 2`` and two ``hub scheduler``. Each kill point kills
  one of them or several at once (each at least once over the run).

Each process runs in a process group of its own and "kill" is SIGKILL to the
whole group (gunicorn's workers die with their master, as in a container that
dies). Kill points are random points of the progress (a number of orders
shipped, then a short random pause), so they land in the work on either
database, however fast it goes. The seed (kill points and victims) is printed;
``HUB_RELIABILITY_SEED`` replays it.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gunicorn
import pytest
import requests
from sqlalchemy import func, select

from hub.channels.manage import request_sync
from hub.demo.sandboxes import Sandboxes, free_port
from hub.demo.scenario import (
    DEMO_SELLER,
    OrderFeeder,
    configure_hub,
    progress,
    reset_database,
    stock_locations,
)
from hub.runtime.hub import Hub
from hub.store import migrate
from hub.store.config import Settings
from hub.store.models import Channel, Order
from hub.testing import TEST_SECRET_KEY, hub_process_env
from reliability.support import (
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


@dataclass(frozen=True)
class Role:
    """One of the hub's processes: how it starts and how to tell it is up."""

    name: str
    argv: tuple[str, ...]
    ready: str  # a URL that answers, or a regular expression its log prints


def hub_processes(database: str, port: int, run_dir: Path) -> list[Role]:
    """The processes the hub runs as on ``database``, as docs/deploy.md deploys it."""
    hub = (sys.executable, "-m", "hub")
    healthz = f"http://127.0.0.1:{port}/healthz"
    if database == "sqlite":
        return [Role("hub serve", (*hub, "serve", "--port", str(port), "--workers", "2"), healthz)]
    web = (
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "16",
        "hub.web:create_app()",
    )
    if gunicorn.version_info >= (25, 1):
        # Its control socket defaults to one path in $HOME for every gunicorn on the machine.
        web = (*web[:-1], "--control-socket", str(run_dir / "gunicorn.ctl"), web[-1])
    return [
        Role("web", web, healthz),
        *(
            Role(f"worker-{i}", (*hub, "worker", "--concurrency", "2"), r"worker \S+ started")
            for i in (1, 2)
        ),
        *(Role(f"scheduler-{i}", (*hub, "scheduler"), r"scheduler started") for i in (1, 2)),
    ]


@dataclass(frozen=True)
class KillPoint:
    shipped: int  # the kill comes once at least this many orders have shipped ...
    pause: float  # ... and the processes started at the previous point have run this long
    victims: tuple[str, ...]


def kill_plan(
    rng: random.Random, names: list[str], n_orders: int, kills: int = KILLS
) -> list[KillPoint]:
    """Random points spread over the run, and who dies at each: one process or several.

    Points are set by progress (orders shipped, anywhere in the first four fifths),
    not by the clock, so they fall in the work however fast the hub is; every
    process dies at least once when there are as many points as processes.
    """
    order = rng.sample(names, len(names))
    shipped = sorted(rng.randrange(max(1, n_orders * 4 // 5)) for _ in range(kills))
    plan = []
    for i in range(kills):
        first = order[i % len(order)]
        victims = (first, *(n for n in names if n != first and rng.random() < 0.25))
        plan.append(KillPoint(shipped[i], rng.uniform(0.3, 2.0), victims))
    return plan


def wait_until_shipped(hub: Hub, n: int, *, alive, timeout: float = 90) -> int:
    """Wait until at least ``n`` orders have shipped; return how many have."""
    deadline = time.monotonic() + timeout
    while (shipped := progress(hub)["by_status"].get("shipped", 0)) < n:
        alive()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the flow stalled: {shipped} orders shipped, waited {timeout:.0f} s for {n}"
            )
        time.sleep(0.1)
    return shipped


class Fleet:
    """The hub's processes, each the leader of its own process group; killed and started again by name."""

    def __init__(self, roles: list[Role], *, env: dict[str, str], log_dir: Path):
        self.roles = {role.name: role for role in roles}
        self.env, self.log_dir = env, log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.starts = 0

    def start(self, *names: str) -> float:
        """Start these processes (default: all), wait until each is up; return how long that took."""
        began = time.monotonic()
        names = names or tuple(self.roles)
        for name in names:
            self.starts += 1
            log = self.logs[name] = self.log_dir / f"{self.starts:02d}-{name.replace(' ', '-')}.log"
            with open(log, "w") as out:
                self.procs[name] = subprocess.Popen(
                    self.roles[name].argv,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        for name in names:
            self._wait_ready(name)
        return time.monotonic() - began

    def _wait_ready(self, name: str, timeout: float = 60) -> None:
        ready = self.roles[name].ready
        deadline = time.monotonic() + timeout
        while not self._is_ready(name, ready):
            self.check_alive(name)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name} did not start in {timeout:.0f} s: {self.logs[name].read_text()}"
                )
            time.sleep(0.05)

    def _is_ready(self, name: str, ready: str) -> bool:
        if not ready.startswith("http"):
            return re.search(ready, self.logs[name].read_text()) is not None
        try:  # gunicorn listens before its workers have loaded the app: a slow answer is "not yet"
            return requests.get(ready, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def kill(self, *names: str) -> None:
        """SIGKILL each one's whole process group, and reap it."""
        for name in names:
            os.killpg(self.procs[name].pid, signal.SIGKILL)
        for name in names:
            self.procs[name].wait()

    def check_alive(self, *names: str) -> None:
        for name in names or tuple(self.procs):
            proc = self.procs[name]
            # WNOWAIT: a dead leader stays unreaped, so its pid (the group's id) cannot be
            # reused before kill_all() has killed whatever is left of its group.
            if (
                proc.returncode is not None
                or os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            ):
                raise AssertionError(
                    f"{name} stopped by itself: {self.logs[name].read_text()[-3000:]}"
                )

    def stop(self, timeout: float = 60) -> dict[str, int]:
        """SIGTERM to each (graceful: running jobs finish); their exit codes."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        return {name: proc.wait(timeout=timeout) for name, proc in self.procs.items()}

    def kill_all(self) -> None:
        """Whatever is still running, killed: no process of this test outlives it."""
        for proc in self.procs.values():
            if proc.returncode is None:  # not reaped: its pid still names its group
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_kill_9_and_restart_five_times_loses_and_doubles_nothing(tmp_path, request, database):
    seed = int(os.environ.get("HUB_RELIABILITY_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    print(f"reliability seed {seed} (HUB_RELIABILITY_SEED to replay)")
    data = tmp_path / "data"
    url = request.getfixturevalue("pg_url") if database == "postgresql" else None
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    # A short lease: a job whose worker was killed runs again 3 s later.
    env = hub_process_env(
        data,
        HUB_JOB_LEASE_SECONDS="3",
        HUB_LOG_LEVEL="ERROR",
        HUB_SECRET_KEY=TEST_SECRET_KEY,
        # The demo's channels invoice at capture: the processes name its seller.
        **{f"HUB_{key.upper()}": value for key, value in DEMO_SELLER.items()},
        **({"HUB_DATABASE_URL": url} if url else {}),
    )
    hub = Hub(
        Settings.from_env(
            {},
            data_dir=data,
            database_url=url,
            job_lease_seconds=3,
            secret_key=TEST_SECRET_KEY,
            allow_private_targets=True,  # the sandboxes listen on 127.0.0.1
            **DEMO_SELLER,
        )
    )
    migrate.upgrade(hub.db)
    if url:
        reset_database(hub)  # the shared test database: start empty
    fleet = Fleet(hub_processes(database, port, tmp_path), env=env, log_dir=tmp_path)
    plan = kill_plan(rng, list(fleet.roles), ORDERS)
    try:
        with Sandboxes(ORDERS, seed=seed % 1000) as sandboxes:
            channels = configure_hub(
                hub, sandboxes, hub_url, data_dir=data, pull_every=2, poll_every=2, erp_every=3
            )
            stock_locations(hub, sandboxes.demand())
            with hub.db.transaction() as session:
                request_sync(hub, session, session.get(Channel, channels.shopify))
            feeder = OrderFeeder(sandboxes, f"{hub_url}/webhooks/shopify", batch=1, every=0.4)
            kills = []
            try:
                started = time.monotonic()
                print(f"started in {fleet.start():.1f} s")
                feeder.start()
                for point in plan:
                    time.sleep(point.pause)
                    shipped = wait_until_shipped(hub, point.shipped, alive=fleet.check_alive)
                    fleet.kill(*point.victims)
                    # Printed at once: a run that fails later still shows where it was killed.
                    print(
                        f"{time.monotonic() - started:5.1f} s, {shipped:2d} shipped: killed "
                        f"{', '.join(point.victims)}; jobs {job_statuses(hub)}",
                        flush=True,
                    )
                    kills.append(point)
                    print(f"  up again in {fleet.start(*point.victims):.1f} s")
                wait_until_settled(hub, sandboxes, ORDERS, timeout=240, alive=fleet.check_alive)
                print(f"settled {time.monotonic() - started:.1f} s after the start")
                assert fleet.stop() == {name: 0 for name in fleet.roles}
            finally:
                feeder.stop()
                fleet.kill_all()
            assert len(kills) == KILLS
            print("counted outside:", sandboxes.counts())
            # No job lost: whatever the kills left queued or running ran to the end.
            drain(hub)
            statuses = job_statuses(hub)
            assert dead_jobs(hub) == []
            assert set(statuses) == {"succeeded"}, statuses

            assert_orders_once(hub, sandboxes)
            with hub.db.read() as session:
                assert dict(
                    session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
                ) == {"shipped": ORDERS}
            assert_captured_once(sandboxes, ORDERS)
            assert_labelled_and_fulfilled_once(hub, sandboxes)
            assert_emails_once(hub, sandboxes, channels, exact=False)
            assert_webhooks_once(hub, sandboxes, channels)
    finally:
        if url:
            reset_database(hub)  # leave the shared test database empty
        hub.close()
