"""Stock files from the ERP: every row applied or rejected with its line and reason."""

from __future__ import annotations

import codecs
import csv
import os
import time

import pytest
from sqlalchemy import select

from hub.channels import erp_ledgers as ledgers
from hub.channels.queries import search_erp_files
from hub.inventory.levels import LevelChange, set_on_hand
from hub.store.models import Channel, Job, Location, StockLevel, StockMovement
from plugins.erp_csv.tests.conftest import make_erp


def levels(hub) -> dict[tuple[str, str], int]:
    with hub.db.read() as session:
        rows = session.execute(
            select(StockLevel.sku, Location.code, StockLevel.on_hand).join(
                Location, Location.id == StockLevel.location_id
            )
        ).all()
    return {(sku, code): on_hand for sku, code, on_hand in rows}


def imports(hub) -> list[dict]:
    with hub.db.read() as session:
        return [ledgers.import_dict(row) for row in search_erp_files(session, limit=500).rows]


def read_csv(path, delimiter=",", encoding="utf-8"):
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def test_a_stock_file_sets_on_hand_is_archived_and_triggers_the_stock_push(any_erp):
    erp = any_erp
    erp.drop("stock.csv", "sku,location,on_hand\nTSHIRT-M,WH1,12\nTSHIRT-M,STORE,3\nMUG,WH1,0\n")

    assert erp.run("erp.import") == "succeeded"

    assert levels(erp.hub) == {("TSHIRT-M", "WH1"): 12, ("TSHIRT-M", "STORE"): 3, ("MUG", "WH1"): 0}
    assert not (erp.import_dir / "stock.csv").exists()
    assert (erp.import_dir / "archive" / "stock.csv").is_file()
    [row] = imports(erp.hub)
    assert (row["status"], row["rows_total"], row["rows_ok"], row["rows_rejected"]) == (
        "succeeded",
        3,
        3,
        0,
    )
    assert row["rows_changed"] == 2  # MUG at WH1 was already 0
    with erp.hub.db.read() as session:
        assert session.scalars(select(Job).where(Job.kind == "stock.push")).first() is not None
        movement = session.scalars(
            select(StockMovement).where(StockMovement.sku == "TSHIRT-M")
        ).first()
        assert (movement.source, movement.actor) == ("stock.csv", "channel:erp")


def test_bad_rows_are_rejected_with_line_and_reason_and_the_good_ones_applied(any_erp):
    erp = any_erp
    erp.drop(
        "stock.csv",
        (
            "sku,location,on_hand,note\n"
            "A,WH1,5,ok\n"  # line 2
            "B,WH1,five,words\n"  # 3
            "C,WH1,-2,negative\n"  # 4
            "D,MARS,1,unknown\n"  # 5
            ",WH1,1,no sku\n"  # 6
            "A,WH1,7,again\n"  # 7
            "E,STORE,1.5,decimal\n"  # 8
            "F,WH1\n"  # 9
            "\n"  # 10: blank, skipped
            "G,STORE,9,ok\n"  # 11
        ),
    )

    assert erp.run("erp.import") == "succeeded"

    assert levels(erp.hub) == {("A", "WH1"): 5, ("G", "STORE"): 9}
    [row] = imports(erp.hub)
    assert (row["status"], row["rows_total"], row["rows_ok"], row["rows_rejected"]) == (
        "partial",
        9,
        2,
        7,
    )
    reasons = {r["line"]: r["reason"] for r in row["rejects"]}
    assert reasons == {
        3: "on_hand 'five' is not a whole number",
        4: "on_hand -2 is negative",
        5: "unknown location 'MARS'",
        6: "empty sku",
        7: "duplicate of line 2 (sku 'A' at 'WH1')",
        8: "on_hand '1.5' is not a whole number",
        9: "missing value for on_hand (the row has 2 fields)",
    }
    rejects = erp.import_dir / "archive" / "stock.csv.rejects.csv"
    assert row["rejects_file"] == str(rejects)
    table = read_csv(rejects)
    assert table[0] == ["sku", "location", "on_hand", "note", "line", "reason"]
    assert table[1] == ["B", "WH1", "five", "words", "3", "on_hand 'five' is not a whole number"]
    assert table[-1] == [
        "F",
        "WH1",
        "",
        "",
        "9",
        "missing value for on_hand (the row has 2 fields)",
    ]
    assert len(table) == 8
    with erp.hub.db.read() as session:
        assert ledgers.get_import(session, row["id"]) == row
        found = ledgers.rejects_download(session, row["id"], root=erp.hub.settings.erp_folder)
        assert (found.path, found.name) == (rejects, "stock.csv.rejects.csv")


