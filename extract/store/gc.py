"""``extract gc``: delete objects nothing can reach.

Roots are refs, reflog entries, staged data and live journals. gc is safe while other
processes write, whatever the grace period, because writers hold the store's writer
lock (store/writelock.py) from the first object they write until a root names it:

1. mark what the roots reach, without the lock (the long part, on a large store);
2. take the writer lock exclusively (every write transaction running has finished and
   none starts), read the roots again and mark from any new one;
3. delete what is unreachable and older than the grace period, rewrite packs that hold
   garbage, remove temp files left by dead writers; release the lock.

The grace period is a margin on top (an object a writer of an older extract wrote
outside a transaction, or one an outside tool hard-linked in), not the protection.
gc refuses to delete anything if a reachable object is missing or unreadable, since
it could not know what that object links to, and if a reflog is damaged, since it
could not know what the reflog protected.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import ExtractError, InvalidInput, LockHeld, StoreError
from extract.objects import ObjectId, to_hex
from extract.store.purges import Tombstones, repo_tombstones
from extract.store.repo import Repository
from extract.store.restore import sound_for_repack
from extract.store.walk import Root, list_tmp, object_links, roots

DEFAULT_GRACE_SECONDS = 24 * 3600
#: How long gc waits for running write transactions (a long fetch, say) to finish.
DEFAULT_WAIT_SECONDS = 600.0
#: One gc at a time per store.
RUN_LOCK = "gc.running"


@dataclass
class GcReport:
    reachable: int = 0
    removed: list[tuple[ObjectId, int]] = field(default_factory=list)
    kept_young: int = 0
    tmp_removed: list[Path] = field(default_factory=list)
    dry_run: bool = False
    #: Roots that appeared while gc marked (writes that finished meanwhile).
    late_roots: int = 0
    #: Packs left as they were because they hold a damaged object nothing else has.
    problems: list[str] = field(default_factory=list)

    @property
    def bytes_removed(self) -> int:
        return sum(n for _, n in self.removed)


def _roots(repo: Repository) -> list[Root]:
    problems: list[str] = []
    found = roots(repo, lambda subject, msg: problems.append(f"{subject}: {msg}"))
    for name in repo.refs.reflog_names():
        bad = repo.refs.reflog_damage(name)
        if bad:
            problems.append(
                f"reflog {name} is damaged (line {', '.join(map(str, bad[:5]))}), so what it "
                "protects is unknown. Look at it with `extract fsck`; if you accept that "
                f"objects only it protected may go, move {repo.refs.logs / name} aside"
            )
    if problems:
        raise StoreError("gc stopped, nothing deleted: " + "; ".join(problems))
    return found


def _mark_from(
    repo: Repository, start: Iterable[Root], reachable: set[ObjectId], tomb: Tombstones
) -> None:
    """Add to ``reachable`` everything ``start`` reaches that it does not hold yet. An
    object already in the set had its whole closure marked (objects never change).
    Purged objects (``tomb``) are not followed: old commits still link to them."""
    stack = [r for r in start if r[1] not in reachable]
    while stack:
        via, oid = stack.pop()
        if oid in reachable or oid in tomb.drop:
            continue
        if oid in tomb.absent and not repo.objects.has(oid):
            continue
        try:
            children = object_links(repo.objects, oid)
        except ExtractError as e:
            raise StoreError(
                f"gc stopped, nothing deleted: object {to_hex(oid)} (reachable from {via}) "
                f"cannot be read: {e}. Run `extract fsck` to see what is damaged and how to "
                "recover it"
            ) from None
        reachable.add(oid)
        stack.extend((via, c) for c in children)


def mark(repo: Repository, tomb: Tombstones | None = None) -> set[ObjectId]:
    """Everything the roots reach now, purged objects left out."""
    reachable: set[ObjectId] = set()
    start = _roots(repo)
    _mark_from(repo, start, reachable, repo_tombstones(repo) if tomb is None else tomb)
    return reachable


@contextlib.contextmanager
def _one_gc(repo: Repository) -> Iterator[None]:
    fd = os.open(repo.root / RUN_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(f"another gc is running on {repo.root}; nothing was deleted") from None
        yield
    finally:
        os.close(fd)


def gc(
    repo: Repository,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    dry_run: bool = False,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    only: set[ObjectId] | None = None,
    tomb: Tombstones | None = None,
) -> GcReport:
    """Delete what nothing reaches. ``only``: consider just these objects for deletion
    (``purge`` frees what it purged, whatever their age, and nothing else). ``tomb``: the
    purged objects, if the caller has them (``purge`` shows what a purge would free)."""
    rep = GcReport(dry_run=dry_run)
    if dry_run:  # deletes nothing, so it takes no lock (and works on a read-only store)
        reachable = mark(repo, tomb)
        rep.reachable = len(reachable)
        _sweep(repo, reachable, grace_seconds, dry_run, rep, only)
        return rep
    with _one_gc(repo):
        if tomb is None:
            tomb = repo_tombstones(repo)
        reachable = mark(repo, tomb)
        with repo.write_lock.exclusive(wait_seconds):
            # No write transaction is half done now: every object a writer still needs is
            # named by a root, and roots written since the first mark are read here. The
            # tombstones need no second look: a purge recorded meanwhile only keeps more.
            late = [r for r in _roots(repo) if r[1] not in reachable]
            rep.late_roots = len(late)
            _mark_from(repo, late, reachable, tomb)
            rep.reachable = len(reachable)
            _sweep(repo, reachable, grace_seconds, dry_run, rep, only)
    return rep


def _sweep(
    repo: Repository,
    reachable: set[ObjectId],
    grace_seconds: float,
    dry_run: bool,
    rep: GcReport,
    only: set[ObjectId] | None = None,
) -> None:
    now = time.time()
    odb = repo.objects
    for oid in odb.iter_loose_ids():
        if oid in reachable or (only is not None and oid not in only):
            continue
        path = odb.path_of(oid)
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if now - st.st_mtime < grace_seconds:
            rep.kept_young += 1
            continue
        rep.removed.append((oid, st.st_size))
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    for pack in odb.packs():
        garbage = [
            (oid, length)
            for oid, _, length in pack.entries()
            if oid not in reachable and (only is None or oid in only)
        ]
        if not garbage:
            continue
        if now - pack.mtime < grace_seconds:
            rep.kept_young += len(garbage)
            continue
        if dry_run:
            rep.removed.extend(garbage)
            continue
        # Never copy a damaged entry into the new pack: verify what is kept first.
        check = sound_for_repack(repo, pack, reachable)
        if check.unrecoverable:
            rep.problems.append(
                f"pack {pack.path.name} not rewritten: it holds damaged object(s) "
                f"{', '.join(to_hex(o)[:12] for o in check.unrecoverable[:3])} with no sound "
                "copy here; `extract fsck` says how to get them back"
            )
            continue
        rep.removed.extend(garbage)
        if only is None:
            odb.repack(pack, check.keep.__contains__)
        else:  # unreachable entries outside ``only`` stay as they are, for a later gc
            keep = check.keep | ({oid for oid, _, _ in pack.entries()} - reachable - only)
            odb.repack(pack, keep.__contains__)
    if only is not None:
        return  # a purge frees what it purged; temp files are gc's business
    # No writer is inside a transaction, so every temp file belongs to a dead process.
    for tmp in list_tmp(odb):
        with contextlib.suppress(FileNotFoundError):
            if now - tmp.stat().st_mtime >= grace_seconds:
                rep.tmp_removed.append(tmp)
                if not dry_run:
                    os.unlink(tmp)


def parse_duration(text: str) -> float:
    """'0', '90s', '15m', '2h', '7d', '2w' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    t = text.strip().lower()
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        value = -1
    if not value >= 0:
        raise InvalidInput(
            f"invalid duration {text!r}: give a number with a unit s, m, h, d or w (e.g. 30m, 2d), "
            "or 0 for no grace period"
        )
    return value
