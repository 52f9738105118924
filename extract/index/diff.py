"""What changed between two state trees, read as little as possible.

Sections and buckets whose ids are equal are skipped without being read, so indexing a
commit that added one run reads that run's bucket and nothing else of the state.
"""

from __future__ import annotations

from collections.abc import Callable

from extract.errors import ExtractError
from extract.index import skips
from extract.objects import ObjectId, Tree
from extract.objects.kinds import cast
from extract.store.history import SECTIONS
from extract.store.odb import ObjectStore


def diff_states(
    odb: ObjectStore,
    old: ObjectId | None,
    new: ObjectId,
    on_error: Callable[[ObjectId, ExtractError], None] | None = None,
) -> list[tuple[str, str, ObjectId]]:
    """(section, key, object) of every entry of ``new`` that ``old`` lacks or holds
    differently; unchanged sections and buckets are skipped by id without being read.

    With ``on_error``, a tree of ``new`` that cannot be read is reported to it and left
    out (the rest of the state still counts), and one of ``old`` counts as empty (its
    entries are then applied again, which changes nothing)."""
    if old == new:
        return []

    def entries(oid: ObjectId | None, reported: bool) -> dict[str, ObjectId] | None:
        if oid is None:
            return {}
        try:
            return dict(cast(odb.get(oid), Tree).entries)
        except skips.UNREADABLE as e:
            if on_error is None:
                raise
            if not reported:
                return {}
            on_error(oid, e)
            return None

    old_root = entries(old, False) or {}
    new_root = entries(new, True) or {}
    out = []
    for section in SECTIONS:
        sec = new_root.get(section)
        if sec is None or sec == old_root.get(section):
            continue
        old_buckets = entries(old_root.get(section), False) or {}
        for name, bucket in (entries(sec, True) or {}).items():
            if old_buckets.get(name) == bucket:
                continue
            old_entries = entries(old_buckets.get(name), False) or {}
            for key, oid in (entries(bucket, True) or {}).items():
                if old_entries.get(key) != oid:
                    out.append((section, key, oid))
    return out
