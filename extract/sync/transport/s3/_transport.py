"""The S3 transport: a bucket (and prefix) of S3-compatible storage as a remote, laid out
as objects_spec/s3-remote.md says, through boto3 (``_client``) and a local cache."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from extract.errors import (
    CorruptObject,
    CorruptPack,
    ExtractError,
    ObjectNotFound,
    RefConflict,
    RemoteError,
    StoreNotFound,
)
from extract.objects import ObjectId, ObjectKind, check_ref_name, decode_object, hash_bytes, to_hex
from extract.objects.codec import scan_links
from extract.store.odb import (
    BLOB_HEAD,
    Buffer,
    DiskObjectStore,
    check_stored,
    decode_loose,
    stored_blob_span,
)
from extract.store.pack import Pack, pread_all, read_pack
from extract.sync.transport._base import Tick, Transport, receive, ref_conflict
from extract.sync.transport.s3._client import WORKERS, Bucket, Lost
from extract.sync.transport.s3._layout import (
    CONDEMNED_KEY,
    FORMAT_KEY,
    FORMAT_TEXT,
    INDEX,
    REFS,
    PackIndex,
    Read,
    build_pack,
    check_format,
    index_key,
    now_stamp,
    pack_key,
    parse_condemned,
    parse_index,
    parse_index_key,
    parse_ref,
    plan_reads,
    ref_body,
)
from extract.sync.transport.url import cache_key
from extract.sync.walk import check_connected, check_dangling, objects_to_send

#: A data pack is closed and uploaded when it holds this many bytes.
PACK_TARGET = 32 * 2**20
#: Blobs at least this big go in data packs; smaller ones ride in the meta pack, so a walk
#: (which reads the hierarchy blob) and a fetch of small runs need no ranged GETs.
DATA_MIN = 16 * 1024
#: Packs at least this big go up in parts (of PART_SIZE) rather than one PUT.
MULTIPART_AT = 16 * 2**20
PART_SIZE = 8 * 2**20
#: A data pack is read whole when at least half of it is wanted or it is this small;
#: otherwise in ranges of wanted objects (merged across gaps under RANGE_GAP).
WHOLE_BELOW = 4 * 2**20
RANGE_GAP = 2**20
#: An index listing starts this long before the newest index already seen, for writers
#: whose clocks are behind ours; anything older that was missed is found by a full listing
#: when a walk needs an object no known index has.
LIST_MARGIN_MS = 3600 * 1000


class _PackGone(RemoteError):
    """A pack a known index names is no longer in the bucket."""


class _Graph:
    """has/get/links over the bucket as its indexes and cached meta packs show it: what
    ``objects_to_send`` walks."""

    def __init__(self, t: S3Transport) -> None:
        self.t = t

    def has(self, oid: ObjectId) -> bool:
        return self.t._present(oid)

    def get(self, oid: ObjectId) -> ObjectKind:
        return decode_object(self.t._meta_raw(oid))

    def links(self, oid: ObjectId) -> list[ObjectId]:
        loc = self.t._locate(oid)
        if loc is not None and loc[0].kind == "data":
            return []  # a blob: never read just to learn it links nowhere
        return scan_links(self.t._meta_raw(oid))


class S3Transport(Transport):
    """extract history in a bucket of S3-compatible object storage."""

    def __init__(
        self,
        url: str,
        bucket: str,
        prefix: str,
        options: Mapping[str, str] | None = None,
        store: Path | None = None,
        create: bool = False,
    ) -> None:
        self.url = url
        self.create = create
        self.b = Bucket(bucket, prefix, options or {}, url)
        self._tmpdir: str | None = None
        if store is None:
            self._tmpdir = tempfile.mkdtemp(prefix="extract-s3-cache-")
            self.cache = Path(self._tmpdir)
        else:
            where = f"{self.b.endpoint}|{bucket}/{prefix}"
            self.cache = Path(store) / "cache" / "s3" / cache_key(where)
        for d in ("index", "meta", "tmp"):
            (self.cache / d).mkdir(parents=True, exist_ok=True)
        (self.cache / "remote").write_text(f"{self.b.endpoint} {url}\n", "utf-8")
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="extract-s3")
        self._lock = threading.Lock()
        self._format: bool | None = None  # FORMAT seen (True), bucket prefix empty (False)
        self._refs: dict[str, tuple[ObjectId, str]] | None = None  # name -> (id, ETag)
        self._indexes: dict[str, PackIndex] = {}
        self._where: dict[ObjectId, tuple[PackIndex, int, int]] = {}
        self._loaded = False
        self._listed_full = False
        self._condemned: dict[str, int] = {}  # packs gc means to delete: not counted on
        self._meta_open: dict[str, Pack] = {}  # meta packs in the cache, checked
        self._probed = False
        # push side: what put() took and has not yet seen uploaded
        self._meta_buf: dict[ObjectId, Buffer] = {}
        self._data_buf: dict[ObjectId, Buffer] = {}
        self._data_size = 0
        self._inflight: dict[ObjectId, None] = {}
        # Links of pushed trees and runs to objects never sent: a purge must explain them.
        self._dangling: set[ObjectId] = set()
        self._uploads: list[Future[tuple[PackIndex, bytes | None]]] = []

    # the remote's FORMAT and refs -------------------------------------------------------

    def _check_remote(self, write: bool = False) -> bool:
        """Whether the prefix holds an extract remote; with ``write``, make it one if empty.
        Refuses a prefix that holds something else."""
        if self._format is None or (write and not self._format):
            got = self.b.get_or_none(FORMAT_KEY)
            if got is not None:
                check_format(got[0], self.b.where(FORMAT_KEY))
                self._format = True
            else:
                stray = next(self.b.list_keys(""), None)
                if stray is not None:
                    raise StoreNotFound(
                        f"{self.url} holds objects ({self.b.where(stray[0])}, ...) but no "
                        "extract FORMAT: it is not an extract remote. Give a prefix of its "
                        f"own, e.g. {self.url.rstrip('/')}/extract"
                    )
                self._format = False
                if write:
                    with contextlib.suppress(Lost):  # another pusher made it just now
                        self.b.put(FORMAT_KEY, FORMAT_TEXT, create=True)
                    got = self.b.get_or_none(FORMAT_KEY)
                    if got is None:
                        raise StoreNotFound(f"{self.url}: FORMAT vanished right after writing it")
                    check_format(got[0], self.b.where(FORMAT_KEY))
                    self._format = True
        if not self._format and not self.create and not write:
            raise StoreNotFound(
                f"no extract remote at {self.url} (the bucket has nothing under that prefix); "
                "`extract push` creates one"
            )
        return bool(self._format)

    def _read_refs(self) -> dict[str, tuple[ObjectId, str]]:
        refs: dict[str, tuple[ObjectId, str]] = {}
        # FORMAT is checked while the refs are listed (one round trip less); nothing
        # listed is used unless it passes.
        checked = self._pool.submit(self._check_remote)
        listed = list(self.b.list_keys(REFS))
        if not checked.result():
            self._refs = refs
            return refs
        names = []
        for rel, *_ in listed:
            try:
                check_ref_name(rel)
            except ExtractError:
                continue  # not a name extract would write: not ours to read
            names.append(rel)
        for name, got in zip(names, self._pool.map(self.b.get_or_none, names), strict=True):
            if got is not None:  # (deleted between the listing and the read)
                refs[name] = (parse_ref(got[0], self.b.where(name)), got[1])
        self._refs = refs
        return refs

    def list_refs(self) -> dict[str, ObjectId]:
        return {name: oid for name, (oid, _) in self._read_refs().items()}

    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        check_ref_name(name)
        self._flush()
        self._check_remote(write=True)
        self._ensure_probe()
        refs = self._refs if self._refs is not None else self._read_refs()
        current = refs.get(name)
        if (current[0] if current else None) != expected:
            current = self._read_ref(name)  # our view may be old: look again first
            if (current[0] if current else None) != expected:
                raise RefConflict(self._conflict(name, current[0] if current else None, expected))
        if self._locate(new, hard=True) is None:
            raise ObjectNotFound(
                f"cannot move {name} to {to_hex(new)[:12]} on {self.url}: that commit was never sent"
            )
        # Connectivity: everything ``new`` reaches is in the bucket (or ``expected`` has it).
        check_connected(_Graph(self), [new], [expected] if expected else [])
        dangling, self._dangling = self._dangling, set()
        check_dangling(_Graph(self), [new], dangling)
        if current is not None and current[0] == new:
            return
        try:
            etag = self.b.put(
                name, ref_body(new), if_match=current[1] if current else None, create=not current
            )
        except Lost:
            self._refs = None
            raise RefConflict(self._conflict(name, None, expected, moved=True)) from None
        refs[name] = (new, etag)

    def _read_ref(self, name: str) -> tuple[ObjectId, str] | None:
        got = self.b.get_or_none(name)
        refs = self._refs if self._refs is not None else {}
        if got is None:
            refs.pop(name, None)
            return None
        refs[name] = (parse_ref(got[0], self.b.where(name)), got[1])
        self._refs = refs
        return refs[name]

    def _conflict(
        self, name: str, current: ObjectId | None, expected: ObjectId | None, moved: bool = False
    ) -> str:
        return ref_conflict(name, self.url, current, expected, moved)

    def _ensure_probe(self) -> None:
        """Check once per machine (per cache) that the service honours conditional writes."""
        marker = self.cache / "conditional-writes-ok"
        if self._probed or (self._tmpdir is None and marker.exists()):
            return
        self.b.probe()
        self._probed = True
        if self._tmpdir is None:
            marker.write_text(self.b.endpoint + "\n", "utf-8")

    # indexes: what is in the bucket ------------------------------------------------------

    def _load(self) -> None:
        """The cached indexes, then the ones written since (an incremental listing)."""
        if self._loaded:
            return
        got = self.b.get_or_none(CONDEMNED_KEY)
        if got is not None:
            self._condemned = parse_condemned(got[0], self.b.where(CONDEMNED_KEY))
        for f in sorted((self.cache / "index").iterdir()):
            parsed = parse_index_key(INDEX + f.name)
            if parsed is None:
                continue
            try:
                self._add_index(
                    parse_index(f.read_bytes(), parsed[2], parsed[1], parsed[0], str(f))
                )
            except (OSError, CorruptPack):
                f.unlink(missing_ok=True)  # derived: fetched again below
        self._loaded = True
        self._refresh(full=not self._indexes)

    def _refresh(self, full: bool) -> None:
        after = None
        if not full and self._indexes:
            newest = max(i.stamp for i in self._indexes.values())
            after = f"{INDEX}{max(newest - LIST_MARGIN_MS, 0):014d}"
        listed = []
        for rel, *_ in self.b.list_keys(INDEX, after):
            parsed = parse_index_key(rel)
            if parsed is not None:
                listed.append((rel, parsed))
        if full:
            self._listed_full = True
            names = {p[2] for _, p in listed}
            for gone in [n for n in self._indexes if n not in names]:
                self._drop_index(gone)  # removed from the bucket (gc)
        new = [(rel, p) for rel, p in listed if p[2] not in self._indexes]
        for idx in self._pool.map(lambda item: self._fetch_index(*item), new):
            self._add_index(idx)

    def _fetch_index(self, rel: str, parsed: tuple[int, str, str]) -> PackIndex:
        data, _ = self.b.get(rel)
        idx = parse_index(data, parsed[2], parsed[1], parsed[0], self.b.where(rel))
        self._cache_file(self.cache / "index" / rel[len(INDEX) :], data)
        return idx

    def _add_index(self, idx: PackIndex) -> None:
        """Know ``idx``'s objects; where a pack gc condemned holds one too, read the other."""
        condemned = self._condemned
        with self._lock:
            self._indexes[idx.name] = idx
            for oid, (offset, length) in idx.entries.items():
                here = self._where.get(oid)
                if here is None or (here[0].name in condemned and idx.name not in condemned):
                    self._where[oid] = (idx, offset, length)

    def _drop_index(self, name: str) -> None:
        self._indexes.pop(name)
        for f in (self.cache / "index").glob(f"*-{name}"):
            f.unlink(missing_ok=True)
        self._where.clear()  # objects it held may be in other packs too
        for idx in list(self._indexes.values()):
            self._add_index(idx)

    def _locate(self, oid: ObjectId, hard: bool = False) -> tuple[PackIndex, int, int] | None:
        """Where ``oid`` is in the bucket; ``hard``: list every index once before saying no."""
        self._load()
        loc = self._where.get(oid)
        if loc is None and hard and not self._listed_full:
            self._refresh(full=True)
            loc = self._where.get(oid)
        return loc

    def _present(self, oid: ObjectId) -> bool:
        """In the bucket (in a pack gc has not condemned), or put in this session."""
        if oid in self._meta_buf or oid in self._inflight or oid in self._data_buf:
            return True
        loc = self._locate(oid)
        return loc is not None and loc[0].name not in self._condemned

    def _cache_file(self, path: Path, data: Buffer) -> None:
        """A derived file, whole or not at all (no fsync: a torn one fails its check and is
        fetched again)."""
        fd, tmp = tempfile.mkstemp(dir=self.cache / "tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # reading objects ---------------------------------------------------------------------

    def _meta_pack(self, idx: PackIndex) -> Pack:
        """A meta pack, whole, in the cache (downloaded and checked first if need be)."""
        with self._lock:
            pack = self._meta_open.get(idx.name)
        if pack is not None:
            return pack
        path = self.cache / "meta" / f"{idx.name}.pack"
        if path.exists():
            with contextlib.suppress(CorruptPack, OSError):
                pack = read_pack(path)
        if pack is None:
            data, _ = self._get_pack(idx, None)
            self._cache_file(path, data)
            try:
                pack = read_pack(path)
            except CorruptPack as e:
                path.unlink(missing_ok=True)
                raise CorruptPack(self.b.where(pack_key(idx.name)), e.why) from None
        with self._lock:
            self._meta_open[idx.name] = pack
        return pack

    def _get_pack(self, idx: PackIndex, byte_range: tuple[int, int] | None) -> tuple[bytes, str]:
        try:
            return self.b.get(pack_key(idx.name), byte_range)
        except ObjectNotFound:
            raise _PackGone(
                f"{self.b.where(pack_key(idx.name))} is gone (a gc of the remote removed it)"
            ) from None

    def _all_meta(self) -> None:
        """Every meta pack in the cache, the missing ones downloaded in parallel: a walk
        reads commits and trees from all of them."""
        todo = [
            i for i in self._indexes.values() if i.kind == "meta" and i.name not in self._meta_open
        ]
        list(self._pool.map(self._meta_pack, todo))

    def _meta_stored(self, oid: ObjectId) -> Buffer:
        pending = self._meta_buf.get(oid)
        if pending is not None:
            return pending
        loc = self._locate(oid, hard=True)
        if loc is None:
            raise ObjectNotFound(f"no object {to_hex(oid)} in {self.url}")
        idx, offset, length = loc
        if idx.kind != "meta":  # a blob a walk reads (the hierarchy): one ranged GET
            [(_, blob)] = self._blobs(
                self._read_data((idx, offset, offset + length, [(oid, offset, length)]))
            )
            return blob
        if not self._meta_open:
            self._all_meta()
        pack = self._meta_pack(idx)
        if pack.find(oid) != (offset, length):
            raise CorruptPack(self.b.where(pack_key(idx.name)), "its index object disagrees")
        # Opened per read, not kept open: a remote with thousands of pushes has thousands
        # of meta packs, more than a process may hold open.
        fd = os.open(pack.path, os.O_RDONLY)
        try:
            return pread_all(fd, length, offset)
        finally:
            os.close(fd)

    def _meta_raw(self, oid: ObjectId) -> bytes:
        """Verified canonical bytes of a structured object."""
        raw = bytes(decode_loose(self._meta_stored(oid), to_hex(oid), None))
        actual = hash_bytes(raw)
        if actual != oid:
            raise CorruptObject(
                to_hex(oid), to_hex(actual), None, f"{self.url} holds other bytes under its id"
            )
        return raw

    def _read_data(self, read: Read) -> list[tuple[ObjectId, memoryview]]:
        idx, start, end, items = read
        body, _ = self._get_pack(idx, (start, end))
        view = memoryview(body)
        return [
            (oid, view[offset - start : offset - start + length]) for oid, offset, length in items
        ]

    def _stream(self, ids: Sequence[ObjectId]) -> Iterator[tuple[ObjectId, Buffer]]:
        """``ids`` in stored form: every blob first (several GETs at a time, in the order
        they arrive; blobs link to nothing), then the other objects in the order given
        (children first, as asked)."""
        data: list[tuple[ObjectId, PackIndex, int, int]] = []
        meta: list[ObjectId] = []
        for oid in ids:
            loc = self._locate(oid, hard=True)
            if loc is None:
                raise ObjectNotFound(f"no object {to_hex(oid)} in {self.url}")
            if loc[0].kind == "data":
                data.append((oid, *loc))
            else:
                meta.append(oid)
        reads = plan_reads(data, WHOLE_BELOW, RANGE_GAP)
        running: list[Future[list[tuple[ObjectId, memoryview]]]] = []
        try:
            for read in reads:
                if len(running) >= WORKERS:
                    yield from self._blobs(running.pop(0).result())
                running.append(self._pool.submit(self._read_data, read))
            while running:
                yield from self._blobs(running.pop(0).result())
        finally:
            for f in running:
                f.cancel()
        if meta and not self._meta_open:
            self._all_meta()
        for oid in meta:
            yield oid, self._meta_stored(oid)

    def _blobs(self, got: list[tuple[ObjectId, memoryview]]) -> Iterator[tuple[ObjectId, Buffer]]:
        for oid, stored in got:
            if stored_blob_span(bytes(stored[:BLOB_HEAD])) is None:
                raise CorruptObject(
                    to_hex(oid),
                    None,
                    None,
                    f"{self.url} keeps it in a data pack, but it is no blob",
                )
            yield oid, stored

    def walk(self, wants: Sequence[ObjectId], haves: Sequence[ObjectId]) -> list[ObjectId]:
        self._check_remote()
        try:
            return objects_to_send(_Graph(self), wants, haves)
        except _PackGone:
            self._refresh(full=True)  # as in copy_into
            return objects_to_send(_Graph(self), wants, haves)

    def has(self, ids: Sequence[ObjectId]) -> list[bool]:
        return [self._present(i) for i in ids]

    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        got = dict(self._stream(ids))
        for oid in ids:
            yield oid, got[oid]

    def copy_into(self, odb: DiskObjectStore, ids: Sequence[ObjectId], tick: Tick) -> None:
        try:
            receive(odb, self._stream(ids), tick)
        except _PackGone:
            # A gc deleted a pack our cached indexes still name, after moving its objects'
            # only reachable copies nowhere (it deletes only duplicates and unreached
            # packs): list everything once, and take what is missing from the others.
            self._refresh(full=True)
            receive(odb, self._stream([i for i in ids if not odb.has(i)]), tick)

    # writing objects ---------------------------------------------------------------------

    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        """Objects in stored form, children first, each checked as a store checks what it
        receives, then packed: blobs into data packs uploaded as they fill (several at a
        time), everything else into one meta pack per push. Nothing is named until
        ``update_ref``; an interrupted push leaves whole packs that the next one skips."""
        self._check_remote(write=True)
        self._ensure_probe()
        n = 0
        for oid, stored in items:
            n += 1
            if self._present(oid):
                continue
            check_stored(oid, stored, self._present, self._tolerate)
            size = memoryview(stored).nbytes
            if size >= DATA_MIN and stored_blob_span(bytes(memoryview(stored)[:BLOB_HEAD])):
                self._data_buf[oid] = stored
                self._data_size += size
                if self._data_size >= PACK_TARGET:
                    self._send_data()
            else:
                self._meta_buf[oid] = stored
        return n

    def _tolerate(self, oid: ObjectId) -> bool:
        self._dangling.add(oid)
        return True

    def _send_data(self) -> None:
        if not self._data_buf:
            return
        items = list(self._data_buf.items())
        self._inflight.update(dict.fromkeys(self._data_buf))
        self._data_buf, self._data_size = {}, 0
        while len(self._uploads) >= WORKERS:  # bound what is held in memory
            self._collect(self._uploads.pop(0))
        self._uploads.append(self._pool.submit(self._upload, items, "data"))

    def _upload(
        self, items: list[tuple[ObjectId, Buffer]], kind: str
    ) -> tuple[PackIndex, bytes | None]:
        built = build_pack(items, avoid=self._condemned)
        view = memoryview(built.data)
        try:
            if len(view) >= MULTIPART_AT:
                self.b.put_multipart(pack_key(built.name), view, PART_SIZE)
            else:
                self.b.put(pack_key(built.name), built.data, create=True)
        except Lost:
            pass  # the same pack is there already: same name, same objects
        stamp = now_stamp()
        rel = index_key(stamp, kind, built.name)
        with contextlib.suppress(Lost):
            self.b.put(rel, built.index, create=True)
        self._cache_file(self.cache / "index" / rel[len(INDEX) :], built.index)
        idx = PackIndex(built.name, kind, stamp, len(view) - len(built.index), built.entries)
        return idx, (built.data if kind == "meta" else None)

    def _collect(self, upload: Future[tuple[PackIndex, bytes | None]]) -> None:
        idx, data = upload.result()
        if data is not None:
            self._cache_file(self.cache / "meta" / f"{idx.name}.pack", data)
        self._add_index(idx)
        for oid in idx.entries:
            self._inflight.pop(oid, None)
            self._meta_buf.pop(oid, None)

    def _flush(self) -> None:
        """Upload everything put, and wait until it is all in the bucket."""
        self._send_data()
        if self._meta_buf:
            self._uploads.append(
                self._pool.submit(self._upload, list(self._meta_buf.items()), "meta")
            )
        try:
            while self._uploads:
                self._collect(self._uploads.pop(0))
        finally:
            for f in self._uploads:
                f.cancel()

    def close(self) -> None:
        for f in self._uploads:
            f.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._meta_open.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
