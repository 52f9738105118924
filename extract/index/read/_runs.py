"""Runs: resolving what a person or agent typed, listing and searching, one run in full."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from extract.errors import AmbiguousId, InvalidInput, RunNotFound
from extract.index.models import (
    STATUSES,
    Artifact,
    Continuation,
    LineageRef,
    Page,
    RunDetail,
    RunRow,
    StatusCounts,
)
from extract.index.read import _curves as curve_reader
from extract.index.read._common import (
    RUN_COLUMNS,
    RUN_FULL,
    among,
    dict_rows,
    loads,
    num,
    paged,
    prefix_range,
    run_row,
    shown,
    subtree,
)
from extract.index.read._experiments import get_experiment
from extract.index.read._groups import group_of
from extract.index.read._labels import named
from extract.index.read._registry import list_models
from extract.index.read._todos import list_todos
from extract.store.odb import ObjectStore

#: The search filters (the MCP contract's names) and the condition each adds, AND-combined
#: with each other and the text.
FILTERS = {
    "tag": "extract_has_tag(tags, ?)",
    "status": "status = ?",
    "experiment_prefix": "",  # a range on the path: ``prefix_range``
    "started_after": "started_at > ?",
    "started_before": "started_at < ?",
}
ORDERS = {
    "newest": "started_at DESC, id DESC",
    "oldest": "started_at ASC, id ASC",
    "name": "name COLLATE NOCASE ASC, started_at ASC, id ASC",
    "status": "status ASC, started_at DESC, id DESC",
    "id": "id ASC",
}
#: Where a run is in its life (deleted runs are in none), in ``StatusCounts`` order. A
#: run is live only while its process holds the journal lock; one whose process died is
#: "crashed" (shown failed) until a writing command seals it.
#: A resumed run is uncommitted until its every segment (continuation) is committed.
_OPEN_SEGMENT = "id IN (SELECT run_id FROM segments WHERE commit_id IS NULL)"
STATES = {
    "live": "object_id IS NULL AND status = 'running'",
    "uncommitted": f"object_id IS NOT NULL AND (commit_id IS NULL OR {_OPEN_SEGMENT})",
    "committed": f"object_id IS NOT NULL AND commit_id IS NOT NULL AND NOT {_OPEN_SEGMENT}",
    "crashed": "object_id IS NULL AND status != 'running'",
}
#: A typed id prefix must be this long to match by prefix (ULIDs start with their time).
MIN_PREFIX = 4
ULID_LENGTH = 26


# resolving ----------------------------------------------------------------------------


def resolve_run(conn: sqlite3.Connection, text: object, *, hint: bool = False) -> str:
    """The run id ``text`` names: a full id (any case), a unique id prefix, or a unique run
    name. ``RunNotFound`` (``Run not found: 'X'``, exactly the reference's words; with
    ``hint``, close names follow) or ``AmbiguousId`` (with the candidates) otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise RunNotFound(f"Run not found: {shown(text)}")
    t = text.strip()
    row = conn.execute("SELECT id FROM runs WHERE id = ?", (t.upper(),)).fetchone()
    if row:
        return str(row[0])
    found: list[str] = []
    if MIN_PREFIX <= len(t) <= ULID_LENGTH and t.isalnum() and t.isascii():
        p = t.upper()  # a range on the primary key: '~' sorts after every id character
        found = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 6", (p, p + "~")
            )
        ]
    if not found:
        found = [
            r[0]
            for r in conn.execute("SELECT id FROM runs WHERE name = ? ORDER BY id LIMIT 6", (t,))
        ]
    if len(found) == 1:
        return str(found[0])
    if found:
        listed = ", ".join(_labelled(conn, found[:5]))
        raise AmbiguousId(
            f"run {shown(text)} is ambiguous: it matches {listed}"
            f"{' and more' if len(found) > 5 else ''}; give more of the id"
        )
    raise RunNotFound(f"Run not found: {shown(text)}{_close_names(conn, t) if hint else ''}")


def _labelled(conn: sqlite3.Connection, ids: Sequence[str]) -> list[str]:
    cond, args = among("id", ids)
    rows = {
        r[0]: f"{r[0]} ({r[1]}#{r[2] or r[0][:10]})"
        for r in conn.execute(f"SELECT id, experiment_path, name FROM runs WHERE {cond}", args)
    }
    return [rows.get(i, i) for i in ids]


def _close_names(conn: sqlite3.Connection, text: str) -> str:
    names = [r[0] for r in conn.execute("SELECT DISTINCT name FROM runs WHERE name IS NOT NULL")]
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.75)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


# listing and searching -------------------------------------------------------------------


