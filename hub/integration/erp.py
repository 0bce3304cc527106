"""The ERP exchange as a connector sees it: the :class:`ErpExchange` its jobs are handed.

An ERP connector moves files (or calls an ERP); the hub chooses the orders to
export, keeps the export and import ledgers and sets stock levels. A job handler
gets the exchange of its channel from ``ctx.erp()``; the hub's implementation is
:class:`hub.channels.erp_exchange.ChannelErpExchange`. Everything crossing it is
plain data: no ORM objects, no sessions.

Two rules every file-based ERP connector follows live here too:
:func:`folder_in_root` (a channel's folders lie under the hub's ERP root) and
:func:`spreadsheet_cell` (no cell of a file the hub writes runs as a formula).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from hub.core.exceptions import ConfigError

# --- folders ---------------------------------------------------------------------------------


def folder_in_root(root: Path | None, value: str) -> Path:
    """The folder ``value`` names, resolved, if it lies inside the ERP ``root``.

    A relative ``value`` is taken relative to ``root`` (``"acme/in"``). The
    path is resolved (``..`` and symbolic links followed) before it is
    compared, so neither leads out of the root. Check it when the channel is
    saved and again each time a job uses the folder: links may change since.

    :raises ConfigError: the folder lies outside the root (or there is no root).
    """
    if root is None:
        raise ConfigError("the folder lies outside the ERP root: this hub has no ERP root")
    if "\x00" in value:
        raise ConfigError("the folder lies outside the ERP root: its name holds a NUL character")
    root = root.resolve()
    resolved = (root / value).resolve()  # an absolute value replaces the root
    if not resolved.is_relative_to(root):
        raise ConfigError(
            "the folder lies outside the ERP root (HUB_ERP_ROOT): give a folder inside it, "
            "or one relative to it such as acme/in"
        )
    return resolved


# --- cells of the files the hub writes ---------------------------------------------------------

#: What a spreadsheet reads as the start of a formula (OWASP "CSV injection"), and the quote
#: that escapes it: a text cell starting with one of these is written with a ``'`` before it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows and never runs (the one rule, everywhere).

    A text cell starting with ``= + - @``, a tab or a carriage return gets a
    single quote ``'`` before it: ``=cmd|' /C calc'!A0`` is written
    ``'=cmd|' /C calc'!A0``. So that the rule can be undone without guessing,
    a text cell already starting with ``'`` gets one more. Numbers are left as
    they are, and so is text that is a plain number (``-12.50``, ``+3``): a
    spreadsheet reads it as that number, never as a formula.
    :func:`spreadsheet_value` undoes it.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_value(cell: str) -> str:
    """Undo :func:`spreadsheet_cell`: a cell starting with ``'`` loses that one quote."""
    return cell[1:] if cell.startswith("'") else cell


# --- order export ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportLine:
    """One line of an order to export; amounts in minor units."""

    id: int
    sku: str
    name: str
    quantity: int
    unit_price: int
    discount: int
    tax: int


@dataclass(frozen=True)
class ExportOrder:
    """An order to export, as the hub stores it; amounts in minor units of ``currency``."""

    id: int
    number: str
    #: The slug of the channel the order came from ("" if it has none).
    channel: str
    external_id: str
    status: str
    financial_status: str
    fulfillment_status: str
    placed_at: datetime | None
    updated_at: datetime | None
    version: int
    currency: str
    email: str
    customer_name: str
    customer_phone: str
    shipping_address: Mapping[str, Any]
    subtotal: int
    shipping: int
    tax: int
    discount: int
    total: int
    taxes_included: bool
    lines: tuple[ExportLine, ...] = ()


