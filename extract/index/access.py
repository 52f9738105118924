"""Opening a store's index: where it lives, and what to do when it cannot be used as it is.

Every front end (CLI, TUI, MCP server, SDK, git hooks, sync) opens the index through
``open_index``, so all of them make the same three decisions:

- **Where.** A writable store keeps its index in ``<store>/index.db``. A store that
  cannot be written (a read-only mount, an archive, another user's results) is
  indexed in this user's cache, ``$XDG_CACHE_HOME/extract/index/<key>/index.db``
  (``~/.cache`` without XDG_CACHE_HOME), keyed by the store's real path and seeded
  from the store's own index.db when that one is sound.
- **Heal.** A file SQLite cannot read (random bytes, a damaged header, a truncated
  file) is moved aside as ``index.db.corrupt-<UTC time>`` with its -wal and -shm, and
  a new index is built from the store, with one warning. The index is a cache:
  nothing is lost. Several processes may find the damage at once; ``files`` makes
  sure only the damaged file is ever moved, never a new one another process built.
- **Degrade.** When the index cannot be written (a full disk, a quota), readers answer
  from it as it is, with one warning, instead of failing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import blake3

from extract.index import files, skips
from extract.index.build import Indexer
from extract.index.db import (
    INDEX_FILE,
    file_uri,
    is_corrupt,
    is_write_refused,
    open_reader,
    schema_version,
)
from extract.index.schema import SCHEMA_VERSION
from extract.objects import from_hex
from extract.store.repo import Repository
from extract.store.writable import read_only_reason
from extract.tracking.seal import recover_orphans

Warn = Callable[[str], None]

#: errno values that mean "the system will not let us write this now".
WRITE_REFUSED = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}
#: Attempts to open before giving up when every file found is damaged (each is moved aside).
OPEN_ATTEMPTS = 3


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where indexes of read-only stores live."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "extract" / "index"


def cache_index_path(store_root: Path) -> Path:
    """The cached index of a store, keyed by its real path (a bind mount or symlink of the
    same directory shares it)."""
    real = os.path.realpath(store_root)
    return cache_dir() / blake3.blake3(real.encode("utf-8")).hexdigest()[:32] / INDEX_FILE


def index_location(repo: Repository) -> tuple[Path, str | None]:
    """Where ``repo``'s index lives, and why that is not the store itself (None if it is)."""
    why = read_only_reason(repo.root)
    if why is None:
        return repo.root / INDEX_FILE, None
    return cache_index_path(repo.root), why


