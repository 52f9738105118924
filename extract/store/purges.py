"""What purges say: which objects every walk treats as absent on purpose.

A purge is recorded in history (``history.PURGED``: key -> ``purge`` event), so it
travels with fetch, merge, push and bundles like any state entry. Old commits still link
to what was purged, so every walk that follows links from history (gc, fsck, the sender's
walk of a transfer, the receiver's check) asks this module which objects those are:

- **by key**: the object each commit's state holds under a purged key (every version of
  the run or model version that any commit held, including versions made on another
  machine that the purging store never saw);
- **by id**: the ids the purge event lists, because a kept run's record links the model
  versions it registered, and purging such a model must not keep its bytes through it.

An object so named is not followed and its absence is not an error. Anything else that
links to the same content (a chunk shared with a kept model) is reached through the
kept object and stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from extract.errors import ExtractError
from extract.objects import Commit, Event, ObjectId, ObjectKind, Tree, from_hex
from extract.objects.kinds import cast
from extract.store.history import PURGED, bucket_of, purged_section
from extract.store.repo import Repository

Get = Callable[[ObjectId], ObjectKind]

#: The key of a purge event's ``data`` listing the ids it removed (hex strings, not links:
#: a link would make gc keep, and fsck require, exactly what was purged).
OBJECTS = "objects"


@dataclass
class Purges:
    """Purged keys, each with the ids its purge event lists."""

    keys: dict[str, frozenset[ObjectId]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def update(self, other: Purges) -> None:
        for key, ids in other.keys.items():
            self.keys[key] = self.keys.get(key, frozenset()) | ids

    def listed(self) -> set[ObjectId]:
        return {oid for ids in self.keys.values() for oid in ids}


def purge_event_ids(event: Event) -> frozenset[ObjectId]:
    listed = event.data.get(OBJECTS)
    if not isinstance(listed, list):
        return frozenset()
    out = set()
    for h in listed:
        if not isinstance(h, str):
            continue
        try:
            out.add(from_hex(h))
        except ExtractError:
            continue  # a malformed id names nothing: nothing to treat as purged
    return frozenset(out)


class PurgeReader:
    """Reads purge sections and state buckets once each (commits share most of them)."""

    def __init__(self, get: Get) -> None:
        self.get = get
        self._trees: dict[ObjectId, Mapping[str, ObjectId]] = {}
        self._events: dict[ObjectId, frozenset[ObjectId]] = {}

    def tree(self, oid: ObjectId) -> Mapping[str, ObjectId]:
        entries = self._trees.get(oid)
        if entries is None:
            entries = self._trees[oid] = cast(self.get(oid), Tree).entries
        return entries

    def state_of(self, commit: ObjectId) -> Mapping[str, ObjectId] | None:
        """The root of a commit's state; None where history cannot be read (fsck names it)."""
        try:
            return self.tree(cast(self.get(commit), Commit).state)
        except ExtractError:
            return None

    def purges_of(self, commits: Iterable[ObjectId]) -> Purges:
        """The purges recorded in the states of ``commits`` (not their ancestors: a purge
        is carried forward by every later commit and merge, so a head holds them all)."""
        out = Purges()
        for c in commits:
            root = self.state_of(c)
            sec = root.get(PURGED) if root is not None else None
            if sec is None:
                continue
            try:
                for bucket in self.tree(sec).values():
                    for key, ev in self.tree(bucket).items():
                        ids = self._events.get(ev)
                        if ids is None:
                            ids = self._events[ev] = purge_event_ids(cast(self.get(ev), Event))
                        out.keys[key] = out.keys.get(key, frozenset()) | ids
            except ExtractError:
                continue  # a damaged purge record: fsck names it; its keys are not honoured
        return out

    def under_keys(self, commits: Iterable[ObjectId], keys: Iterable[str]) -> set[ObjectId]:
        """The objects the states of ``commits`` hold under ``keys``."""
        wanted = [(k, purged_section(k), bucket_of(k)) for k in keys]
        out: set[ObjectId] = set()
        if not wanted:
            return out
        for c in commits:
            root = self.state_of(c)
            if root is None:
                continue
            for key, section, bucket in wanted:
                sec = root.get(section)
                if sec is None:
                    continue
                try:
                    b = self.tree(sec).get(bucket)
                    oid = None if b is None else self.tree(b).get(key)
                except ExtractError:
                    continue
                if oid is not None:
                    out.add(oid)
        return out

    def tombstones(self, commits: Iterable[ObjectId], purges: Purges) -> set[ObjectId]:
        """Every object ``purges`` remove from the history of ``commits``."""
        if not purges:
            return set()
        return self.under_keys(commits, purges.keys) | purges.listed()


def commits_of(get: Get, heads: Iterable[ObjectId]) -> list[ObjectId]:
    """Every commit reachable from ``heads`` (those that are commits and can be read)."""
    seen: set[ObjectId] = set()
    stack = list(heads)
    while stack:
        oid = stack.pop()
        if oid in seen:
            continue
        try:
            obj = get(oid)
        except ExtractError:
            continue
        if not isinstance(obj, Commit):
            continue
        seen.add(oid)
        stack.extend(p for p in obj.parents if p not in seen)
    return sorted(seen)


@dataclass
class Tombstones:
    """What a walk of this store's history treats as purged."""

    #: Purged by this store's own history (its branches and their reflogs): gc does not
    #: keep these, even where an old commit or a remote-tracking ref still reaches them.
    drop: set[ObjectId] = field(default_factory=set)
    #: Also purged by a remote-tracking ref not merged yet: absent without an error, kept
    #: while present (main still holds the run until the purge is merged).
    absent: set[ObjectId] = field(default_factory=set)


def repo_tombstones(repo: Repository, extra: Purges | None = None) -> Tombstones:
    """The tombstones of every commit a ref or reflog of ``repo`` reaches; ``extra``: purges
    not recorded yet, counted as this store's own (what ``purge`` shows before it acts)."""
    own_heads: list[ObjectId] = []
    other_heads: list[ObjectId] = []
    for name in repo.refs.names():
        try:
            oid = repo.refs.read(name)
        except ExtractError:
            continue  # fsck and gc name a damaged ref
        if oid is not None:
            (own_heads if name.startswith("refs/heads/") else other_heads).append(oid)
    for name in repo.refs.reflog_names():
        try:
            entries = repo.refs.reflog(name)
        except ExtractError:
            continue
        heads = own_heads if name.startswith("refs/heads/") else other_heads
        heads.extend(o for e in entries for o in (e.old, e.new) if o is not None)
    own_heads, other_heads = list(dict.fromkeys(own_heads)), list(dict.fromkeys(other_heads))
    reader = PurgeReader(repo.objects.get)
    own = reader.purges_of(own_heads)
    if extra is not None:
        own.update(extra)
    every = reader.purges_of(other_heads)
    every.update(own)
    if not every:
        return Tombstones()
    commits = commits_of(repo.objects.get, own_heads + other_heads)
    drop = reader.tombstones(commits, own)
    return Tombstones(drop, drop | reader.tombstones(commits, every))


def is_purged(repo: Repository, key: str) -> bool:
    """Whether main's state lists ``key`` (a run id or a model key) as purged: a few small
    reads (the head, its state, one bucket of the purged section)."""
    head = repo.refs.read("refs/heads/main")
    if head is None:
        return False
    reader = PurgeReader(repo.objects.get)
    root = reader.state_of(head)
    sec = root.get(PURGED) if root is not None else None
    if sec is None:
        return False
    bucket = reader.tree(sec).get(bucket_of(key))
    return bucket is not None and key in reader.tree(bucket)
