"""The ``erp_csv`` connector: order export and stock import through CSV files.

Many ERPs (and the people running them) exchange data through a shared
folder. A channel of this connector

- writes the orders that reached the configured statuses (and those that
  changed since they were exported) to ``export_dir`` on schedule, one CSV
  file per run, atomically (job ``erp.export``, see :mod:`.export`), and each
  invoice and credit note once, in files of their own;
- reads the stock files the ERP drops in ``import_dir`` on schedule, row by
  row, and sets the hub's on-hand quantities from them (job ``erp.import``,
  see :mod:`.stock_import`);
- writes each purchase order sent "by ERP" to ``export_dir``, once, as a file of
  its own (the hub's job ``purchase_order.erp``, see :mod:`.export`), and books
  the receipts files the ERP drops in ``import_dir`` (names starting with
  ``receipts``) as purchase order receipts, all of a file or none
  (see :mod:`.receipts_import`).

Both folders lie under the hub's ERP root (``HUB_ERP_ROOT``): checked when the
channel is saved and again whenever a job uses them. No cell the connector
writes runs as a spreadsheet formula (:func:`hub.integration.erp.spreadsheet_cell`).

The file layouts are documented in ``docs/connectors/erp_csv.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from hub import hookimpl
from hub.core.exceptions import ConfigError
from hub.core.exceptions import ValidationError as HubValidationError
from hub.core.lifecycle import STATUSES
from hub.integration.connectors import Capability, ChannelInfo, ErpConnector
from hub.integration.erp import ErpExchange, folder_in_root
from hub.integration.fields import StringList, validate_encoding
from hub.integration.jobs import JobContext

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}

#: Orders in these statuses are exported by default: everything from confirmation on.
DEFAULT_EXPORT_STATUSES = [
    "confirmed",
    "processing",
    "partially_shipped",
    "shipped",
    "delivered",
    "completed",
    "partially_returned",
    "returned",
]


class ErpCsvConfig(Schema):
    export_dir = fields.String(
        load_default="",
        metadata={
            "label": "Export folder",
            "help": "Folder order files are written to (the ERP reads them): relative to the "
            "hub's ERP root (HUB_ERP_ROOT), or an absolute path inside it. "
            "Leave empty to export nothing.",
        },
    )
    import_dir = fields.String(
        load_default="",
        metadata={
            "label": "Import folder",
            "help": "Folder the ERP drops stock files in: relative to the hub's ERP root "
            "(HUB_ERP_ROOT), or an absolute path inside it. Processed files move to archive/, "
            "unreadable ones to failed/. Leave empty to import nothing.",
        },
    )
    delimiter = fields.String(
        load_default=",",
        validate=validate.OneOf(list(DELIMITERS)),
        metadata={
            "label": "Delimiter",
            "help": "Field separator of the files: , ; | or tab. Stock files separated by another "
            "of these are recognised from their header line.",
        },
    )
    encoding = fields.String(
        load_default="utf-8",
        validate=validate_encoding,
        metadata={
            "label": "Encoding",
            "help": "Text encoding of the files (utf-8, cp1252, latin-1 …). A byte-order mark in a "
            "stock file wins over this.",
        },
    )
    excel_bom = fields.Boolean(
        load_default=False,
        metadata={
            "label": "Byte-order mark for Excel",
            "help": "Start exported UTF-8 files with a BOM so Excel reads accents right.",
        },
    )
    export_statuses = StringList(
        load_default=lambda: list(DEFAULT_EXPORT_STATUSES),
        choices=STATUSES,
        metadata={
            "label": "Statuses to export",
            "help": "An order is exported once it is in one of these statuses, and again whenever "
            "it changes after that.",
        },
    )
    file_prefix = fields.String(
        load_default="orders",
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,50}$"),
        metadata={
            "label": "File name prefix",
            "help": "Export files are named <prefix>-<UTC time>-<sequence>.csv.",
        },
    )
    export_invoices = fields.Boolean(
        load_default=True,
        metadata={
            "label": "Export invoices and credit notes",
            "help": "Also write each invoice and credit note, once, to files of their own in the "
            "export folder.",
        },
    )
    invoices_file_prefix = fields.String(
        load_default="invoices",
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,50}$"),
        metadata={
            "label": "Invoice file name prefix",
            "help": "Invoice files are named <prefix>-<UTC time>-<sequence>.csv.",
        },
    )
    purchase_orders_file_prefix = fields.String(
        load_default="purchase-orders",
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,50}$"),
        metadata={
            "label": "Purchase order file name prefix",
            "help": "Purchase orders sent by ERP are written, one per file, as "
            "<prefix>-<UTC time>-<sequence>.csv.",
        },
    )
    receipts_file_prefix = fields.String(
        load_default="receipts",
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,50}$"),
        metadata={
            "label": "Receipts file name prefix",
            "help": "Files in the import folder whose names start with this are receipts on "
            "purchase orders (columns po_number, sku, quantity and optionally location), "
            "not stock files.",
        },
    )
    max_orders_per_file = fields.Integer(
        load_default=5000,
        validate=validate.Range(1, 100_000),
        metadata={
            "label": "Orders per file",
            "help": "A larger backlog is written as several files.",
        },
    )
    sku_column = fields.String(
        load_default="sku",
        validate=validate.Length(1, 100),
        metadata={"label": "SKU column", "help": "Header of the SKU column in stock files."},
    )
    location_column = fields.String(
        load_default="location",
        validate=validate.Length(1, 100),
        metadata={
            "label": "Location column",
            "help": "Header of the location code column in stock files.",
        },
    )
    on_hand_column = fields.String(
        load_default="on_hand",
        validate=validate.Length(1, 100),
        metadata={
            "label": "On-hand column",
            "help": "Header of the quantity-on-hand column in stock files.",
        },
    )
    batch_size = fields.Integer(
        load_default=5000,
        validate=validate.Range(100, 50_000),
        metadata={
            "label": "Rows per transaction",
            "help": "Stock rows applied together in one transaction.",
        },
    )
    settle_seconds = fields.Integer(
        load_default=10,
        validate=validate.Range(0, 3600),
        metadata={
            "label": "Settle time (seconds)",
            "help": "A stock file changed more recently than this is left for the next run: the ERP "
            "may still be writing it.",
        },
    )

    @pre_load
    def _delimiter_names(self, data, **kwargs):
        value = data.get("delimiter") if isinstance(data, dict) else None
        if isinstance(value, str) and value.lower() in _DELIMITER_NAMES:
            data = {**data, "delimiter": _DELIMITER_NAMES[value.lower()]}
        return data

    @validates_schema(skip_on_field_errors=False)
    def _folders(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        if (
            not (data.get("export_dir") or "").strip()
            and not (data.get("import_dir") or "").strip()
        ):
            errors.setdefault("export_dir", []).append(
                "give an export folder, an import folder or both"
            )
        prefixes = [
            data.get(c) or d
            for c, d in (
                ("file_prefix", "orders"),
                ("invoices_file_prefix", "invoices"),
                ("purchase_orders_file_prefix", "purchase-orders"),
            )
        ]
        if prefixes[0] == prefixes[1]:
            errors["invoices_file_prefix"] = [
                "order files and invoice files need different prefixes"
            ]
        if prefixes[2] in prefixes[:2]:
            errors["purchase_orders_file_prefix"] = [
                "purchase order files need a prefix of their own"
            ]
        columns = [data.get(c) for c in ("sku_column", "location_column", "on_hand_column")]
        if len({(c or "").strip().lower() for c in columns}) < 3:
            errors["on_hand_column"] = ["the three stock columns need three different names"]
        if errors:
            raise ValidationError(errors)


FOLDERS = ("export_dir", "import_dir")


class ErpCsvConnector(ErpConnector):
    name = "erp_csv"
    label = "ERP (CSV files)"
    description = (
        "Exports orders, invoices and credit notes to, and imports stock levels from, CSV files"
        " in shared folders."
    )
    config_schema = ErpCsvConfig
    scheduled_jobs = {"erp.export": 900, "erp.import": 300}
    capabilities = frozenset({Capability.PURCHASE_ORDERS})

    @classmethod
    def check_config(cls, config: Mapping[str, Any], channel: ChannelInfo) -> None:
        """Both folders lie under the hub's ERP root (they need not exist yet)."""
        errors: dict[str, list[str]] = {}
        for key in FOLDERS:
            value = (config.get(key) or "").strip()
            if value:
                try:
                    folder_in_root(channel.erp_root, value)
                except ConfigError as exc:
                    errors[key] = [exc.message]
        if errors:
            raise HubValidationError(f"invalid {cls.name} configuration", details=errors)

    def folder(self, key: str) -> Path | None:
        """The configured folder ``key`` (``export_dir`` / ``import_dir``), resolved; None when unset.

        :raises ConfigError: it is set but outside the ERP root (checked on each use: the root
            or a link may have changed since the channel was saved), missing or not usable.
        """
        value = (self.config.get(key) or "").strip()
        if not value:
            return None
        try:
            path = folder_in_root(self.channel.erp_root, value)
        except ConfigError as exc:
            raise ConfigError(f"{key} {value}: {exc.message}; nothing done") from None
        if not path.is_dir():
            raise ConfigError(f"{key} {value} does not exist or is not a folder")
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            raise ConfigError(f"{key} {value} is not readable and writable by the hub")
        return path

    def export_purchase_order(self, erp: ErpExchange, purchase_order_id: int) -> str | None:
        """Write the PO as a CSV file of its own into ``export_dir``, once (see :mod:`.export`)."""
        from plugins.erp_csv.export import export_purchase_order

        folder = self.folder("export_dir")
        if folder is None:
            raise ConfigError(
                f"channel {self.channel.slug} has no export folder to write purchase orders to"
            )
        return export_purchase_order(erp, folder, self.config, purchase_order_id)

    def check_connection(self) -> str:
        found = [f"{key} {path}" for key in FOLDERS if (path := self.folder(key)) is not None]
        return "folders ready: " + ", ".join(found)


def run_export(ctx: JobContext) -> None:
    from plugins.erp_csv.export import export_documents, export_orders

    connector = cast(ErpCsvConnector, ctx.connector())
    export_orders(ctx.erp(), connector)
    export_documents(ctx.erp(), connector)


def run_import(ctx: JobContext) -> None:
    from plugins.erp_csv.stock_import import import_stock_files

    connector = cast(ErpCsvConnector, ctx.connector())
    import_stock_files(ctx.erp(), connector)


@hookimpl
def hub_register_connectors():
    return [ErpCsvConnector]


@hookimpl
def hub_register_job_handlers():
    return {"erp.export": run_export, "erp.import": run_import}
