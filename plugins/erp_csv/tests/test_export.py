"""Order export: each order once per version, in files that appear whole or not at all."""

from __future__ import annotations

import codecs
import csv
import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

from hub.channels.queries import search_erp_exports
from hub.core.order import Line
from hub.inventory.levels import LevelChange, set_on_hand
from hub.orders import transitions
from hub.store.models import ErpExportedOrder, Order
from hub.testing import TEST_SECRET_KEY
from plugins.erp_csv.tests.conftest import make_erp


def exported(erp) -> list[str]:
    return sorted(p.name for p in erp.export_dir.iterdir())


def rows_of(path, delimiter=",", encoding="utf-8"):
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def confirmed_orders(erp, make_order, run_jobs, n=2, **overrides) -> list[int]:
    # The ERP fixture creates locations, so stock is tracked: stock what is ordered.
    skus = {line.sku for line in overrides.get("lines", [Line("TSHIRT-M", "T-shirt M", 1, 1)])}
    with erp.hub.db.transaction() as session:
        set_on_hand(session, [LevelChange(sku, "WH1", 1000) for sku in skus], actor="test")
    ids = [make_order(erp.hub, **overrides) for _ in range(n)]
    run_jobs(erp.hub)
    with erp.hub.db.read() as session:
        assert {session.get(Order, i).status for i in ids} == {"confirmed"}
    return ids


def test_confirmed_orders_are_exported_once_and_again_only_when_they_change(
    any_erp, make_order, run_jobs
):
    erp = any_erp
    first, second = confirmed_orders(erp, make_order, run_jobs)
    held = make_order(erp.hub, external_id="HELD")
    with erp.hub.db.transaction() as session:  # on hold: not exported (yet)
        transitions.hold(session, held, "address check", actor="user:ann")

    assert erp.run("erp.export") == "succeeded"
    [name] = exported(erp)
    assert name.startswith("orders-") and name.endswith("-000001.csv")
    rows = rows_of(erp.export_dir / name)
    assert [int(r["order_id"]) for r in rows] == [first, second]
    assert erp.run("erp.export") == "succeeded"
    assert exported(erp) == [name]  # nothing changed: nothing written

    with erp.hub.db.transaction() as session:
        transitions.cancel(session, second, actor="user:ann", reason="customer called")
    assert erp.run("erp.export") == "succeeded"

    files = exported(erp)
    assert len(files) == 2 and files[1].endswith("-000002.csv")
    [row] = rows_of(erp.export_dir / files[1])
    assert (int(row["order_id"]), row["status"]) == (second, "cancelled")
    with erp.hub.db.read() as session:
        assert [e.orders for e in search_erp_exports(session).rows] == [1, 2]


def test_the_layout_is_one_row_per_line_with_decimal_money(erp, make_order, run_jobs):
    [order_id] = confirmed_orders(
        erp,
        make_order,
        run_jobs,
        n=1,
        lines=[
            Line(
                sku="TSHIRT-M",
                name="T-shirt, size M",
                quantity=2,
                unit_price=1999,
                discount=500,
                tax=290,
            ),
            Line(sku="MUG", name='Mug "Hub"', quantity=1, unit_price=1250),
        ],
    )

    assert erp.run("erp.export") == "succeeded"

    [name] = exported(erp)
    first, second = rows_of(erp.export_dir / name)
    assert first["order_id"] == second["order_id"] == str(order_id)
    assert first["customer_email"] == second["customer_email"] == "ann@example.com"
    assert first["currency"] == "USD" and first["ship_city"] == "Springfield"
    assert (first["line_number"], first["sku"], first["line_name"]) == (
        "1",
        "TSHIRT-M",
        "T-shirt, size M",
    )
    assert (first["quantity"], first["unit_price"], first["line_subtotal"]) == (
        "2",
        "19.99",
        "39.98",
    )
    assert (first["line_discount"], first["line_tax"], first["line_total"]) == (
        "5.00",
        "2.90",
        "37.88",
    )
    assert (second["line_name"], second["line_total"]) == ('Mug "Hub"', "12.50")
    assert first["order_shipping"] == "5.00"
    assert first["order_total"] == second["order_total"]
    with erp.hub.db.read() as session:
        assert first["order_version"] == str(session.get(Order, order_id).version)
    assert first["taxes_included"] == "false"


def test_a_tax_inclusive_order_exports_line_totals_without_tax_on_top(erp, make_order, run_jobs):
    # 2 x 11.90 with 1.90 VAT inside (a German shop's prices): the line is worth 23.80, not 25.70.
    confirmed_orders(
        erp,
        make_order,
        run_jobs,
        n=1,
        taxes_included=True,
        shipping=0,
        tax=190,
        total=2380,
        lines=[Line(sku="MUG", name="Mug", quantity=2, unit_price=1190, tax=190)],
    )
    assert erp.run("erp.export") == "succeeded"
    [name] = exported(erp)
    [row] = rows_of(erp.export_dir / name)
    assert (row["taxes_included"], row["line_tax"], row["line_total"], row["order_total"]) == (
        "true",
        "1.90",
        "23.80",
        "23.80",
    )