def test_a_missing_column_fails_the_whole_file_with_the_reason(erp):
    erp.drop("stock.csv", "sku,warehouse,qty\nA,WH1,5\n")

    assert erp.run("erp.import") == "succeeded"

    assert levels(erp.hub) == {}
    failed = erp.import_dir / "failed" / "stock.csv"
    assert failed.is_file()
    [row] = imports(erp.hub)
    assert row["status"] == "failed"
    assert row["error"] == (
        "not a stock file: missing column(s) location, on_hand in its first line "
        "(found: sku); the channel expects sku, location, on_hand"
    )
    assert "warehouse" not in row["error"]  # the file's own cells are never quoted
    error_txt = (erp.import_dir / "failed" / "stock.csv.error.txt").read_text()
    assert error_txt == row["error"] + "\n"


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.csv", b"", "empty file"),
        (
            "image.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "binary file: NUL byte at offset 8",
        ),
        ("latin.csv", "sku,location,on_hand\nCAFÉ,WH1,1\n".encode("latin-1"), "not utf-8 text"),
        ("blank.csv", b"\n\n  \n", "no header row"),
    ],
)
def test_unreadable_files_go_to_failed_with_the_reason(erp, name, content, reason):
    erp.drop(name, content)

    assert erp.run("erp.import") == "succeeded"

    assert (erp.import_dir / "failed" / name).is_file()
    [row] = imports(erp.hub)
    assert row["status"] == "failed"
    assert reason in row["error"]
    assert levels(erp.hub) == {}


def test_a_bom_and_a_semicolon_delimiter_are_recognised(erp):
    erp.drop(
        "excel.csv",
        codecs.BOM_UTF8 + "SKU;Location;On_Hand\r\nCAFÉ-1;WH1;4\r\nTEE;STORE;2\r\n".encode(),
    )

    assert erp.run("erp.import") == "succeeded"

    assert levels(erp.hub) == {("CAFÉ-1", "WH1"): 4, ("TEE", "STORE"): 2}
    assert imports(erp.hub)[0]["status"] == "succeeded"


def test_utf16_excel_export_and_a_configured_encoding_are_read(hub, tmp_path):
    erp = make_erp(
        hub,
        tmp_path,
        encoding="cp1252",
        delimiter="tab",
        sku_column="Artikel",
        location_column="Lager",
        on_hand_column="Bestand",
    )
    erp.drop("a.txt", "Artikel\tLager\tBestand\nKÄSE\tWH1\t7\n".encode("cp1252"))
    erp.drop("b.txt", "Artikel\tLager\tBestand\nBRÖT\tSTORE\t8\n".encode("utf-16"))
    os.utime(erp.import_dir / "a.txt", (time.time() - 5, time.time() - 5))

    assert erp.run("erp.import") == "succeeded"

    assert levels(hub) == {("KÄSE", "WH1"): 7, ("BRÖT", "STORE"): 8}


def test_the_same_file_again_is_a_no_op(erp):
    content = "sku,location,on_hand\nA,WH1,5\n"
    erp.drop("monday.csv", content)
    assert erp.run("erp.import") == "succeeded"
    with erp.hub.db.transaction() as session:  # a person counts again meanwhile
        set_on_hand(session, [LevelChange("A", "WH1", 9)], actor="user:ann")

    erp.drop("monday-copy.csv", content)
    assert erp.run("erp.import") == "succeeded"

    assert levels(erp.hub) == {("A", "WH1"): 9}
    latest, first = imports(erp.hub)
    assert (latest["status"], latest["file_name"]) == ("duplicate", "monday-copy.csv")
    assert "same content (SHA-256) as monday.csv" in latest["error"]
    assert latest["checksum"] == first["checksum"]
    assert not (erp.import_dir / "monday-copy.csv").exists()


def test_a_row_below_what_orders_reserved_is_rejected_and_its_batch_still_applied(erp):
    with erp.hub.db.transaction() as session:
        set_on_hand(session, [LevelChange("A", "WH1", 10)], actor="test")
        level = session.scalars(select(StockLevel).where(StockLevel.sku == "A")).one()
        level.reserved = 6
    erp.drop("stock.csv", "sku,location,on_hand\nB,WH1,1\nA,WH1,4\nC,WH1,2\n")

    assert erp.run("erp.import") == "succeeded"

    assert levels(erp.hub) == {("A", "WH1"): 10, ("B", "WH1"): 1, ("C", "WH1"): 2}
    [row] = imports(erp.hub)
    assert (row["rows_ok"], row["rows_rejected"]) == (2, 1)
    assert row["rejects"] == [
        {"line": 3, "reason": "A at WH1: on hand 4 is below the 6 reserved by orders"}
    ]


def test_an_import_cut_short_is_resumed_by_the_next_run(erp, monkeypatch):
    from plugins.erp_csv import stock_import

    with erp.hub.db.transaction() as session:
        channel = session.get(Channel, erp.channel_id)
        channel.config = {**channel.config, "batch_size": 100}
    rows = "".join(f"SKU{i:04d},WH1,{i}\n" for i in range(250))
    erp.drop("big.csv", "sku,location,on_hand\n" + rows)
    real_apply, calls = stock_import._apply, []

    def crash_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("database went away")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(stock_import, "_apply", crash_on_second_batch)
    assert erp.run("erp.import") == "failed"
    assert (erp.import_dir / "big.csv").exists()
    assert len(levels(erp.hub)) == 100
    assert imports(erp.hub)[0]["status"] == "processing"

    monkeypatch.setattr(stock_import, "_apply", real_apply)
    assert erp.run("erp.import") == "succeeded"

    assert levels(erp.hub) == {(f"SKU{i:04d}", "WH1"): i for i in range(250)}
    [row] = imports(erp.hub)
    assert (row["status"], row["rows_ok"]) == ("succeeded", 250)
    assert (erp.import_dir / "archive" / "big.csv").is_file()


