"""Stock import: set on-hand quantities from the CSV files an ERP drops in a folder.

For each file in ``import_dir`` (oldest first; hidden, temporary and freshly
changed files are left alone):

1. one streaming pass computes its SHA-256 and checks it is text: not empty,
   no NUL bytes, decodable in its encoding (a byte-order mark picks UTF-8 or
   UTF-16; otherwise the channel's ``encoding``). A file that fails moves to
   ``failed/`` with a ``<file>.error.txt`` beside it;
2. a checksum already imported makes the file a duplicate: it moves to
   ``archive/`` and nothing else happens;
3. the header names the columns (mapped by the channel's config, any order,
   case-insensitive; the delimiter is the configured one or, failing that, the
   one the header line uses among ``, ; tab |``). A missing column fails the
   whole file;
4. rows are read one at a time and validated; valid ones are applied through
   :func:`hub.inventory.bulk.set_on_hand_many` (the bulk path of
   :func:`hub.inventory.levels.set_on_hand`) in batches of ``batch_size``, each batch
   one transaction (audit trail and stock push included), invalid ones are
   written with their line number and reason to
   ``archive/<file>.rejects.csv``;
5. the file moves to ``archive/`` and the ledger row (:class:`hub.store.models.ErpImport`)
   records the outcome.

Setting on-hand is absolute, so a run cut short (crash, deploy) is resumed by
simply reading the file again: the ledger row stays ``processing`` and the
batches already applied change nothing the second time.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.inventory.bulk import set_on_hand_many
from hub.inventory.levels import LevelChange
from hub.runtime.hub import Hub
from hub.store.models import Channel, ErpImport, Location, utcnow

log = logging.getLogger(__name__)

ARCHIVE = "archive"
FAILED = "failed"
#: A ``processing`` file whose run made no progress for this long was cut short: the next run resumes it.
IMPORT_LEASE_SECONDS = 300
#: Rejected rows kept on the ledger row for the UI (all of them are in the rejects file).
REJECT_SAMPLE = 50
MAX_ON_HAND = 2_147_483_647
SNIFF_DELIMITERS = (",", ";", "\t", "|")
_WHOLE_NUMBER = re.compile(r"\+?\d+")
_READ_BLOCK = 1 << 20


class FileRejected(Exception):
    """The whole file cannot be imported (a column missing, unreadable CSV): it goes to failed/."""


@dataclass
class Scan:
    checksum: str
    size: int
    encoding: str
    problem: str | None = None
    bom: bool = False

    @property
    def write_encoding(self) -> str:
        """The encoding to write the rejects file in: the source's, BOM only if it had one."""
        return "utf-8" if self.encoding == "utf-8-sig" and not self.bom else self.encoding


@dataclass
class Outcome:
    """What one file's import did (also stored on its ledger row)."""

    file_name: str
    status: str
    rows_total: int = 0
    rows_ok: int = 0
    rows_rejected: int = 0
    rows_changed: int = 0
    error: str | None = None
    rejects: list[dict[str, Any]] = field(default_factory=list)


def import_stock_files(hub: Hub, channel_id: int) -> list[Outcome]:
    """Import every stock file waiting in the channel's import folder."""
    connector = hub.connector_for_id(channel_id)
    folder = connector.folder("import_dir")
    if folder is None:
        return []
    config = connector.config
    outcomes = [
        import_file(hub, channel_id, path, config) for path in waiting_files(folder, config)
    ]
    return [o for o in outcomes if o is not None]


def waiting_files(folder: Path, config) -> list[Path]:
    """The files to import now, oldest first."""
    settle = int(config.get("settle_seconds", 10))
    now = time.time()
    found = []
    for entry in os.scandir(folder):
        name = entry.name
        if name.startswith(".") or name.endswith((".tmp", ".part", ".rejects.csv", ".error.txt")):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        stat = entry.stat(follow_symlinks=False)
        if now - stat.st_mtime < settle:
            continue
        found.append((stat.st_mtime, name, Path(entry.path)))
    return [path for _, _, path in sorted(found)]


