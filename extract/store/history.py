"""State trees, staged entries and commits: how sealed work becomes history.

A commit's state is a tree with one entry per section (``runs``, ``models``,
``events``) plus ``hierarchy``. Each section is fanned out into up to 256
buckets by the first two hex digits of BLAKE3(key), so adding a run rewrites
one bucket and the root, not the whole list.

Sealed work waits in ``staged/``: one small file per run, model or event, each
naming its section, key and object. ``commit`` folds them into a new state,
writes the commit, moves ``refs/heads/main`` by compare-and-swap, then removes
the staged files it included. A crash between the ref move and the cleanup
leaves files whose entries are already in the state; the next commit drops them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import blake3

from extract.errors import (
    CorruptObject,
    ExtractError,
    InvalidInput,
    ModelConflict,
    ObjectFormatError,
    ObjectNotFound,
    RefConflict,
    SchemaError,
    StoreError,
)
from extract.objects import Blob, Commit, Event, Link, ObjectId, Tree, decode, encode
from extract.objects.kinds import cast
from extract.objects.names import MAX_NAME_BYTES
from extract.objects.segment import Segment
from extract.store.fsutil import atomic_write
from extract.store.odb import ObjectStore
from extract.store.refs import author
from extract.store.repo import MAIN, Repository

#: The state's sections; the first three hold data, ``purged`` what was removed for good.
SECTIONS = ("runs", "models", "events", "purged")
#: The section of purge records: key a run's ULID or a model's name@version key (the two
#: never collide: a ULID holds no ``@``), value the ``purge`` event that removed it.
PURGED = "purged"
HIERARCHY_ENTRY = "hierarchy"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bucket_of(key: str) -> str:
    return blake3.blake3(key.encode("utf-8")).hexdigest()[:2]


def model_key(name: str, version: str) -> str:
    """A tree-entry-safe key for name@version: each part percent-encoded."""
    for label, part in (("name", name), ("version", version)):
        if not isinstance(part, str) or not part.strip():
            raise InvalidInput(f"model {label} must be a non-empty string")
        if part in (".", ".."):
            raise InvalidInput(f"model {label} {part!r} is not allowed")
    key = f"{quote(name, safe='')}@{quote(version, safe='')}"
    if len(key.encode()) > MAX_NAME_BYTES:
        raise InvalidInput(
            f"model name@version is too long ({len(key.encode())} bytes once encoded; "
            f"at most {MAX_NAME_BYTES})"
        )
    return key


def purged_section(key: str) -> str:
    """The section a purged key was removed from: models have ``@`` in their key."""
    return "models" if "@" in key else "runs"


def split_model_key(key: str) -> tuple[str, str]:
    name, at, version = key.rpartition("@")
    if not at or not name or not version:
        raise SchemaError(f"model key {key!r} is not name@version")
    return unquote(name), unquote(version)


@dataclass
class State:
    sections: dict[str, dict[str, ObjectId]] = field(
        default_factory=lambda: {s: {} for s in SECTIONS}
    )
    hierarchy: str | None = None

    def __post_init__(self) -> None:
        # a state made from some sections has the others empty (a section added by a
        # later format, such as purged, is absent from states written before it)
        for s in SECTIONS:
            self.sections.setdefault(s, {})

    def copy(self) -> State:
        return State({s: dict(v) for s, v in self.sections.items()}, self.hierarchy)


def read_state(odb: ObjectStore, state_oid: ObjectId) -> State:
    root = cast(odb.get(state_oid), Tree)
    out = State()
    for section in SECTIONS:
        sec = root.entries.get(section)
        if sec is None:
            continue
        for bucket_oid in cast(odb.get(sec), Tree).entries.values():
            out.sections[section].update(cast(odb.get(bucket_oid), Tree).entries)
    h = root.entries.get(HIERARCHY_ENTRY)
    if h is not None:
        out.hierarchy = cast(odb.get(h), Blob).data.decode("utf-8")
    return out


def write_state(odb: ObjectStore, state: State) -> ObjectId:
    """Write the state's trees; unchanged buckets are the same objects as before."""
    root: dict[str, ObjectId] = {}
    for section in SECTIONS:
        entries = state.sections[section]
        if not entries:
            continue
        buckets: dict[str, dict[str, ObjectId]] = {}
        for key, oid in entries.items():
            buckets.setdefault(bucket_of(key), {})[key] = oid
        root[section] = odb.put(Tree({b: odb.put(Tree(v)) for b, v in buckets.items()}))
    if state.hierarchy is not None:
        root[HIERARCHY_ENTRY] = odb.put(Blob(state.hierarchy.encode("utf-8")))
    return odb.put(Tree(root))


def head_state(repo: Repository) -> tuple[ObjectId | None, State]:
    head = repo.refs.read(MAIN)
    if head is None:
        return None, State()
    return head, read_state(repo.objects, cast(repo.objects.get(head), Commit).state)


