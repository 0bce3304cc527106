from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.channels.manage import create_channel
from hub.inventory.levels import upsert_location
from hub.queue.jobs import Worker, enqueue
from hub.runtime.hub import Hub


@dataclass
class Erp:
    hub: Hub
    channel_id: int
    export_dir: Path
    import_dir: Path

    def run(self, kind: str) -> str:
        """Enqueue one ``erp.*`` job for the channel, run it, return its final status."""
        from hub.store.models import Job

        with self.hub.db.transaction() as session:
            job_id = enqueue(session, kind, {}, channel_id=self.channel_id)
        Worker(self.hub, kinds=(kind,), worker_id="erp-test").run_until_idle()
        with self.hub.db.read() as session:
            job = session.get(Job, job_id)
            self.last_error = job.last_error
            return job.status

    def drop(self, name: str, content: str | bytes, *, encoding: str = "utf-8") -> Path:
        path = self.import_dir / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path


def make_erp(hub: Hub, tmp_path: Path, **config) -> Erp:
    # ERP folders must lie under the hub's ERP root (HUB_ERP_ROOT, default <data dir>/erp).
    root = hub.settings.erp_folder
    export_dir, import_dir = root / "erp-out", root / "erp-in"
    export_dir.mkdir(parents=True, exist_ok=True)
    import_dir.mkdir(parents=True, exist_ok=True)
    settings = {"export_dir": str(export_dir), "import_dir": str(import_dir), "settle_seconds": 0}
    settings.update(config)
    with hub.db.transaction() as session:
        upsert_location(session, "WH1", name="Main warehouse", priority=10)
        upsert_location(session, "STORE", name="Shop")
        channel = create_channel(hub, session, name="ERP", connector="erp_csv", config=settings)
        channel_id = channel.id
    return Erp(hub, channel_id, export_dir, import_dir)


@pytest.fixture
def erp(hub, tmp_path) -> Erp:
    return make_erp(hub, tmp_path)


@pytest.fixture
def any_erp(any_hub, tmp_path) -> Erp:
    return make_erp(any_hub, tmp_path)
