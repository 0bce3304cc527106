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
   whole file, and its error names only columns, never what the file holds
   (it may be anything an ERP user dropped there);
4. rows are read one at a time and validated; valid ones are handed to the
   hub (:meth:`hub.integration.erp.ErpExchange.apply_stock`, the bulk path of
   setting on hand) in batches of ``batch_size``, each batch one transaction
   (audit trail and stock push included), invalid ones are written with their
   line number and reason to ``archive/<file>.rejects.csv``;
5. the file moves to ``archive/`` and the hub's ledger row (one per file, see
   :meth:`~hub.integration.erp.ErpExchange.claim_import`) records the outcome.

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.core.exceptions import ConfigError
from hub.integration.erp import ErpExchange, ImportOutcome, StockCount, spreadsheet_cell

if TYPE_CHECKING:
    from plugins.erp_csv import ErpCsvConnector

log = logging.getLogger(__name__)

ARCHIVE = "archive"
FAILED = "failed"
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


def import_stock_files(erp: ErpExchange, connector: ErpCsvConnector) -> list[ImportOutcome]:
    """Import every stock file waiting in the channel's import folder."""
    folder = connector.folder("import_dir")
    if folder is None:
        return []
    _check_subfolders(folder)
    config = connector.config
    from plugins.erp_csv.receipts_import import import_receipts, is_receipts_file

    outcomes = [
        import_file(erp, path, config, import_receipts if is_receipts_file(path, config) else None)
        for path in waiting_files(folder, config)
    ]
    return [o for o in outcomes if o is not None]


def waiting_files(folder: Path, config: Mapping[str, Any]) -> list[Path]:
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


def import_file(
    erp: ErpExchange,
    path: Path,
    config: Mapping[str, Any],
    rows_importer: Callable[[ErpExchange, int, Path, Scan, Mapping[str, Any]], ImportOutcome]
    | None = None,
) -> ImportOutcome | None:
    """Import one file; None when another run is importing it right now (or just moved it).

    :param rows_importer: what reads the file once it is claimed, new and readable text
        (default: its rows are stock counts; receipts files have their own, see
        :mod:`plugins.erp_csv.receipts_import`).
    """
    try:
        scan = scan_file(path, config.get("encoding") or "utf-8")
    except FileNotFoundError:
        return None  # another run archived it meanwhile
    claim = erp.claim_import(path.name, scan.checksum, scan.size)
    if claim is None:
        log.info("erp_csv %s: %s is being imported by another run", erp.slug, path.name)
        return None
    if claim.resumed:
        log.warning(
            "erp_csv: resuming the import of %s (ledger row %s)", path.name, claim.import_id
        )
    import_id, earlier = claim.import_id, claim.earlier
    if earlier is not None:
        archived = _move(path, path.parent / ARCHIVE)
        outcome = ImportOutcome(
            path.name,
            "duplicate",
            error=f"same content (SHA-256) as {earlier.file_name}, imported "
            f"{earlier.finished_at:%Y-%m-%d %H:%M} UTC: nothing done",
        )
        erp.finish_import(import_id, outcome, archived_as=archived)
        return outcome
    if scan.problem:
        return _fail(erp, import_id, path, scan.problem)
    try:
        return (rows_importer or _import_rows)(erp, import_id, path, scan, config)
    except FileRejected as exc:
        return _fail(erp, import_id, path, str(exc))
    except Exception:
        _release(erp, import_id)
        raise


def _release(erp: ErpExchange, import_id: int) -> None:
    """Let the next run resume this file at once (a crash leaves it to the lease's expiry)."""
    try:
        erp.release_import(import_id)
    except Exception:
        log.exception(
            "erp_csv: could not release import %s; the next run waits for its lease", import_id
        )


# --- reading the file ---------------------------------------------------------------------------