class ExportRun(Protocol):
    """One export file in the making, inside the transaction that records it."""

    #: The orders due, oldest id first: never exported, or changed since (at most ``limit``).
    order_ids: list[int]

    def next_sequence(self) -> int:
        """The channel's next export sequence number (1 for its first file)."""
        ...

    def orders(self) -> Iterator[ExportOrder]:
        """The orders of :attr:`order_ids`, in that order, read a few hundred at a time."""
        ...

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
        """Write the file's ledger row and mark each order exported in its version.

        :param versions: order id -> the version written to the file.
        """
        ...


# --- invoice and credit note export -------------------------------------------------------


@dataclass(frozen=True)
class ExportDocument:
    """An issued invoice or credit note to export: its frozen ``document`` as issued.

    ``document`` has the shape docs/invoices.md gives ("The document"): ``kind``,
    ``number``, ``issued_at``, ``order``, ``buyer``, ``currency``, ``lines``
    and the totals, money as decimal strings. It never changes once issued.
    """

    id: int
    order_id: int
    document: Mapping[str, Any]


class DocumentExportRun(Protocol):
    """One file of invoices and credit notes in the making, inside the transaction that records it."""

    #: The documents due, oldest first: never exported to this channel (at most ``limit``).
    document_ids: list[int]

    def next_sequence(self) -> int:
        """The channel's next export sequence number (shared with its order files)."""
        ...

    def documents(self) -> Iterator[ExportDocument]:
        """The documents of :attr:`document_ids`, in that order, read a few hundred at a time."""
        ...

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
        """Write the file's ledger row and mark each document exported, once for good."""
        ...


# --- purchase order export -------------------------------------------------------------


@dataclass(frozen=True)
class ExportPurchaseOrder:
    """A sent purchase order to write for the ERP: its number and its lines as CSV rows.

    ``columns`` and ``rows`` are the layout the supplier's email attaches
    (docs/replenishment.md, "The CSV"): one row per line, money as decimal
    strings, so the ERP reads the same file whichever way the PO went out.
    """

    id: int
    number: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


class PurchaseOrderExportRun(Protocol):
    """One purchase order's file in the making, inside the transaction that records it."""

    #: The PO to write; None when this channel has it already (or it was never sent).
    purchase_order: ExportPurchaseOrder | None

    def next_sequence(self) -> int:
        """The channel's next export sequence number (shared with its order files)."""
        ...

    def record(
        self, *, sequence: int, file_name: str, rows: int, checksum: str, created_at: datetime
    ) -> None:
        """Write the file's ledger row and mark the PO exported to this channel, once for good."""
        ...


# --- stock import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StockCount:
    """An on-hand quantity the ERP counted for a SKU at a location."""

    sku: str
    location_code: str
    on_hand: int


@dataclass(frozen=True)
class EarlierImport:
    """A file with the same content, imported before."""

    file_name: str
    finished_at: datetime


@dataclass(frozen=True)
class ImportClaim:
    """The right to import a file: its ledger row, and the earlier twin that makes it a duplicate."""

    import_id: int
    earlier: EarlierImport | None = None
    #: The row is one a run cut short left, taken over.
    resumed: bool = False


@dataclass
class ImportOutcome:
    """What one file's import did (also stored on its ledger row)."""

    file_name: str
    status: str
    rows_total: int = 0
    rows_ok: int = 0
    rows_rejected: int = 0
    rows_changed: int = 0
    error: str | None = None
    #: A sample of the rejected rows, ``{"line": …, "reason": …}``, shown in the UI.
    rejects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StockApplied:
    """What a batch of counts did: how many levels changed, and which counts the hub refused."""

    changed: int = 0
    #: (position in the batch, reason) of each refused count; the others were applied.
    refused: list[tuple[int, str]] = field(default_factory=list)


# --- purchase order receipts ---------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptRow:
    """Units of a SKU the ERP booked in on a purchase order (by its number) at a location.

    ``location_code`` empty: the location the purchase order is received at.
    """

    po_number: str
    sku: str
    quantity: int
    location_code: str = ""