def import_file(hub: Hub, channel_id: int, path: Path, config) -> Outcome | None:
    """Import one file; None when another run is importing it right now (or just moved it)."""
    try:
        scan = scan_file(path, config.get("encoding") or "utf-8")
    except FileNotFoundError:
        return None  # another run archived it meanwhile
    with hub.db.transaction() as session:
        # One run decides per channel at a time: two never take the same file.
        slug = session.scalars(
            select(Channel.slug).where(Channel.id == channel_id).with_for_update()
        ).one()
        ledger, earlier = _ledger_row(session, channel_id, path.name, scan)
        if ledger is None:
            log.info("erp_csv %s: %s is being imported by another run", slug, path.name)
            return None
        ledger_id = ledger.id
    if earlier is not None:
        archived = _move(path, path.parent / ARCHIVE)
        outcome = Outcome(
            path.name,
            "duplicate",
            error=f"same content (SHA-256) as {earlier.file_name}, imported "
            f"{earlier.finished_at:%Y-%m-%d %H:%M} UTC: nothing done",
        )
        _finish(hub, ledger_id, outcome, archived=archived)
        return outcome
    if scan.problem:
        return _fail(hub, ledger_id, path, scan.problem)
    try:
        return _import_rows(hub, channel_id, slug, ledger_id, path, scan, config)
    except FileRejected as exc:
        return _fail(hub, ledger_id, path, str(exc))
    except Exception:
        _release(hub, ledger_id)
        raise


def _release(hub: Hub, ledger_id: int) -> None:
    """Let the next run resume this file at once (a crash leaves it to the lease's expiry)."""
    try:
        with hub.db.transaction() as session:
            row = session.get(ErpImport, ledger_id)
            row.updated_at = utcnow() - timedelta(seconds=IMPORT_LEASE_SECONDS + 1)
    except Exception:
        log.exception(
            "erp_csv: could not release import %s; the next run waits for its lease", ledger_id
        )


