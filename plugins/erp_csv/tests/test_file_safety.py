"""ERP folders stay under the hub's ERP root; files the hub writes carry no live formula.

Security issue 17: an ERP channel could name any folder of the server, and the
import moved its files away and echoed their first line in the error.
"""

from __future__ import annotations

import csv
import os

import pytest
from sqlalchemy import select

from hub.channels.manage import create_channel, update_config
from hub.core.exceptions import ValidationError
from hub.core.order import Customer, Line
from hub.integration.erp import spreadsheet_cell, spreadsheet_value
from hub.inventory.levels import LevelChange, set_on_hand
from hub.store.models import Channel, ErpImport

SECRET = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"


def outside_folder(tmp_path):
    """A folder outside the ERP root holding a private key."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.key").write_text(SECRET)
    os.utime(outside / "secret.key", (1, 1))  # long settled
    return outside


def store_config(erp, **changes) -> None:
    """Change the stored config as a hub with other settings (another ERP root) left it."""
    with erp.hub.db.transaction() as session:
        channel = session.get(Channel, erp.channel_id)
        channel.config = {**channel.config, **changes}


def erp_files(erp) -> list[ErpImport]:
    with erp.hub.db.read() as session:
        return list(session.scalars(select(ErpImport)))


# --- folders under the ERP root ----------------------------------------------------------------


@pytest.mark.parametrize("kind, key", [("erp.import", "import_dir"), ("erp.export", "export_dir")])
def test_a_job_whose_folder_is_outside_the_erp_root_is_dead_and_touches_nothing(
    erp, tmp_path, kind, key
):
    outside = outside_folder(tmp_path)
    store_config(erp, **{key: str(outside)})

    assert erp.run(kind) == "dead"

    assert key in erp.last_error and "outside the ERP root" in erp.last_error
    assert sorted(p.name for p in outside.iterdir()) == ["secret.key"]
    assert (outside / "secret.key").read_text() == SECRET
    assert erp_files(erp) == []


def test_an_import_folder_swapped_for_a_link_out_of_the_root_is_refused(erp, tmp_path):
    outside = outside_folder(tmp_path)
    erp.import_dir.rmdir()
    erp.import_dir.symlink_to(outside, target_is_directory=True)

    assert erp.run("erp.import") == "dead"

    assert "import_dir" in erp.last_error and "outside the ERP root" in erp.last_error
    assert sorted(p.name for p in outside.iterdir()) == ["secret.key"]
    assert erp_files(erp) == []


def test_an_archive_folder_linked_out_of_the_root_is_refused(erp, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (erp.import_dir / "archive").symlink_to(outside, target_is_directory=True)
    erp.drop("stock.csv", "sku,location,on_hand\nA,WH1,5\n")

    assert erp.run("erp.import") == "dead"

    assert "archive" in erp.last_error and "outside the ERP root" in erp.last_error
    assert list(outside.iterdir()) == []
    assert (erp.import_dir / "stock.csv").is_file()


@pytest.mark.parametrize(
    "value",
    ["/etc", "../../outside", "acme/../../../outside", "link-out/in"],
    ids=["absolute", "dot-dot", "dot-dot-inside", "symlink"],
)
def test_a_folder_outside_the_erp_root_is_refused_when_the_channel_is_saved(hub, tmp_path, value):
    root = hub.settings.erp_folder
    root.mkdir(parents=True, exist_ok=True)
    (root / "link-out").symlink_to(outside_folder(tmp_path), target_is_directory=True)

    with pytest.raises(ValidationError) as refused, hub.db.transaction() as session:
        create_channel(hub, session, name="ERP", connector="erp_csv", config={"import_dir": value})

    assert list(refused.value.details) == ["import_dir"]
    assert "outside the ERP root" in refused.value.details["import_dir"][0]
    with hub.db.read() as session:
        assert session.scalars(select(Channel.connector)).all() == ["manual"]


def test_changing_a_folder_to_one_outside_the_root_is_refused(erp, tmp_path):
    with pytest.raises(ValidationError) as refused, erp.hub.db.transaction() as session:
        channel = session.get(Channel, erp.channel_id)
        update_config(erp.hub, session, channel, {"export_dir": str(tmp_path)})

    assert list(refused.value.details) == ["export_dir"]
    with erp.hub.db.read() as session:
        assert session.get(Channel, erp.channel_id).config["export_dir"] == str(erp.export_dir)


def test_a_relative_folder_is_taken_relative_to_the_erp_root(hub):
    with hub.db.transaction() as session:
        channel_id = create_channel(
            hub,
            session,
            name="ERP",
            connector="erp_csv",
            config={"import_dir": "acme/in", "settle_seconds": 0},
        ).id
    folder = hub.settings.erp_folder / "acme" / "in"
    folder.mkdir(parents=True)
    (folder / "stock.csv").write_text("sku,location,on_hand\nA,WH1,5\n")

    connector = hub.connector_for_id(channel_id)

    assert connector.check_connection() == f"folders ready: import_dir {folder}"


# --- what the import tells about a file ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, content",
    [
        ("secret.key", SECRET),
        ("shadow.csv", "user;password\nroot;hunter2\n"),
        ("half.csv", "sku,password\nroot,hunter2\n"),
    ],
)
def test_a_file_that_is_not_a_stock_file_fails_naming_only_columns(erp, name, content):
    erp.drop(name, content)

    assert erp.run("erp.import") == "succeeded"

    [row] = erp_files(erp)
    assert row.status == "failed"
    assert row.error.startswith("not a stock file: missing column(s) ")
    assert "the channel expects sku, location, on_hand" in row.error
    failed = erp.import_dir / "failed"
    reasons = (failed / f"{name}.error.txt").read_text()
    for text in (row.error, reasons):
        for secret in ("BEGIN", "b3Bl", "root", "hunter2", "password"):
            assert secret not in text
    assert (failed / name).read_text() == content
    assert row.rejects_file is None and not list(erp.import_dir.rglob("*.rejects.csv"))


# --- formulas ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, read",
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("'s-Hertogenbosch", "''s-Hertogenbosch"),
        ("-12.50", "-12.50"),
        ("+3", "+3"),
        ("Ann Smith", "Ann Smith"),
        ("", ""),
    ],
)
def test_a_text_cell_that_a_spreadsheet_would_run_is_quoted_reversibly(written, read):
    assert spreadsheet_cell(written) == read
    assert spreadsheet_value(read) == written


def test_numbers_are_written_as_they_are():
    assert (spreadsheet_cell(-3), spreadsheet_cell(0)) == (-3, 0)


def test_formulas_in_exported_orders_are_written_as_text(erp, make_order, run_jobs):
    with erp.hub.db.transaction() as session:
        set_on_hand(session, [LevelChange("@SKU", "WH1", 10)], actor="test")
    make_order(
        erp.hub,
        customer=Customer(email="eve@example.com", name="=cmd|' /C calc'!A0"),
        lines=[Line(sku="@SKU", name="+SUM(A1:A9)", quantity=1, unit_price=1250)],
    )
    run_jobs(erp.hub)

    assert erp.run("erp.export") == "succeeded"

    [name] = os.listdir(erp.export_dir)
    with open(erp.export_dir / name, encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["customer_name"] == "'=cmd|' /C calc'!A0"
    assert (row["sku"], row["line_name"]) == ("'@SKU", "'+SUM(A1:A9)")
    assert (row["unit_price"], row["quantity"]) == ("12.50", "1")


def test_formulas_in_rejected_rows_are_written_as_text(erp):
    erp.drop(
        "stock.csv",
        "sku,location,on_hand,=note\n=cmd|' /C calc'!A0,MARS,3,@SUM(1)\nMUG,WH1,-3,+1+1\n",
    )

    assert erp.run("erp.import") == "succeeded"

    [row] = erp_files(erp)
    with open(row.rejects_file, encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table == [
        ["sku", "location", "on_hand", "'=note", "line", "reason"],
        ["'=cmd|' /C calc'!A0", "MARS", "3", "'@SUM(1)", "2", "unknown location 'MARS'"],
        ["MUG", "WH1", "-3", "'+1+1", "3", "on_hand -3 is negative"],
    ]


def test_a_file_swapped_for_a_link_after_the_folder_was_listed_is_not_read(erp, tmp_path):
    from plugins.erp_csv.stock_import import scan_file

    link = erp.import_dir / "stock.csv"
    link.symlink_to(outside_folder(tmp_path) / "secret.key")

    with pytest.raises(OSError):
        scan_file(link, "utf-8")
