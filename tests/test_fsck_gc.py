"""fsck finds what is wrong; gc removes only what nothing reaches, after the grace period."""

from __future__ import annotations

import os
import time

import pytest

from extract.errors import StoreError
from extract.objects import Blob, Commit, Link, Tree, encode, new_ulid
from extract.objects.ids import ObjectId
from extract.store import journal
from extract.store.fsck import fsck
from extract.store.gc import gc, parse_duration
from extract.store.repo import MAIN, Repository

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")


def commit(repo: Repository, *names: str, parents: tuple[ObjectId, ...] = ()) -> ObjectId:
    tree = repo.objects.put(Tree({n: repo.objects.put(Blob(n.encode())) for n in names}))
    oid = repo.objects.put(Commit(parents, tree, "me", "host", "2026-01-01T00:00:00Z", "m"))
    repo.objects.sync()
    return oid


def age(repo: Repository, oid: ObjectId, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(repo.objects.path_of(oid), (t, t))


def test_sound_store(repo: Repository) -> None:
    c = commit(repo, "a", "b")
    repo.refs.set(MAIN, c)
    stray = repo.objects.put(Blob(b"dangling"))
    rep = fsck(repo)
    assert rep.ok and rep.objects == 5 and rep.reachable == 4
    assert rep.dangling == [stray]
    assert fsck(repo, read_data=True).ok


def test_missing_object_is_named(repo: Repository) -> None:
    c = commit(repo, "a")
    repo.refs.set(MAIN, c)
    blob = repo.objects.put(Blob(b"a"))
    repo.objects.delete(blob)
    rep = fsck(repo)
    assert not rep.ok
    [err] = rep.errors
    assert err.subject == blob.hex() and "missing" in err.message and MAIN in err.message


def test_ref_to_non_commit(repo: Repository) -> None:
    repo.refs.set(MAIN, repo.objects.put(Blob(b"x")))
    rep = fsck(repo)
    assert any(p.subject == MAIN and "not a commit" in p.message for p in rep.errors)


def test_gc_keeps_reachable_and_young(repo: Repository) -> None:
    c1 = commit(repo, "a")
    c2 = commit(repo, "b", parents=(c1,))
    repo.refs.set(MAIN, c2)
    old = repo.objects.put(Blob(b"old garbage"))
    young = repo.objects.put(Blob(b"young garbage"))
    age(repo, old, 3 * 86400)
    dry = gc(repo, grace_seconds=86400, dry_run=True)
    assert [o for o, _ in dry.removed] == [old] and repo.objects.has(old)
    rep = gc(repo, grace_seconds=86400)
    assert [o for o, _ in rep.removed] == [old] and rep.kept_young == 1
    assert not repo.objects.has(old) and repo.objects.has(young)
    assert fsck(repo).ok
    assert rep.reachable == 6  # two commits, two trees, two blobs


def test_gc_roots_include_reflog_staged_and_journals(repo: Repository) -> None:
    c1 = commit(repo, "in-reflog-only")
    repo.refs.set(MAIN, c1)
    c2 = commit(repo, "current")
    repo.refs.set(MAIN, c2)
    staged_blob = repo.objects.put(Blob(b"sealed, not committed"))
    (repo.staged_dir / new_ulid()).write_bytes(encode({"run": Link(staged_blob)}))
    live_blob = repo.objects.put(Blob(b"logged by a live run"))
    journal.append(repo.journal_dir / f"{new_ulid()}.journal", [{"table": Link(live_blob)}])
    garbage = repo.objects.put(Blob(b"garbage"))
    rep = gc(repo, grace_seconds=0)
    assert [o for o, _ in rep.removed] == [garbage]
    for kept in (c1, staged_blob, live_blob):
        assert repo.objects.has(kept)


def test_gc_refuses_when_a_reachable_object_is_missing(repo: Repository) -> None:
    c = commit(repo, "a")
    repo.refs.set(MAIN, c)
    garbage = repo.objects.put(Blob(b"garbage"))
    repo.objects.delete(repo.objects.put(Blob(b"a")))
    with pytest.raises(StoreError, match="nothing deleted"):
        gc(repo, grace_seconds=0)
    assert repo.objects.has(garbage)


def test_gc_removes_old_temp_files(repo: Repository) -> None:
    tmp = repo.objects.tmp / "obj-123-abc"
    tmp.write_bytes(b"half an object")
    assert any("temporary" in p.message for p in fsck(repo).problems)
    assert gc(repo, grace_seconds=3600).tmp_removed == []
    t = time.time() - 7200
    os.utime(tmp, (t, t))
    assert gc(repo, grace_seconds=3600).tmp_removed == [tmp]
    assert not tmp.exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("2w", 1209600)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "-1h", "soon", "5x", "nan"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)
