"""gc and fsck of a bucket remote (objects_spec/s3-remote.md, "Garbage").

There is no lock on a bucket, so gc cannot stop a push halfway as the local gc does.
It deletes in two steps instead: a pack that no ref reaches and that is older than the
grace period is first *condemned* (listed in ``gc/condemned`` with the time), which
every pusher reads, so no push counts on its objects any more (they are sent again);
a later gc deletes it if it is still unreached a grace period after it was condemned.
A push that read the remote before the condemnation and moves its ref more than a grace
period later is the one case this does not cover (a push that long is cut short by the
grace period, as a local fetch older than it would be).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from extract.errors import Conflict, CorruptObject, ExtractError, StoreNotFound
from extract.objects import ObjectId, hash_bytes, to_hex
from extract.store.odb import decode_loose
from extract.sync.transport.s3._client import Lost
from extract.sync.transport.s3._layout import (
    CONDEMNED_KEY,
    INDEX,
    PACKS,
    PROBES,
    PackIndex,
    condemned_body,
    index_key,
    pack_key,
    parse_condemned,
    parse_index_key,
)
from extract.sync.transport.s3._transport import S3Transport, _Graph
from extract.sync.walk import objects_to_send


@dataclass
class RemoteGcReport:
    reachable: int = 0  # objects the refs reach
    packs: int = 0  # packs with an index
    deleted: list[tuple[str, int]] = field(default_factory=list)  # (pack, bytes)
    condemned: list[str] = field(default_factory=list)  # newly condemned this run
    waiting: int = 0  # condemned earlier, deleted by a gc after their grace period
    orphans: list[str] = field(default_factory=list)  # packs without an index (dead pushes)
    uploads_aborted: int = 0
    probes_removed: int = 0
    bytes_removed: int = 0


@dataclass
class RemoteFsckReport:
    refs: dict[str, ObjectId] = field(default_factory=dict)
    packs: int = 0
    objects: int = 0
    reachable: int = 0
    verified: int = 0  # objects whose bytes were hashed
    unreachable_packs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _require_remote(t: S3Transport) -> None:
    t.create = False
    if not t._check_remote():  # (raises for an empty prefix or foreign data)
        raise StoreNotFound(f"no extract remote at {t.url}")


def _reachable(t: S3Transport, heads: list[ObjectId]) -> set[ObjectId]:
    return set(objects_to_send(_Graph(t), heads, [])) if heads else set()


def _redundant(
    t: S3Transport, reachable: set[ObjectId], condemned: dict[str, int]
) -> list[PackIndex]:
    """Packs that hold no reachable object another pack does not hold as well: those no
    ref reaches, and copies (an object sent again after gc condemned its pack). Packs not
    condemned are kept first, the newest first, so a condemned copy is the one to go."""
    order = sorted(t._indexes.values(), key=lambda i: (i.name in condemned, -i.stamp, i.name))
    covered: set[ObjectId] = set()
    out = []
    for idx in order:
        mine = [o for o in idx.entries if o in reachable and o not in covered]
        if mine:
            covered.update(mine)
        else:
            out.append(idx)
    return out


def remote_gc(t: S3Transport, grace_seconds: float, dry_run: bool = False) -> RemoteGcReport:
    """Condemn redundant packs (``_redundant``) older than ``grace_seconds``, delete those
    condemned at least that long ago and still redundant, and clear what dead pushes
    left."""
    _require_remote(t)
    rep = RemoteGcReport()
    now_s = time.time()
    now = int(now_s * 1000)
    grace_ms = int(grace_seconds * 1000)
    heads = [oid for oid, _ in t._read_refs().values()]
    t._load()
    t._refresh(full=True)
    rep.packs = len(t._indexes)
    got = t.b.get_or_none(CONDEMNED_KEY)
    etag = got[1] if got else None
    before = parse_condemned(got[0], t.b.where(CONDEMNED_KEY)) if got else {}
    reachable = _reachable(t, heads)
    rep.reachable = len(reachable)

    keep: dict[str, int] = {}
    doomed = []
    for idx in _redundant(t, reachable, before):
        if now - idx.stamp < grace_ms:
            continue
        since = before.get(idx.name, now)
        if now - since >= grace_ms:
            doomed.append(idx)
        else:
            keep[idx.name] = since
            if idx.name in before:
                rep.waiting += 1
            else:
                rep.condemned.append(idx.name)

    sizes = {rel: (size, mtime) for rel, size, mtime in t.b.list_keys(PACKS)}
    indexed = {pack_key(n) for n in t._indexes}
    for rel, (size, mtime) in sizes.items():
        if rel not in indexed and now_s - mtime >= grace_seconds:
            rep.orphans.append(rel)
            rep.bytes_removed += size
            if not dry_run:
                t.b.delete(rel)
    if not dry_run and (keep != before or doomed):
        try:  # before any pack goes, so a pusher never counts on a deleted one
            t.b.put(CONDEMNED_KEY, condemned_body(keep), if_match=etag, create=etag is None)
        except Lost:
            raise Conflict(
                f"another gc of {t.url} ran at the same time: nothing was deleted; run it again"
            ) from None
    for idx in doomed:
        size = sizes.get(pack_key(idx.name), (0, 0.0))[0]
        rep.deleted.append((idx.name, size))
        rep.bytes_removed += size
        if not dry_run:
            # The index first: a pack no index lists is never read.
            t.b.delete(index_key(idx.stamp, idx.kind, idx.name))
            t.b.delete(pack_key(idx.name))
    for rel, _, mtime in t.b.list_keys(PROBES):
        if now_s - mtime >= grace_seconds:
            rep.probes_removed += 1
            if not dry_run:
                t.b.delete(rel)
    for rel, upload_id, started in t.b.multipart_uploads():
        if now_s - started >= grace_seconds:
            rep.uploads_aborted += 1
            if not dry_run:
                with contextlib.suppress(ExtractError):  # finished or aborted meanwhile
                    t.b.abort_upload(rel, upload_id)
    return rep


def remote_fsck(t: S3Transport, read_data: bool = False) -> RemoteFsckReport:
    """Check the bucket: refs and indexes well formed, every pack there and long enough,
    everything the refs reach present, and every structured object it reaches (every
    object, with ``read_data``) matching its id."""
    _require_remote(t)
    rep = RemoteFsckReport()
    rep.refs = {name: oid for name, (oid, _) in t._read_refs().items()}
    # Every index read from the bucket (not the cache), each damaged one reported.
    t._loaded = t._listed_full = True
    for rel, *_ in t.b.list_keys(INDEX):
        parsed = parse_index_key(rel)
        if parsed is None:
            continue
        try:
            t._add_index(t._fetch_index(rel, parsed))
        except ExtractError as e:
            rep.problems.append(str(e))
    rep.packs = len(t._indexes)
    rep.objects = len(t._where)
    sizes = {rel: size for rel, size, _ in t.b.list_keys(PACKS)}
    for idx in t._indexes.values():
        size = sizes.get(pack_key(idx.name))
        if size is None:
            rep.problems.append(f"{t.b.where(pack_key(idx.name))} is missing (its index is there)")
        elif size < idx.body_end:
            rep.problems.append(
                f"{t.b.where(pack_key(idx.name))} is {size} bytes, shorter than its index says"
            )
    reachable: set[ObjectId] = set()
    try:
        reachable = _reachable(t, list(rep.refs.values()))
    except ExtractError as e:
        rep.problems.append(f"history is not whole: {e}")
    rep.reachable = len(reachable)
    rep.unreachable_packs = sum(
        1 for i in t._indexes.values() if not any(o in reachable for o in i.entries)
    )
    # The walk verified every structured object it read; blobs are read with read_data.
    rep.verified = sum(1 for o in reachable if t._where[o][0].kind == "meta")
    if read_data:
        blobs = [o for o in reachable if t._where[o][0].kind == "data"]
        try:
            for oid, stored in t._stream(blobs):
                raw = decode_loose(bytes(stored), to_hex(oid), None)
                if hash_bytes(raw) != oid:
                    raise CorruptObject(to_hex(oid), to_hex(hash_bytes(raw)), None, f"in {t.url}")
                rep.verified += 1
        except ExtractError as e:
            rep.problems.append(str(e))
    return rep
