"""Bundles: history in one file, for machines with no network between them.

A bundle is ``EXTRACT-BUNDLE 1\\n`` followed by protocol frames:
``["refs", {name: id}]``, then one ``["obj", id, bytes]`` per object (children
before the objects that link to them), then ``["end", count]``. It holds no
paths at all: objects are named by their ids and written only into the object
database, after their bytes are checked against those ids, so a bundle cannot
write anywhere else however it was made.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from extract.errors import BundleError, InvalidInput, ProtocolError
from extract.objects import (
    ObjectId,
    ObjectKind,
    check_ref_name,
    decode,
    decode_object,
    iter_links,
    to_hex,
)
from extract.objects.blob import is_blob
from extract.objects.ids import DIGEST_SIZE
from extract.store.fsutil import fsync_dir
from extract.store.odb import Buffer, DiskObjectStore, decode_loose, encode_loose_bytes
from extract.store.refs import ANY
from extract.store.repo import MAIN, Repository
from extract.store.walk import sent_links
from extract.sync.protocol import read_frame, write_frame
from extract.sync.walk import check_connected, check_dangling, objects_to_send

MAGIC = b"EXTRACT-BUNDLE 1\n"
BUNDLE_REMOTE = "bundle"


@dataclass
class BundleInfo:
    refs: dict[str, ObjectId]
    objects: int
    bytes: int


def export_bundle(repo: Repository, dest: Path, since: ObjectId | None = None) -> BundleInfo:
    """Write main's history (or what it added since ``since``) to ``dest``, atomically."""
    head = repo.refs.read(MAIN)
    if head is None:
        raise InvalidInput("nothing to export: main has no commits yet (`extract commit -m MSG`)")
    ids = objects_to_send(repo.objects, [head], [since] if since else [])
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    total = 0
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC)
            write_frame(f, ["refs", {MAIN: bytes(head)}])
            for oid in ids:
                raw = repo.objects.get_raw(oid)
                total += len(raw)
                write_frame(f, ["obj", bytes(oid), raw])
            write_frame(f, ["end", len(ids)])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent if str(dest.parent) else Path("."))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BundleInfo({MAIN: head}, len(ids), total)


def import_bundle(repo: Repository, src: Path) -> BundleInfo:
    """See ``_import_bundle``. One write transaction: the objects are unnamed until the
    bundle's remote-tracking ref moves."""
    with repo.writing():
        return _import_bundle(repo, src)


def _import_bundle(repo: Repository, src: Path) -> BundleInfo:
    """Verify and store every object of a bundle, then point refs/remotes/bundle/main at its head.

    Objects are checked as a fetch checks them (hash, kind, links present), but the bundle
    is taken in quarantine (``ObjectStore.ingest(quarantine=True)``): every object is
    written to temp files (a large bundle to temp packs) that are put in place only once
    the whole file checked out, up to its ``end`` record and nothing after it. A refused
    bundle therefore leaves the store as it was, files included; nothing received is ever
    deleted after the fact (another process may meanwhile have stored or begun to use the
    same object). The caller merges the ref. Nothing is written outside the object database.
    """
    src = Path(src)
    if src.is_symlink() or not src.is_file():
        raise BundleError(f"{src} is not a regular file")
    tally = [0, 0]  # objects, bytes
    with open(src, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise BundleError(f"{src} is not an extract bundle (made by `extract export`)")
        try:
            refs = _read_refs(src, read_frame(f))
            head = refs.get(MAIN)
            if head is None:
                raise BundleError(f"{src} carries no {MAIN}")
            received = _Received(repo.objects)
            with (
                repo.objects.accept_dangling() as dangling,
                repo.objects.ingest(quarantine=True) as sink,
            ):
                for oid, stored in _objects(src, f, tally):
                    sink.put_stored(oid, stored)
                    received.add(oid, stored)
                if f.read(1):
                    raise BundleError(
                        f"{src} holds bytes after its end record: a bundle is its frames and nothing else"
                    )
                if not repo.objects.has(head):  # counts the objects still in quarantine
                    raise BundleError(f"{src}: its head {to_hex(head)[:12]} is not in the bundle")
                # Still in quarantine: only what a purge in the bundle removed may be absent.
                check_dangling(received, [head], dangling)
            repo.objects.sync()
        except ProtocolError as e:
            raise BundleError(f"{src} is truncated or damaged: {e}") from None
    count, total = tally
    check_connected(repo.objects, [head], [])  # the complete history, or ObjectNotFound
    repo.refs.set(
        f"refs/remotes/{BUNDLE_REMOTE}/main", head, expected=ANY, message=f"import {src.name}"
    )
    return BundleInfo(refs, count, total)


class _Received:
    """The history a bundle brought (commits, trees, events: small) over the store, as a
    walk reads it while the bundle is still in quarantine (``check_dangling``)."""

    KEPT = ("commit", "tree", "event")

    def __init__(self, odb: DiskObjectStore) -> None:
        self.odb = odb
        self.small: dict[ObjectId, bytes] = {}

    def add(self, oid: ObjectId, stored: Buffer) -> None:
        raw = decode_loose(stored, to_hex(oid), None)
        if is_blob(raw):
            return
        value = decode(raw)
        if isinstance(value, dict) and value.get("kind") in self.KEPT:
            self.small[oid] = bytes(raw)

    def has(self, oid: ObjectId) -> bool:
        return oid in self.small or self.odb.has(oid)

    def get(self, oid: ObjectId) -> ObjectKind:
        raw = self.small.get(oid)
        return self.odb.get(oid) if raw is None else decode_object(raw)

    def links(self, oid: ObjectId) -> list[ObjectId]:
        raw = self.small.get(oid)
        return list(iter_links(decode(raw))) if raw is not None else sent_links(self.odb, oid)


def _read_refs(src: Path, first: object) -> dict[str, ObjectId]:
    if not (
        isinstance(first, list)
        and len(first) == 2
        and first[0] == "refs"
        and isinstance(first[1], dict)
    ):
        raise BundleError(f"{src}: the bundle does not start with its refs")
    refs: dict[str, ObjectId] = {}
    for name, oid in first[1].items():
        if not isinstance(name, str):
            raise BundleError(f"{src}: a ref name is not a string")
        check_ref_name(name)  # no '..', no leading '-', no absolute paths
        if name != MAIN:
            raise BundleError(f"{src}: unexpected ref {name!r} (a bundle carries {MAIN})")
        if not isinstance(oid, bytes) or len(oid) != DIGEST_SIZE:
            raise BundleError(f"{src}: ref {name} does not hold a 32-byte id")
        refs[name] = ObjectId(oid)
    return refs


def _objects(src: Path, f: IO[bytes], tally: list[int]) -> Iterator[tuple[ObjectId, bytes]]:
    """The bundle's objects in stored form, up to a checked ``end`` record."""
    while True:
        frame = read_frame(f)
        if not isinstance(frame, list) or not frame:
            raise BundleError(f"{src}: malformed record")
        if frame[0] == "end" and len(frame) == 2:
            if frame[1] != tally[0]:
                raise BundleError(f"{src}: the bundle says {frame[1]} objects, it held {tally[0]}")
            return
        if (
            len(frame) != 3
            or frame[0] != "obj"
            or not isinstance(frame[1], bytes)
            or len(frame[1]) != DIGEST_SIZE
            or not isinstance(frame[2], bytes)
        ):
            raise BundleError(f"{src}: malformed object record")
        tally[0] += 1
        tally[1] += len(frame[2])
        yield ObjectId(frame[1]), encode_loose_bytes(frame[2])