def scan_file(path: Path, encoding: str) -> Scan:
    """Checksum the file and check it is decodable text, in one streaming pass."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", opener=_no_links) as handle:
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


def _no_links(path: str, flags: int) -> int:
    """Open ``path`` unless it is a symbolic link (one swapped in since the folder was listed)."""
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


def _shown(encoding: str) -> str:
    return "utf-8" if encoding == "utf-8-sig" else encoding


def _encoding_for(head: bytes, configured: str) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    name = codecs.lookup(configured).name
    return "utf-8-sig" if name == "utf-8" else name


def _header(
    stream: io.TextIOBase, config: Mapping[str, Any]
) -> tuple[str, list[str], dict[str, int]]:
    """Read the header line: the delimiter, the header cells and where each wanted column is."""
    wanted = {
        key: (config.get(f"{key}_column") or key).strip() for key in ("sku", "location", "on_hand")
    }
    return find_header(stream, wanted, config.get("delimiter") or ",", "stock file")


def find_header(
    stream: io.TextIOBase, wanted: Mapping[str, str], configured: str, what: str
) -> tuple[str, list[str], dict[str, int]]:
    """The header line of a ``what``: its delimiter, its cells and where each ``wanted`` column is.

    :param wanted: key -> the column's name (case-insensitive).
    :param configured: the channel's delimiter, tried first; the others of ``, ; tab |``
        are tried when it does not find every column.
    :raises FileRejected: a column is missing (only the wanted names are given, never the line).
    """
    line = stream.readline()
    while line and not line.strip():
        line = stream.readline()
    if not line:
        raise FileRejected("no header row: the file holds only blank lines")
    best: tuple[int, str, list[str], dict[str, int]] | None = None
    for delimiter in (configured, *[d for d in SNIFF_DELIMITERS if d != configured]):
        cells = next(csv.reader([line], delimiter=delimiter))
        index = {c.strip().lower(): i for i, c in reversed(list(enumerate(cells)))}
        found = {key: index[name.lower()] for key, name in wanted.items() if name.lower() in index}
        if best is None or len(found) > len(best[3]):
            best = (len(found), delimiter, cells, found)
        if len(found) == len(wanted):
            return delimiter, cells, found
    assert best is not None  # the configured delimiter is always tried
    _, delimiter, cells, found = best
    # Name the channel's columns only: the first line of a file that is no stock file may
    # be anything (a key, a password) and an error is shown to everyone who can read files.
    missing = [wanted[k] for k in wanted if k not in found]
    present = [wanted[k] for k in wanted if k in found]
    raise FileRejected(
        f"not a {what}: missing column(s) {', '.join(missing)} in its first line "
        f"(found: {', '.join(present) or 'none of them'}); the channel expects "
        f"{', '.join(wanted.values())}"
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
    change: StockCount


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
) -> tuple[StockCount | None, str]:
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
    return StockCount(sku=sku, location_code=location, on_hand=on_hand), ""


class _Rejects:
    """``<archived file>.rejects.csv``: the rejected rows as read, plus ``line`` and ``reason``."""

    def __init__(self, temp: Path, header: list[str], delimiter: str, encoding: str):
        self.temp = temp
        self.count = 0
        self.sample: list[dict[str, Any]] = []
        self._width = len(header)
        temp.unlink(missing_ok=True)  # a dead run's leftover; "x" never follows a planted link
        self._handle = open(temp, "x", encoding=encoding, errors="replace", newline="")
        self._writer = csv.writer(self._handle, delimiter=delimiter, lineterminator="\r\n")
        self._write([*header, "line", "reason"])

    def _write(self, row: list[Any]) -> None:
        self._writer.writerow([spreadsheet_cell(cell) for cell in row])

    def add(self, line: int, cells: list[str], reason: str) -> None:
        padded = list(cells) + [""] * (self._width - len(cells))
        self._write([*padded, line, reason])
        self.count += 1
        if len(self.sample) < REJECT_SAMPLE:
            self.sample.append({"line": line, "reason": reason})

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()


def _import_rows(
    erp: ErpExchange, import_id: int, path: Path, scan: Scan, config: Mapping[str, Any]
) -> ImportOutcome:
    names = {
        key: (config.get(f"{key}_column") or key).strip() for key in ("sku", "location", "on_hand")
    }
    batch_size = int(config.get("batch_size") or 5000)
    locations = erp.location_codes()
    outcome = ImportOutcome(path.name, "processing")
    archive = path.parent / ARCHIVE
    archive.mkdir(exist_ok=True)
    seen = _SeenKeys()
    rejects: _Rejects | None = None
    reader = None
    try:
        with open(path, encoding=scan.encoding, newline="", opener=_no_links) as stream:
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
                    _apply(erp, import_id, path.name, batch, rejects, outcome)
                    batch = []
            if batch:
                _apply(erp, import_id, path.name, batch, rejects, outcome)
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
    erp.finish_import(import_id, outcome, archived_as=archived, rejects_file=rejects_path)
    os.replace(path, archived)
    log.info(
        "erp_csv %s: %s imported: %s rows, %s applied, %s changed, %s rejected",
        erp.slug,
        path.name,
        outcome.rows_total,
        outcome.rows_ok,
        outcome.rows_changed,
        outcome.rows_rejected,
    )
    return outcome


def _apply(
    erp: ErpExchange,
    import_id: int,
    file_name: str,
    batch: list[_Row],
    rejects: _Rejects,
    outcome: ImportOutcome,
) -> None:
    """Apply one batch in one transaction; a row the hub refuses is rejected, the rest applied."""
    outcome.rows_rejected = rejects.count
    applied = erp.apply_stock(
        import_id, [row.change for row in batch], source=file_name, before=outcome
    )
    # Rare (on hand below what orders reserved): the hub names the refused rows by position.
    for position, reason in applied.refused:
        row = batch[position]
        rejects.add(row.line, row.cells, reason)
    outcome.rows_ok += len(batch) - len(applied.refused)
    outcome.rows_changed += applied.changed


# --- the folders ---------------------------------------------------------------------------------


def _check_subfolders(folder: Path) -> None:
    """archive/ and failed/ must be plain folders: files moved through a link could leave the root.

    :raises ConfigError: one is a link (the run touches nothing).
    """
    for name in (ARCHIVE, FAILED):
        if (folder / name).is_symlink():
            raise ConfigError(
                f"import_dir: {name}/ is a link, and files moved there could end up outside the "
                f"ERP root; make it a plain folder. Nothing done"
            )


def _fail(
    erp: ErpExchange,
    import_id: int,
    path: Path,
    reason: str,
    *,
    detail: str = "",
    rows_total: int = 0,
    rejects: list[dict[str, Any]] | None = None,
) -> ImportOutcome:
    """Move the file to failed/ with ``<file>.error.txt`` (``reason``, then ``detail``) beside it."""
    target = _target(path, path.parent / FAILED)
    note = target.with_name(target.name + ".error.txt")
    note.unlink(missing_ok=True)  # then "x": a link planted under that name is never followed
    with open(note, "x", encoding="utf-8") as handle:
        handle.write(reason + "\n" + (detail + "\n" if detail else ""))
    outcome = ImportOutcome(
        path.name,
        "failed",
        error=reason,
        rows_total=rows_total,
        rows_rejected=len(rejects or []),
        rejects=list(rejects or [])[:REJECT_SAMPLE],
    )
    erp.finish_import(import_id, outcome, archived_as=target)
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
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{path.stem}-{stamp}{path.suffix}"
    return target
