"""Order export: the orders an ERP has not seen yet (or not in this version), as one CSV file.

Nothing is exported twice unless it changed, and no half-written file is ever
visible under its final name:

1. the channel's row is locked, so two runs for one channel never overlap;
2. the orders to export are those in ``export_statuses`` without a ledger row,
   plus those whose ``version`` differs from the one in the ledger (an order
   exported once is exported again on any change, whatever its status now, so
   the ERP also hears of a cancellation);
3. rows are streamed, a few hundred orders at a time, to a hidden temporary
   file in the export folder (``.orders-….csv.tmp``), which is flushed and
   fsynced;
4. the ledger rows are written, the temporary file is renamed to its final name
   (atomic on one file system) and the folder fsynced, then the transaction
   commits.

A crash before the rename leaves at most a hidden temporary file (removed by
the next run) and no ledger change: the next run exports the same orders. A
crash between the rename and the commit leaves a complete file whose ledger rows
were not committed: the next run exports that set once more (never less).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.core.money import Money
from hub.core.order import expected_total
from hub.integration.erp import ErpExchange, ExportDocument, ExportOrder, spreadsheet_cell

if TYPE_CHECKING:
    from plugins.erp_csv import ErpCsvConnector

log = logging.getLogger(__name__)

ORDER_COLUMNS = [
    "order_id",
    "order_number",
    "channel",
    "external_id",
    "status",
    "financial_status",
    "fulfillment_status",
    "placed_at",
    "updated_at",
    "order_version",
    "currency",
    "customer_email",
    "customer_name",
    "customer_phone",
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_province",
    "ship_zip",
    "ship_country_code",
    "ship_phone",
    "order_subtotal",
    "order_shipping",
    "order_tax",
    "order_discount",
    "order_total",
    "taxes_included",
]
LINE_COLUMNS = [
    "line_number",
    "line_id",
    "sku",
    "line_name",
    "quantity",
    "unit_price",
    "line_subtotal",
    "line_discount",
    "line_tax",
    "line_total",
]
COLUMNS = ORDER_COLUMNS + LINE_COLUMNS


DOCUMENT_COLUMNS = [
    "document_kind",
    "document_number",
    "issued_at",
    "order_number",
    "customer_email",
    "currency",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "discount",
    "tax_rate",
    "tax",
    "line_total",
    "document_total",
]


def export_orders(erp: ErpExchange, connector: ErpCsvConnector) -> list[str]:
    """Write every pending order of the channel to files; return the file names written."""
    folder = connector.folder("export_dir")
    if folder is None:
        return []
    written: list[str] = []
    while True:
        name = export_one_file(erp, folder, connector.config)
        if name is None:
            return written
        written.append(name)


def export_documents(erp: ErpExchange, connector: ErpCsvConnector) -> list[str]:
    """Write every invoice and credit note the channel has not received to files; their names."""
    folder = connector.folder("export_dir")
    if folder is None or not connector.config.get("export_invoices", True):
        return []
    written: list[str] = []
    while True:
        name = export_one_document_file(erp, folder, connector.config)
        if name is None:
            return written
        written.append(name)


def export_one_file(erp: ErpExchange, folder: Path, config: Mapping[str, Any]) -> str | None:
    """Export up to ``max_orders_per_file`` orders as one file; None when nothing is due."""
    prefix = config.get("file_prefix") or "orders"
    with erp.export_run(
        statuses=list(config.get("export_statuses") or []),
        limit=int(config.get("max_orders_per_file") or 5000),
    ) as run:
        # The run holds the channel's lock: a temporary file found now is a dead run's leftover.
        _remove_stale_temp_files(folder, prefix)
        if not run.order_ids:
            return None
        versions: dict[int, int] = {}

        def rows() -> Iterator[list[Any]]:
            for order in run.orders():
                versions[order.id] = order.version
                yield from order_rows(order)

        name, count = _publish(
            folder,
            prefix,
            run.next_sequence(),
            config,
            COLUMNS,
            rows,
            lambda **file: run.record(versions=versions, **file),
        )
        log.info(
            "erp_csv %s: exported %s orders (%s rows) to %s", erp.slug, len(versions), count, name
        )
        return name


def export_one_document_file(
    erp: ErpExchange, folder: Path, config: Mapping[str, Any]
) -> str | None:
    """Export up to ``max_orders_per_file`` invoices and credit notes as one file, each once."""
    prefix = config.get("invoices_file_prefix") or "invoices"
    with erp.document_export_run(limit=int(config.get("max_orders_per_file") or 5000)) as run:
        _remove_stale_temp_files(folder, prefix)  # under the channel's lock, as for orders
        if not run.document_ids:
            return None
        ids: list[int] = []

        def rows() -> Iterator[list[Any]]:
            for document in run.documents():
                ids.append(document.id)
                yield from document_rows(document)

        name, count = _publish(
            folder,
            prefix,
            run.next_sequence(),
            config,
            DOCUMENT_COLUMNS,
            rows,
            lambda **file: run.record(document_ids=ids, **file),
        )
        log.info(
            "erp_csv %s: exported %s documents (%s rows) to %s", erp.slug, len(ids), count, name
        )
        return name


def export_purchase_order(
    erp: ErpExchange, folder: Path, config: Mapping[str, Any], purchase_order_id: int
) -> str | None:
    """Write one sent purchase order as a file of its own; None when the channel has it already.

    Its rows are those of the CSV the supplier's email attaches (one per line);
    the file is published like an order file (hidden, fsynced, renamed) and the
    ledger row that makes it once per channel commits with it.
    """
    prefix = config.get("purchase_orders_file_prefix") or "purchase-orders"
    with erp.purchase_order_export_run(purchase_order_id) as run:
        _remove_stale_temp_files(folder, prefix)  # under the channel's lock, as for orders
        po = run.purchase_order
        if po is None:
            return None
        name, count = _publish(
            folder,
            prefix,
            run.next_sequence(),
            config,
            list(po.columns),
            lambda: (list(row) for row in po.rows),
            run.record,
        )
        log.info(
            "erp_csv %s: purchase order %s (%s lines) written to %s",
            erp.slug,
            po.number,
            count,
            name,
        )
        return name


def _publish(
    folder: Path,
    prefix: str,
    sequence: int,
    config: Mapping[str, Any],
    header: list[str],
    rows: Callable[[], Iterator[list[Any]]],
    record: Callable[..., None],
) -> tuple[str, int]:
    """Write ``rows`` to a hidden file, record it, rename it to its final name; (name, rows).

    Called inside the run's transaction: ``record`` writes the ledger rows, which
    commit with the run after the rename (see the module's docstring).
    """
    now = datetime.now(UTC)
    final = folder / f"{prefix}-{now:%Y%m%dT%H%M%SZ}-{sequence:06d}.csv"
    while final.exists():
        # A file whose ledger rows never committed (a crash after its rename): keep it whole.
        sequence += 1
        final = folder / f"{prefix}-{now:%Y%m%dT%H%M%SZ}-{sequence:06d}.csv"
    temp = folder / f".{final.name}.tmp"
    try:
        count = _write(temp, config, header, rows())
        record(
            sequence=sequence,
            file_name=final.name,
            rows=count,
            checksum=_sha256(temp),
            created_at=now,
        )
        os.replace(temp, final)
        _fsync_dir(folder)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final.name, count


def _write(
    temp: Path, config: Mapping[str, Any], header: list[str], rows: Iterator[list[Any]]
) -> int:
    encoding = config.get("encoding") or "utf-8"
    if config.get("excel_bom") and encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    count = 0
    # Characters the encoding lacks become "?": one exotic name must not block every export.
    # "x": the name is new (stale ones were removed), and a link planted under it is not followed.
    with open(temp, "x", encoding=encoding, errors="replace", newline="") as handle:
        writer = csv.writer(handle, delimiter=config.get("delimiter") or ",", lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            # A name or address such as "=HYPERLINK(…)" is text, never a formula.
            writer.writerow([spreadsheet_cell(cell) for cell in row])
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    return count


def document_rows(exported: ExportDocument) -> Iterator[list[Any]]:
    """The CSV rows of one invoice or credit note: one per line, then one for shipping.

    The document's own figures, as issued (decimal strings); the shipping row
    carries the shipping and the tax the lines do not, so that the rows' line
    totals add up to the document's total as its own lines do.
    """
    doc = exported.document
    cur = str(doc.get("currency") or "")
    head = [
        doc.get("kind", ""),
        doc.get("number", ""),
        doc.get("issued_at") or "",
        (doc.get("order") or {}).get("number", ""),
        (doc.get("buyer") or {}).get("email", ""),
        cur,
    ]
    total = doc.get("total", "")
    lines = list(doc.get("lines") or [])
    for line in lines:
        yield [
            *head,
            line.get("sku", ""),
            line.get("name", ""),
            line.get("quantity", ""),
            line.get("unit_price", ""),
            line.get("discount", ""),
            line.get("tax_rate") or "",
            line.get("tax", ""),
            line.get("total", ""),
            total,
        ]
    shipping = Money.parse(str(doc.get("shipping") or "0"), cur)
    if shipping or not lines:
        lines_tax = Money.sum(
            (Money.parse(str(line.get("tax") or "0"), cur) for line in lines), cur
        )
        shipping_tax = Money.parse(str(doc.get("tax") or "0"), cur) - lines_tax
        yield [
            *head,
            "",
            "Shipping" if shipping else "",
            1 if shipping else "",
            str(shipping) if shipping else "",
            "",
            "",
            str(shipping_tax) if shipping else "",
            str(shipping) if shipping else "",
            total,
        ]


def order_rows(order: ExportOrder) -> Iterator[list[Any]]:
    """The CSV rows of one order: one per line, the order's fields repeated on each."""
    cur = order.currency
    ship = order.shipping_address
    head = [
        order.id,
        order.number,
        order.channel,
        order.external_id,
        order.status,
        order.financial_status,
        order.fulfillment_status,
        _iso(order.placed_at),
        _iso(order.updated_at),
        order.version,
        cur,
        order.email,
        order.customer_name,
        order.customer_phone,
        ship.get("name", ""),
        ship.get("company", ""),
        ship.get("address1", ""),
        ship.get("address2", ""),
        ship.get("city", ""),
        ship.get("province_code") or ship.get("province", ""),
        ship.get("zip", ""),
        ship.get("country_code", ""),
        ship.get("phone", ""),
        _money(order.subtotal, cur),
        _money(order.shipping, cur),
        _money(order.tax, cur),
        _money(order.discount, cur),
        _money(order.total, cur),
        "true" if order.taxes_included else "false",
    ]
    if not order.lines:
        yield [*head, *([""] * len(LINE_COLUMNS))]
        return
    for number, line in enumerate(order.lines, start=1):
        subtotal = line.unit_price * line.quantity
        total = expected_total(
            subtotal, 0, line.tax, line.discount, taxes_included=order.taxes_included
        )
        yield [
            *head,
            number,
            line.id,
            line.sku,
            line.name,
            line.quantity,
            _money(line.unit_price, cur),
            _money(subtotal, cur),
            _money(line.discount, cur),
            _money(line.tax, cur),
            _money(total, cur),
        ]


def _money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temp_files(folder: Path, prefix: str) -> None:
    for stale in folder.glob(f".{prefix}-*.csv.tmp"):
        log.warning("erp_csv: removing %s, left by an export that did not finish", stale.name)
        stale.unlink(missing_ok=True)
