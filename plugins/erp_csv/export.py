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
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hub.core.order import expected_total
from hub.orders.serialize import iso, money
from hub.runtime.hub import Hub
from hub.store.models import Channel, ErpExport, ErpExportedOrder, Order, utcnow

log = logging.getLogger(__name__)

#: Orders loaded at once while writing (memory stays bounded whatever the backlog).
CHUNK = 200

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


def export_orders(hub: Hub, channel_id: int) -> list[str]:
    """Write every pending order of the channel to files; return the file names written."""
    connector = hub.connector_for_id(channel_id)
    folder = connector.folder("export_dir")
    if folder is None:
        return []
    written: list[str] = []
    while True:
        name = export_one_file(hub, channel_id, folder, connector.config)
        if name is None:
            return written
        written.append(name)


def _candidates(session: Session, channel_id: int, statuses: list[str], limit: int) -> list[int]:
    ledger = ErpExportedOrder
    query = (
        select(Order.id)
        .outerjoin(ledger, and_(ledger.order_id == Order.id, ledger.channel_id == channel_id))
        .where(
            or_(
                and_(ledger.id.is_(None), Order.status.in_(statuses)),
                and_(ledger.id.is_not(None), ledger.version != Order.version),
            )
        )
        .order_by(Order.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def export_one_file(hub: Hub, channel_id: int, folder: Path, config) -> str | None:
    """Export up to ``max_orders_per_file`` orders as one file; None when nothing is due."""
    with hub.db.transaction() as session:
        # One export at a time per channel: the sequence and the ledger stay consistent.
        channel = session.scalars(
            select(Channel).where(Channel.id == channel_id).with_for_update()
        ).one()
        prefix = config.get("file_prefix") or "orders"
        _remove_stale_temp_files(folder, prefix)
        order_ids = _candidates(
            session,
            channel_id,
            list(config.get("export_statuses") or []),
            int(config.get("max_orders_per_file") or 5000),
        )
        if not order_ids:
            return None
        sequence = (
            session.scalar(
                select(func.max(ErpExport.sequence)).where(ErpExport.channel_id == channel_id)
            )
            or 0
        ) + 1
        now = utcnow()
        final = folder / f"{prefix}-{now:%Y%m%dT%H%M%SZ}-{sequence:06d}.csv"
        while final.exists():
            # A file whose ledger rows never committed (a crash after its rename): keep it whole.
            sequence += 1
            final = folder / f"{prefix}-{now:%Y%m%dT%H%M%SZ}-{sequence:06d}.csv"
        temp = folder / f".{final.name}.tmp"
        try:
            versions, rows = _write(session, temp, order_ids, config)
            export = ErpExport(
                channel_id=channel_id,
                sequence=sequence,
                file_name=final.name,
                orders=len(versions),
                rows=rows,
                checksum=_sha256(temp),
                created_at=now,
            )
            session.add(export)
            session.flush()
            _record(session, channel_id, export.id, versions)
            os.replace(temp, final)
            _fsync_dir(folder)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        log.info(
            "erp_csv %s: exported %s orders (%s rows) to %s",
            channel.slug,
            len(versions),
            rows,
            final.name,
        )
        return final.name


def _write(
    session: Session, temp: Path, order_ids: list[int], config
) -> tuple[dict[int, int], int]:
    encoding = config.get("encoding") or "utf-8"
    if config.get("excel_bom") and encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    versions: dict[int, int] = {}
    rows = 0
    # Characters the encoding lacks become "?": one exotic name must not block every export.
    with open(temp, "w", encoding=encoding, errors="replace", newline="") as handle:
        writer = csv.writer(handle, delimiter=config.get("delimiter") or ",", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for order in _orders(session, order_ids):
            versions[order.id] = order.version
            for row in order_rows(order):
                writer.writerow(row)
                rows += 1
        handle.flush()
        os.fsync(handle.fileno())
    return versions, rows


def _orders(session: Session, order_ids: list[int]) -> Iterator[Order]:
    for start in range(0, len(order_ids), CHUNK):
        chunk = order_ids[start : start + CHUNK]
        orders = session.scalars(
            select(Order)
            .where(Order.id.in_(chunk))
            .options(selectinload(Order.lines))
            .order_by(Order.id)
        ).all()
        yield from orders
        for order in orders:
            session.expunge(order)


def order_rows(order: Order) -> Iterator[list[str]]:
    """The CSV rows of one order: one per line, the order's fields repeated on each."""
    cur = order.currency
    ship = order.shipping_address or {}
    head = [
        order.id,
        order.number,
        order.channel.slug if order.channel else "",
        order.external_id,
        order.status,
        order.financial_status,
        order.fulfillment_status,
        iso(order.placed_at) or "",
        iso(order.updated_at) or "",
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
        money(order.subtotal, cur),
        money(order.shipping, cur),
        money(order.tax, cur),
        money(order.discount, cur),
        money(order.total, cur),
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
            money(line.unit_price, cur),
            money(subtotal, cur),
            money(line.discount, cur),
            money(line.tax, cur),
            money(total, cur),
        ]


def _record(session: Session, channel_id: int, export_id: int, versions: dict[int, int]) -> None:
    now = utcnow()
    ids = list(versions)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        existing = {
            row.order_id: row
            for row in session.scalars(
                select(ErpExportedOrder).where(
                    ErpExportedOrder.channel_id == channel_id, ErpExportedOrder.order_id.in_(chunk)
                )
            )
        }
        for order_id in chunk:
            row = existing.get(order_id)
            if row is None:
                session.add(
                    ErpExportedOrder(
                        channel_id=channel_id,
                        order_id=order_id,
                        version=versions[order_id],
                        export_id=export_id,
                        exported_at=now,
                    )
                )
            else:
                row.version, row.export_id, row.exported_at = versions[order_id], export_id, now
        session.flush()


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
    # Runs under the channel lock: a temporary file found now is a dead run's leftover.
    for stale in folder.glob(f".{prefix}-*.csv.tmp"):
        log.warning("erp_csv: removing %s, left by an export that did not finish", stale.name)
        stale.unlink(missing_ok=True)
