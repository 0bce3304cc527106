"""The whole flow with its jobs in two ``hub worker`` processes on PostgreSQL (bench row (c)
compares one worker process with two): every order ships, no job dies, and no worker
process, nor a PDF drawing process of one, is left running afterwards."""

import pytest

from bench import common
from hub.demo.scenario import Scenario

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""  # gone


def test_two_worker_processes_ship_every_order_and_leave_nothing_running(pg_url, tmp_path):
    seen: dict[str, dict[int, str]] = {}
    in_process_worker: list[object] = []

    def on_clock(event: str) -> None:
        # The processes running the jobs, and what they started (PDF drawing), while they run.
        server = scenario.server
        assert server is not None
        trees = [pid for p in server.processes for pid in common.process_tree(p.pid)]
        seen[event] = {pid: _command(pid) for pid in trees}
        in_process_worker.append(server.worker)

    with Scenario(
        5, data_dir=tmp_path / "data", database_url=pg_url, worker_processes=2, on_clock=on_clock
    ) as scenario:
        summary = scenario.run()

    assert not summary.timed_out
    assert summary.by_status == {"shipped": 5}, summary.by_status
    assert summary.dead_jobs == 0
    assert summary.erp_orders == 5
    # The jobs ran in two hub worker processes, not in threads of this one.
    workers = [pid for pid, cmd in seen["start"].items() if "-m hub worker" in cmd]
    assert len(workers) == 2, seen["start"]
    assert in_process_worker == [None, None]
    # After the scenario, every one of them (and what they started) is gone.
    pids = set(seen["start"]) | set(seen["stop"])
    assert [(pid, _command(pid)) for pid in pids if _command(pid)] == []
