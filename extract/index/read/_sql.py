"""Free SQL over the index: read-only, bounded in rows and in time, and stoppable.

The connection must come from ``db.open_reader``: its authorizer is what makes a query
read-only. The time limit and Ctrl-C both work through SQLite's progress handler, which
interrupts the query between steps of its virtual machine, so even an endless recursive
CTE stops at once.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from extract.errors import InvalidInput, QueryTimeout
from extract.index.models import SqlResult

#: The CLI's default time limit for ``extract sql`` (``--timeout`` changes it).
DEFAULT_SECONDS = 30.0
_READ_ONLY = "only read-only queries are allowed (SELECT, WITH ... SELECT)"


def _refused(e: sqlite3.Error) -> InvalidInput:
    code = getattr(e, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_AUTH or code == sqlite3.SQLITE_READONLY:
        return InvalidInput(f"{_READ_ONLY}: {e}")
    return InvalidInput(f"SQL error: {e}")


def run_sql(
    conn: sqlite3.Connection,
    query: str,
    *,
    limit: int | None = None,
    seconds: float | None = DEFAULT_SECONDS,
    stop: Callable[[], bool] | None = None,
) -> SqlResult:
    """At most ``limit`` rows of a read-only query (all without), whether more were left,
    and the query stopped after ``seconds`` (None: no limit) or when ``stop()`` is true."""
    if not isinstance(query, str):
        raise InvalidInput(f"a query is a string, got {type(query).__name__}")
    deadline = None if seconds is None else time.monotonic() + seconds

    def interrupt() -> int:
        return int((deadline is not None and time.monotonic() > deadline) or bool(stop and stop()))

    conn.set_progress_handler(interrupt, 10_000)
    try:
        cur = conn.execute(query)
        if cur.description is None:
            return SqlResult((), (), False)
        cols = tuple(d[0] for d in cur.description)
        rows = cur.fetchmany(limit + 1) if limit is not None else cur.fetchall()
    except sqlite3.Error as e:
        if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
            if stop is not None and stop():
                raise KeyboardInterrupt from None
            raise QueryTimeout(
                f"SQL query stopped after {seconds:g} s: narrow it with WHERE or LIMIT, or "
                "aggregate"
            ) from None
        raise _refused(e) from None
    finally:
        conn.set_progress_handler(None, 0)
    truncated = limit is not None and len(rows) > limit
    return SqlResult(cols, tuple(rows[:limit] if limit is not None else rows), truncated)


class CtrlC:
    """While active (main thread only), Ctrl-C sets a flag instead of raising, so a query
    stops through the progress handler and the connection stays usable."""

    def __init__(self) -> None:
        self.pressed = False
        self._old: Any = None

    def __call__(self) -> bool:
        return self.pressed

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.pressed = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
