"""``extract gc``: delete objects nothing can reach, after a grace period.

Roots are refs, reflog entries, staged data and live journals. An object younger
than the grace period is kept even when unreachable: a writer may have stored it
a moment ago and not yet written the ref, stage file or journal record that
points at it (writers refresh the mtime of objects they find already present).
gc refuses to delete anything if a reachable object is missing or unreadable,
since it could not know what that object links to.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import ExtractError, InvalidInput, StoreError
from extract.objects import ObjectId, to_hex
from extract.store.repo import Repository
from extract.store.restore import sound_for_repack
from extract.store.walk import list_tmp, object_links, roots

DEFAULT_GRACE_SECONDS = 24 * 3600


@dataclass
class GcReport:
    reachable: int = 0
    removed: list[tuple[ObjectId, int]] = field(default_factory=list)
    kept_young: int = 0
    tmp_removed: list[Path] = field(default_factory=list)
    dry_run: bool = False
    #: Packs left as they were because they hold a damaged object nothing else has.
    problems: list[str] = field(default_factory=list)

    @property
    def bytes_removed(self) -> int:
        return sum(n for _, n in self.removed)


def mark(repo: Repository) -> set[ObjectId]:
    problems: list[str] = []
    found = roots(repo, lambda subject, msg: problems.append(f"{subject}: {msg}"))
    if problems:
        raise StoreError("gc stopped, nothing deleted: " + "; ".join(problems))
    reachable: set[ObjectId] = set()
    stack = list(found)
    while stack:
        via, oid = stack.pop()
        if oid in reachable:
            continue
        try:
            children = object_links(repo.objects, oid)
        except ExtractError as e:
            raise StoreError(
                f"gc stopped, nothing deleted: object {to_hex(oid)} (reachable from {via}) "
                f"cannot be read: {e}. Run `extract fsck` to see what is damaged"
            ) from None
        reachable.add(oid)
        stack.extend((via, c) for c in children)
    return reachable


def gc(
    repo: Repository, grace_seconds: float = DEFAULT_GRACE_SECONDS, dry_run: bool = False
) -> GcReport:
    rep = GcReport(dry_run=dry_run)
    reachable = mark(repo)
    rep.reachable = len(reachable)
    now = time.time()
    odb = repo.objects
    for oid in odb.iter_loose_ids():
        if oid in reachable:
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
        garbage = [(oid, length) for oid, _, length in pack.entries() if oid not in reachable]
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
        odb.repack(pack, check.keep.__contains__)
    for tmp in list_tmp(odb):
        with contextlib.suppress(FileNotFoundError):
            if now - tmp.stat().st_mtime >= grace_seconds:
                rep.tmp_removed.append(tmp)
                if not dry_run:
                    os.unlink(tmp)
    return rep


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
