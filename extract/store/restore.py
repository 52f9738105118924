"""Putting back a missing or damaged object, and never losing the evidence of damage.

A sound copy (from a remote, or a packed copy of a damaged loose file) is stored as a
loose file: every read looks at the loose file before any pack, so a good loose copy
shadows a damaged packed one, and gc drops that packed entry when it next rewrites
its pack (``sound_for_repack``), never copying it. A damaged loose file is moved to
``damaged/<id>.<UTC time>`` in the store first, never deleted: what went wrong can
still be examined; delete that directory when it no longer matters.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import ExtractError
from extract.objects import ObjectId, decode, iter_links, to_hex
from extract.objects.blob import is_blob
from extract.store.fsutil import fsync_dir, temp_file, write_all
from extract.store.odb import Buffer, DiskObjectStore, check_stored, decode_loose
from extract.store.pack import Pack, pread_all
from extract.store.repo import Repository

DAMAGED_DIR = "damaged"


def sound(oid: ObjectId, stored: Buffer) -> bool:
    """Whether stored bytes unpack and hash to ``oid`` as a well-formed object."""
    try:
        check_stored(oid, stored, None)
    except ExtractError:
        return False
    return True


def links_of(oid: ObjectId, stored: Buffer) -> list[ObjectId]:
    """The objects a sound stored object links to."""
    raw = decode_loose(stored, to_hex(oid), None)
    return [] if is_blob(raw) else list(iter_links(decode(raw)))


def read_loose(odb: DiskObjectStore, oid: ObjectId) -> bytes | None:
    try:
        return odb.path_of(oid).read_bytes()
    except FileNotFoundError:
        return None


def packed_copies(odb: DiskObjectStore, oid: ObjectId) -> Iterable[bytes]:
    """Every packed copy of ``oid`` (stored form; not verified)."""
    for pack in odb.packs():
        hit = pack.find(oid)
        if hit is None:
            continue
        try:
            fd = os.open(pack.path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # gc replaced it meanwhile
        try:
            yield pread_all(fd, hit[1], hit[0])
        finally:
            os.close(fd)


def keep_evidence(repo: Repository, oid: ObjectId, data: bytes | None, source: Path) -> Path:
    """Move (loose) or copy (packed) a damaged object's bytes to ``damaged/``."""
    folder = repo.root / DAMAGED_DIR
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = folder / f"{to_hex(oid)}.{stamp}"
    n = 1
    while dest.exists():
        n += 1
        dest = folder / f"{to_hex(oid)}.{stamp}-{n}"
    if data is None:
        os.rename(source, dest)
        fsync_dir(source.parent)
    else:
        with temp_file(folder, prefix=".evidence-") as (fd, tmp):
            write_all(fd, [data])
            os.fsync(fd)
            os.link(tmp, dest)
    fsync_dir(folder)
    return dest


def _write_loose(odb: DiskObjectStore, oid: ObjectId, stored: Buffer) -> None:
    """A loose file holding ``stored``: temp file, fsync, link (never replaces a file)."""
    final = odb.path_of(oid)
    final.parent.mkdir(parents=True, exist_ok=True)
    odb.tmp.mkdir(parents=True, exist_ok=True)
    with temp_file(odb.tmp, prefix="obj-") as (fd, tmp):
        write_all(fd, [stored])
        os.fsync(fd)
        with contextlib.suppress(FileExistsError):  # restored meanwhile by another process
            os.link(tmp, final)
    fsync_dir(final.parent)
    fsync_dir(odb.root)


def restore(repo: Repository, oid: ObjectId, stored: Buffer) -> Path | None:
    """Store a sound copy of ``oid`` (stored form, verified here) as its loose file. A
    damaged loose file is moved aside first; returns where it went (None if there was
    none). A copy that does not verify raises CorruptObject and changes nothing."""
    check_stored(oid, stored, None)  # its children may arrive after it: fsck checks them
    odb = repo.objects
    aside = None
    current = read_loose(odb, oid)
    if current is not None:
        if sound(oid, current):
            return None
        aside = keep_evidence(repo, oid, None, odb.path_of(oid))
    _write_loose(odb, oid, stored)
    return aside


def use_packed_copy(repo: Repository, oid: ObjectId) -> Path | None:
    """A damaged loose file whose packed copy is sound: move the loose file aside, so
    reads find the packed one. Returns where it went, or None if that cannot help."""
    odb = repo.objects
    current = read_loose(odb, oid)
    if current is None or sound(oid, current):
        return None
    if not any(sound(oid, copy) for copy in packed_copies(odb, oid)):
        return None
    return keep_evidence(repo, oid, None, odb.path_of(oid))


@dataclass
class RepackCheck:
    """What gc may copy when it rewrites a pack (``sound_for_repack``)."""

    keep: set[ObjectId] = field(default_factory=set)  # reachable and sound: copied
    shadowed: list[ObjectId] = field(default_factory=list)  # damaged, sound loose copy
    unrecoverable: list[ObjectId] = field(default_factory=list)  # damaged, no sound copy


def sound_for_repack(repo: Repository, pack: Pack, reachable: set[ObjectId]) -> RepackCheck:
    """Verify every reachable entry of ``pack`` before gc rewrites it. A damaged entry
    shadowed by a sound loose copy is dropped (its bytes kept in ``damaged/`` first);
    one with no sound copy anywhere must stop the rewrite (the caller leaves the pack)."""
    out = RepackCheck()
    odb = repo.objects
    fd = os.open(pack.path, os.O_RDONLY)
    try:
        for oid, offset, length in pack.entries():
            if oid not in reachable:
                continue
            stored = pread_all(fd, length, offset)
            if sound(oid, stored):
                out.keep.add(oid)
                continue
            loose = read_loose(odb, oid)
            if loose is not None and sound(oid, loose):
                keep_evidence(repo, oid, stored, pack.path)
                out.shadowed.append(oid)
            else:
                out.unrecoverable.append(oid)
    finally:
        os.close(fd)
    return out
