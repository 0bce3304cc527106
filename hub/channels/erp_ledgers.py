"""ERP file exchange as people see it: the export and import ledgers, for the API and the UI.

The ``erp_csv`` connector writes these ledgers (see ``plugins/erp_csv``); this
module only reads them, so the web layer needs no plugin import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound
from hub.orders.serialize import iso
from hub.store.models import ErpImport


def import_dict(row: ErpImport) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel_id": row.channel_id,
        "file_name": row.file_name,
        "checksum": row.checksum,
        "size": row.size,
        "status": row.status,
        "rows_total": row.rows_total,
        "rows_ok": row.rows_ok,
        "rows_rejected": row.rows_rejected,
        "rows_changed": row.rows_changed,
        "error": row.error,
        "archived_as": row.archived_as,
        "rejects_file": row.rejects_file,
        "rejects": list(row.rejects or []),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
    }


def get_import(session: Session, import_id: int) -> dict[str, Any]:
    row = session.get(ErpImport, import_id)
    if row is None:
        raise NotFound(f"stock import {import_id} does not exist")
    return import_dict(row)


def rejects_path(session: Session, import_id: int) -> Path:
    """The rejects file of an import, to offer as a download."""
    row = session.get(ErpImport, import_id)
    if row is None:
        raise NotFound(f"stock import {import_id} does not exist")
    if not row.rejects_file or not Path(row.rejects_file).is_file():
        raise NotFound(f"stock import {import_id} has no rejects file")
    return Path(row.rejects_file)
