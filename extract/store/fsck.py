"""``extract fsck``: every object well formed, every reachable object present.

Without ``read_data``, structured objects are decoded and re-hashed (they are
small) and blobs are checked for framing and length only; ``read_data``
re-hashes every byte of every blob as well.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import CorruptObject, CorruptPack, ExtractError, InvalidId
from extract.objects import (
    ObjectId,
    decode,
    decode_object,
    from_hex,
    hash_bytes,
    iter_links,
    to_hex,
)
from extract.objects import blob as blobfmt
from extract.objects.kinds import Commit
from extract.store import damage, journal
from extract.store.odb import BLOB_HEAD, decode_loose, stored_blob_span
from extract.store.pack import PACK_SUFFIX, pread_all, read_pack
from extract.store.purges import repo_tombstones
from extract.store.repo import Repository
from extract.store.walk import list_tmp, roots


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" fails fsck; "warning" is reported and does not
    subject: str  # an object id, a ref, a file
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.subject}: {self.message}"


@dataclass
class FsckReport:
    objects: int = 0
    blobs: int = 0
    bytes_hashed: int = 0
    reachable: int = 0
    packs: int = 0  # pack files
    packed: int = 0  # objects checked in packs (and not also loose)
    dangling: list[ObjectId] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Objects stored but unreadable, and reachable objects not stored at all, with what
    #: needs each (``damage.needed_by``): what ``fsck --repair --from REMOTE`` fetches again.
    damaged: list[ObjectId] = field(default_factory=list)
    missing: list[ObjectId] = field(default_factory=list)
    needed_by: dict[ObjectId, list[str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def _reader(fd: int, base: int) -> Callable[[int, int], bytes]:
    return lambda at, n: pread_all(fd, n, base + at)


def fsck(
    repo: Repository, read_data: bool = False, progress: Callable[[int], None] | None = None
) -> FsckReport:
    check = _Fsck(repo, read_data, progress)
    check.loose_objects()
    check.packs()
    all_roots = check.roots()
    check.reachability(all_roots)
    check.warnings()
    return check.rep


class _Fsck:
    """One fsck run, phase by phase: what each object read so far links to and is."""

    def __init__(
        self, repo: Repository, read_data: bool, progress: Callable[[int], None] | None
    ) -> None:
        self.repo = repo
        self.odb = repo.objects
        self.read_data = read_data
        self.progress = progress
        self.rep = FsckReport()
        self.links: dict[ObjectId, list[ObjectId]] = {}
        self.present: set[ObjectId] = set()
        self.kinds: dict[ObjectId, str] = {}

    def error(self, subject: str, message: str) -> None:
        self.rep.problems.append(Problem("error", subject, message))

    def warning(self, subject: str, message: str) -> None:
        self.rep.problems.append(Problem("warning", subject, message))

    def loose_objects(self) -> None:
        for sub, name in self.odb.iter_files():
            path = self.odb.root / sub / name
            try:
                oid = from_hex(sub + name)
            except InvalidId:
                self.error(
                    str(path), "stray file in the object directory (its name is not an object id)"
                )
                continue
            if path.is_dir():
                self.error(
                    str(path), "stray directory in the object directory (an object is a file)"
                )
                continue
            with open(path, "rb") as f:
                fd = f.fileno()
                self.object(oid, path, os.fstat(fd).st_size, _reader(fd, 0))

    def packs(self) -> None:
        pack_dir = self.odb.pack_dir
        for file in sorted(os.listdir(pack_dir)) if pack_dir.is_dir() else []:
            path = pack_dir / file
            if not file.endswith(PACK_SUFFIX):
                self.error(str(path), "stray file in the pack directory (not a pack)")
                continue
            if path.is_dir():  # nothing else reads it: odb skips a pack it cannot open as a file
                self.error(str(path), "stray directory in the pack directory (a pack is a file)")
                continue
            try:
                pack = read_pack(path)  # from disk, not a cached index
            except CorruptPack as e:
                self.error(str(path), f"damaged pack, none of its objects is used: {e.why}")
                continue
            except FileNotFoundError:
                continue  # gc replaced it meanwhile
            self.rep.packs += 1
            with open(path, "rb") as f:
                fd = f.fileno()
                for oid, offset, length in pack.entries():
                    if oid in self.present or oid in self.links:
                        continue  # also loose, and checked there
                    self.rep.packed += 1
                    self.object(oid, path, length, _reader(fd, offset))

    def object(
        self, oid: ObjectId, where: Path, size: int, read_at: Callable[[int, int], bytes]
    ) -> None:
        """One stored object, wherever it lies: ``read_at(start, n)`` reads its bytes."""
        rep = self.rep
        rep.objects += 1
        if self.progress:
            self.progress(rep.objects)
        hexid = to_hex(oid)
        try:
            span = stored_blob_span(read_at(0, BLOB_HEAD))
            if span is not None and not self.read_data:
                # A blob's framing and length, without reading (or hashing) its data.
                if size != span.end:
                    raise CorruptObject(
                        hexid, None, where, f"truncated or padded ({size} bytes stored)"
                    )
                if read_at(size - len(blobfmt.SUFFIX), len(blobfmt.SUFFIX)) != blobfmt.SUFFIX:
                    raise CorruptObject(hexid, None, where, "blob trailer is damaged")
                rep.blobs += 1
                self.kinds[oid] = "blob"
                self.present.add(oid)
                return
            raw = decode_loose(read_at(0, size), hexid, where)
            rep.bytes_hashed += len(raw)
            actual = hash_bytes(raw)
            if actual != oid:
                raise CorruptObject(hexid, to_hex(actual), where, "content does not match its id")
            obj = decode_object(raw)
            self.kinds[oid] = obj.KIND
            self.links[oid] = list(iter_links(decode(raw)))
            if obj.KIND == "blob":
                rep.blobs += 1
            self.present.add(oid)
        except CorruptObject as e:
            self.error(hexid, str(e).removeprefix(f"corrupt object {hexid}").lstrip(": "))
            rep.damaged.append(oid)
        except ExtractError as e:
            self.error(hexid, f"malformed object: {e} ({where})")
            rep.damaged.append(oid)

    def roots(self) -> list[tuple[str, ObjectId]]:
        """Everything that must be present, each ref checked to name a commit."""
        all_roots = roots(self.repo, self.error)
        for name, oid in all_roots:
            kind = self.kinds.get(oid)
            if name.startswith("refs/") and kind is not None and kind != Commit.KIND:
                self.error(name, f"points at a {kind} object {to_hex(oid)[:12]}, not a commit")
        return all_roots

    def reachability(self, all_roots: list[tuple[str, ObjectId]]) -> None:
        """Walk from the roots: what is missing, what is dangling, and for each damaged or
        missing object what needs it."""
        rep = self.rep
        reachable: set[ObjectId] = set()
        # Depth first, the most direct roots last on the stack so they are walked first: an
        # object is labelled with the first root that reaches it, and "reachable from
        # refs/heads/main" says more than "from reflog refs/heads/main" (old history) or
        # "from staged ..." (not yet committed).
        stack: list[tuple[str, ObjectId]] = sorted(all_roots, key=_root_rank, reverse=True)
        # Purged objects are absent on purpose (old commits still link to them); those not
        # collected yet are dangling, which is what gc removes.
        tomb = repo_tombstones(self.repo)
        while stack:
            via, oid = stack.pop()
            if oid in reachable or oid in tomb.drop:
                continue
            if oid in tomb.absent and oid not in self.present:
                continue
            reachable.add(oid)
            if oid not in self.present:
                if oid not in rep.damaged:  # a damaged one was named where it was read
                    self.error(to_hex(oid), f"missing object (reachable from {via})")
                    rep.missing.append(oid)
                continue
            stack.extend((via, child) for child in self.links.get(oid, ()))
        rep.reachable = len(reachable & self.present)
        rep.dangling = sorted(self.present - reachable)
        rep.damaged = list(dict.fromkeys(rep.damaged))
        if rep.damaged or rep.missing:
            rep.needed_by = damage.needed_by(
                self.repo, rep.damaged + rep.missing, self.links, self.kinds, all_roots
            )
            named = {to_hex(o): damage.summary(n) for o, n in rep.needed_by.items()}
            rep.problems = [
                Problem(p.severity, p.subject, f"{p.message}; needed by {named[p.subject]}")
                if p.severity == "error" and p.subject in named
                else p
                for p in rep.problems
            ]

    def warnings(self) -> None:
        """What an interrupted write left behind, and damaged reflogs and journals."""
        repo = self.repo
        now = time.time()
        for tmp in list_tmp(self.odb):
            age = now - tmp.stat().st_mtime
            self.warning(
                str(tmp),
                f"temporary file left by an interrupted write "
                f"({age:.0f} s old); `extract gc` removes it",
            )
        for lock in repo.refs.locks():
            self.warning(
                str(lock),
                "ref lock file: an update is running or crashed; "
                "if no extract process is running, remove it",
            )
        for name in repo.refs.reflog_names():
            _check_reflog(repo, name, self.rep)
        for path in sorted(repo.journal_dir.glob("*")):
            if path.is_file() and journal.read(path).torn:
                self.warning(
                    str(path),
                    "journal ends in a torn record (a crash mid-write); "
                    "the intact records before it are kept",
                )


def _root_rank(root: tuple[str, ObjectId]) -> int:
    name = root[0]
    if name.startswith("refs/heads/"):
        return 0
    if name.startswith("refs/"):
        return 1
    return 2 if name.startswith("reflog ") else 3


def _check_reflog(repo: Repository, name: str, rep: FsckReport) -> None:
    """A reflog's damage is an error naming its file (gc would drop what the lost lines
    protected); lines a crash tore are a warning."""
    path = repo.refs.logs / name
    try:
        check = repo.refs.check_reflog(name)
    except ExtractError:
        rep.problems.append(
            Problem("error", str(path), "stray file in logs/ (its name is not a ref name)")
        )
        return
    if check.unreadable:
        rep.problems.append(Problem("error", str(path), f"reflog {check.unreadable}"))
    elif check.damaged:
        shown = ", ".join(map(str, check.damaged[:10])) + (
            " ..." if len(check.damaged) > 10 else ""
        )
        rep.problems.append(
            Problem(
                "error",
                str(path),
                f"reflog of {name} is damaged: line(s) {shown} are not reflog entries "
                f"({len(check.entries)} readable). Ids only the lost lines named are no longer "
                "protected from gc: restore the file from a backup, or move it aside to "
                "accept the loss",
            )
        )
    if check.torn:
        rep.problems.append(
            Problem(
                "warning",
                str(path),
                f"reflog line(s) {', '.join(map(str, check.torn[:10]))} cut short by a crash "
                "(harmless)",
            )
        )
