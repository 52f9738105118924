"""Which objects the other side lacks: a walk from the wanted commits that stops early.

The side that holds the wanted commits walks them (commits, state trees, the
objects under changed buckets), skipping every object it knows the receiver
already has: the commits the receiver names as its own, those commits' state
trees, buckets and bucket entries. An unchanged bucket is therefore skipped
whole, and an old run inside a changed bucket is skipped without being read,
so fetching one new run from a store of thousands touches only that run.
The receiver then drops whatever it already holds (objects shared with old
runs, or left by an interrupted transfer) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from extract.errors import CorruptObject, ObjectNotFound
from extract.objects import Commit, ObjectId, ObjectKind, Tree, to_hex
from extract.objects.kinds import cast
from extract.store.odb import DiskObjectStore
from extract.store.purges import PurgeReader
from extract.store.walk import sent_links

#: Threads reading links in a walk of a store.
WALK_THREADS = 4


class Graph(Protocol):
    """What the walk reads: a store, or the git transport's view of a git remote."""

    def has(self, oid: ObjectId) -> bool: ...

    def get(self, oid: ObjectId) -> ObjectKind: ...

    def links(self, oid: ObjectId) -> list[ObjectId]: ...


class StoreGraph:
    """A disk store as a Graph: links read without decoding blobs, and without verifying
    objects (``sent_links``): whatever the walk picks, the receiver verifies."""

    def __init__(self, odb: DiskObjectStore) -> None:
        self.odb = odb

    def has(self, oid: ObjectId) -> bool:
        return self.odb.has(oid)

    def get(self, oid: ObjectId) -> ObjectKind:
        return self.odb.get(oid)

    def links(self, oid: ObjectId) -> list[ObjectId]:
        return sent_links(self.odb, oid)


def _graph(source: DiskObjectStore | Graph) -> Graph:
    return StoreGraph(source) if isinstance(source, DiskObjectStore) else source


def ancestors(
    source: DiskObjectStore | Graph, heads: Iterable[ObjectId], limit: int | None = None
) -> set[ObjectId]:
    """Commits reachable from ``heads`` that are present locally (missing ones end the walk)."""
    odb = _graph(source)
    seen: set[ObjectId] = set()
    stack = [h for h in heads if odb.has(h)]
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if limit is not None and len(seen) >= limit:
            break
        try:
            commit = cast(odb.get(c), Commit)
        except ObjectNotFound:
            continue
        stack.extend(p for p in commit.parents if p not in seen and odb.has(p))
    return seen


def _state_frontier(odb: Graph, commits: Iterable[ObjectId]) -> set[ObjectId]:
    """State trees of ``commits`` with their sections, buckets and bucket entries."""
    out: set[ObjectId] = set()
    for c in commits:
        state = cast(odb.get(c), Commit).state
        if state in out:
            continue
        out.add(state)
        for section in cast(odb.get(state), Tree).entries.values():
            if section in out:
                continue
            out.add(section)
            sec = odb.get(section)
            if not isinstance(sec, Tree):
                continue  # the hierarchy blob
            for bucket in sec.entries.values():
                if bucket in out:
                    continue
                out.add(bucket)
                out.update(cast(odb.get(bucket), Tree).entries.values())
    return out


def objects_to_send(
    source: DiskObjectStore | Graph, wants: Iterable[ObjectId], haves: Iterable[ObjectId]
) -> list[ObjectId]:
    """Objects reachable from ``wants`` and not known to be at the receiver, children first.

    Children come before the objects that link to them, so a receiver that writes in
    this order never holds an object whose links are missing, even when interrupted.
    """
    odb = _graph(source)
    have_commits = ancestors(odb, haves)
    skip = have_commits | _state_frontier(odb, have_commits)
    # Purged objects are neither sent nor required: old commits still link to them.
    skip |= purged_in(odb, wants, have_commits)
    links = _links_of_reachable(odb, wants, skip)
    order: list[ObjectId] = []
    visited: set[ObjectId] = set()
    for want in wants:
        if want in skip or want in visited:
            continue
        # iterative post-order DFS: an object is emitted after all of its links
        stack: list[tuple[ObjectId, bool]] = [(want, False)]
        while stack:
            oid, expanded = stack.pop()
            if expanded:
                order.append(oid)
                continue
            if oid in visited or oid in skip:
                continue
            visited.add(oid)
            stack.append((oid, True))
            stack.extend(
                (child, False) for child in links[oid] if child not in visited and child not in skip
            )
    return order


def purged_in(
    source: DiskObjectStore | Graph,
    wants: Iterable[ObjectId],
    beyond: AbstractSet[ObjectId] = frozenset(),
) -> set[ObjectId]:
    """The objects the purges recorded in ``wants`` remove from their history (the commits
    they reach, those in ``beyond`` excepted: the receiver has them already)."""
    odb = _graph(source)
    reader = PurgeReader(odb.get)
    wants = list(wants)
    purges = reader.purges_of(w for w in wants if odb.has(w))
    if not purges:
        return set()
    return reader.tombstones(ancestors(odb, wants) - beyond, purges)


def check_dangling(
    source: DiskObjectStore | Graph, heads: Iterable[ObjectId], dangling: set[ObjectId]
) -> None:
    """After a transfer taken with ``accept_dangling``: every link to an object that did not
    arrive must be to one a purge recorded in ``heads`` removed; else the sender left
    something out, which is refused as a missing child always was."""
    odb = _graph(source)
    left = {d for d in dangling if not odb.has(d)}
    if left:
        left -= purged_in(odb, heads)
    if left:
        first = to_hex(min(left))
        raise CorruptObject(
            first,
            None,
            None,
            f"a received object: it links to {first}, which did not arrive before it, and "
            f"no purge in the received history removed it ({len(left)} such object(s))",
        )


def check_connected(
    source: DiskObjectStore | Graph, wants: Iterable[ObjectId], haves: Iterable[ObjectId]
) -> None:
    """Raise (ObjectNotFound, or the error of a damaged object) unless everything ``wants``
    reaches, down to ``haves``, is present: the check before a ref moves onto ``wants``."""
    objects_to_send(source, wants, haves)


def _links_of_reachable(
    odb: Graph, wants: Iterable[ObjectId], skip: set[ObjectId]
) -> dict[ObjectId, list[ObjectId]]:
    """The links of every object reachable from ``wants`` without passing ``skip``, read a
    level at a time by several threads where the graph is a store (reading files and
    decompressing release the GIL: a full walk takes about half the time)."""
    links: dict[ObjectId, list[ObjectId]] = {}
    level = list(dict.fromkeys(w for w in wants if w not in skip))
    pool = ThreadPoolExecutor(max_workers=WALK_THREADS) if isinstance(odb, StoreGraph) else None
    try:
        while level:
            found = pool.map(odb.links, level) if pool else map(odb.links, level)
            links.update(zip(level, found, strict=True))
            level = list(
                dict.fromkeys(
                    c for oid in level for c in links[oid] if c not in links and c not in skip
                )
            )
    finally:
        if pool:
            pool.shutdown()
    return links
