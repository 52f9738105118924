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
from dataclasses import dataclass
from pathlib import Path

from extract.errors import InvalidInput, StoreError
from extract.objects import ObjectId, check_ref_name
from extract.objects.ids import DIGEST_SIZE
from extract.store.fsutil import fsync_dir
from extract.store.refs import ANY
from extract.store.repo import MAIN, Repository
from extract.sync.protocol import ProtocolError, read_frame, write_frame
from extract.sync.walk import objects_to_send

MAGIC = b"EXTRACT-BUNDLE 1\n"
BUNDLE_REMOTE = "bundle"


class BundleError(StoreError):
    exit_code = 5


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


def _store_group(repo: Repository, items: list[tuple[ObjectId, bytes]]) -> None:
    """Verify and store objects, made durable together (one parallel fsync per group)."""
    with repo.objects.batch():
        for oid, raw in items:
            repo.objects.put_received(oid, raw)


def import_bundle(repo: Repository, src: Path) -> BundleInfo:
    """Verify and store every object of a bundle, then point refs/remotes/bundle/main at its head.

    The caller merges that ref. Nothing is written outside the object database, and no
    ref moves unless every object arrived intact and the head's history is complete.
    """
    src = Path(src)
    if src.is_symlink() or not src.is_file():
        raise BundleError(f"{src} is not a regular file")
    with open(src, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise BundleError(f"{src} is not an extract bundle (made by `extract export`)")
        try:
            first = read_frame(f)
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
            count = total = 0
            pending: list[tuple[ObjectId, bytes]] = []
            while True:
                frame = read_frame(f)
                if not isinstance(frame, list) or not frame:
                    raise BundleError(f"{src}: malformed record")
                if frame[0] == "end" and len(frame) == 2:
                    _store_group(repo, pending)
                    if frame[1] != count:
                        raise BundleError(
                            f"{src}: the bundle says {frame[1]} objects, it held {count}"
                        )
                    break
                if (
                    len(frame) != 3
                    or frame[0] != "obj"
                    or not isinstance(frame[1], bytes)
                    or len(frame[1]) != DIGEST_SIZE
                    or not isinstance(frame[2], bytes)
                ):
                    raise BundleError(f"{src}: malformed object record")
                oid = ObjectId(frame[1])
                if not repo.objects.has(oid):
                    pending.append((oid, frame[2]))
                    if len(pending) >= 256:
                        _store_group(repo, pending)
                        pending = []
                count += 1
                total += len(frame[2])
        except ProtocolError as e:
            raise BundleError(f"{src} is truncated or damaged: {e}") from None
    repo.objects.sync()
    head = refs.get(MAIN)
    if head is None:
        raise BundleError(f"{src} carries no {MAIN}")
    objects_to_send(repo.objects, [head], [])  # complete history, or ObjectNotFound
    repo.refs.set(
        f"refs/remotes/{BUNDLE_REMOTE}/main", head, expected=ANY, message=f"import {src.name}"
    )
    return BundleInfo(refs, count, total)
