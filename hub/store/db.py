"""The database: one engine, sessions, and the SQLite settings that make it safe.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy
timeout, and every writing transaction starts with ``BEGIN IMMEDIATE``: SQLite
has one writer, and taking the write lock up front avoids the deadlock two
readers hit when both try to upgrade. PostgreSQL needs none of that; its
workers claim jobs with ``FOR UPDATE SKIP LOCKED`` instead.

Threads of one process that write to SQLite queue on a lock of their own
before ``BEGIN IMMEDIATE``: SQLite's busy handler makes a waiting writer
sleep and poll (up to 100 ms a nap), so eight web threads contending for the
one write lock waited far longer than the writes took (webhook ingest p99,
found by ``make bench``). Other processes still wait in the busy timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from hub.store.files import private_file

log = logging.getLogger(__name__)

#: How long a SQLite writer waits for the write lock before "database is locked".
SQLITE_BUSY_SECONDS = 30
#: How much of the SQLite file is read through a memory map (address space, not memory).
SQLITE_MMAP_BYTES = 1 << 30


class Database:
    """An engine and the sessions made from it.

    Use :meth:`transaction` to change data (one commit at the end, rollback on
    any error) and :meth:`read` for queries that write nothing.
    """

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                # Created owner-only; SQLite gives its WAL and shared-memory files the same mode.
                private_file(Path(path))
            self.engine = create_engine(
                url, echo=echo, connect_args={"timeout": SQLITE_BUSY_SECONDS}
            )
            _make_sqlite_safe(self.engine, immediate=True)
            self.read_engine = create_engine(
                url, echo=echo, connect_args={"timeout": SQLITE_BUSY_SECONDS}
            )
            _make_sqlite_safe(self.read_engine, immediate=False)
        else:
            self.engine = create_engine(url, echo=echo, pool_size=10)
            _ping_when_idle(self.engine)
            self.read_engine = self.engine
        #: The writing sessions' factory (session events are listened for on it).
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite: this process's writers take turns here (see the module docstring).
        self._write_lock = threading.RLock() if self.is_sqlite else None
        # What a transaction asked to run as it commits (see before_commit).
        event.listen(self.sessions, "before_commit", _run_before_commit)
        event.listen(self.sessions, "after_commit", _run_after_commit)
        event.listen(self.sessions, "after_rollback", _forget_commit_work)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session whose work commits once at the end, or not at all."""
        # Never wait longer than SQLite's own busy timeout would: past it, go
        # on and let SQLite answer "database is locked" as it did before.
        lock = self._write_lock
        locked = lock is not None and lock.acquire(timeout=SQLITE_BUSY_SECONDS)
        try:
            with self.sessions() as session, session.begin():
                yield session
        finally:
            if lock is not None and locked:
                lock.release()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield a Core connection whose work commits once at the end, or not at all.

        For hot paths that run a few prebuilt Core statements (webhook ingest):
        no ORM session to build, flush and close. Same locking as :meth:`transaction`.
        """
        lock = self._write_lock
        locked = lock is not None and lock.acquire(timeout=SQLITE_BUSY_SECONDS)
        try:
            with self.engine.begin() as conn:
                yield conn
        finally:
            if lock is not None and locked:
                lock.release()

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """Yield a Core connection on which each statement commits by itself (PostgreSQL).

        For a hot path whose whole transaction is one statement (webhook ingest
        stores its events and their jobs in one): no BEGIN and COMMIT round
        trips around it. On SQLite, where a write must take this process's
        write lock, this is :meth:`write`.
        """
        if self.is_sqlite:
            with self.write() as conn:
                yield conn
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reading; it is closed (rolled back), never committed.

        Objects loaded stay readable after the block (closing detaches them
        without expiring their loaded attributes).
        """
        with self._read_sessions() as session:
            yield session

    def ping(self) -> bool:
        with self.read_engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


#: A pooled connection unused for longer than this is checked before it is handed out.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle (SQLAlchemy's pessimistic
    disconnect handling, with a custom checkout).

    ``pool_pre_ping`` pings on every checkout: a round trip per transaction,
    a seventh of a worker's time per job (`make bench` (e)). A connection in
    steady use was just seen alive; one idle for a while (the database may have
    restarted since) is pinged, and a dead one is replaced before anyone sees it.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            # The pool throws this connection away and checks out another.
            raise DisconnectionError(f"a pooled connection was dead: {exc}") from exc


def _make_sqlite_safe(engine: Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Read the file through a memory map, shared by every connection, rather
        # than a 2 MB page cache of each's own: a hub past a few thousand orders
        # outgrows that cache, and every job's lookups become read() calls.
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Straight to the driver: exec_driver_sql's execution context cost more
        # than the BEGIN itself, on every transaction (`make bench` (a)).
        conn.connection.driver_connection.execute(begin)


# --- work a transaction leaves for its commit -------------------------------------------------

_BEFORE_COMMIT = "hub.before_commit"
_AFTER_COMMIT = "hub.after_commit"


def before_commit(session: Session, key: str, callback: Callable[[Session], None]) -> None:
    """Run ``callback(session)`` once, just before this session's transaction commits.

    Keyed: asking again with the same key in one transaction runs it once. A
    rollback forgets it. Only sessions of a :class:`Database` run it (its own
    listener, not a global one on every SQLAlchemy session).
    """
    session.info.setdefault(_BEFORE_COMMIT, {})[key] = callback


def after_commit(session: Session, key: str, callback: Callable[[], None]) -> None:
    """Run ``callback()`` once, after this session's transaction has committed.

    For work outside the database that must only follow a commit (forgetting
    what a cache kept). Keyed like :func:`before_commit`; a rollback forgets
    it; a callback that raises is logged and does not undo the commit.
    """
    session.info.setdefault(_AFTER_COMMIT, {})[key] = callback


def _run_before_commit(session: Session) -> None:
    for callback in session.info.pop(_BEFORE_COMMIT, {}).values():
        callback(session)


def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, {}).values():
        try:
            callback()
        except Exception:
            log.exception("work after a commit failed: %r", callback)


def _forget_commit_work(session: Session) -> None:
    if not session.in_transaction():
        session.info.pop(_BEFORE_COMMIT, None)
        session.info.pop(_AFTER_COMMIT, None)