def _utc_text(name: str, value: object) -> str:
    """An ISO 8601 date or time as the index writes timestamps (UTC, milliseconds, Z),
    so a string comparison in SQL orders them correctly. Naive times are UTC."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"Invalid value for filter {shown(name)}: expected an ISO 8601 string, got {shown(value)}"
        )
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"Invalid value for filter {shown(name)}: {shown(value)} is not an ISO 8601 date or time "
            "(e.g. 2024-05-01 or 2024-05-01T12:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, str]:
    """The filters, checked: known names only, string values, a known status, ISO times."""
    if not filters:
        return {}
    if not isinstance(filters, Mapping):
        raise InvalidInput(
            f"filters must be an object such as {{'status': 'completed'}}, got {shown(filters)}"
        )
    out: dict[str, str] = {}
    for name, value in filters.items():
        if name not in FILTERS:
            raise InvalidInput(
                f"Unknown filter: {shown(name)}. Valid filters: {', '.join(FILTERS)}"
            )
        if name in ("started_after", "started_before"):
            out[name] = _utc_text(name, value)
            continue
        if not isinstance(value, str):
            raise InvalidInput(
                f"Invalid value for filter {shown(name)}: expected a string, got {shown(value)}"
            )
        if name == "status" and value not in STATUSES:
            raise InvalidInput(
                f"Invalid status: {shown(value)}. Valid statuses: {', '.join(STATUSES)}"
            )
        out[name] = value
    return out


def _tags(tags_json: str | None) -> list[Any]:
    try:
        tags = json.loads(tags_json) if tags_json else []
    except ValueError:
        return []
    return tags if isinstance(tags, list) else []


def _has_tag(tags_json: str | None, tag: str) -> int:
    return int(tag in _tags(tags_json))


def _matches(run_id: str, name: str | None, tags: str | None, notes: str | None, q: str) -> int:
    """The one search rule: a case-insensitive substring of the name, a tag or the notes,
    or a prefix of the id."""
    if run_id.casefold().startswith(q):
        return 1
    if (name and q in name.casefold()) or (notes and q in notes.casefold()):
        return 1
    return int(any(q in str(t).casefold() for t in _tags(tags)))


def search_condition(
    conn: sqlite3.Connection, query: str, filters: Mapping[str, Any] | None
) -> tuple[list[str], list[Any]]:
    """SQL conditions (AND-combined, on ``runs`` columns named unqualified) and arguments
    for the one search rule and filters."""
    checked = check_filters(filters)
    where: list[str] = []
    args: list[Any] = []
    for name, value in checked.items():
        cond, more = FILTERS[name], [value]
        if name == "experiment_prefix":
            cond, more = prefix_range("experiment_path", value)
        where.append(cond)
        args += more
    if "tag" in checked:
        conn.create_function("extract_has_tag", 2, _has_tag, deterministic=True)
    q = query.strip().casefold() if isinstance(query, str) else ""
    if q:
        if q.isascii() and q.isprintable() and not {'"', "\\"} & set(q):
            # A cheap superset first (SQLite's lower() folds ASCII; an ASCII tag shows as
            # itself in the tags JSON), so the exact rule runs on candidates only.
            where.append(
                "(instr(lower(id), ?) = 1 OR instr(lower(name), ?) > 0 "
                "OR instr(lower(notes), ?) > 0 OR instr(lower(tags), ?) > 0)"
            )
            args += [q, q, q, q]
        conn.create_function("extract_matches", 5, _matches, deterministic=True)
        where.append("extract_matches(id, name, tags, notes, ?)")
        args.append(q)
    return where, args


def list_runs(
    conn: sqlite3.Connection,
    scope: str = "",
    *,
    exact: bool = False,
    query: str = "",
    filters: Mapping[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    state: str | None = None,
    commit: str | None = None,
    group: str | None = None,
    order: str = "newest",
    limit: int | None = None,
    offset: int = 0,
    include_deleted: bool = False,
    full: bool = False,
) -> Page[RunRow]:
    """Runs in the experiment ``scope`` (an id or path; "" for the store) and below it
    (only in it if ``exact``), matching ``query`` (see ``_matches``) and ``filters`` (see
    :data:`FILTERS`), and if given among ``ids``, in ``state`` (see :data:`STATES`),
    added by ``commit`` or ranks of the job ``group``; in ``order`` (see :data:`ORDERS`); deleted runs left out unless
    asked. ``full`` rows carry the config, notes and code provenance."""
    if order not in ORDERS:
        raise InvalidInput(f"unknown order {shown(order)}: use one of {', '.join(ORDERS)}")
    if state is not None and state not in STATES:
        raise InvalidInput(f"unknown state {shown(state)}: use one of {', '.join(STATES)}")
    where, args = search_condition(conn, query, filters)
    if scope:
        path = get_experiment(conn, scope).path
        cond, more = ("experiment_path = ?", [path]) if exact else subtree(path)
        where.append(cond)
        args += more
    if ids is not None:
        cond, more = among("id", ids)
        where.append(cond)
        args += more
    if state is not None:
        where.append(STATES[state])
    if commit is not None:
        where.append("commit_id = ?")
        args.append(commit)
    if group is not None:
        where.append("id IN (SELECT run_id FROM run_params WHERE name = 'group' AND value = ?)")
        args.append(group)
    if not include_deleted:
        where.append("deleted = 0")
    cols = RUN_FULL if full else RUN_COLUMNS
    cond = " AND ".join(where) or "1"
    rows, total = paged(conn, cols, "runs r", cond, args, ORDERS[order], limit, offset)
    return Page(tuple(run_row(r) for r in rows), total)


def headline(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    """run id -> {metric: value} for the given runs; NaN where NaN was logged."""
    out: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
    cond, args = among("run_id", run_ids)
    sql = f"SELECT run_id, name, value FROM scalar_metrics WHERE {cond} ORDER BY name"
    for rid, name, value in conn.execute(sql, args):
        out[rid][name] = num(value)
    return out


def params(conn: sqlite3.Connection, run_id: str) -> dict[str, str]:
    """The strings a run logged with ``run.log``, by name."""
    sql = "SELECT name, value FROM run_params WHERE run_id = ? ORDER BY name"
    return dict(conn.execute(sql, (run_id,)))


def metric_names(conn: sqlite3.Connection, scope: str = "") -> list[str]:
    """Headline metric names logged by the runs in the experiment ``scope`` and below."""
    cond, args = subtree(scope, "r.experiment_path")
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT s.name FROM scalar_metrics s JOIN runs r ON r.id = s.run_id "
            f"WHERE {cond} AND r.deleted = 0 ORDER BY s.name",
            args,
        )
    ]


def status_counts(conn: sqlite3.Connection) -> StatusCounts:
    """How many runs are in each of :data:`STATES`."""
    sums = ", ".join(f"SUM({cond})" for cond in STATES.values())
    row = conn.execute(f"SELECT {sums} FROM runs WHERE deleted = 0").fetchone()
    return StatusCounts(*(int(n or 0) for n in row))


_ARTIFACT = "id, name, kind, step, shape, dtype, metadata, created_at, object_id, rel_path"


def artifacts(
    conn: sqlite3.Connection, run_ids: Sequence[str], kind: str | None = None
) -> dict[str, tuple[Artifact, ...]]:
    """The artifacts of the given runs (tables, texts, images; only those of ``kind``,
    "matrix" or "text" say, if given), by run id, each run's by name then step; a run
    without any maps to ``()``."""
    cond, args = among("run_id", run_ids)
    if kind is not None:
        cond += " AND kind = ?"
        args.append(kind)
    found: dict[str, list[Artifact]] = {rid: [] for rid in run_ids}
    sql = f"SELECT run_id, {_ARTIFACT} FROM artifacts WHERE {cond} ORDER BY run_id, name, step"
    for r in dict_rows(conn.execute(sql, args)):
        shape = tuple(loads(r["shape"])) if r["shape"] else None
        found[r.pop("run_id")].append(
            Artifact(**{**r, "shape": shape, "metadata": loads(r["metadata"])})
        )
    return {rid: tuple(items) for rid, items in found.items()}


def pick_artifact(
    artifacts: Sequence[Artifact], name: str, kind: str | None = None, step: int | None = None
) -> Artifact | None:
    """The artifact a reader means by ``name`` (and ``kind``): the one at ``step`` if
    given; without a step, the one logged without a step if there is one, else the
    latest step. ``artifacts`` as ``artifacts()`` orders them (by name, then step);
    None when there is no such stored artifact."""
    found = [
        a for a in artifacts if a.name == name and (kind is None or a.kind == kind) and a.object_id
    ]
    if step is not None:
        found = [a for a in found if a.step == step]
    elif any(a.step is None for a in found):
        found = [a for a in found if a.step is None]
    return found[-1] if found else None


# one run ---------------------------------------------------------------------------------


def get_run(conn: sqlite3.Connection, text: object, odb: ObjectStore | None = None) -> RunDetail:
    """Everything the index knows about one run (``text`` as ``resolve_run`` takes it),
    its curves summarised. With ``odb``, a sealed run's curve summary comes from its
    objects (see ``curves.curve_stats``)."""
    rid = resolve_run(conn, text)
    run = list_runs(conn, ids=[rid], include_deleted=True, full=True).items[0]
    assert run.code is not None and run.notes is not None  # a full row
    parents = conn.execute(
        "SELECT parent_type, parent_id, relation, created_at FROM lineage "
        "WHERE child_type = 'run' AND child_id = ? ORDER BY id",
        (rid,),
    ).fetchall()
    names = named(conn, [(t, i) for t, i, _, _ in parents])
    return RunDetail(
        run=run,
        config=run.config,
        notes=run.notes,
        metrics=headline(conn, [rid])[rid],
        params=params(conn, rid),
        artifacts=artifacts(conn, [rid])[rid],
        curves=curve_reader.curve_stats(conn, rid, odb=odb),
        todos=list_todos(conn, "run", rid, include_done=True).items,
        models=list_models(conn, run_id=rid).items,
        lineage=tuple(LineageRef(t, i, rel, at, *names[(t, i)]) for t, i, rel, at in parents),
        code=run.code,
        group=group_of(conn, rid),
        continuations=tuple(
            Continuation(*row)
            for row in conn.execute(
                "SELECT id, started_at, ended_at, status, hostname, commit_id FROM segments "
                "WHERE run_id = ? ORDER BY id",
                (rid,),
            )
        ),
    )
