"""The admin UI's rejects download: a file name with a line break gives a safe attachment."""

from __future__ import annotations

from sqlalchemy import select

from hub.channels.manage import create_channel
from hub.inventory.levels import upsert_location
from hub.queue.jobs import Worker, enqueue
from hub.store.models import ErpImport


def test_a_rejects_download_of_a_file_named_with_a_line_break_is_a_safe_attachment(
    browser, admin_hub
):
    folder = admin_hub.settings.erp_folder / "in"
    folder.mkdir(parents=True)
    with admin_hub.db.transaction() as db:
        upsert_location(db, "WH1")
        channel = create_channel(
            admin_hub,
            db,
            name="Warehouse ERP",
            connector="erp_csv",
            config={"import_dir": "in", "settle_seconds": 0},
        )
        enqueue(db, "erp.import", {}, channel_id=channel.id)
    (folder / "stock\n0301.csv").write_text("sku,location,on_hand\nCUP,MARS,1\n")
    Worker(admin_hub, kinds=("erp.import",), worker_id="test").run_until_idle()
    with admin_hub.db.read() as db:
        file_id = db.scalars(select(ErpImport.id)).one()

    download = browser.get(f"/erp/{file_id}/rejects.csv")

    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=stock_0301.csv.rejects.csv"
    )
    assert "CUP,MARS,1,2,unknown location 'MARS'" in download.get_data(as_text=True)
