"""`hub init && hub serve`: web, worker and scheduler in one process, stopped gracefully."""

import json
import signal
import subprocess
import sys
import time

import requests

from hub.testing import MANUAL_ORDER as ORDER
from hub.testing import free_port, hub_cmd, hub_process_env
from hub.testing import wait_for_http as wait_for


def test_serve_answers_health_runs_jobs_and_stops_on_sigterm(tmp_path):
    hub_cmd("init", data_dir=tmp_path)
    port = free_port()
    env = hub_process_env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/healthz").json() == {"status": "ok"}
        assert requests.get(f"{base}/readyz", timeout=5).json() == {"status": "ok"}
        # The server is waitress, not Flask's development server.
        assert requests.get(f"{base}/healthz", timeout=5).headers["Server"] == "hub"
        order_id = hub_cmd(
            "orders", "create", data_dir=tmp_path, input=json.dumps(ORDER)
        ).stdout.split()[1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            shown = json.loads(hub_cmd("orders", "show", order_id, data_dir=tmp_path).stdout)
            if shown["status"] == "confirmed":
                break
            time.sleep(0.2)
        assert shown["status"] == "confirmed"  # the in-process worker ran its jobs
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping" in err