def _ledger_row(
    session, channel_id: int, name: str, scan: Scan
) -> tuple[ErpImport | None, ErpImport | None]:
    """The ledger row for this file and its earlier twin, if any.

    The row is a new one, or the one a cut-short run left (``processing`` with
    no progress for :data:`IMPORT_LEASE_SECONDS`); None while another run is
    making progress on the file.
    """
    rows = session.scalars(
        select(ErpImport)
        .where(ErpImport.channel_id == channel_id, ErpImport.checksum == scan.checksum)
        .order_by(ErpImport.id)
    ).all()
    done = next((r for r in rows if r.status in ("succeeded", "partial")), None)
    resumed = next((r for r in rows if r.status == "processing"), None)
    now = utcnow()
    if resumed is not None and done is None:
        if (now - resumed.updated_at).total_seconds() < IMPORT_LEASE_SECONDS:
            return None, None
        log.warning("erp_csv: resuming the import of %s (ledger row %s)", name, resumed.id)
        resumed.started_at = resumed.updated_at = now
        return resumed, None
    row = ErpImport(
        channel_id=channel_id,
        file_name=name,
        checksum=scan.checksum,
        size=scan.size,
        status="duplicate" if done else "processing",
        started_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row, done


# --- reading the file ---------------------------------------------------------------------------


def scan_file(path: Path, encoding: str) -> Scan:
    """Checksum the file and check it is decodable text, in one streaming pass."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(0)
        encoding = _encoding_for(head, encoding)
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        wide = encoding.startswith("utf-16")
        problem = None
        offset = 0
        for block in iter(lambda: handle.read(_READ_BLOCK), b""):
            digest.update(block)
            size += len(block)
            if problem:
                continue
            nul = -1 if wide else block.find(b"\x00")
            if nul >= 0:
                problem = f"binary file: NUL byte at offset {offset + nul}"
                continue
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                problem = (
                    f"not {_shown(encoding)} text: undecodable byte(s) at offset {offset + exc.start} "
                    f"({exc.reason}); check the channel's encoding"
                )
            offset += len(block)
        if not problem and size:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                problem = (
                    f"not {_shown(encoding)} text: the file ends inside a character ({exc.reason})"
                )
    if size == 0:
        problem = "empty file"
    return Scan(
        checksum=digest.hexdigest(),
        size=size,
        encoding=encoding,
        problem=problem,
        bom=head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)),
    )


def _shown(encoding: str) -> str:
    return "utf-8" if encoding == "utf-8-sig" else encoding


def _encoding_for(head: bytes, configured: str) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    name = codecs.lookup(configured).name
    return "utf-8-sig" if name == "utf-8" else name


def _header(stream: io.TextIOBase, config) -> tuple[str, list[str], dict[str, int]]:
    """Read the header line: the delimiter, the header cells and where each wanted column is."""
    wanted = {
        key: (config.get(f"{key}_column") or key).strip() for key in ("sku", "location", "on_hand")
    }
    line = stream.readline()
    while line and not line.strip():
        line = stream.readline()
    if not line:
        raise FileRejected("no header row: the file holds only blank lines")
    configured = config.get("delimiter") or ","
    best: tuple[int, str, list[str], dict[str, int]] | None = None
    for delimiter in (configured, *[d for d in SNIFF_DELIMITERS if d != configured]):
        cells = next(csv.reader([line], delimiter=delimiter))
        index = {c.strip().lower(): i for i, c in reversed(list(enumerate(cells)))}
        found = {key: index[name.lower()] for key, name in wanted.items() if name.lower() in index}
        if best is None or len(found) > len(best[3]):
            best = (len(found), delimiter, cells, found)
        if len(found) == len(wanted):
            return delimiter, cells, found
    _, delimiter, cells, found = best
    missing = [wanted[k] for k in wanted if k not in found]
    shown = ", ".join(repr(c.strip()) for c in cells[:20])
    raise FileRejected(
        f"missing column(s) {', '.join(missing)} in the header (found: {shown}); the channel "
        f"expects {', '.join(wanted.values())}"
    )


def _rows(reader) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number where the row starts, cells), skipping blank lines."""
    last = 1  # the header's line
    for cells in reader:
        start = last + 1
        last = reader.line_num + 1
        if not cells or not "".join(cells).strip():
            continue
        yield start, cells


# --- applying it --------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    cells: list[str]
    change: LevelChange


class _SeenKeys:
    """(sku, location) pairs seen in a file and their first line, on disk: memory stays flat."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="hub-erp-import-")
        self._db = sqlite3.connect(os.path.join(self._dir.name, "seen.db"))
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-8192")  # 8 MiB
        self._db.execute(
            "CREATE TABLE seen (sku TEXT, location TEXT, line INTEGER, "
            "PRIMARY KEY (sku, location)) WITHOUT ROWID"
        )

    def first_line(self, sku: str, location: str, line: int) -> int | None:
        """Remember the pair at ``line``; return the line it was first seen at if seen before."""
        cur = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (sku, location, line))
        if cur.rowcount:
            return None
        return self._db.execute(
            "SELECT line FROM seen WHERE sku = ? AND location = ?", (sku, location)
        ).fetchone()[0]

    def close(self):
        self._db.close()
        self._dir.cleanup()


def _validate(
    cells: list[str], columns: dict[str, int], names: dict[str, str], locations: set[str]
) -> tuple[LevelChange | None, str]:
    values = {}
    for key, index in columns.items():
        if index >= len(cells):
            return None, f"missing value for {names[key]} (the row has {len(cells)} fields)"
        values[key] = cells[index].strip()
    sku, location, quantity = values["sku"], values["location"], values["on_hand"]
    if not sku:
        return None, f"empty {names['sku']}"
    if len(sku) > 100:
        return None, f"{names['sku']} is longer than 100 characters"
    if not location:
        return None, f"empty {names['location']}"
    if location not in locations:
        return None, f"unknown location {location!r}"
    if not quantity:
        return None, f"empty {names['on_hand']}"
    if quantity.startswith("-") and _WHOLE_NUMBER.fullmatch(quantity[1:]):
        return None, f"{names['on_hand']} {quantity} is negative"
    if not _WHOLE_NUMBER.fullmatch(quantity):
        return None, f"{names['on_hand']} {quantity!r} is not a whole number"
    on_hand = int(quantity)
    if on_hand > MAX_ON_HAND:
        return None, f"{names['on_hand']} {quantity} is too large"
    return LevelChange(sku=sku, location_code=location, on_hand=on_hand), ""


class _Rejects:
    """``<archived file>.rejects.csv``: the rejected rows as read, plus ``line`` and ``reason``."""

    def __init__(self, temp: Path, header: list[str], delimiter: str, encoding: str):
        self.temp = temp
        self.count = 0
        self.sample: list[dict[str, Any]] = []
        self._width = len(header)
        self._handle = open(temp, "w", encoding=encoding, errors="replace", newline="")
        self._writer = csv.writer(self._handle, delimiter=delimiter, lineterminator="\r\n")
        self._writer.writerow([*header, "line", "reason"])

    def add(self, line: int, cells: list[str], reason: str) -> None:
        padded = list(cells) + [""] * (self._width - len(cells))
        self._writer.writerow([*padded, line, reason])
        self.count += 1
        if len(self.sample) < REJECT_SAMPLE:
            self.sample.append({"line": line, "reason": reason})

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()


def _import_rows(
    hub: Hub, channel_id: int, slug: str, ledger_id: int, path: Path, scan: Scan, config
) -> Outcome:
    names = {
        key: (config.get(f"{key}_column") or key).strip() for key in ("sku", "location", "on_hand")
    }
    batch_size = int(config.get("batch_size") or 5000)
    with hub.db.read() as session:
        locations = set(session.scalars(select(Location.code)))
    outcome = Outcome(path.name, "processing")
    archive = path.parent / ARCHIVE
    archive.mkdir(exist_ok=True)
    seen = _SeenKeys()
    rejects: _Rejects | None = None
    reader = None
    try:
        with open(path, encoding=scan.encoding, newline="") as stream:
            delimiter, header, columns = _header(stream, config)
            rejects = _Rejects(
                archive / f".{path.name}.rejects.csv.tmp", header, delimiter, scan.write_encoding
            )
            reader = csv.reader(stream, delimiter=delimiter)
            batch: list[_Row] = []
            for line, cells in _rows(reader):
                outcome.rows_total += 1
                change, reason = _validate(cells, columns, names, locations)
                if change is not None:
                    first = seen.first_line(change.sku, change.location_code, line)
                    if first is not None:
                        change, reason = (
                            None,
                            (
                                f"duplicate of line {first} ({names['sku']} "
                                f"{cells[columns['sku']].strip()!r} at "
                                f"{cells[columns['location']].strip()!r})"
                            ),
                        )
                if change is None:
                    rejects.add(line, cells, reason)
                    continue
                batch.append(_Row(line, cells, change))
                if len(batch) >= batch_size:
                    _apply(hub, ledger_id, slug, path.name, batch, rejects, outcome)
                    batch = []
            if batch:
                _apply(hub, ledger_id, slug, path.name, batch, rejects, outcome)
        rejects.close()
    except csv.Error as exc:
        line = reader.line_num + 1 if reader is not None else 1
        if rejects is not None:
            rejects.close()
            rejects.temp.unlink(missing_ok=True)
        raise FileRejected(
            f"unreadable CSV near line {line}: {exc} ({outcome.rows_ok} rows before "
            f"it were applied)"
        ) from exc
    except BaseException:
        if rejects is not None:
            rejects.close()
            rejects.temp.unlink(missing_ok=True)
        raise
    finally:
        seen.close()
    outcome.rows_rejected = rejects.count
    outcome.rejects = rejects.sample
    outcome.status = "partial" if rejects.count else "succeeded"
    archived = _target(path, archive)
    rejects_path = None
    if rejects.count:
        rejects_path = archived.with_name(archived.name + ".rejects.csv")
        os.replace(rejects.temp, rejects_path)
    else:
        rejects.temp.unlink(missing_ok=True)
    # The ledger first, then the move: a crash between them leaves the file in place, and
    # the next run finds its checksum imported (a duplicate) instead of a row stuck "processing".
    _finish(hub, ledger_id, outcome, archived=archived, rejects=rejects_path)
    os.replace(path, archived)
    log.info(
        "erp_csv %s: %s imported: %s rows, %s applied, %s changed, %s rejected",
        slug,
        path.name,
        outcome.rows_total,
        outcome.rows_ok,
        outcome.rows_changed,
        outcome.rows_rejected,
    )
    return outcome


def _apply(
    hub: Hub,
    ledger_id: int,
    slug: str,
    file_name: str,
    batch: list[_Row],
    rejects: _Rejects,
    outcome: Outcome,
) -> None:
    """Apply one batch in one transaction; a row the hub refuses is rejected, the rest applied."""
    with hub.db.transaction() as session:
        result = set_on_hand_many(
            session,
            [row.change for row in batch],
            actor=f"channel:{slug}",
            reason="ERP stock import",
            source=file_name,
        )
        if result.refused:
            # Rare (on hand below what orders reserved): find the rows refused by their change.
            lines = {row.change: row for row in batch}
            for change, reason in result.refused:
                row = lines[change]
                rejects.add(row.line, row.cells, reason)
        _progress(
            session,
            ledger_id,
            outcome,
            len(batch) - len(result.refused),
            result.changed,
            rejects.count,
        )


def _progress(
    session, ledger_id: int, outcome: Outcome, applied: int, changed: int, rejected: int
) -> None:
    outcome.rows_ok += applied
    outcome.rows_changed += changed
    row = session.get(ErpImport, ledger_id)
    row.rows_total, row.rows_ok, row.rows_changed = (
        outcome.rows_total,
        outcome.rows_ok,
        outcome.rows_changed,
    )
    row.rows_rejected = rejected
    row.updated_at = utcnow()  # the run's lease on the file: it is making progress


# --- the ledger and the folders ------------------------------------------------------------------


def _finish(
    hub: Hub,
    ledger_id: int,
    outcome: Outcome,
    *,
    archived: Path | None = None,
    rejects: Path | None = None,
) -> None:
    with hub.db.transaction() as session:
        row = session.get(ErpImport, ledger_id)
        row.status = outcome.status
        row.rows_total, row.rows_ok = outcome.rows_total, outcome.rows_ok
        row.rows_rejected, row.rows_changed = outcome.rows_rejected, outcome.rows_changed
        row.error = outcome.error
        row.rejects = outcome.rejects
        row.archived_as = str(archived) if archived else None
        row.rejects_file = str(rejects) if rejects else None
        row.finished_at = row.updated_at = utcnow()


def _fail(hub: Hub, ledger_id: int, path: Path, reason: str) -> Outcome:
    target = _target(path, path.parent / FAILED)
    target.with_name(target.name + ".error.txt").write_text(reason + "\n", encoding="utf-8")
    outcome = Outcome(path.name, "failed", error=reason)
    _finish(hub, ledger_id, outcome, archived=target)
    os.replace(path, target)
    log.warning("erp_csv: %s failed: %s", path.name, reason)
    return outcome


def _move(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` (see :func:`_target`); return where it went."""
    target = _target(path, folder)
    os.replace(path, target)
    return target


def _target(path: Path, folder: Path) -> Path:
    """Where ``path`` goes in ``folder``: under its name, or a time-stamped one if that is taken."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{path.stem}-{stamp}{path.suffix}"
    return target