def test_files_still_being_written_and_hidden_files_are_left_alone(hub, tmp_path):
    erp = make_erp(hub, tmp_path, settle_seconds=60)
    erp.drop("fresh.csv", "sku,location,on_hand\nA,WH1,5\n")
    erp.drop(".hidden.csv", "sku,location,on_hand\nA,WH1,5\n")
    erp.drop("upload.csv.part", "sku,location,on_hand\nA,WH1,5\n")

    assert erp.run("erp.import") == "succeeded"

    assert imports(hub) == []
    assert sorted(p.name for p in erp.import_dir.iterdir()) == [
        ".hidden.csv",
        "fresh.csv",
        "upload.csv.part",
    ]


def test_a_file_name_imported_before_is_archived_beside_the_first(erp):
    erp.drop("stock.csv", "sku,location,on_hand\nA,WH1,5\n")
    assert erp.run("erp.import") == "succeeded"
    erp.drop("stock.csv", "sku,location,on_hand\nA,WH1,6\nA,WH1,7\n")
    assert erp.run("erp.import") == "succeeded"

    archived = sorted(p.name for p in (erp.import_dir / "archive").iterdir())
    assert len(archived) == 3 and "stock.csv" in archived
    second = imports(erp.hub)[0]
    assert second["rejects_file"].endswith(".csv.rejects.csv")
    assert os.path.basename(second["archived_as"]) + ".rejects.csv" == os.path.basename(
        second["rejects_file"]
    )
    assert levels(erp.hub) == {("A", "WH1"): 6}


def test_a_missing_import_folder_is_a_dead_job_that_says_so(erp):
    erp.import_dir.rename(erp.import_dir.with_name("gone"))

    assert erp.run("erp.import") == "dead"
    assert "import_dir" in erp.last_error and "does not exist" in erp.last_error


def test_the_config_is_validated_for_people():
    from hub.core.exceptions import ValidationError
    from plugins.erp_csv import ErpCsvConnector

    with pytest.raises(ValidationError) as exc:
        ErpCsvConnector.validate_config({"export_dir": "relative/out", "delimiter": ":"})
    assert set(exc.value.details) == {"delimiter"}  # relative folders lie under the ERP root
    config = ErpCsvConnector.validate_config(
        {
            "import_dir": "/srv/erp/in",
            "delimiter": "semicolon",
            "export_statuses": "shipped, delivered",
        }
    )
    assert (config["delimiter"], config["export_statuses"]) == (";", ["shipped", "delivered"])
    with pytest.raises(ValidationError):
        ErpCsvConnector.validate_config({"import_dir": "/x", "encoding": "klingon"})
    with pytest.raises(ValidationError):
        ErpCsvConnector.validate_config({})
    fields = ErpCsvConnector.config_schema().fields
    assert all(f.metadata.get("label") and f.metadata.get("help") for f in fields.values())


def test_a_file_another_run_is_importing_is_left_to_it_until_its_lease_runs_out(erp):
    import hashlib
    from datetime import timedelta

    from hub.store.models import ErpImport, utcnow

    content = b"sku,location,on_hand\nA,WH1,5\n"
    erp.drop("stock.csv", content)
    with erp.hub.db.transaction() as session:  # a run on another worker, making progress
        session.add(
            ErpImport(
                channel_id=erp.channel_id,
                file_name="stock.csv",
                size=len(content),
                checksum=hashlib.sha256(content).hexdigest(),
                status="processing",
            )
        )

    assert erp.run("erp.import") == "succeeded"
    assert (erp.import_dir / "stock.csv").exists() and levels(erp.hub) == {}

    with (
        erp.hub.db.transaction() as session
    ):  # ... that died: no progress for longer than the lease
        session.execute(
            ErpImport.__table__.update().values(updated_at=utcnow() - timedelta(minutes=6))
        )
    assert erp.run("erp.import") == "succeeded"
    assert levels(erp.hub) == {("A", "WH1"): 5}
    [row] = imports(erp.hub)
    assert row["status"] == "succeeded"


def test_check_connection_names_the_folders_or_what_is_wrong(erp):
    from hub.core.exceptions import ConfigError

    connector = erp.hub.connector_for_id(erp.channel_id)
    assert connector.check_connection() == (
        f"folders ready: export_dir {erp.export_dir}, import_dir {erp.import_dir}"
    )
    erp.export_dir.rmdir()
    with pytest.raises(ConfigError, match="export_dir .* does not exist"):
        connector.check_connection()