def test_excel_settings_write_a_bom_and_semicolons(hub, tmp_path, make_order, run_jobs):
    erp = make_erp(hub, tmp_path, excel_bom=True, delimiter=";")
    confirmed_orders(erp, make_order, run_jobs, n=1)

    assert erp.run("erp.export") == "succeeded"

    [name] = exported(erp)
    raw = (erp.export_dir / name).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    assert raw[3:].startswith(b"order_id;order_number;")
    assert rows_of(erp.export_dir / name, ";", "utf-8-sig")[0]["unit_price"] == "19.99"


def test_a_large_backlog_is_split_into_numbered_files(hub, tmp_path, make_order, run_jobs):
    erp = make_erp(hub, tmp_path, max_orders_per_file=2)
    ids = confirmed_orders(erp, make_order, run_jobs, n=5)

    assert erp.run("erp.export") == "succeeded"

    files = exported(erp)
    assert [f[-10:] for f in files] == ["000001.csv", "000002.csv", "000003.csv"]
    assert [int(r["order_id"]) for f in files for r in rows_of(erp.export_dir / f)] == ids


def test_an_export_that_fails_midway_leaves_no_file_and_the_next_run_exports_all(
    erp, make_order, run_jobs, monkeypatch
):
    from plugins.erp_csv import export

    ids = confirmed_orders(erp, make_order, run_jobs, n=3)
    real_rows = export.order_rows

    def fail_on_third(order):
        if order.id == ids[2]:
            raise OSError(28, "No space left on device")
        return real_rows(order)

    monkeypatch.setattr(export, "order_rows", fail_on_third)
    assert erp.run("erp.export") == "failed"
    assert exported(erp) == []  # neither a final file nor a temporary one
    with erp.hub.db.read() as session:
        assert session.scalars(select(ErpExportedOrder)).all() == []

    monkeypatch.setattr(export, "order_rows", real_rows)
    assert erp.run("erp.export") == "succeeded"
    [name] = exported(erp)
    assert [int(r["order_id"]) for r in rows_of(erp.export_dir / name)] == ids


def test_an_export_killed_midway_never_shows_a_partial_file(erp, make_order, run_jobs):
    """kill -9 while rows are written: only a hidden temporary file is left, then cleaned up."""
    ids = confirmed_orders(erp, make_order, run_jobs, n=3)
    script = textwrap.dedent(f"""
        import os, signal
        from hub.channels.erp_exchange import ChannelErpExchange
        from hub.runtime.hub import Hub
        from plugins.erp_csv import export
        real_rows, seen = export.order_rows, []
        def rows(order):
            seen.append(order.id)
            if len(seen) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_rows(order)
        export.order_rows = rows
        hub = Hub.from_env()
        export.export_orders(
            ChannelErpExchange(hub, {erp.channel_id}), hub.connector_for_id({erp.channel_id})
        )
    """)
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(erp.hub.settings.data_dir),
        "HUB_DATABASE_URL": erp.hub.settings.database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=60)
    assert done.returncode == -9

    [leftover] = exported(erp)
    assert leftover.startswith(".orders-") and leftover.endswith(".csv.tmp")
    assert erp.run("erp.export") == "succeeded"
    [name] = exported(erp)
    assert name.endswith("-000001.csv")
    assert [int(r["order_id"]) for r in rows_of(erp.export_dir / name)] == ids


def test_a_crash_between_rename_and_commit_exports_the_same_set_again(
    erp, make_order, run_jobs, monkeypatch
):
    from plugins.erp_csv import export

    ids = confirmed_orders(erp, make_order, run_jobs, n=2)
    monkeypatch.setattr(
        export, "_fsync_dir", lambda folder: (_ for _ in ()).throw(OSError("I/O error"))
    )
    assert erp.run("erp.export") == "failed"
    [first] = exported(erp)  # complete under its final name, but its ledger rows rolled back

    monkeypatch.undo()
    assert erp.run("erp.export") == "succeeded"
    files = exported(erp)
    assert len(files) == 2
    assert [[int(r["order_id"]) for r in rows_of(erp.export_dir / f)] for f in files] == [ids, ids]


@pytest.mark.parametrize("statuses, expected", [(["shipped"], 0), (["confirmed"], 1)])
def test_only_the_configured_statuses_are_exported(
    hub, tmp_path, make_order, run_jobs, statuses, expected
):
    erp = make_erp(hub, tmp_path, export_statuses=statuses)
    confirmed_orders(erp, make_order, run_jobs, n=1)

    assert erp.run("erp.export") == "succeeded"
    assert len(exported(erp)) == expected
