"""ERP file exchange as people see it: the export and import ledgers, for the API and the UI.

The ``erp_csv`` connector writes these ledgers (see ``plugins/erp_csv``); this
module only reads them, so the web layer needs no plugin import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound
from hub.orders.serialize import iso
from hub.store.models import ErpExport, ErpImport


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


def list_imports(
    session: Session,
    *,
    channel_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Stock files imported (or refused), newest first; ``before_id`` pages backwards."""
    query = select(ErpImport)
    if channel_id is not None:
        query = query.where(ErpImport.channel_id == channel_id)
    if status is not None:
        query = query.where(ErpImport.status == status)
    if before_id is not None:
        query = query.where(ErpImport.id < before_id)
    rows = session.scalars(query.order_by(ErpImport.id.desc()).limit(max(1, min(limit, 500))))
    return [import_dict(r) for r in rows]


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


def list_exports(
    session: Session,
    *,
    channel_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Order files written, newest first."""
    query = select(ErpExport)
    if channel_id is not None:
        query = query.where(ErpExport.channel_id == channel_id)
    if before_id is not None:
        query = query.where(ErpExport.id < before_id)
    rows = session.scalars(query.order_by(ErpExport.id.desc()).limit(max(1, min(limit, 500))))
    return [
        {
            "id": r.id,
            "channel_id": r.channel_id,
            "sequence": r.sequence,
            "file_name": r.file_name,
            "orders": r.orders,
            "rows": r.rows,
            "checksum": r.checksum,
            "created_at": iso(r.created_at),
        }
        for r in rows
    ]