def drop_purged(
    odb: ObjectStore,
    state: State,
    checked_events: Iterable[ObjectId] = (),
    checked_runs: Iterable[ObjectId] = (),
) -> int:
    """Take every purged run and model version out of ``state`` (a purge is final: a
    commit or merge that brings one back drops it again), with the continuations
    (segments) of a purged run, made here or on another machine, and the events that
    annotate it. A segment dropped so is recorded as purged by its run's purge event, so
    every walk treats its objects as the run's. Entries in ``checked_events`` and
    ``checked_runs`` are known not to need it (checked against these purges before) and
    are not read. Returns how many entries went."""
    purged = state.sections[PURGED]
    if not purged:
        return 0
    dropped = 0
    for key in purged:
        if state.sections[purged_section(key)].pop(key, None) is not None:
            dropped += 1
    runs_purged = {k for k in purged if purged_section(k) == "runs"}
    skip = set(checked_runs)
    runs = state.sections["runs"]
    for key, oid in list(runs.items()):
        if oid in skip:
            continue
        obj = odb.get(oid)
        if isinstance(obj, Segment) and obj.run in runs_purged:
            del runs[key]
            purged[key] = purged[obj.run]
            dropped += 1
    skip = set(checked_events)
    targets = {f"run:{k}" for k in runs_purged}
    events = state.sections["events"]
    for key, oid in list(events.items()):
        if oid in skip:
            continue
        if cast(odb.get(oid), Event).target in targets:
            del events[key]
            dropped += 1
    return dropped


# staged entries --------------------------------------------------------------


@dataclass(frozen=True)
class Staged:
    path: Path
    section: str
    key: str
    oid: ObjectId


def stage(repo: Repository, section: str, key: str, oid: ObjectId) -> Path:
    """Record sealed work for the next commit. The object must already be durable."""
    if section not in SECTIONS:
        raise InvalidInput(f"unknown section {section!r}")
    name = f"{section}.{blake3.blake3(key.encode()).hexdigest()[:40]}"
    path = repo.staged_dir / name
    atomic_write(path, [encode({"section": section, "key": key, "object": Link(oid)})])
    return path


def is_continuation(repo: Repository, entry: Staged) -> bool:
    """A staged entry of the runs section that continues a run already sealed (the
    segment of a resumed run, sdk/resume.py) rather than adding a run."""
    return entry.section == "runs" and isinstance(repo.objects.get(entry.oid), Segment)


