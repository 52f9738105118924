"""Fetching missing and damaged objects again, by id, from a remote that has them.

A fetch never re-sends what the local store believes it has: its walk stops at
everything reachable from local refs, damaged or not. Repair asks for the exact ids
fsck found bad (the protocol's ``has`` and ``get`` verbs), verifies each copy as a
fetch does, and stores it loose (``store.restore``): a damaged loose file is moved
aside first, a damaged packed copy is shadowed. Objects the restored ones link to
and this store lacks (a lost run record's curves, say) are fetched the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import ExtractError
from extract.objects import ObjectId
from extract.store import restore
from extract.store.repo import Repository
from extract.sync.transport import Transport


@dataclass
class RepairResult:
    restored: list[ObjectId] = field(default_factory=list)
    moved_aside: list[Path] = field(default_factory=list)  # damaged files kept as evidence
    not_on_remote: list[ObjectId] = field(default_factory=list)
    bad_on_remote: list[tuple[ObjectId, str]] = field(default_factory=list)


def repair_objects(repo: Repository, transport: Transport, ids: Iterable[ObjectId]) -> RepairResult:
    """Fetch ``ids`` (and what they link to that is absent here) from ``transport``."""
    out = RepairResult()
    odb = repo.objects
    asked: set[ObjectId] = set()
    want = list(dict.fromkeys(ids))
    while want:
        batch = [o for o in want if o not in asked]
        asked.update(batch)
        want = []
        if not batch:
            break
        flags = transport.has(batch)
        out.not_on_remote.extend(o for o, there in zip(batch, flags, strict=True) if not there)
        for oid, stored in transport.get(
            [o for o, there in zip(batch, flags, strict=True) if there]
        ):
            try:
                aside = restore.restore(repo, oid, stored)
            except ExtractError as e:  # the remote's copy is damaged too
                out.bad_on_remote.append((oid, str(e)))
                continue
            out.restored.append(oid)
            if aside is not None:
                out.moved_aside.append(aside)
            want.extend(
                c for c in restore.links_of(oid, stored) if c not in asked and not odb.has(c)
            )
    return out
