"""What a missing or damaged object costs: the runs, models, events and commits that need it.

fsck finds a bad object by its id; a person needs to know what it belonged to. Going
up the links from the bad object (through trees, arrays, chunk lists and curve sets)
to the first run, model, event or commit names the cost, by name where the object is
readable: ``run 01J... (bench/resnet#lr-3)``. A run record that is itself missing is
named by its key in the state tree or staged entry that points at it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence

from extract.errors import ExtractError
from extract.objects import ObjectId, Tree, to_hex
from extract.objects.kinds import Commit, Event, ModelVersion, RunRecord
from extract.objects.segment import Segment
from extract.store.history import SECTIONS, list_staged
from extract.store.odb import ObjectStore
from extract.store.repo import Repository

#: Kinds that are what a person means by "a thing in the store": the walk up stops there.
OWNERS = ("run", "segment", "model", "event", "commit")
#: Names listed per bad object before "and N more".
SHOWN = 5


def label(odb: ObjectStore, oid: ObjectId, kind: str) -> str:
    """A readable name for an owner object."""
    try:
        obj = odb.get(oid)
    except ExtractError:
        return f"{kind} object {to_hex(oid)[:12]}"
    if isinstance(obj, RunRecord):
        return f"run {obj.id} ({obj.experiment}#{obj.name or ''})"
    if isinstance(obj, Segment):
        return f"run {obj.run} (its continuation {obj.id})"
    if isinstance(obj, ModelVersion):
        return f"model {obj.name}@{obj.version}"
    if isinstance(obj, Event):
        return f"event {obj.id} ({obj.op} on {obj.target})"
    if isinstance(obj, Commit):
        first = obj.message.splitlines()[0] if obj.message else ""
        return f'commit {to_hex(oid)[:12]} "{first}"'
    return f"{kind} object {to_hex(oid)[:12]}"


def _entry_label(section: str, key: str) -> str:
    singular = {"runs": "run", "models": "model", "events": "event"}[section]
    return f"{singular} {key}"


def needed_by(
    repo: Repository,
    bad: Iterable[ObjectId],
    links: Mapping[ObjectId, Sequence[ObjectId]],
    kinds: Mapping[ObjectId, str],
    roots: Sequence[tuple[str, ObjectId]],
) -> dict[ObjectId, list[str]]:
    """For each bad object, what depends on it (names of runs, models, events, commits,
    and refs or staged entries that point at it directly)."""
    odb = repo.objects
    parents: dict[ObjectId, list[ObjectId]] = {}
    for parent, children in links.items():
        for child in children:
            parents.setdefault(child, []).append(parent)
    staged: dict[ObjectId, tuple[str, str]] = {}
    with contextlib.suppress(ExtractError):  # a damaged staged entry is fsck's own error
        staged = {s.oid: (s.section, s.key) for s in list_staged(repo)}
    sections = _state_sections(odb, links, kinds)
    out: dict[ObjectId, list[str]] = {}
    for oid in bad:
        names: list[str] = []
        if oid in staged:
            names.append(f"staged {_entry_label(*staged[oid])}")
        names.extend(
            _root_label(name)
            for name, root in roots
            if root == oid and not (name.startswith("staged ") and oid in staged)
        )
        seen = {oid}
        stack = [oid]
        while stack:
            child = stack.pop()
            for p in parents.get(child, ()):
                if p in seen:
                    continue
                seen.add(p)
                kind = kinds.get(p, "")
                if kind in OWNERS:
                    names.append(label(odb, p, kind))
                elif p in sections and child == oid:
                    # a state bucket holding the bad object itself: the entry's key names it
                    names.extend(
                        _entry_label(sections[p], key)
                        for key, target in _entries(odb, p).items()
                        if target == oid
                    )
                else:
                    stack.append(p)
        out[oid] = list(dict.fromkeys(names))  # in order, once each
    return out


def _root_label(name: str) -> str:
    """A root as fsck's walk names it (``refs/...``, ``reflog refs/...``, ``staged F``,
    ``journal F``), as a person reads it."""
    if name.startswith("journal "):
        return f"live run {name.removeprefix('journal ').split('.')[0]}"
    if name.startswith("reflog "):
        return f"the reflog of {name.removeprefix('reflog ')}"
    if name.startswith("staged "):
        return f"staged entry {name.removeprefix('staged ')}"
    return f"ref {name}"


def summary(names: Sequence[str]) -> str:
    if not names:
        return "nothing reachable names it"
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _entries(odb: ObjectStore, oid: ObjectId) -> dict[str, ObjectId]:
    try:
        tree = odb.get(oid)
    except ExtractError:
        return {}
    return dict(tree.entries) if isinstance(tree, Tree) else {}


def _state_sections(
    odb: ObjectStore,
    links: Mapping[ObjectId, Sequence[ObjectId]],
    kinds: Mapping[ObjectId, str],
) -> dict[ObjectId, str]:
    """Bucket trees of every state (commit -> state root -> section -> bucket), mapped to
    their section: their entry names are run ids, model name@versions, event ids."""
    out: dict[ObjectId, str] = {}
    for oid, kind in kinds.items():
        if kind != "commit":
            continue
        try:
            commit = odb.get(oid)
        except ExtractError:
            continue
        if not isinstance(commit, Commit) or commit.state not in links:
            continue
        for section, sec_oid in _entries(odb, commit.state).items():
            if section not in SECTIONS or sec_oid not in links:
                continue
            for bucket in links[sec_oid]:
                out[bucket] = section
    return out
