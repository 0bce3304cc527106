"""Invoices and credit notes to the ERP: a CSV of their own, one row per line, each document once."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select

from hub.channels.queries import search_erp_exports
from hub.invoicing.actions import issue_invoice
from hub.orders import transitions
from hub.store.models import ErpExportedInvoice, Invoice
from hub.testing import TEST_SECRET_KEY
from plugins.erp_csv.export import DOCUMENT_COLUMNS
from plugins.erp_csv.tests.conftest import make_erp

SELLER = dict(seller_legal_name="Fjord Outfitters GmbH", seller_address="Hafenstraße 12|Hamburg")


@pytest.fixture
def erp(make_hub, tmp_path):
    return make_erp(make_hub(**SELLER), tmp_path)


@pytest.fixture
def any_erp(fresh_hubs, tmp_path):
    """On SQLite and on PostgreSQL (the channel's row lock, the ledger's unique key)."""
    return make_erp(fresh_hubs(**SELLER), tmp_path)


def invoice_files(erp) -> list[str]:
    return sorted(p.name for p in erp.export_dir.iterdir() if p.name.startswith("invoices-"))


def rows_of(erp, name) -> list[dict[str, str]]:
    with open(erp.export_dir / name, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == DOCUMENT_COLUMNS
        return list(reader)


def all_rows(erp) -> list[dict[str, str]]:
    return [row for name in invoice_files(erp) for row in rows_of(erp, name)]


def issued(erp, make_order, n: int = 2) -> list[str]:
    numbers = []
    for _ in range(n):
        order_id = make_order(erp.hub)
        with erp.hub.db.transaction() as session:
            numbers.append(issue_invoice(session, order_id, erp.hub.settings, actor="test").number)
    return numbers


def test_each_invoice_and_credit_note_goes_to_the_erp_once_one_row_per_line(
    any_erp, make_order, run_jobs
):
    erp = any_erp
    first, second = issued(erp, make_order)

    assert erp.run("erp.export") == "succeeded"
    assert erp.run("erp.export") == "succeeded"  # the job again: nothing new to write

    [name] = invoice_files(erp)
    assert name.endswith(".csv")
    rows = rows_of(erp, name)
    # Each order: one line of 2 × 19.99, then 5.00 shipping; money as decimal strings.
    assert [(r["document_number"], r["sku"], r["name"]) for r in rows] == [
        (first, "TSHIRT-M", "T-shirt M"),
        (first, "", "Shipping"),
        (second, "TSHIRT-M", "T-shirt M"),
        (second, "", "Shipping"),
    ]
    line = rows[0]
    assert line["document_kind"] == "invoice"
    assert line["order_number"] == "#1001"
    assert line["customer_email"] == "ann@example.com"
    assert (line["currency"], line["quantity"], line["unit_price"]) == ("USD", "2", "19.99")
    assert (line["line_total"], line["document_total"]) == ("39.98", "44.98")
    assert rows[1]["line_total"] == "5.00"
    assert rows[2]["customer_email"] != "ann@example.com"  # the second order's customer

    # Cancelling the unpaid first order credits its invoice in full: a credit note, once.
    with erp.hub.db.read() as session:
        order_id = session.scalars(select(Invoice.order_id).where(Invoice.number == first)).one()
    with erp.hub.db.transaction() as session:
        transitions.cancel(session, order_id, actor="user:ann", reason="customer called")
    run_jobs(erp.hub)
    assert erp.run("erp.export") == "succeeded"
    assert erp.run("erp.export") == "succeeded"

    later = invoice_files(erp)[1:]
    assert len(later) == 1
    credit = rows_of(erp, later[0])
    assert {r["document_kind"] for r in credit} == {"credit_note"}
    [number] = {r["document_number"] for r in credit}
    assert number.startswith("CN-") and credit[0]["document_total"] == "44.98"
    # Every document in exactly one file.
    numbers = [r["document_number"] for r in all_rows(erp) if r["sku"] == "TSHIRT-M"]
    assert sorted(numbers) == sorted([first, second, number])
    with erp.hub.db.read() as session:
        files = [e.file_name for e in search_erp_exports(session).rows]
        assert set(invoice_files(erp)) <= set(files)


def test_invoices_can_be_left_out_of_the_export(make_hub, tmp_path, make_order):
    erp = make_erp(make_hub(**SELLER), tmp_path, export_invoices=False)
    issued(erp, make_order, n=1)

    assert erp.run("erp.export") == "succeeded"
    assert invoice_files(erp) == []


def test_a_kill_between_writing_the_file_and_marking_the_documents_never_doubles(erp, make_order):
    """kill -9 once the file is written, before the ledger marks its documents: only a hidden
    temporary file is left, and the next run writes each document once."""
    numbers = issued(erp, make_order)
    script = textwrap.dedent(f"""
        import os, signal
        from hub.channels import erp_exchange
        from hub.channels.erp_exchange import ChannelErpExchange
        from hub.runtime.hub import Hub
        from plugins.erp_csv import export
        def killed(self, **file):
            os.kill(os.getpid(), signal.SIGKILL)
        erp_exchange.ChannelDocumentExportRun.record = killed
        hub = Hub.from_env()
        export.export_documents(
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

    [leftover] = [p.name for p in erp.export_dir.iterdir() if "invoices" in p.name]
    assert leftover.startswith(".invoices-") and leftover.endswith(".csv.tmp")
    with erp.hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ErpExportedInvoice)) == 0

    assert erp.run("erp.export") == "succeeded"
    assert erp.run("erp.export") == "succeeded"
    assert not [p for p in erp.export_dir.iterdir() if p.name.endswith(".tmp")]
    [name] = invoice_files(erp)
    lines = [r["document_number"] for r in rows_of(erp, name) if r["sku"] == "TSHIRT-M"]
    assert lines == numbers
    with erp.hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ErpExportedInvoice)) == 2
