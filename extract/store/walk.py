"""Roots and links: what fsck, gc and (later) fetch walk, without knowing object schemas."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from extract.errors import ObjectFormatError
from extract.objects import ObjectId, Value, decode, iter_links
from extract.objects.codec import scan_links
from extract.store.odb import BLOB_HEAD, DiskObjectStore, decode_loose, stored_blob_span
from extract.store.repo import Repository


def object_links(odb: DiskObjectStore, oid: ObjectId) -> list[ObjectId]:
    """Links of a stored object, verified; blobs are recognised from their first bytes."""
    if stored_blob_span(odb.read_head(oid, BLOB_HEAD)) is not None:
        return []
    return list(iter_links(decode(odb.get_raw(oid))))


def sent_links(odb: DiskObjectStore, oid: ObjectId) -> list[ObjectId]:
    """Links of a stored object as a sender's walk reads them: not verified (no hash, no
    canonical check), because the receiver verifies every object it is sent. About half
    the cost of ``object_links``."""
    if stored_blob_span(odb.read_head(oid, BLOB_HEAD)) is not None:
        return []  # a blob's data is never read here: it may be large and links to nothing
    return scan_links(decode_loose(odb.read_file(oid), oid.hex(), None))


Root = tuple[str, ObjectId]


def roots(repo: Repository, on_error: Callable[[str, str], None]) -> list[Root]:
    """Everything gc must keep and fsck must find: refs, reflogs, staged and live data."""
    out: list[Root] = []
    for name in repo.refs.names():
        try:
            oid = repo.refs.read(name)
        except Exception as e:
            on_error(name, str(e))
            continue
        if oid is not None:
            out.append((name, oid))
    for name in repo.refs.reflog_names():
        try:
            for entry in repo.refs.reflog(name):
                out.extend((f"reflog {name}", o) for o in (entry.old, entry.new) if o is not None)
        except Exception as e:
            on_error(f"reflog {name}", str(e))
    out.extend(_value_roots("staged", _safe(repo.staged_roots, on_error, "staged")))
    out.extend(_value_roots("journal", _safe(repo.journal_values, on_error, "journal")))
    return out


def _safe(
    fn: Callable[[], Iterator[tuple[str, Value]]], on_error: Callable[[str, str], None], what: str
) -> Iterator[tuple[str, Value]]:
    try:
        yield from fn()
    except (ObjectFormatError, OSError) as e:
        on_error(what, str(e))


def _value_roots(kind: str, items: Iterator[tuple[str, Value]]) -> Iterator[Root]:
    for name, value in items:
        for oid in iter_links(value):
            yield f"{kind} {name}", oid


def list_tmp(odb: DiskObjectStore) -> list[Path]:
    try:
        return sorted(odb.tmp / n for n in os.listdir(odb.tmp))
    except FileNotFoundError:
        return []