def list_staged(repo: Repository) -> list[Staged]:
    out = []
    for path in sorted(repo.staged_dir.glob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            try:
                v = decode(path.read_bytes())
            except FileNotFoundError:
                continue  # committed and removed by another process just now
            if not (
                type(v) is dict
                and v.get("section") in SECTIONS
                and type(v.get("key")) is str
                and type(v.get("object")) is Link
            ):
                raise SchemaError("bad staged entry")
        except (SchemaError, ValueError) as e:
            raise StoreError(
                f"staged entry {path} is damaged: {e}; `extract fsck` reports it"
            ) from None
        out.append(Staged(path, v["section"], v["key"], v["object"].id))
    return out


# commits -----------------------------------------------------------------------


@dataclass
class CommitResult:
    commit: ObjectId | None  # None: nothing to commit
    added: dict[str, int]


def apply_staged(
    base: State, staged: list[Staged], hierarchy: str | None
) -> tuple[State, dict[str, int]]:
    state = base.copy()
    added = {s: 0 for s in SECTIONS}
    for s in staged:
        current = state.sections[s.section].get(s.key)
        if current == s.oid:
            continue
        if current is not None and s.section == "models":
            name, version = split_model_key(s.key)
            raise ModelConflict(
                f"model {name}@{version} is already committed with different content "
                f"({current.hex()[:12]} vs {s.oid.hex()[:12]}); register a new version"
            )
        state.sections[s.section][s.key] = s.oid
        added[s.section] += 1
    if hierarchy is not None:
        state.hierarchy = hierarchy
    return state, added


def commit_staged(repo: Repository, message: str, attempts: int = 20) -> CommitResult:
    """Fold every staged entry into a new commit on main; retries when main moved."""
    if not message.strip():
        raise InvalidInput("a commit needs a message: extract commit -m 'what this is'")
    hierarchy = repo.config.hierarchy
    levels = " > ".join(hierarchy) if hierarchy else None
    # The writer lock first, always (store/writelock.py): new trees and the commit are
    # unnamed until main points at them.
    with repo.writing(), commit_lock(repo):
        return _commit_locked(repo, message, levels, attempts)


@contextlib.contextmanager
def commit_lock(repo: Repository) -> Iterator[None]:
    """Committers in one store take turns (the kernel drops the lock of a dead process).
    Without it, eight processes committing at once keep losing the compare-and-swap to
    each other; with it the swap still guards against merges and pulls moving main."""
    fd = os.open(repo.root / "commit.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _commit_locked(
    repo: Repository, message: str, levels: str | None, attempts: int
) -> CommitResult:
    for _ in range(attempts):
        staged = list_staged(repo)
        head, base = head_state(repo)
        state, added = apply_staged(base, staged, levels)
        # Work staged for a run or model version purged meanwhile (a tag from a stale
        # handle, a model registered again under a purged name@version) is dropped: a
        # purge is final. The base was checked when it was written.
        drop_purged(
            repo.objects, state, base.sections["events"].values(), base.sections["runs"].values()
        )
        added = {s: _count_missing(state.sections[s], base.sections[s]) for s in SECTIONS[:3]}
        if not any(added.values()) and (state.hierarchy == base.hierarchy or head is None):
            unstage(staged)
            return CommitResult(None, added)
        # a resumed run's segment sits in the runs section but adds no run: say so
        added["continued"] = sum(
            1
            for e in staged
            if base.sections[e.section].get(e.key) != e.oid
            and state.sections[e.section].get(e.key) == e.oid  # not dropped by a purge
            and is_continuation(repo, e)
        )
        added["runs"] -= added["continued"]
        state_oid = write_state(repo.objects, state)
        c = Commit(
            tuple([head] if head else ()),
            state_oid,
            author(),
            socket.gethostname(),
            now_iso(),
            message,
        )
        oid = repo.objects.put(c)
        repo.objects.sync()
        try:
            repo.refs.set(MAIN, oid, expected=head, message=f"commit: {message.splitlines()[0]}")
        except RefConflict:
            continue  # another process committed first: fold our entries onto theirs
        unstage(staged)
        return CommitResult(oid, added)
    raise StoreError(f"could not commit: main kept moving ({attempts} attempts)")


@dataclass
class ResetResult:
    old: ObjectId | None
    new: ObjectId
    removed: dict[str, int]  # per section: entries main held before and not now
    added: dict[str, int]  # and the other way round
    staged: int  # staged entries left for the next commit (uncommitted work: untouched)


def reset_main(repo: Repository, target: ObjectId, rev: str) -> ResetResult:
    """Move main to ``target``, an earlier (or any) commit, as ``git reset --soft`` does.

    Only ``refs/heads/main`` moves, by compare-and-swap under its lock and with its own
    reflog line, so the commits it leaves stay reachable from the reflog (gc keeps them,
    and ``reset main@{1}`` undoes the reset). Uncommitted work is not touched: staged
    entries (sealed runs, models and events waiting for a commit) and live runs'
    journals stay, and the next commit puts them on top of ``target``. Staged files
    that a crash left after their commit (their entry already in main) are removed, as
    the next commit would have: they are committed work, which the reset takes out of
    main with the rest. Refuses anything but a commit whose state can be read."""
    obj = repo.objects.get(target)  # ObjectNotFound (exit 3) if it is not here
    if not isinstance(obj, Commit):
        raise InvalidInput(
            f"{target.hex()[:12]} ({rev}) is a {obj.KIND} object, not a commit: main can only "
            "point at a commit (`extract log` lists them, `extract reflog` lists where main was)"
        )
    new_state = read_state(repo.objects, obj.state)  # a commit with a broken state: refused
    with commit_lock(repo):  # no commit folds staged entries onto the old head meanwhile
        old, old_state = head_state(repo)
        staged = list_staged(repo)
        if old != target:
            repo.refs.set(MAIN, target, expected=old, message=f"reset: moving to {rev}")
            unstage([s for s in staged if old_state.sections[s.section].get(s.key) == s.oid])
    # What main holds: runs, models, events (a purge record is not data).
    removed = {
        s: _count_missing(old_state.sections[s], new_state.sections[s]) for s in SECTIONS[:3]
    }
    added = {s: _count_missing(new_state.sections[s], old_state.sections[s]) for s in SECTIONS[:3]}
    return ResetResult(old, target, removed, added, len(list_staged(repo)))


def _count_missing(have: dict[str, ObjectId], other: dict[str, ObjectId]) -> int:
    return sum(1 for k, v in have.items() if other.get(k) != v)


def unstage(staged: list[Staged]) -> None:
    for s in staged:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(s.path)


def walk_commits(
    odb: ObjectStore,
    head: ObjectId,
    on_error: Callable[[ObjectId, ExtractError], None] | None = None,
) -> Iterator[tuple[ObjectId, Commit]]:
    """Every commit reachable from ``head``, newest first by time then id. With
    ``on_error``, a commit that cannot be read is reported there and the walk goes on
    without its ancestors (fsck names it), instead of raising."""
    seen: set[ObjectId] = set()
    frontier: list[tuple[Commit, ObjectId]] = []

    def visit(oid: ObjectId) -> None:
        if oid in seen:
            return
        seen.add(oid)
        try:
            frontier.append((cast(odb.get(oid), Commit), oid))
        except (ObjectNotFound, CorruptObject, ObjectFormatError) as e:
            if on_error is None:
                raise
            on_error(oid, e)

    visit(head)
    while frontier:
        frontier.sort(key=lambda cc: (cc[0].time, cc[1]), reverse=True)
        c, oid = frontier.pop(0)
        yield oid, c
        for p in c.parents:
            visit(p)
