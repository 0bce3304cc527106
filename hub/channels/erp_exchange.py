"""The hub's side of an ERP exchange: the orders to export, the ledgers, stock set in bulk.

:class:`ChannelErpExchange` implements :class:`hub.integration.erp.ErpExchange`
for one channel; an ERP connector (``plugins/erp_csv``) gets it from
``ctx.erp()`` and keeps the files to itself. :mod:`hub.channels.erp_ledgers`
reads the same ledgers for the API and the UI.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from hub.core.exceptions import HubError, NotFound
from hub.core.purchasing import CANCELLED, DRAFT, OPEN_STATUSES
from hub.integration.erp import (
    EarlierImport,
    ExportDocument,
    ExportLine,
    ExportOrder,
    ExportPurchaseOrder,
    ImportClaim,
    ImportOutcome,
    ReceiptRow,
    ReceiptsApplied,
    StockApplied,
    StockCount,
)
from hub.inventory.bulk import set_on_hand_many
from hub.inventory.levels import LevelChange
from hub.purchasing.document import CSV_COLUMNS, build_document, line_rows
from hub.purchasing.receiving import receive
from hub.runtime.hub import Hub
from hub.store.config import Settings
from hub.store.models import (
    Channel,
    ErpExport,
    ErpExportedInvoice,
    ErpExportedOrder,
    ErpExportedPurchaseOrder,
    ErpImport,
    Invoice,
    Location,
    Order,
    PurchaseOrder,
    utcnow,
)

#: Orders loaded at once while exporting (memory stays bounded whatever the backlog).
CHUNK = 200
#: Ledger rows read or written at once.
LEDGER_CHUNK = 500
#: A ``processing`` import whose run made no progress for this long was cut short: the next run resumes it.
IMPORT_LEASE_SECONDS = 300


class ChannelErpExchange:
    """The ERP exchange of one channel: implements :class:`hub.integration.erp.ErpExchange`."""

    def __init__(self, hub: Hub, channel_id: int):
        self.hub = hub
        self.channel_id = channel_id
        with hub.db.read() as session:
            slug = session.scalar(select(Channel.slug).where(Channel.id == channel_id))
        if slug is None:
            raise NotFound(f"channel {channel_id} does not exist")
        self.slug: str = slug
        self.actor = f"channel:{self.slug}"

    # --- order export ---------------------------------------------------------------------

    @contextmanager
    def export_run(self, *, statuses: Sequence[str], limit: int) -> Iterator[ChannelExportRun]:
        with self._export_transaction() as session:
            yield ChannelExportRun(
                session, self.channel_id, _due(session, self.channel_id, statuses, limit)
            )

    @contextmanager
    def document_export_run(self, *, limit: int) -> Iterator[ChannelDocumentExportRun]:
        with self._export_transaction() as session:
            yield ChannelDocumentExportRun(
                session, self.channel_id, _documents_due(session, self.channel_id, limit)
            )

    @contextmanager
    def purchase_order_export_run(
        self, purchase_order_id: int
    ) -> Iterator[ChannelPurchaseOrderExportRun]:
        with self._export_transaction() as session:
            yield ChannelPurchaseOrderExportRun(
                session,
                self.channel_id,
                _purchase_order_due(session, self.hub.settings, self.channel_id, purchase_order_id),
            )

    @contextmanager
    def _export_transaction(self) -> Iterator[Session]:
        with self.hub.db.transaction() as session:
            # One export at a time per channel (orders or documents): the sequence and the
            # ledgers stay consistent.
            session.scalars(
                select(Channel).where(Channel.id == self.channel_id).with_for_update()
            ).one()
            yield session

    # --- stock import ---------------------------------------------------------------------

    def claim_import(self, file_name: str, checksum: str, size: int) -> ImportClaim | None:
        with self.hub.db.transaction() as session:
            # One run decides per channel at a time: two never take the same file.
            session.scalars(
                select(Channel.slug).where(Channel.id == self.channel_id).with_for_update()
            ).one()
            rows = session.scalars(
                select(ErpImport)
                .where(ErpImport.channel_id == self.channel_id, ErpImport.checksum == checksum)
                .order_by(ErpImport.id)
            ).all()
            done = next((r for r in rows if r.status in ("succeeded", "partial")), None)
            resumed = next((r for r in rows if r.status == "processing"), None)
            now = utcnow()
            if resumed is not None and done is None:
                if (now - resumed.updated_at).total_seconds() < IMPORT_LEASE_SECONDS:
                    return None
                resumed.started_at = resumed.updated_at = now
                return ImportClaim(resumed.id, resumed=True)
            row = ErpImport(
                channel_id=self.channel_id,
                file_name=file_name,
                checksum=checksum,
                size=size,
                status="duplicate" if done else "processing",
                started_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            earlier = (
                EarlierImport(done.file_name, done.finished_at or done.updated_at) if done else None
            )
            return ImportClaim(row.id, earlier)

    def apply_receipts(
        self, import_id: int, rows: Sequence[ReceiptRow], *, source: str, check_only: bool = False
    ) -> ReceiptsApplied:
        try:
            with self.hub.db.transaction() as session:
                return _book_receipts(
                    session, import_id, rows, actor=self.actor, source=source, check_only=check_only
                )
        except _ReceiptsRefused as refused:  # raised inside: the transaction rolled back
            return ReceiptsApplied(refused=refused.rows)

    def release_import(self, import_id: int) -> None:
        with self.hub.db.transaction() as session:
            row = _import_row(session, import_id)
            row.updated_at = utcnow() - timedelta(seconds=IMPORT_LEASE_SECONDS + 1)

    def location_codes(self) -> set[str]:
        with self.hub.db.read() as session:
            return set(session.scalars(select(Location.code)))

    def apply_stock(
        self,
        import_id: int,
        counts: Sequence[StockCount],
        *,
        source: str,
        before: ImportOutcome,
    ) -> StockApplied:
        changes = [LevelChange(c.sku, c.location_code, c.on_hand) for c in counts]
        with self.hub.db.transaction() as session:
            result = set_on_hand_many(
                session, changes, actor=self.actor, reason="ERP stock import", source=source
            )
            applied = StockApplied(changed=result.changed)
            if result.refused:
                # Refused changes are named by value; the connector knows its counts by position.
                position = {change: i for i, change in enumerate(changes)}
                applied.refused = [(position[change], reason) for change, reason in result.refused]
            row = _import_row(session, import_id)
            row.rows_total = before.rows_total
            row.rows_ok = before.rows_ok + len(changes) - len(applied.refused)
            row.rows_changed = before.rows_changed + applied.changed
            row.rows_rejected = before.rows_rejected + len(applied.refused)
            row.updated_at = utcnow()  # the run's lease on the file: it is making progress
            return applied

    def finish_import(
        self,
        import_id: int,
        outcome: ImportOutcome,
        *,
        archived_as: Path | None = None,
        rejects_file: Path | None = None,
    ) -> None:
        with self.hub.db.transaction() as session:
            row = _import_row(session, import_id)
            row.status = outcome.status
            row.rows_total, row.rows_ok = outcome.rows_total, outcome.rows_ok
            row.rows_rejected, row.rows_changed = outcome.rows_rejected, outcome.rows_changed
            row.error = outcome.error
            row.rejects = outcome.rejects
            row.archived_as = str(archived_as) if archived_as else None
            row.rejects_file = str(rejects_file) if rejects_file else None
            row.finished_at = row.updated_at = utcnow()


class ChannelExportRun:
    """One export in the making: implements :class:`hub.integration.erp.ExportRun`."""

    def __init__(self, session: Session, channel_id: int, order_ids: list[int]):
        self._session = session
        self._channel_id = channel_id
        self.order_ids = order_ids

    def next_sequence(self) -> int:
        return _next_sequence(self._session, self._channel_id)

    def orders(self) -> Iterator[ExportOrder]:
        session = self._session
        for start in range(0, len(self.order_ids), CHUNK):
            chunk = self.order_ids[start : start + CHUNK]
            orders = session.scalars(
                select(Order)
                .where(Order.id.in_(chunk))
                .options(selectinload(Order.lines))
                .order_by(Order.id)
            ).all()
            exported = [_export_order(order) for order in orders]
            for order in orders:
                session.expunge(order)
            yield from exported

    def record(
        self,
        *,
        sequence: int,
        file_name: str,
        versions: Mapping[int, int],
        rows: int,
        checksum: str,
        created_at: datetime,
    ) -> None:
        session = self._session
        export = _export_row(
            session,
            self._channel_id,
            sequence=sequence,
            file_name=file_name,
            orders=len(versions),
            rows=rows,
            checksum=checksum,
            created_at=created_at,
        )
        now = utcnow()
        ids = list(versions)
        for start in range(0, len(ids), LEDGER_CHUNK):
            chunk = ids[start : start + LEDGER_CHUNK]
            existing = {
                row.order_id: row
                for row in session.scalars(
                    select(ErpExportedOrder).where(
                        ErpExportedOrder.channel_id == self._channel_id,
                        ErpExportedOrder.order_id.in_(chunk),
                    )
                )
            }
            for order_id in chunk:
                row = existing.get(order_id)
                if row is None:
                    session.add(
                        ErpExportedOrder(
                            channel_id=self._channel_id,
                            order_id=order_id,
                            version=versions[order_id],
                            export_id=export.id,
                            exported_at=now,
                        )
                    )
                else:
                    row.version, row.export_id, row.exported_at = versions[order_id], export.id, now
            session.flush()


class ChannelDocumentExportRun:
    """One file of invoices and credit notes: implements :class:`hub.integration.erp.DocumentExportRun`."""

    def __init__(self, session: Session, channel_id: int, document_ids: list[int]):
        self._session = session
        self._channel_id = channel_id
        self.document_ids = document_ids

    def next_sequence(self) -> int:
        return _next_sequence(self._session, self._channel_id)

    def documents(self) -> Iterator[ExportDocument]:
        session = self._session
        for start in range(0, len(self.document_ids), CHUNK):
            chunk = self.document_ids[start : start + CHUNK]
            rows = session.execute(
                select(Invoice.id, Invoice.order_id, Invoice.document)
                .where(Invoice.id.in_(chunk))
                .order_by(Invoice.id)
            ).all()
            for row in rows:
                yield ExportDocument(id=row.id, order_id=row.order_id, document=row.document)

    def record(
        self,
        *,
        sequence: int,
        file_name: str,
        document_ids: Sequence[int],
        rows: int,
        checksum: str,
        created_at: datetime,
    ) -> None:
        session = self._session
        ids = list(document_ids)
        orders = 0
        for start in range(0, len(ids), LEDGER_CHUNK):
            orders += int(
                session.scalar(
                    select(func.count(func.distinct(Invoice.order_id))).where(
                        Invoice.id.in_(ids[start : start + LEDGER_CHUNK])
                    )
                )
                or 0
            )
        export = _export_row(
            session,
            self._channel_id,
            sequence=sequence,
            file_name=file_name,
            orders=orders,
            rows=rows,
            checksum=checksum,
            created_at=created_at,
        )
        now = utcnow()
        for start in range(0, len(ids), LEDGER_CHUNK):
            session.add_all(
                ErpExportedInvoice(
                    channel_id=self._channel_id,
                    invoice_id=invoice_id,
                    export_id=export.id,
                    exported_at=now,
                )
                for invoice_id in ids[start : start + LEDGER_CHUNK]
            )
            session.flush()


class ChannelPurchaseOrderExportRun:
    """One purchase order's file: implements :class:`hub.integration.erp.PurchaseOrderExportRun`."""

    def __init__(
        self, session: Session, channel_id: int, purchase_order: ExportPurchaseOrder | None
    ):
        self._session = session
        self._channel_id = channel_id
        self.purchase_order = purchase_order

    def next_sequence(self) -> int:
        return _next_sequence(self._session, self._channel_id)

    def record(
        self, *, sequence: int, file_name: str, rows: int, checksum: str, created_at: datetime
    ) -> None:
        if self.purchase_order is None:
            raise NotFound("no purchase order to record: the channel has it already")
        export = _export_row(
            self._session,
            self._channel_id,
            sequence=sequence,
            file_name=file_name,
            orders=0,
            rows=rows,
            checksum=checksum,
            created_at=created_at,
        )
        self._session.add(
            ErpExportedPurchaseOrder(
                channel_id=self._channel_id,
                purchase_order_id=self.purchase_order.id,
                export_id=export.id,
                exported_at=utcnow(),
            )
        )
        self._session.flush()


