"""What the hub writes is its user's alone: folders 0700, files 0600 (not world-readable)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys


def test_a_new_hub_keeps_its_data_folder_database_wal_and_key_private(tmp_path):
    data = tmp_path / "srv" / "hub-data"
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(data),
        "HUB_DATABASE_URL": "",
        "HUB_SECRET_KEY": "",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "init",
            "--admin-email",
            "ann@example.com",
            "--admin-password",
            "correct horse battery staple",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr

    written = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.rglob("*")}
    assert "hub.db" in written
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(data.parent.stat().st_mode) == 0o700  # made by the hub too
    shared = {name: oct(mode) for name, mode in written.items() if mode & 0o077}
    assert shared == {}, f"readable by others: {shared}"
