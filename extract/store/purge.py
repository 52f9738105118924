"""``extract purge``: drop runs and model versions for good, and free their space.

A purge is ``restic forget`` and ``prune`` in one: it records in history what it removes
(one ``purge`` event per run or model version, in the state's ``purged`` section), takes
the entries out of main, then frees the objects only they reached. It is a commit like any
other, so it travels by fetch, merge, push and bundles; see ``store/purges.py`` for how
every walk treats the objects old commits still link to.

What is removed: the run's records (every version any commit held), its curves, tables,
texts and files, the events annotating it, and of a model version its record and bytes.
A purged run takes the model versions it registered with it (unless told to keep them).
What stays: anything shared with what is kept (a chunk of a kept checkpoint), the
commits, and lineage edges of kept runs that point at a purged run.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field

from extract.errors import (
    Conflict,
    ExtractError,
    InvalidInput,
    LockHeld,
    ModelNotFound,
    RefConflict,
    RunNotFound,
    StoreError,
)
from extract.objects import Commit, Event, ModelVersion, ObjectId, RunRecord, new_ulid, to_hex
from extract.objects.kinds import cast
from extract.objects.segment import Segment
from extract.store.gc import GcReport, gc
from extract.store.history import (
    PURGED,
    Staged,
    State,
    commit_lock,
    drop_purged,
    head_state,
    list_staged,
    model_key,
    now_iso,
    purged_section,
    split_model_key,
    unstage,
    write_state,
)
from extract.store.purges import (
    OBJECTS,
    PurgeReader,
    Purges,
    Tombstones,
    commits_of,
    repo_tombstones,
)
from extract.store.refs import author
from extract.store.repo import MAIN, Repository
from extract.store.walk import object_links


@dataclass
class PurgePlan:
    """What a purge removes: keys by section, and what gc can then free."""

    runs: list[str] = field(default_factory=list)  # run ULIDs
    models: list[str] = field(default_factory=list)  # name@version (as typed)
    already: list[str] = field(default_factory=list)  # purged before: nothing to do
    objects: int = 0
    bytes: int = 0
    #: key -> every object id it held in this store's history and staged work
    held: dict[str, frozenset[ObjectId]] = field(default_factory=dict)


@dataclass
class PurgeResult:
    plan: PurgePlan
    commit: ObjectId | None = None
    freed: GcReport | None = None
    #: Why the space was not freed at once (another gc running), or None.
    not_freed: str | None = None


def plan_purge(
    repo: Repository,
    runs: list[str],
    models: list[tuple[str, str]],
    keep_models: bool = False,
) -> PurgePlan:
    """Check every target and measure what purging them frees; changes nothing.

    ``runs`` are full run ids (the caller resolves names and prefixes through the index);
    ``models`` are (name, version). A purged run takes the model versions it registered
    with it unless ``keep_models``. A target neither committed nor staged is NotFound; a
    target purged before is listed in ``already``; a run still being written is refused."""
    if not runs and not models:
        raise InvalidInput("nothing to purge: name one or more runs (id or name) or MODEL@VERSION")
    head, state = head_state(repo)
    staged = list_staged(repo)
    staged_keys = {(s.section, s.key) for s in staged}
    out = PurgePlan()
    keys: list[tuple[str, str]] = [("runs", r) for r in dict.fromkeys(runs)]
    keys += [("models", model_key(n, v)) for n, v in dict.fromkeys(models)]
    segments = _segments_of(repo, state, staged, set(runs))
    if not keep_models:
        named = {k for _, k in keys}
        for rid in dict.fromkeys(runs):
            held = _models_of(repo, state, staged, [rid, *segments.get(rid, ())])
            keys += [("models", k) for k in held if k not in named]
            named.update(k for _, k in keys)
    for section, key in keys:
        if key in state.sections[PURGED]:
            out.already.append(_label(section, key))
            continue
        if section == "runs":
            _check_not_live(repo, [key])
        if key not in state.sections[section] and (section, key) not in staged_keys:
            if section == "runs":
                raise RunNotFound(f"Run not found: {key!r}: neither committed nor sealed here")
            name, version = split_model_key(key)
            raise ModelNotFound(f"Model not found: '{name}@{version}': not registered here")
        (out.runs if section == "runs" else out.models).append(
            key if section == "runs" else _label(section, key)
        )
        out.held[key] = frozenset()
    if not out.held:
        return out
    own = _own_heads(repo, head)
    reader = PurgeReader(repo.objects.get)
    commits = commits_of(repo.objects.get, own)
    for key in out.held:
        found = reader.under_keys(commits, [key, *segments.get(key, ())])
        found |= {s.oid for s in staged if s.key == key and s.section == purged_section(key)}
        found |= {s.oid for s in staged if s.key in segments.get(key, ())}
        out.held[key] = frozenset(found)
    tomb = repo_tombstones(repo, Purges(dict(out.held)))
    rep = gc(repo, grace_seconds=0, dry_run=True, only=_closure(repo, tomb), tomb=tomb)
    out.objects, out.bytes = len(rep.removed), rep.bytes_removed
    return out


def purge(repo: Repository, plan: PurgePlan, message: str | None = None) -> PurgeResult:
    """Record the purge of ``plan`` (from ``plan_purge``) in a commit on main, then free
    the objects only the purged entries reached."""
    result = PurgeResult(plan)
    if not plan.held:
        return result
    with repo.writing(), commit_lock(repo):
        # again under the locks: a run may have been resumed since the plan was made
        _check_not_live(repo, plan.runs)
        result.commit = _record(repo, plan, message)
    try:
        tomb = repo_tombstones(repo)
        result.freed = gc(repo, grace_seconds=0, only=_closure(repo, tomb), tomb=tomb)
    except LockHeld:
        result.not_freed = "another gc is running; run `extract gc` once it is done"
    except ExtractError as e:  # recorded, not freed: gc frees it once the problem is fixed
        result.not_freed = f"{e}; once that is fixed, `extract gc` frees the purged objects"
    return result


def _check_not_live(repo: Repository, runs: list[str]) -> None:
    live = {p.name.split(".")[0] for p in repo.journal_dir.glob("*.journal")}
    for key in runs:
        if key in live:
            raise Conflict(
                f"run {key} is still being written (its journal is open): let it finish, "
                "or stop it, before purging it"
            )


def _record(repo: Repository, plan: PurgePlan, message: str | None, attempts: int = 20) -> ObjectId:
    odb = repo.objects
    events = {}
    for key, held in plan.held.items():
        target = f"run:{key}" if purged_section(key) == "runs" else f"model:{_label('models', key)}"
        ev = Event(new_ulid(), now_iso(), "purge", target, {OBJECTS: sorted(map(to_hex, held))})
        events[key] = odb.put(ev)
    n_runs, n_models = len(plan.runs), len(plan.models)
    msg = message or "purge: " + ", ".join(
        f"{n} {what}{'s' if n != 1 else ''}"
        for n, what in ((n_runs, "run"), (n_models, "model version"))
        if n
    )
    for _ in range(attempts):
        head, base = head_state(repo)
        state = base.copy()
        state.sections[PURGED].update(events)
        drop_purged(odb, state)
        c = Commit(
            tuple([head] if head else ()),
            write_state(odb, state),
            author(),
            socket.gethostname(),
            now_iso(),
            msg,
        )
        oid = odb.put(c)
        odb.sync()
        try:
            repo.refs.set(MAIN, oid, expected=head, message=f"purge: {msg}")
        except RefConflict:
            continue  # main moved (a merge, a pull): purge on top of it
        # Staged work of what was purged would be dropped by the next commit anyway; remove
        # it now so nothing (gc included) still holds it.
        # By object as well as by key: a resumed run's continuation is staged under its
        # own key, and gc below frees its object.
        gone = set(plan.held) | set(state.sections[PURGED])
        ids = set().union(*plan.held.values())
        unstage([s for s in list_staged(repo) if s.key in gone or s.oid in ids])
        return oid
    raise StoreError(f"could not record the purge: main kept moving ({attempts} attempts)")


def _models_of(repo: Repository, state: State, staged: list[Staged], keys: list[str]) -> list[str]:
    """Keys of the model versions the runs-section entries ``keys`` (a run and its
    continuations) registered that main or staged work holds."""
    entries = dict(state.sections["runs"])
    entries.update({s.key: s.oid for s in staged if s.section == "runs"})
    held = set(state.sections["models"]) | {s.key for s in staged if s.section == "models"}
    out = []
    for key in keys:
        oid = entries.get(key)
        if oid is None:
            continue
        record = repo.objects.get(oid)
        if not isinstance(record, RunRecord | Segment):
            continue
        for link in record.models:
            m = cast(repo.objects.get(link), ModelVersion)
            mkey = model_key(m.name, m.version)
            if mkey in held and mkey not in out:
                out.append(mkey)
    return out


def _segments_of(
    repo: Repository, state: State, staged: list[Staged], run_ids: set[str]
) -> dict[str, list[str]]:
    """Keys of the continuations (segments of a resumed run) of ``run_ids`` that main or
    staged work holds, by run: they are purged with their run."""
    out: dict[str, list[str]] = {}
    if not run_ids:
        return out
    entries = dict(state.sections["runs"])
    entries.update({s.key: s.oid for s in staged if s.section == "runs"})
    for key, oid in entries.items():
        if key in run_ids:
            continue
        obj = repo.objects.get(oid)
        if isinstance(obj, Segment) and obj.run in run_ids:
            out.setdefault(obj.run, []).append(key)
    return out


def _closure(repo: Repository, tomb: Tombstones) -> set[ObjectId]:
    """What the purged objects reach, as far as it is here (what a purge may free)."""
    seen: set[ObjectId] = set()
    stack = [o for o in tomb.drop if repo.objects.has(o)]
    while stack:
        oid = stack.pop()
        if oid in seen:
            continue
        seen.add(oid)
        try:
            stack.extend(c for c in object_links(repo.objects, oid) if c not in seen)
        except ExtractError:
            continue  # missing or damaged: nothing under it to free (fsck names it)
    return seen


def _own_heads(repo: Repository, head: ObjectId | None) -> list[ObjectId]:
    """main and every commit its reflog names: the history a purge must cover."""
    out = [head] if head else []
    # A damaged reflog: fsck names it, and gc refuses to run until it is fixed.
    with contextlib.suppress(ExtractError):
        out += [o for e in repo.refs.reflog(MAIN) for o in (e.old, e.new) if o is not None]
    return list(dict.fromkeys(out))


def _label(section: str, key: str) -> str:
    if section == "runs":
        return key
    name, version = split_model_key(key)
    return f"{name}@{version}"
