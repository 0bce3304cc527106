"""ERP file safety through the API (security issue 17): folders under the ERP root, no
file content in errors, rejects downloads with a safe name."""

from __future__ import annotations

import os

import pytest

from hub.inventory.levels import upsert_location
from hub.queue.jobs import Worker, enqueue

SECRET = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"


def create_erp(api, **config):
    config.setdefault("settle_seconds", 0)
    return api.post(
        "/api/v1/channels", json={"name": "ERP", "connector": "erp_csv", "config": config}
    )


def run_import(hub, channel_id: int) -> None:
    with hub.db.transaction() as session:
        upsert_location(session, "WH1")
        enqueue(session, "erp.import", {}, channel_id=channel_id)
    Worker(hub, kinds=("erp.import",), worker_id="test").run_until_idle()


@pytest.mark.parametrize("field", ["import_dir", "export_dir"])
def test_a_channel_with_a_folder_outside_the_erp_root_is_422_naming_the_field(
    api, hub, tmp_path, field
):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "secret.key").write_text(SECRET)

    for value in (str(secrets), "../../secrets", "/etc"):
        response = create_erp(api, **{field: value})

        assert response.status_code == 422, value
        details = response.get_json()["error"]["details"]
        assert list(details["config"]) == [field]
        assert "outside the ERP root" in details["config"][field][0]
    assert api.get("/api/v1/channels").get_json()["data"][-1]["connector"] == "manual"
    assert os.listdir(secrets) == ["secret.key"]


def test_changing_a_folder_to_one_outside_the_root_is_422_and_keeps_the_old_one(api, hub):
    created = create_erp(api, import_dir="acme/in")
    assert created.status_code == 201
    channel_id = created.get_json()["id"]

    response = api.patch(f"/api/v1/channels/{channel_id}", json={"config": {"import_dir": "/"}})

    assert response.status_code == 422
    assert "import_dir" in response.get_json()["error"]["details"]["config"]
    kept = api.get(f"/api/v1/channels/{channel_id}").get_json()["config"]["import_dir"]
    assert kept == "acme/in"


def test_a_key_in_the_import_folder_never_comes_back_through_the_api(api, hub):
    channel_id = create_erp(api, import_dir="acme/in").get_json()["id"]
    folder = hub.settings.erp_folder / "acme" / "in"
    folder.mkdir(parents=True)
    (folder / "secret.key").write_text(SECRET)

    run_import(hub, channel_id)

    [listed] = api.get("/api/v1/erp-files").get_json()["data"]
    detail = api.get(f"/api/v1/erp-files/{listed['id']}")
    assert detail.status_code == 200
    body = detail.get_data(as_text=True)
    assert "BEGIN" not in body and "b3Bl" not in body
    error = detail.get_json()["error"]
    assert "missing column(s) sku, location, on_hand" in error
    assert api.get(f"/api/v1/erp-files/{listed['id']}/rejects").status_code == 404


def test_a_rejects_download_of_a_file_named_with_a_line_break_is_a_safe_attachment(api, hub):
    channel_id = create_erp(api, import_dir="in").get_json()["id"]
    folder = hub.settings.erp_folder / "in"
    folder.mkdir(parents=True)
    (folder / 'stock\r\nSet-Cookie: a=b;"é.csv').write_text("sku,location,on_hand\nCUP,MARS,1\n")
    run_import(hub, channel_id)
    [listed] = api.get("/api/v1/erp-files").get_json()["data"]

    download = api.get(f"/api/v1/erp-files/{listed['id']}/rejects")

    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert disposition == "attachment; filename=stock_Set-Cookie_a_b_.csv.rejects.csv"
    assert "Set-Cookie" not in {k for k, _ in download.headers}
    assert "CUP,MARS,1,2,unknown location 'MARS'" in download.get_data(as_text=True)
