"""What the index could not read, kept in the ``skipped`` table and tried again.

One missing or damaged object costs the entries that need it and nothing else: the
indexer records the entry (a run, model or event of a state or of ``staged/``) or the
piece of history (a commit or state tree) it could not read, indexes everything else,
and tries the recorded ones again on every refresh, so the index heals by itself once
the object is restored (``extract fsck --repair --from REMOTE``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from extract.errors import CorruptObject, ObjectFormatError, ObjectNotFound

#: Errors that mean "this object cannot be read": the entry is skipped, not the refresh.
UNREADABLE = (ObjectNotFound, CorruptObject, ObjectFormatError)
HISTORY = "history"

_HEX_ID = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass(frozen=True)
class Skip:
    section: str  # runs, models, events, or "history" for a commit or state tree
    key: str  # the entry's key in its section (run id, name@version, event id); for history, the id
    object_id: str  # the entry's object (hex)
    commit_id: str | None  # the commit whose state holds it; None for a staged entry
    bad_object: str | None  # the object that could not be read, when known (hex)
    reason: str


def bad_object(e: BaseException) -> str | None:
    """The id of the object an error is about: every ObjectNotFound names it."""
    if isinstance(e, CorruptObject):
        return e.expected
    m = _HEX_ID.search(str(e))
    return m.group(0) if m else None


def record(
    conn: sqlite3.Connection,
    section: str,
    key: str,
    object_id: str,
    commit_id: str | None,
    error: BaseException,
) -> None:
    conn.execute(
        "INSERT INTO skipped(section, key, object_id, commit_id, bad_object, reason) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(section, key, object_id) DO UPDATE SET "
        "commit_id = COALESCE(excluded.commit_id, commit_id), bad_object = excluded.bad_object, "
        "reason = excluded.reason",
        (section, key, object_id, commit_id, bad_object(error), str(error)),
    )


def forget(conn: sqlite3.Connection, section: str, key: str, object_id: str) -> None:
    conn.execute(
        "DELETE FROM skipped WHERE section=? AND key=? AND object_id=?", (section, key, object_id)
    )


def forget_staged(conn: sqlite3.Connection) -> None:
    """Staged entries are listed afresh whenever ``staged/`` changes: drop their old rows."""
    conn.execute("DELETE FROM skipped WHERE commit_id IS NULL AND section != ?", (HISTORY,))


def listed(conn: sqlite3.Connection, history: bool | None = None) -> list[Skip]:
    """Every skipped entry (``history`` True: only history, False: only entries)."""
    where = "" if history is None else ("WHERE section = ?" if history else "WHERE section != ?")
    args = () if history is None else (HISTORY,)
    try:
        rows = conn.execute(
            "SELECT section, key, object_id, commit_id, bad_object, reason FROM skipped "
            f"{where} ORDER BY section, key",
            args,
        ).fetchall()
    except sqlite3.OperationalError:  # an index from before this table, opened read-only
        return []
    return [Skip(*r) for r in rows]


def any_skipped(conn: sqlite3.Connection) -> bool:
    try:
        return conn.execute("SELECT 1 FROM skipped LIMIT 1").fetchone() is not None
    except sqlite3.OperationalError:
        return False
