"""The transport interface, and ``receive``: what every transfer does with what arrives."""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence

from extract.objects import ObjectId, to_hex
from extract.store.odb import Buffer, DiskObjectStore, ObjectStore

#: Called once per object moved, with its stored size.
Tick = Callable[[int], None]


def receive(
    odb: ObjectStore, items: Iterable[tuple[ObjectId, Buffer]], tick: Tick | None = None
) -> int:
    """Verify and store objects arriving in stored form, children first, durably in groups.

    Writing and making groups durable run in background threads while the next objects
    arrive and are checked (``ObjectStore.ingest``), which also decides when a group is
    closed and put in place (by size and by age), so a transfer killed at any moment keeps
    what arrived up to the last few seconds or 64 MiB."""
    n = 0
    with odb.ingest() as incoming:
        for oid, stored in items:
            incoming.put_stored(oid, stored)
            n += 1
            if tick:
                tick(len(stored))
    odb.sync()
    return n


def ref_conflict(
    name: str, where: str, current: ObjectId | None, expected: ObjectId | None, moved: bool
) -> str:
    """What a push that lost a compare-and-swap says, for every remote kind alike."""
    if moved:
        what = "moved while we pushed"
    else:
        now = to_hex(current)[:12] if current else "absent"
        exp = to_hex(expected)[:12] if expected else "absent"
        what = f"is at {now}, not {exp} as expected"
    return f"{name} on {where} {what}: fetch and merge first (`extract pull`), then push again"


class Transport(abc.ABC):
    """What fetch and push need from the other side."""

    url: str

    @abc.abstractmethod
    def list_refs(self) -> dict[str, ObjectId]: ...

    @abc.abstractmethod
    def walk(self, wants: Sequence[ObjectId], haves: Sequence[ObjectId]) -> list[ObjectId]:
        """Objects the remote would send for ``wants``, given the receiver has ``haves``;
        raises if one of them is missing there (so it doubles as a connectivity check)."""

    @abc.abstractmethod
    def has(self, ids: Sequence[ObjectId]) -> list[bool]: ...

    @abc.abstractmethod
    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        """``ids`` in their stored form (loose object files), in order; the caller verifies."""

    @abc.abstractmethod
    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        """Send objects in stored form, children before parents; the remote verifies each
        (hash, kind, links present) before writing it. Returns the count."""

    @abc.abstractmethod
    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        """Compare-and-swap a remote ref; RefConflict when it moved."""

    def copy_into(self, odb: DiskObjectStore, ids: Sequence[ObjectId], tick: Tick) -> None:
        """Fetch: store ``ids`` (children first) in ``odb``, each verified before it is
        written, durably. A transport that can share files does so instead of copying."""
        receive(odb, self.get(ids), tick)

    def copy_from(self, odb: DiskObjectStore, ids: Sequence[ObjectId], tick: Tick) -> None:
        """Push: send ``ids`` (children first) from ``odb``; the remote verifies each."""

        def stream() -> Iterator[tuple[ObjectId, Buffer]]:
            for oid in ids:
                stored = odb.get_stored(oid)
                tick(len(stored))
                yield oid, stored

        self.put(stream())

    def close(self) -> None:  # noqa: B027 - nothing to release for a path
        pass

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