def _purchase_order_due(
    session: Session, settings: Settings, channel_id: int, purchase_order_id: int
) -> ExportPurchaseOrder | None:
    """The PO as its file shows it, unless the channel has it already or it never went out."""
    po = session.get(PurchaseOrder, purchase_order_id)
    if po is None or po.status in (DRAFT, CANCELLED):
        return None
    done = session.scalar(
        select(ErpExportedPurchaseOrder.id).where(
            ErpExportedPurchaseOrder.channel_id == channel_id,
            ErpExportedPurchaseOrder.purchase_order_id == po.id,
        )
    )
    if done is not None:
        return None
    document = build_document(session, settings, po)
    return ExportPurchaseOrder(
        id=po.id,
        number=po.number,
        columns=CSV_COLUMNS,
        rows=tuple(line_rows(document)),
    )


class _ReceiptsRefused(Exception):
    """Rows of a receipts file the hub will not book: the whole file is refused."""

    def __init__(self, rows: list[tuple[int, str]]):
        super().__init__(f"{len(rows)} row(s) refused")
        self.rows = rows


def _book_receipts(
    session: Session,
    import_id: int,
    rows: Sequence[ReceiptRow],
    *,
    actor: str,
    source: str,
    check_only: bool,
) -> ReceiptsApplied:
    """Check every row, then book one receipt per (PO, location); :class:`_ReceiptsRefused` if any is bad."""
    ledger = session.scalar(select(ErpImport).where(ErpImport.id == import_id).with_for_update())
    if ledger is None:
        raise NotFound(f"import {import_id} does not exist")
    if ledger.status != "processing":
        return ReceiptsApplied()  # booked already (a run that finished this very row)
    numbers = sorted({row.po_number for row in rows})
    # Locked in id order, as receive() locks each: the open quantities checked stay true.
    pos = {
        po.number: po
        for po in session.scalars(
            select(PurchaseOrder)
            .where(PurchaseOrder.number.in_(numbers))
            .order_by(PurchaseOrder.id)
            .with_for_update(of=PurchaseOrder)
        )
    }
    locations = {loc.code: loc for loc in session.scalars(select(Location))}
    refused: dict[int, str] = {}
    for position, row in enumerate(rows):
        po = pos.get(row.po_number)
        if po is None:
            refused[position] = f"no purchase order {row.po_number}"
        elif po.status not in OPEN_STATUSES:
            refused[position] = f"purchase order {po.number} is {po.status}: it takes no receipt"
        elif row.sku not in {line.sku for line in po.lines}:
            refused[position] = f"{row.sku} is not on purchase order {po.number}"
        elif row.location_code and row.location_code not in locations:
            refused[position] = f"unknown location {row.location_code!r}"
        elif row.location_code and not locations[row.location_code].active:
            refused[position] = f"location {row.location_code} is not active"
    # More than is open, summed over the file's rows of one PO and SKU: each such row is named.
    arriving: dict[tuple[str, str], list[int]] = {}
    for position, row in enumerate(rows):
        if position not in refused:
            arriving.setdefault((row.po_number, row.sku), []).append(position)
    for (number, sku), positions in arriving.items():
        line = next(line for line in pos[number].lines if line.sku == sku)
        units = sum(rows[p].quantity for p in positions)
        if units > line.open_quantity:
            for p in positions:
                refused[p] = (
                    f"{units} of {sku} received on {number} in this file, but only "
                    f"{line.open_quantity} of {line.quantity} still open"
                )
    if refused or check_only:
        raise _ReceiptsRefused(sorted(refused.items()))
    # One receipt per PO and location (a row without a location: the PO's own).
    groups: dict[tuple[str, int], list[int]] = {}
    for position, row in enumerate(rows):
        po = pos[row.po_number]
        where = locations[row.location_code].id if row.location_code else po.location_id
        groups.setdefault((row.po_number, where), []).append(position)
    for (number, location_id), positions in groups.items():
        lines = [(rows[p].sku, rows[p].quantity) for p in positions]
        try:
            receive(session, pos[number].id, lines, location_id, actor=actor, source=source)
        except HubError as exc:  # a rule of receive() the checks above do not know of
            raise _ReceiptsRefused([(p, exc.message) for p in positions]) from exc
    units = sum(row.quantity for row in rows)
    ledger.status = "succeeded"
    ledger.rows_total = ledger.rows_ok = len(rows)
    ledger.rows_changed = len(groups)
    ledger.rows_rejected = 0
    ledger.finished_at = ledger.updated_at = utcnow()
    return ReceiptsApplied(receipts=len(groups), units=units)