@dataclass
class ReceiptsApplied:
    """What a receipts file did: all its receipts booked, or none of them.

    ``refused`` names each row the hub would not book, by position in the rows
    handed over, with the reason; when it is not empty nothing was booked.
    """

    #: Receipts booked (one per purchase order and location).
    receipts: int = 0
    #: Units booked in all.
    units: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


# --- the exchange ---------------------------------------------------------------------------


class ErpExchange(Protocol):
    """The hub, as an ERP connector of one channel reads and changes it."""

    channel_id: int
    slug: str
    #: Who the hub records as having made the change (``channel:<slug>``).
    actor: str

    def export_run(
        self, *, statuses: Sequence[str], limit: int
    ) -> AbstractContextManager[ExportRun]:
        """Open one export: the channel locked, the orders due chosen, in one transaction.

        Orders in ``statuses`` never exported, and orders exported once whose
        version changed since (whatever their status), at most ``limit``. What
        :meth:`ExportRun.record` writes commits when the block ends, and rolls
        back if it raises; two runs of one channel never overlap.
        """
        ...

    def document_export_run(self, *, limit: int) -> AbstractContextManager[DocumentExportRun]:
        """Open one export of invoices and credit notes, as :meth:`export_run` does for orders.

        The channel is locked (one export of either kind at a time), the documents
        never exported to it are chosen (at most ``limit``), and what
        :meth:`DocumentExportRun.record` writes commits when the block ends.
        """
        ...

    def purchase_order_export_run(
        self, purchase_order_id: int
    ) -> AbstractContextManager[PurchaseOrderExportRun]:
        """Open the export of one sent purchase order, as :meth:`export_run` does for orders.

        The channel is locked (one export at a time); ``purchase_order`` is None
        when the channel received this PO already, so it is written once per channel.
        """
        ...

    def apply_receipts(
        self, import_id: int, rows: Sequence[ReceiptRow], *, source: str, check_only: bool = False
    ) -> ReceiptsApplied:
        """Book the rows as purchase order receipts and finish the import, in one transaction.

        All or nothing: a row naming an unknown PO, SKU or location, a PO that
        takes no receipt (draft, received, cancelled) or more units than are
        still open is refused (its position and reason returned) and then
        nothing is booked. Rows of one PO and location make one receipt, as
        ``POST /api/v1/purchase-orders/<id>/receipts`` would. The import's
        ledger row is marked ``succeeded`` in the same transaction, so a file is
        never booked twice.

        :param source: what the receipts and stock movements name as their source.
        :param check_only: only say which rows would be refused; book nothing (for a file
            with rows the connector could not read, so all its bad rows are named at once).
        """
        ...

    def claim_import(self, file_name: str, checksum: str, size: int) -> ImportClaim | None:
        """Take the file with this content for import; None while another run makes progress on it.

        The claim is a new ledger row, or the one a run cut short left
        (``processing`` with no progress for a while), which is resumed. With
        ``earlier`` set the content was imported before: the row is a ``duplicate``.
        """
        ...

    def release_import(self, import_id: int) -> None:
        """Let the next run resume this import at once (instead of after its lease)."""
        ...

    def location_codes(self) -> set[str]:
        """The codes of the hub's locations."""
        ...

    def apply_stock(
        self,
        import_id: int,
        counts: Sequence[StockCount],
        *,
        source: str,
        before: ImportOutcome,
    ) -> StockApplied:
        """Set on-hand from ``counts`` and record the import's progress, in one transaction.

        A later count of the same SKU and location wins. A count the hub refuses
        (an unknown location, on hand below what orders reserved) is returned
        with its reason; the others are applied.

        :param source: what the stock movements name as their source (the file name).
        :param before: the import's counts before this batch; its ledger row gets
            them plus what this batch applied, changed and refused.
        """
        ...

    def finish_import(
        self,
        import_id: int,
        outcome: ImportOutcome,
        *,
        archived_as: Path | None = None,
        rejects_file: Path | None = None,
    ) -> None:
        """Record the import's outcome and where its file (and rejects file) went."""
        ...