class Index:
    """A store's index, opened. ``refresh()`` catches up with the store, ``reader()`` is a
    connection that cannot write, ``writer()`` the one Indexer (for the SDK, hooks, fsck).
    Every problem it works around is reported once through ``warn``."""

    def __init__(self, repo: Repository, warn: Warn = warn_stderr) -> None:
        self.repo = repo
        self._warn = warn
        self._warned: set[str] = set()
        self.path, self.read_only = index_location(repo)
        self.indexer: Indexer | None = None
        #: Why the index cannot be written (then readers answer from it as it is).
        self.unwritable: BaseException | None = None
        #: Damaged index files this Index moved aside.
        self.moved_aside: list[Path] = []
        self._inode: int | None = None  # of the file the indexer has open
        self._reader: sqlite3.Connection | None = None
        self._open()

    # opening -------------------------------------------------------------------
    def _say(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._warn(message)

    def _open(self) -> None:
        if self.read_only is not None and not self._prepare_cache():
            return
        last: BaseException | None = None
        for _ in range(OPEN_ATTEMPTS):
            seen = files.inode(self.path)
            try:
                self.indexer = Indexer(self.repo, self.path)
            except sqlite3.DatabaseError as e:
                if is_corrupt(e):
                    last = e
                    self._move_aside(seen, e)
                    continue
                if is_write_refused(e):
                    self.unwritable = e  # said by refresh(): a writer just gets the error
                    return
                raise
            except OSError as e:
                if e.errno in WRITE_REFUSED:
                    self.unwritable = e
                    return
                raise
            self._inode = files.inode(self.path)
            if self.read_only is not None:
                self._check_cache_is_this_store()
            return
        assert last is not None
        raise last

    def _prepare_cache(self) -> bool:
        """Make the cache directory and seed it; False (reading the store's own index as it
        is) if this user cannot write there either."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            label = self.path.parent / "store"
            if not label.exists():  # for a person cleaning the cache: which store this is
                label.write_text(os.path.realpath(self.repo.root) + "\n", "utf-8")
            if not self.path.exists():
                seed(self.repo.root / INDEX_FILE, self.path)
        except OSError as e:
            self.unwritable = e
            self.path = self.repo.root / INDEX_FILE
            self._say(
                f"store {self.repo.root} is read-only ({self.read_only}) and no index can be "
                f"kept for it in {cache_dir()} ({e.strerror}): answering from its own "
                "index.db as it is"
            )
            return False
        return True

    def _check_cache_is_this_store(self) -> None:
        """A cached index whose head the store lacks was built for another store that once
        lived at this path (a replaced snapshot): rebuild it."""
        assert self.indexer is not None
        row = self.indexer.conn.execute("SELECT value FROM meta WHERE key='head'").fetchone()
        if row and row[0] and not self.repo.objects.has(from_hex(row[0])):
            self.indexer.rebuild()

    def _move_aside(self, seen: int | None, e: BaseException) -> None:
        aside = files.move_aside(self.path, seen)
        if aside is not None:
            self.moved_aside.append(aside)
            self._say(
                f"{self.path} could not be read ({e}): moved it aside to {aside.name} and "
                "rebuilt the index from the store (nothing in the store was affected)"
            )

    def _cannot_write(self, e: BaseException) -> None:
        self.unwritable = e
        reason = getattr(e, "strerror", None) or str(e)
        self._say(
            f"the index at {self.path} cannot be updated ({reason}; is the disk full?): "
            "answering from it as it is, which may miss the latest changes"
        )

    # using it ------------------------------------------------------------------
    def refresh(self) -> bool:
        """Catch up with the store. False (after one warning) when the index cannot be
        written now; a damaged file is moved aside and rebuilt."""
        if self.indexer is None:
            if self.unwritable is not None:
                self._cannot_write(self.unwritable)
            return False
        try:
            self.indexer.refresh()
            return True
        except sqlite3.DatabaseError as e:
            if is_corrupt(e):
                self.heal(e)
                return self.indexer is not None
            if not is_write_refused(e):
                raise
            self._cannot_write(e)
        except OSError as e:
            if e.errno not in WRITE_REFUSED:
                raise
            self._cannot_write(e)
        return False

    def heal(self, e: BaseException) -> None:
        """The file turned out damaged while in use: move it aside, build a new one."""
        self._close_connections()
        self._move_aside(self._inode, e)
        self._open()

    def reader(self) -> sqlite3.Connection:
        """A connection that cannot change anything (``db.open_reader``)."""
        if self._reader is None:
            self._reader = self._open_reader()
        return self._reader

    def _open_reader(self) -> sqlite3.Connection:
        try:
            conn = open_reader(self.path)
        except sqlite3.DatabaseError as e:
            if not is_write_refused(e):
                raise
        else:
            try:
                conn.execute("SELECT 1 FROM meta LIMIT 1").fetchone()  # WAL needs its -shm now
                return conn
            except sqlite3.DatabaseError as e:
                conn.close()
                if is_corrupt(e) and self.indexer is not None:
                    self.heal(e)
                    return open_reader(self.path)
                if not is_write_refused(e):
                    raise
        # SQLite could not create its shared-memory file (a read-only or full disk): read
        # the database file as it is, without the write-ahead log. (One warning is enough
        # when the index already could not be updated for the same reason.)
        if self.unwritable is None:
            self._say(
                f"reading {self.path} without its write-ahead log (SQLite cannot create its "
                "shared-memory file here): answers may miss the latest changes"
            )
        return open_reader(self.path, immutable=True)

    def writer(self) -> Indexer:
        """The Indexer, for callers that must write the index (the SDK, hooks, reindex);
        raises why it cannot be written."""
        if self.indexer is None:
            raise self.unwritable or RuntimeError("the index is closed")
        return self.indexer

    def _close_connections(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(sqlite3.Error):
                self._reader.close()
            self._reader = None
        if self.indexer is not None:
            with contextlib.suppress(sqlite3.Error):
                self.indexer.close()
            self.indexer = None

    def close(self) -> None:
        self._close_connections()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_index(repo: Repository, warn: Warn = warn_stderr, refresh: bool = True) -> Index:
    """The one way into a store's index (see the module docstring); caught up with the
    store unless ``refresh`` is False."""
    index = Index(repo, warn)
    if refresh:
        index.refresh()
    return index


def open_checked(repo: Repository, warn: Warn = warn_stderr, refresh: bool = True) -> Index:
    """``open_index`` after ``PRAGMA quick_check`` of the whole file (which a plain open
    does not read): a file damaged anywhere is moved aside and rebuilt. For reindex and
    ``fsck --repair``, which may take the time. Raises if the index cannot be written."""
    index = Index(repo, warn)
    index.writer()
    if not index.moved_aside:
        problem = check_file(index.path)
        if problem is not None:
            index.heal(sqlite3.DatabaseError(problem))
    if refresh:
        index.writer().refresh()
    return index


def rebuild_index(repo: Repository, warn: Warn = warn_stderr) -> Index:
    """``extract reindex``: build the index anew from the store. A damaged file is moved
    aside rather than replaced, so it can be examined."""
    index = open_checked(repo, warn, refresh=False)
    if not index.moved_aside:  # else it was just built from the store
        index.writer().rebuild()
    return index


@dataclass(frozen=True)
class IndexState:
    """What fsck reports about the index, found without changing anything."""

    path: Path
    problem: str | None  # what quick_check found wrong, None if sound or absent
    skipped: list[skips.Skip]  # entries it could not read
    kept_aside: list[Path]  # damaged files moved aside earlier


def inspect_index(repo: Repository) -> IndexState:
    path, _ = index_location(repo)
    if not path.exists() and path != repo.root / INDEX_FILE:
        path = repo.root / INDEX_FILE  # a read-only store not yet indexed in the cache
    problem = check_file(path)
    listed: list[skips.Skip] = []
    # through SQLite's locks (it sees the write-ahead log) where it can, else the file
    for params in ({"mode": "ro"}, {"mode": "ro", "immutable": "1"}):
        if problem is not None or not path.exists():
            break
        try:
            conn = sqlite3.connect(file_uri(path, **params), uri=True)
            try:
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                listed = skips.listed(conn)
                break
            finally:
                conn.close()
        except sqlite3.Error:
            continue
    return IndexState(path, problem, listed, files.kept_aside(path))


def check_file(path: Path) -> str | None:
    """What is wrong with an index file (``PRAGMA quick_check``), or None if it is sound
    or absent. Never writes; reads through SQLite's locks (a consistent snapshot while
    others write) where it can, else the file as it is on disk."""
    if not path.exists():
        return None
    for params in ({"mode": "ro"}, {"mode": "ro", "immutable": "1"}):
        try:
            conn = sqlite3.connect(file_uri(path, **params), uri=True)
        except sqlite3.Error as e:
            return str(e)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            return None if rows == ["ok"] else "; ".join(map(str, rows[:3]))
        except sqlite3.DatabaseError as e:
            if is_corrupt(e) or not is_write_refused(e):
                return str(e)
        finally:
            conn.close()
    return None


def seed(src: Path, dst: Path) -> bool:
    """Start a cached index as a copy of the store's own (SQLite's backup API, reading the
    source immutable: a read-only store cannot hold SQLite's lock files). Nothing is
    copied from a damaged or other-version source: the index is then built from objects."""
    if not src.exists():
        return False
    tmp = dst.with_name(f".{dst.name}.seed-{os.getpid()}")
    with files.index_lock(dst):
        if dst.exists():
            return False
        try:
            source = sqlite3.connect(file_uri(src, mode="ro", immutable="1"), uri=True)
            try:
                if schema_version(source) != SCHEMA_VERSION:
                    return False
                if source.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    return False
                target = sqlite3.connect(tmp)
                try:
                    source.backup(target)
                finally:
                    target.close()
            finally:
                source.close()
            os.replace(tmp, dst)
            return True
        except sqlite3.DatabaseError:
            return False
        finally:
            files.remove(tmp)


def seal_crashed(repo: Repository, warn: Warn = warn_stderr) -> list[str]:
    """Seal, as failed, every run whose process died before finish() (its journal lock
    is free): what every writing command does first, so a commit or a push carries
    them. Opens the index only when some journal is there. Returns their ids."""
    if not any(repo.journal_dir.glob("*.journal")):
        return []
    with open_index(repo, warn) as index:
        return recover_orphans(index.writer())