def _next_sequence(session: Session, channel_id: int) -> int:
    """The channel's next file number (order and document files count together)."""
    last = session.scalar(
        select(func.max(ErpExport.sequence)).where(ErpExport.channel_id == channel_id)
    )
    return (last or 0) + 1


def _export_row(session: Session, channel_id: int, **facts: Any) -> ErpExport:
    """The ledger row of one file written (``orders``: how many orders it covers)."""
    export = ErpExport(channel_id=channel_id, **facts)
    session.add(export)
    session.flush()
    return export


def _documents_due(session: Session, channel_id: int, limit: int) -> list[int]:
    """Invoices and credit notes the channel never received, oldest first."""
    ledger = ErpExportedInvoice
    query = (
        select(Invoice.id)
        .outerjoin(ledger, and_(ledger.invoice_id == Invoice.id, ledger.channel_id == channel_id))
        .where(ledger.id.is_(None))
        .order_by(Invoice.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def _import_row(session: Session, import_id: int) -> ErpImport:
    row = session.get(ErpImport, import_id)
    if row is None:
        raise NotFound(f"stock import {import_id} does not exist")
    return row


def _due(session: Session, channel_id: int, statuses: Sequence[str], limit: int) -> list[int]:
    """Orders never exported in ``statuses``, and exported ones changed since, oldest first."""
    ledger = ErpExportedOrder
    query = (
        select(Order.id)
        .outerjoin(ledger, and_(ledger.order_id == Order.id, ledger.channel_id == channel_id))
        .where(
            or_(
                and_(ledger.id.is_(None), Order.status.in_(list(statuses))),
                and_(ledger.id.is_not(None), ledger.version != Order.version),
            )
        )
        .order_by(Order.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def _export_order(order: Order) -> ExportOrder:
    return ExportOrder(
        id=order.id,
        number=order.number,
        channel=order.channel.slug if order.channel else "",
        external_id=order.external_id,
        status=order.status,
        financial_status=order.financial_status,
        fulfillment_status=order.fulfillment_status,
        placed_at=order.placed_at,
        updated_at=order.updated_at,
        version=order.version,
        currency=order.currency,
        email=order.email,
        customer_name=order.customer_name,
        customer_phone=order.customer_phone,
        shipping_address=dict(order.shipping_address or {}),
        subtotal=order.subtotal,
        shipping=order.shipping,
        tax=order.tax,
        discount=order.discount,
        total=order.total,
        taxes_included=order.taxes_included,
        lines=tuple(
            ExportLine(
                id=line.id,
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                tax=line.tax,
            )
            for line in order.lines
        ),
    )
