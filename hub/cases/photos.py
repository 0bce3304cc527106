"""Photos a customer adds to a case: checked, then kept privately in the data folder.

Only JPEG, PNG, WebP and HEIC pictures, recognised by their first bytes (a
browser's declared type is not trusted), at most :data:`MAX_BYTES` each and
:data:`MAX_PHOTOS` per case. They are written under ``<data dir>/case-files/``
with owner-only permissions (:mod:`hub.store.files`) and a random name: a file's
name from the customer never reaches the disk.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.store.files import FILE_MODE, private_dir
from hub.store.models import Case

MAX_PHOTOS = 5
#: A file younger than this is never pruned: its case may not be committed yet.
PRUNE_AFTER_SECONDS = 3600
MAX_BYTES = 5 * 1024 * 1024
FOLDER = "case-files"

#: First bytes -> (content type, extension).
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"WEBP", 8, "image/webp", "webp"),
    (b"ftypheic", 4, "image/heic", "heic"),
    (b"ftypheix", 4, "image/heic", "heic"),
    (b"ftypmif1", 4, "image/heic", "heic"),
)


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def kind_of(content: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a picture we take, by its first bytes; None otherwise."""
    for magic, offset, content_type, ext in _SIGNATURES:
        if content[offset : offset + len(magic)] == magic:
            if content_type == "image/webp" and not content.startswith(b"RIFF"):
                continue
            return content_type, ext
    return None


def check(uploads: list[Upload]) -> list[tuple[Upload, str, str]]:
    """Each upload with its type and extension; :class:`ValidationError` naming the first bad one."""
    uploads = [u for u in uploads if u.content]
    if len(uploads) > MAX_PHOTOS:
        raise ValidationError(
            f"at most {MAX_PHOTOS} photos", details={"photos": [f"at most {MAX_PHOTOS}"]}
        )
    out = []
    for upload in uploads:
        name = os.path.basename(upload.filename or "photo")[:100]
        if len(upload.content) > MAX_BYTES:
            raise ValidationError(
                f"{name} is larger than {MAX_BYTES // (1024 * 1024)} MB",
                details={"photos": [f"{name}: at most {MAX_BYTES // (1024 * 1024)} MB"]},
            )
        kind = kind_of(upload.content)
        if kind is None:
            raise ValidationError(
                f"{name} is not a JPEG, PNG, WebP or HEIC picture",
                details={"photos": [f"{name}: only JPEG, PNG, WebP or HEIC pictures"]},
            )
        out.append((Upload(name, upload.content), *kind))
    return out


def store(
    data_dir: Path, case_id: int, checked: list[tuple[Upload, str, str]]
) -> list[dict[str, Any]]:
    """Write checked photos for ``case_id``; what the case records of each."""
    folder = private_dir(Path(data_dir) / FOLDER / str(case_id))
    kept = []
    for upload, content_type, ext in checked:
        stored = f"{secrets.token_hex(12)}.{ext}"
        fd = os.open(folder / stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.content)
        kept.append(
            {
                "name": upload.filename,
                "stored": stored,
                "content_type": content_type,
                "size": len(upload.content),
            }
        )
    return kept


def path_of(data_dir: Path, case_id: int, photo: dict[str, Any]) -> Path:
    """Where a recorded photo is on disk; :class:`NotFound` when it is gone."""
    path = Path(data_dir) / FOLDER / str(case_id) / os.path.basename(str(photo.get("stored", "")))
    if not path.is_file():
        raise NotFound("this photo is no longer kept")
    return path


def prune(data_dir: Path, session: Session) -> int:
    """Remove photo files no case records any more (an erased customer's, a deleted order's);
    how many went. Run by ``hub.purge``."""
    root = Path(data_dir) / FOLDER
    if not root.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - PRUNE_AFTER_SECONDS
    for folder in root.iterdir():
        if not (folder.is_dir() and folder.name.isdigit()):
            continue
        case = session.get(Case, int(folder.name))
        kept = {str(p.get("stored")) for p in (case.photos or [])} if case is not None else set()
        for path in folder.iterdir():
            if path.name not in kept and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed
