"""The store at a glance: counts for a dashboard, and a cheap change marker."""

from __future__ import annotations

import sqlite3
from typing import Any

from extract.index import skips
from extract.index.models import Overview
from extract.index.skips import Skip


def overview(conn: sqlite3.Connection) -> Overview:
    status = {
        str(s): int(n)
        for s, n in conn.execute(
            "SELECT status, COUNT(*) FROM runs WHERE deleted = 0 GROUP BY status"
        )
    }
    one = conn.execute(
        "SELECT (SELECT COUNT(*) FROM experiments), (SELECT COUNT(*) FROM models), "
        "(SELECT COUNT(*) FROM todos WHERE done = 0), (SELECT COUNT(*) FROM todos), "
        "(SELECT COUNT(*) FROM commits), (SELECT COUNT(*) FROM runs WHERE deleted = 1), "
        "(SELECT COUNT(*) FROM runs WHERE deleted = 0 AND commit_id IS NULL)"
    ).fetchone()
    return Overview(
        runs=sum(status.values()),
        by_status=status,
        experiments=int(one[0]),
        models=int(one[1]),
        todos_open=int(one[2]),
        todos=int(one[3]),
        commits=int(one[4]),
        deleted=int(one[5]),
        uncommitted=int(one[6]),
        skipped=skipped_count(conn),
    )


def skipped(conn: sqlite3.Connection) -> list[Skip]:
    """Entries the index could not read (a missing or damaged object), retried on every
    refresh."""
    return skips.listed(conn)


def skipped_count(conn: sqlite3.Connection) -> int:
    """Entries the index left out because their objects cannot be read (docs/storage.md)."""
    try:
        return int(conn.execute("SELECT COUNT(*) FROM skipped").fetchone()[0])
    except sqlite3.OperationalError:  # an index from before the table existed
        return 0


def change_marker(conn: sqlite3.Connection) -> tuple[Any, ...]:
    """A cheap value that changes whenever anything a UI shows changes in the index."""
    return tuple(
        conn.execute(
            "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM runs WHERE object_id IS NULL), "
            "(SELECT COUNT(*) FROM runs WHERE status = 'running'), (SELECT COUNT(*) FROM events), "
            "(SELECT COALESCE(SUM(offset), 0) FROM journals), (SELECT COUNT(*) FROM journals), "
            "(SELECT COUNT(*) FROM models), (SELECT COUNT(*) FROM todos), "
            "(SELECT COUNT(*) FROM commits), (SELECT COUNT(*) FROM scalar_metrics), "
            "(SELECT COUNT(*) FROM artifacts)"
        ).fetchone()
    )


def total_points(conn: sqlite3.Connection) -> int:
    """Curve points the index holds, in all."""
    return int(conn.execute("SELECT COUNT(*) FROM curve_data").fetchone()[0])
