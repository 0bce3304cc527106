"""The back office in the admin UI: ERP files with their rejected rows, notification deliveries."""

from __future__ import annotations

from sqlalchemy import select

from hub.channels.manage import create_channel
from hub.inventory.levels import upsert_location
from hub.notifications import outbox as notifications
from hub.queue.jobs import Worker, dead_letter, enqueue
from hub.store.models import ErpImport, Job

BAD_FILE = "sku,location,on_hand\nMUG,WH1,5\nCUP,MARS,1\nPLATE,WH1,-2\n"


def import_file(hub, tmp_path, name="stock-0301.csv", content=BAD_FILE) -> int:
    folder = hub.settings.erp_folder / "erp-in"  # ERP folders lie under the ERP root
    folder.mkdir(parents=True, exist_ok=True)
    with hub.db.transaction() as db:
        upsert_location(db, "WH1")
        channel = (
            db.scalars(select(ErpImport.channel_id)).first()
            or create_channel(
                hub,
                db,
                name="Warehouse ERP",
                connector="erp_csv",
                config={"import_dir": str(folder), "settle_seconds": 0},
            ).id
        )
        enqueue(db, "erp.import", {}, channel_id=channel)
    (folder / name).write_text(content)
    Worker(hub, kinds=("erp.import",), worker_id="test").run_until_idle()
    with hub.db.read() as db:
        return db.scalars(select(ErpImport.id).where(ErpImport.file_name == name)).one()


def test_a_rejected_erp_row_is_visible_with_its_line_number_and_reason(
    browser, admin_hub, tmp_path
):
    file_id = import_file(admin_hub, tmp_path)

    listing = browser.get("/erp").get_data(as_text=True)
    assert "stock-0301.csv" in listing and 'class="badge erp-partial"' in listing
    assert "Warehouse ERP" in listing
    page = browser.get(f"/erp/{file_id}").get_data(as_text=True)
    rejects = page[page.index('id="rejects"') :]
    assert '<td class="num">3</td><td>unknown location &#39;MARS&#39;</td>' in rejects
    assert '<td class="num">4</td><td>on_hand -2 is negative</td>' in rejects
    download = browser.get(f"/erp/{file_id}/rejects.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "CUP,MARS,1,3,unknown location 'MARS'" in download.get_data(as_text=True)


def test_a_file_that_failed_as_a_whole_says_why_and_the_list_filters_by_status(
    browser, admin_hub, tmp_path
):
    import_file(admin_hub, tmp_path)
    failed_id = import_file(admin_hub, tmp_path, "broken.csv", "sku,warehouse\nMUG,WH1\n")

    page = browser.get(f"/erp/{failed_id}").get_data(as_text=True)
    assert "The whole file failed:" in page and "on_hand" in page
    assert browser.get(f"/erp/{failed_id}/rejects.csv").status_code == 404
    failed = browser.get("/erp?status=failed").get_data(as_text=True)
    assert "broken.csv" in failed and "stock-0301.csv" not in failed
    assert "No duplicate stock files." in browser.get("/erp?status=duplicate").get_data(
        as_text=True
    )
    assert browser.get("/erp/999").status_code == 404


def test_deliveries_show_each_attempt_and_offer_to_retry_a_dead_one(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    with admin_hub.db.transaction() as db:
        crm = create_channel(
            admin_hub,
            db,
            name="CRM hook",
            connector="webhook",
            config={
                "url": "http://127.0.0.1:9/hooks",
                "secret": "s" * 16,
                "events": ["order.shipped"],
            },
        )
        key = f"notify:{crm.id}:77"
        for outcome, code in (("failed", 500), ("failed", 404)):
            notifications.record_attempt(
                db,
                key,
                outcome=outcome,
                channel_id=crm.id,
                order_id=order_id,
                event_id=77,
                event_name="order.shipped",
                recipient="http://127.0.0.1:9/hooks",
                status_code=code,
                error=f"ExternalError: the receiver answered {code}",
            )
        job_id = dead_letter(
            db,
            "notify",
            {"event_id": 77},
            error="the receiver answered 404",
            channel_id=crm.id,
            order_id=order_id,
        )
        db.get(Job, job_id).dedupe_key = key  # the notify job of that delivery

    page = browser.get("/deliveries").get_data(as_text=True)
    assert "<td>Shipped</td>" in page and "CRM hook" in page and "#1001" in page
    assert page.count('class="badge delivery-failed"') == 2
    assert "the receiver answered 404" in page
    assert f'action="/jobs/{job_id}/retry"' in page
    assert 'class="badge job-dead"' in page
    on_order = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    section = on_order[on_order.index('id="notifications"') : on_order.index("<h2>Timeline</h2>")]
    assert "<td>Shipped</td>" in section and "answered 500" in section
    retried = browser.post(f"/jobs/{job_id}/retry", {"next": "/deliveries"}, follow_redirects=True)
    assert 'class="badge job-queued"' in retried.get_data(as_text=True)
    assert "No sent deliveries." in browser.get("/deliveries?outcome=sent").get_data(as_text=True)


def test_an_order_without_notifications_says_so(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    assert "No email or webhook sent about this order." in browser.get(
        f"/orders/{order_id}"
    ).get_data(as_text=True)
