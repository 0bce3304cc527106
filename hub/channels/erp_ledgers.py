"""ERP file exchange as people see it: the export and import ledgers, for the API and the UI.

The ``erp_csv`` connector writes these ledgers (see ``plugins/erp_csv``); this
module only reads them, so the web layer needs no plugin import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound
from hub.orders.serialize import iso
from hub.store.models import ErpImport

_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


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


@dataclass(frozen=True)
class RejectsDownload:
    """An import's rejects file and the name to offer it under."""

    path: Path
    #: Safe in a ``Content-Disposition`` header: the ERP's file name may hold anything.
    name: str


def rejects_download(session: Session, import_id: int, *, root: Path) -> RejectsDownload:
    """The rejects file of an import, to offer as a download.

    Only a file inside the ERP ``root`` (``Settings.erp_folder``) is offered: one a channel
    wrote before its folders were held to the root is not served.

    :raises NotFound: no such import, or it has no rejects file (inside the root).
    """
    row = session.get(ErpImport, import_id)
    if row is None:
        raise NotFound(f"stock import {import_id} does not exist")
    path = Path(row.rejects_file).resolve() if row.rejects_file else None
    if path is None or not path.is_relative_to(root.resolve()) or not path.is_file():
        raise NotFound(f"stock import {import_id} has no rejects file")
    return RejectsDownload(path, f"{download_name(row.file_name)}.rejects.csv")


def download_name(file_name: str) -> str:
    """``file_name`` in ASCII letters, digits, ``.``, ``_`` and ``-`` only (a run of others: ``_``).

    A line break in a header is refused by the server (a 500), and quotes or ``;`` would
    change what the header says.
    """
    safe = _UNSAFE_IN_NAME.sub("_", file_name).strip("._")
    return safe[:150] or "stock"
