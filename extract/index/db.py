"""Connections to index.db: short IMMEDIATE write transactions, and truly read-only reads."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from extract.errors import InvalidInput
from extract.index.schema import DDL, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000
INDEX_FILE = "index.db"

# SQLite's primary result codes (the low byte of ``sqlite3.Error.sqlite_errorcode``).
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


def sqlite_code(e: BaseException) -> int | None:
    """The primary result code of an SQLite error, or None for anything else."""
    code = getattr(e, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_corrupt(e: BaseException) -> bool:
    """SQLite cannot read the file as a database: random bytes, a damaged header, a
    truncated file, a malformed page. (Not "locked", "full" or "unable to open".)"""
    return sqlite_code(e) in (SQLITE_CORRUPT, SQLITE_NOTADB)


def is_write_refused(e: BaseException) -> bool:
    """The system refused to let SQLite write or create its files: a full disk, a quota,
    an I/O error, a read-only filesystem, or a file it may not create."""
    return sqlite_code(e) in (SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN)


def file_uri(path: Path, **params: str) -> str:
    """A ``file:`` URI for ``path``; quoted, so a '?' or '#' in a directory name is a name.

    (``quote`` is what POSIX's ``urllib.request.pathname2url`` does; importing
    urllib.request would cost every command 40 ms for http.client.)"""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path))}" + (f"?{query}" if query else "")


def open_writer(path: Path) -> sqlite3.Connection:
    """A connection for index writes; creates the schema. Autocommit: callers use ``write()``."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        mode = _pragma_retrying(conn, "PRAGMA journal_mode=WAL")
        if str(mode).lower() != "wal":  # e.g. a network filesystem: fall back, stay correct
            conn.execute("PRAGMA journal_mode=DELETE")
        # the index is rebuildable; objects carry durability
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        _ensure_schema(conn)
    except BaseException:  # a damaged file, a full disk: the caller decides, nothing leaks
        conn.close()
        raise
    return conn


def _pragma_retrying(conn: sqlite3.Connection, sql: str) -> object:
    """Switching a new database to WAL takes a lock the busy timeout does not cover:
    several processes opening a fresh store at once retry instead of failing."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return conn.execute(sql).fetchone()[0]
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _ensure_schema(conn: sqlite3.Connection) -> None:
    with write(conn):
        for stmt in _statements(DDL):
            conn.execute(stmt)
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )


def schema_version(conn: sqlite3.Connection) -> int | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def _statements(script: str) -> Iterator[str]:
    buf: list[str] = []
    for line in script.splitlines():
        buf.append(line)
        joined = "\n".join(buf)
        if sqlite3.complete_statement(joined):
            yield joined
            buf = []


@contextlib.contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction: the write lock is taken up front, so concurrent writers
    wait on the busy timeout instead of failing with "database is locked" mid-transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # SQLite may already have rolled back (a full disk, an I/O error): the original
        # error is the one worth reporting, not "no transaction is active".
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    # WITH clauses and views expand into these
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}


def _authorizer(
    action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
) -> int:
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    if (
        action == sqlite3.SQLITE_UPDATE
        and arg1 == "sqlite_master"
        and trigger is None
        and db == "main"
    ):
        # Table-valued functions (json_each) register themselves this way; a real write to
        # the schema would need PRAGMA writable_schema, which is denied, on a read-only file.
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg1 in {
        "table_info",
        "table_list",
        "index_list",
        "index_info",
    }:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def open_reader(path: Path, immutable: bool = False) -> sqlite3.Connection:
    """A connection that cannot change anything: read-only URI, query_only, and an
    authorizer that allows SELECT and reads alone (mode=ro still lets ATTACH create files).

    ``immutable`` reads the file as it is on disk without SQLite's shared-memory file,
    which a read-only or full disk may not let it create; the WAL is then not read."""
    if not path.exists():
        raise InvalidInput(f"no index at {path}: run `extract reindex`")
    params = {"mode": "ro", "immutable": "1"} if immutable else {"mode": "ro"}
    conn = sqlite3.connect(
        file_uri(path, **params),
        uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=False,
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA query_only=1")
    conn.create_function("array_contains", 2, _array_contains, deterministic=True)
    conn.set_authorizer(_authorizer)
    return conn


def _array_contains(array_json: str | None, value: object) -> int:
    """``array_contains(tags, 'x')``: the Specimen Vault's tag test over our JSON arrays."""
    if not array_json:
        return 0
    try:
        items = json.loads(array_json)
    except (TypeError, ValueError):
        return 0
    return int(isinstance(items, list) and value in items)
