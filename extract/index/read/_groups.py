"""Groups: the runs of one distributed job (its ranks), found by their ``group`` param.

The SDK records a job's group and each run's rank as plain params (extract/sdk/jobs.py),
so every index already holds them and a synced store needs nothing new; this module
turns them into the one answer every front end shows.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

from extract.errors import GroupNotFound, InvalidInput
from extract.index.models import GroupMember, RunGroup
from extract.index.read._common import among, shown, subtree

_MEMBERS = (
    "SELECT g.value, r.id, r.name, r.status, r.object_id IS NULL, r.experiment_path, "
    "r.started_at, "
    "(SELECT value FROM run_params WHERE run_id = r.id AND name = 'rank'), "
    "(SELECT value FROM run_params WHERE run_id = r.id AND name = 'world_size') "
    "FROM run_params g JOIN runs r ON r.id = g.run_id "
    "WHERE g.name = 'group' AND r.deleted = 0"
)


class _Row(NamedTuple):
    group: str
    run_id: str
    name: str | None
    status: str
    unsealed: int
    experiment_path: str
    started_at: str | None
    rank: str | None
    world_size: str | None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _groups(rows: Iterable[tuple[Any, ...]]) -> list[RunGroup]:
    found: dict[str, list[_Row]] = {}
    for raw in rows:
        row = _Row(*raw)
        found.setdefault(row.group, []).append(row)
    out = []
    for name, rows_of in found.items():
        sizes = {_int(m.world_size) for m in rows_of}
        ranked = sorted(rows_of, key=lambda m: (_int(m.rank) is None, _int(m.rank) or 0, m.run_id))
        started = [m.started_at for m in rows_of if m.started_at is not None]
        members = tuple(
            GroupMember(
                m.run_id, m.name, _int(m.rank), m.status, bool(m.unsealed) and m.status == "running"
            )
            for m in ranked
        )
        out.append(
            RunGroup(
                name=name,
                world_size=sizes.pop() if len(sizes) == 1 else None,
                experiment_paths=tuple(sorted({m.experiment_path for m in rows_of})),
                members=members,
                started_at=min(started) if started else None,
            )
        )
    return out


def group_of(conn: sqlite3.Connection, run_id: str) -> RunGroup | None:
    """The group of the job ``run_id`` is a rank of, every rank in it; None if none."""
    row = conn.execute(
        "SELECT value FROM run_params WHERE run_id = ? AND name = 'group'", (run_id,)
    ).fetchone()
    return None if row is None else get_group(conn, row[0])


def get_group(conn: sqlite3.Connection, name: object) -> RunGroup:
    """One job's group by its exact name (``torchrun:<id>``, ``slurm:...``, or the name
    given to ``experiment.run(group=...)``)."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"a group name must be a non-empty string, got {shown(name)}")
    rows = conn.execute(f"{_MEMBERS} AND g.value = ?", (name,)).fetchall()
    if not rows:
        close = difflib.get_close_matches(name, _names(conn), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise GroupNotFound(f"Group not found: {name!r}{hint}")
    return _groups(rows)[0]


def list_groups(conn: sqlite3.Connection, scope: str = "") -> tuple[RunGroup, ...]:
    """Every job's group with a run in the experiment path ``scope`` or below it, newest
    first (by its earliest run)."""
    cond, args = subtree(scope, "r.experiment_path")
    names = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT g.value FROM run_params g JOIN runs r ON r.id = g.run_id "
            f"WHERE g.name = 'group' AND r.deleted = 0 AND {cond}",
            args,
        )
    ]
    if not names:
        return ()
    cond, args = among("g.value", names)
    groups = _groups(conn.execute(f"{_MEMBERS} AND {cond}", args))
    return tuple(sorted(groups, key=lambda g: (g.started_at or "", g.name), reverse=True))


def _names(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0] for r in conn.execute("SELECT DISTINCT value FROM run_params WHERE name = 'group'")
    ]
