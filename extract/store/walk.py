"""Roots and links: what fsck, gc and (later) fetch walk, without knowing object schemas."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from extract.errors import ObjectFormatError
from extract.objects import ObjectId, Value, decode, iter_links
from extract.objects.codec import scan_links
from extract.store.odb import (
    CODEC_RAW,
    HEADER_SIZE,
    LOOSE_FORMAT,
    MAGIC,
    DiskObjectStore,
    decode_loose,
)
from extract.store.repo import Repository

#: The canonical bytes of every uncompressed blob start with this: a 3-entry map whose
#: first (sorted) key is "data", followed by a bin header. No other kind starts so.
BLOB_START = b"\x83\xa4data"
BLOB_SUFFIX = b"\xa4kind\xa4blob\xa1v\x01"
_BIN_LEN = {0xC4: 1, 0xC5: 2, 0xC6: 4}


#: Stored bytes that ``blob_layout`` needs to see.
BLOB_HEAD = HEADER_SIZE + len(BLOB_START) + 5


def blob_layout(head: bytes) -> tuple[int, int] | None:
    """(header size, data length) if the first ``BLOB_HEAD`` stored bytes of an object are
    a raw-stored blob's, else None."""
    if head[:2] != MAGIC or len(head) < HEADER_SIZE + len(BLOB_START) + 1:
        return None
    if head[2] != LOOSE_FORMAT or head[3] != CODEC_RAW:
        return None
    body = head[HEADER_SIZE:]
    if not body.startswith(BLOB_START):
        return None
    marker = body[len(BLOB_START)]
    width = _BIN_LEN.get(marker)
    if width is None or len(body) < len(BLOB_START) + 1 + width:
        return None
    start = len(BLOB_START) + 1
    n = int.from_bytes(body[start : start + width], "big")
    return HEADER_SIZE + start + width, n


def object_links(odb: DiskObjectStore, oid: ObjectId) -> list[ObjectId]:
    """Links of a stored object, verified; blobs are recognised from their first bytes."""
    if blob_layout(odb.read_head(oid, BLOB_HEAD)) is not None:
        return []
    return list(iter_links(decode(odb.get_raw(oid))))


def sent_links(odb: DiskObjectStore, oid: ObjectId) -> list[ObjectId]:
    """Links of a stored object as a sender's walk reads them: not verified (no hash, no
    canonical check), because the receiver verifies every object it is sent. About half
    the cost of ``object_links``."""
    if blob_layout(odb.read_head(oid, BLOB_HEAD)) is not None:
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
