"""/api/v1/erp-files, /erp-exports and /deliveries: the back office's ledgers, read through the API."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from hub.channels.manage import create_channel
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.notifications import outbox as notifications
from hub.queue.jobs import Worker, enqueue
from hub.store.models import Job, utcnow

BAD_FILE = (
    "sku,location,on_hand\n"
    "MUG,WH1,5\n"  # line 2
    "CUP,MARS,1\n"  # 3: unknown location
    "PLATE,WH1,-2\n"  # 4: negative
)


class Receiver:
    """A real HTTP server on loopback answering the statuses it is given, in turn (then 200)."""

    def __init__(self, *statuses: int):
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def erp_channel(hub, tmp_path, slug="erp") -> tuple[int, object]:
    root = hub.settings.erp_folder  # ERP folders lie under the ERP root
    import_dir, export_dir = root / f"{slug}-in", root / f"{slug}-out"
    import_dir.mkdir(parents=True)
    export_dir.mkdir(parents=True)
    with hub.db.transaction() as session:
        upsert_location(session, "WH1")
        channel = create_channel(
            hub,
            session,
            name=slug.upper(),
            slug=slug,
            connector="erp_csv",
            config={
                "import_dir": str(import_dir),
                "export_dir": str(export_dir),
                "settle_seconds": 0,
            },
        )
        return channel.id, import_dir


def run_import(hub, channel_id) -> None:
    with hub.db.transaction() as session:
        enqueue(session, "erp.import", {}, channel_id=channel_id)
    Worker(hub, kinds=("erp.import",), worker_id="test").run_until_idle()


@pytest.fixture
def imported(hub, tmp_path):
    channel_id, import_dir = erp_channel(hub, tmp_path)
    (import_dir / "stock-0301.csv").write_text(BAD_FILE)
    run_import(hub, channel_id)
    return channel_id


def test_a_rejected_erp_row_is_shown_with_its_line_number_and_reason(api, imported):
    listed = api.get("/api/v1/erp-files").get_json()

    [row] = listed["data"]
    assert (row["file_name"], row["channel"], row["status"]) == ("stock-0301.csv", "erp", "partial")
    assert (row["rows_total"], row["rows_ok"], row["rows_rejected"]) == (3, 1, 2)
    assert "rejects" not in row and listed["next_cursor"] is None
    detail = api.get(f"/api/v1/erp-files/{row['id']}").get_json()
    assert detail["rejects"] == [
        {"line": 3, "reason": "unknown location 'MARS'"},
        {"line": 4, "reason": "on_hand -2 is negative"},
    ]
    download = api.get(f"/api/v1/erp-files/{row['id']}/rejects")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "stock-0301.csv.rejects.csv" in download.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert table == [
        ["sku", "location", "on_hand", "line", "reason"],
        ["CUP", "MARS", "1", "3", "unknown location 'MARS'"],
        ["PLATE", "WH1", "-2", "4", "on_hand -2 is negative"],
    ]


def test_erp_files_filter_by_status_and_channel_and_a_clean_file_has_no_rejects(
    api, hub, tmp_path, imported
):
    other_id, other_dir = erp_channel(hub, tmp_path, slug="erp-two")
    (other_dir / "good.csv").write_text("sku,location,on_hand\nMUG,WH1,9\n")
    (other_dir / "broken.csv").write_text("sku,warehouse\nMUG,WH1\n")
    run_import(hub, other_id)

    by_channel = api.get("/api/v1/erp-files?channel=erp-two").get_json()["data"]
    assert sorted(r["file_name"] for r in by_channel) == ["broken.csv", "good.csv"]
    [failed] = api.get("/api/v1/erp-files?status=failed").get_json()["data"]
    assert failed["file_name"] == "broken.csv" and "on_hand" in failed["error"]
    [good] = api.get("/api/v1/erp-files?status=succeeded").get_json()["data"]
    assert api.get(f"/api/v1/erp-files/{good['id']}").get_json()["rejects"] == []
    assert api.get(f"/api/v1/erp-files/{good['id']}/rejects").status_code == 404
    assert api.get("/api/v1/erp-files?channel=nope").status_code == 422
    assert api.get("/api/v1/erp-files?status=lost").status_code == 422
    assert api.get("/api/v1/erp-files/999").status_code == 404
    page = api.get("/api/v1/erp-files?limit=2").get_json()
    rest = api.get(f"/api/v1/erp-files?limit=2&cursor={page['next_cursor']}").get_json()
    assert len(page["data"]) == 2 and len(rest["data"]) == 1 and rest["next_cursor"] is None


def test_erp_order_files_written_are_listed(api, hub, imported, make_order, run_jobs):
    with hub.db.transaction() as session:
        set_on_hand(session, [LevelChange("TSHIRT-M", "WH1", 5)], actor="test")
    make_order(hub)
    run_jobs(hub)  # the order is confirmed: it is due for export
    with hub.db.transaction() as session:
        enqueue(session, "erp.export", {}, channel_id=imported)
    Worker(hub, kinds=("erp.export",), worker_id="test").run_until_idle()

    [written] = api.get("/api/v1/erp-exports?channel=erp").get_json()["data"]

    assert written["file_name"].startswith("orders-") and written["file_name"].endswith(".csv")
    assert (written["channel"], written["orders"], written["rows"]) == ("erp", 1, 1)


def test_webhook_delivery_attempts_show_the_failure_and_the_retry(api, hub, make_order, run_jobs):
    receiver = Receiver(500)
    try:
        with hub.db.transaction() as session:
            create_channel(
                hub,
                session,
                name="CRM",
                slug="crm",
                connector="webhook",
                config={"url": receiver.url, "secret": "s" * 16, "events": ["order.created"]},
            )
        order_id = make_order(hub)
        run_jobs(hub)
        failed = api.get("/api/v1/deliveries").get_json()["data"]
        with hub.db.transaction() as session:  # the retry's backoff, skipped
            session.execute(
                update(Job)
                .where(Job.status == "failed")
                .values(run_at=utcnow() - timedelta(seconds=1))
            )
        run_jobs(hub)
    finally:
        receiver.close()

    [first] = failed
    assert (first["outcome"], first["attempt"], first["status_code"], first["job_status"]) == (
        "failed",
        1,
        500,
        "failed",
    )
    assert "500" in first["error"]
    attempts = api.get(f"/api/v1/deliveries?order_id={order_id}").get_json()["data"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (2, "sent", 200),
        (1, "failed", 500),
    ]
    assert {
        (a["event"], a["channel"], a["connector"], a["recipient"], a["job_status"])
        for a in attempts
    } == {("order.created", "crm", "webhook", receiver.url, "succeeded")}
    assert all(a["at"] for a in attempts)
    [only_failed] = api.get("/api/v1/deliveries?outcome=failed&channel=crm").get_json()["data"]
    assert only_failed["id"] == first["id"]
    assert api.get(f"/api/v1/deliveries/{first['id']}").get_json()["error"] == first["error"]


def test_deliveries_filter_by_event_and_refuse_bad_filters(api, hub):
    with hub.db.transaction() as session:
        for n, (event, outcome) in enumerate(
            [("order.shipped", "sent"), ("order.confirmed", "skipped")]
        ):
            notifications.record_attempt(
                session,
                f"notify:9:{n}",
                outcome=outcome,
                channel_id=None,
                order_id=None,
                event_id=n,
                event_name=event,
                error="no email address" if outcome == "skipped" else None,
            )

    [shipped] = api.get("/api/v1/deliveries?event=order.shipped").get_json()["data"]
    assert (shipped["outcome"], shipped["channel"], shipped["job_id"]) == ("sent", None, None)
    [skipped] = api.get("/api/v1/deliveries?outcome=skipped").get_json()["data"]
    assert skipped["error"] == "no email address"
    assert api.get("/api/v1/deliveries?outcome=lost").status_code == 422
    assert api.get("/api/v1/deliveries?order_id=abc").status_code == 422
    assert api.get("/api/v1/deliveries/999").status_code == 404


def test_the_back_office_operations_are_in_the_openapi_document(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    assert {
        "/api/v1/erp-files",
        "/api/v1/erp-files/{file_id}",
        "/api/v1/erp-files/{file_id}/rejects",
        "/api/v1/erp-exports",
        "/api/v1/deliveries",
        "/api/v1/deliveries/{attempt_id}",
    } <= set(spec["paths"])
    rejects = spec["paths"]["/api/v1/erp-files/{file_id}/rejects"]["get"]["responses"]["200"]
    assert list(rejects["content"]) == ["text/csv"]
    assert "rejects" in spec["components"]["schemas"]["ErpFileDetail"]["properties"]
