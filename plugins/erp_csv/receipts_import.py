"""Receipts import: deliveries the ERP booked on the hub's purchase orders, from CSV files.

A file in ``import_dir`` whose name starts with ``receipts_file_prefix``
(default ``receipts``) is a receipts file, not a stock file. Its header names
the columns ``po_number``, ``sku`` and ``quantity``, and optionally
``location`` (a location code; empty or absent: where the purchase order is
received), in any order, case-insensitive. Each row is units of a SKU that
arrived on a purchase order; the rows of one purchase order and location become
one receipt, exactly as ``POST /api/v1/purchase-orders/<id>/receipts`` makes it
(:func:`hub.purchasing.receiving.receive`): partial receipts are fine, more
than is still open is refused.

All of a file or none of it: the hub checks every row first, and one bad row
(an unknown purchase order, SKU or location, a purchase order that takes no
receipt, more units than are open, a quantity that is no whole number above 0)
fails the whole file. It moves to ``failed/`` with ``<file>.error.txt`` naming
each bad row by line and reason, and nothing is booked; the ERP fixes the file
and drops it again. The receipts and the import's ledger row commit in one
transaction, and a file whose content (SHA-256) was booked before is a
duplicate: a file dropped twice books once.

Reading, claiming and moving the file is the stock import's
(:func:`plugins.erp_csv.stock_import.import_file`).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.integration.erp import ErpExchange, ImportOutcome, ReceiptRow
from plugins.erp_csv.stock_import import (
    _WHOLE_NUMBER,
    ARCHIVE,
    FileRejected,
    Scan,
    _fail,
    _no_links,
    _rows,
    _target,
    find_header,
)

log = logging.getLogger(__name__)

#: A receipts file is booked in one transaction: more rows than this are refused whole.
MAX_ROWS = 10_000
#: Bad rows named in the ledger's error line (all of them are in ``<file>.error.txt``).
ERROR_ROWS = 5
MAX_QUANTITY = 1_000_000
COLUMNS = {"po_number": "po_number", "sku": "sku", "quantity": "quantity"}
LOCATION = "location"


def is_receipts_file(path: Path, config: Mapping[str, Any]) -> bool:
    """Whether the file's name marks it as receipts (``receipts_file_prefix``)."""
    prefix = config.get("receipts_file_prefix") or "receipts"
    return path.name.lower().startswith(prefix.lower())


def import_receipts(
    erp: ErpExchange, import_id: int, path: Path, scan: Scan, config: Mapping[str, Any]
) -> ImportOutcome:
    """Book the file's rows as purchase order receipts, all or none; archive or fail the file."""
    rows: list[ReceiptRow] = []
    lines: list[int] = []
    bad: list[tuple[int, str]] = []
    total = 0
    with open(path, encoding=scan.encoding, newline="", opener=_no_links) as stream:
        delimiter, header, columns = find_header(
            stream, COLUMNS, config.get("delimiter") or ",", "receipts file"
        )
        named = {cell.strip().lower(): i for i, cell in reversed(list(enumerate(header)))}
        location = named.get(LOCATION)
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            for line, cells in _rows(reader):
                total += 1
                if total > MAX_ROWS:
                    raise FileRejected(
                        f"more than {MAX_ROWS} rows: a receipts file is booked whole, split it"
                    )
                row, reason = _parse(cells, columns, location)
                if row is None:
                    bad.append((line, reason))
                else:
                    rows.append(row)
                    lines.append(line)
        except csv.Error as exc:
            raise FileRejected(
                f"unreadable CSV near line {reader.line_num + 1}: {exc}; nothing booked"
            ) from exc
    if not total:
        raise FileRejected("no rows below the header: nothing to book")
    applied = erp.apply_receipts(import_id, rows, source=path.name, check_only=bool(bad))
    bad.extend((lines[position], reason) for position, reason in applied.refused)
    if bad:
        bad.sort()
        listed = "; ".join(f"line {line}: {reason}" for line, reason in bad[:ERROR_ROWS])
        more = f" and {len(bad) - ERROR_ROWS} more" if len(bad) > ERROR_ROWS else ""
        return _fail(
            erp,
            import_id,
            path,
            f"{len(bad)} of {total} rows refused, nothing booked: {listed}{more}",
            detail="\n".join(f"line {line}: {reason}" for line, reason in bad),
            rows_total=total,
            rejects=[{"line": line, "reason": reason} for line, reason in bad],
        )
    outcome = ImportOutcome(
        path.name, "succeeded", rows_total=total, rows_ok=total, rows_changed=applied.receipts
    )
    archived = _target(path, path.parent / ARCHIVE)
    # The receipts and the ledger committed together; a crash before the move leaves the file,
    # which the next run finds booked (a duplicate) and archives.
    erp.finish_import(import_id, outcome, archived_as=archived)
    os.replace(path, archived)
    log.info(
        "erp_csv %s: %s booked: %s receipts, %s units",
        erp.slug,
        path.name,
        applied.receipts,
        applied.units,
    )
    return outcome


def _parse(
    cells: list[str], columns: dict[str, int], location: int | None
) -> tuple[ReceiptRow | None, str]:
    values: dict[str, str] = {}
    for key, index in columns.items():
        if index >= len(cells):
            return None, f"missing value for {key} (the row has {len(cells)} fields)"
        values[key] = cells[index].strip()
    code = cells[location].strip() if location is not None and location < len(cells) else ""
    for key in ("po_number", "sku", "quantity"):
        if not values[key]:
            return None, f"empty {key}"
    quantity = values["quantity"]
    if not _WHOLE_NUMBER.fullmatch(quantity) or int(quantity) < 1:
        return None, f"quantity {quantity!r} is not a whole number of 1 or more"
    if int(quantity) > MAX_QUANTITY:
        return None, f"quantity {quantity} is too large"
    return ReceiptRow(values["po_number"], values["sku"], int(quantity), code), ""
