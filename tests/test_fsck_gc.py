"""fsck finds what is wrong; gc removes only what nothing reaches, after the grace period."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from extract.errors import ExtractError, StoreError
from extract.objects import Blob, Commit, Link, Tree, encode, new_ulid
from extract.objects.ids import ObjectId
from extract.store import journal
from extract.store.fsck import fsck
from extract.store.gc import gc, parse_duration
from extract.store.repo import MAIN, Repository
from tests.sshd import run_cli

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")


def damaged_reflogs(repo: Repository) -> list[str]:
    """Names of the reflogs with damage (what gc refuses to run past)."""
    out = []
    for name in repo.refs.reflog_names():
        try:
            damaged = repo.refs.reflog_damage(name)
        except ExtractError:  # a file under logs/ whose name is no ref name
            damaged = [0]
        if damaged:
            out.append(name)
    return out


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


# reflog damage --------------------------------------------------------------------------


def moved_twice(repo: Repository) -> tuple[ObjectId, ObjectId]:
    """main moved to c1, then to c2: c1 is kept only by the reflog."""
    c1 = commit(repo, "old")
    repo.refs.set(MAIN, c1)
    c2 = commit(repo, "new", parents=())
    repo.refs.set(MAIN, c2)
    return c1, c2


def reflog_path(repo: Repository) -> Path:
    return repo.root / "logs" / MAIN


def test_a_reflog_overwritten_with_garbage_fails_fsck_naming_the_file(repo: Repository) -> None:
    """Random bytes are not a crash's torn line: fsck fails naming the file, and gc can ask
    RefStore whether to trust the reflog (review F8: fsck said ok, gc would have deleted
    what only the reflog protected)."""
    moved_twice(repo)
    assert damaged_reflogs(repo) == []
    reflog_path(repo).write_bytes(os.urandom(4096))
    rep = fsck(repo)
    assert not rep.ok
    [err] = [p for p in rep.errors if "reflog" in p.message]
    assert err.subject == str(reflog_path(repo)) and "damaged" in err.message
    assert damaged_reflogs(repo) == [MAIN]
    assert repo.refs.reflog_damage(MAIN)
    r = run_cli("reflog", "--store", str(repo.root), cwd=repo.root.parent)
    assert r.returncode == 0 and "reflog of refs/heads/main is damaged" in r.stderr
    r = run_cli("fsck", "--store", str(repo.root), cwd=repo.root.parent)
    assert r.returncode != 0 and str(reflog_path(repo)) in r.stdout + r.stderr


def test_a_reflog_of_garbage_without_a_newline_is_damage_too(repo: Repository) -> None:
    """No newline at all used to read as one torn last line: an empty, sound reflog."""
    moved_twice(repo)
    reflog_path(repo).write_bytes(b"\x89PNG not a reflog at all" * 10)
    assert repo.refs.reflog_damage(MAIN) == [1]
    assert not fsck(repo).ok


@pytest.mark.parametrize("cut", [1, 40, 64, 100, 131, 140, -3])
def test_a_torn_last_line_is_only_a_warning(repo: Repository, cut: int) -> None:
    """A power cut stops the last append partway (and may leave zero bytes where the file
    grew): fsck warns, nothing is damaged, the earlier entries stay roots."""
    c1, _c2 = moved_twice(repo)
    path = reflog_path(repo)
    whole = path.read_bytes()
    last = whole[:-1].rsplit(b"\n", 1)[1] + b"\n"
    torn = last[:cut]
    for tail in (torn, torn + b"\0" * 37):
        path.write_bytes(whole[: -len(last)] + tail)
        assert damaged_reflogs(repo) == []
        rep = fsck(repo)
        assert rep.ok, rep.problems
        assert any("cut short by a crash" in p.message for p in rep.problems)
        assert [e.new for e in repo.refs.reflog(MAIN)] == [c1]


def test_an_entry_appended_after_a_torn_line_is_read(repo: Repository) -> None:
    c1, c2 = moved_twice(repo)
    path = reflog_path(repo)
    with open(path, "ab") as f:
        f.write(b"0" * 64 + b" " + b"ab" * 10)  # a crash mid-append
    c3 = commit(repo, "after the crash")
    repo.refs.set(MAIN, c3, expected=c2)  # starts its own line
    assert [e.new for e in repo.refs.reflog(MAIN)] == [c1, c2, c3]
    assert damaged_reflogs(repo) == []
    assert fsck(repo).ok
    # an older extract appended right after the torn bytes: the entry is still found
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([*lines[:-3], lines[-3] + lines[-2], b""]))
    check = repo.refs.check_reflog(MAIN)
    assert [e.new for e in check.entries] == [c1, c2, c3]
    assert check.damaged == [] and check.torn == [3]
    assert fsck(repo).ok


def test_a_garbage_line_among_good_ones_is_damage(repo: Repository) -> None:
    c1, c2 = moved_twice(repo)
    path = reflog_path(repo)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[0], b"who wrote this?", lines[1], b""]))
    check = repo.refs.check_reflog(MAIN)
    assert check.damaged == [2] and [e.new for e in check.entries] == [c1, c2]
    assert not fsck(repo).ok and damaged_reflogs(repo) == [MAIN]


# stray entries, root labels ----------------------------------------------------------------


def test_a_directory_named_like_a_pack_is_a_stray_entry(repo: Repository) -> None:
    """fsck names it; everything else (reads, gc, reindex) ignores it (review F8: all three
    crashed with IsADirectoryError)."""
    from extract.index.build import Indexer

    c = commit(repo, "a")
    repo.refs.set(MAIN, c)
    planted = repo.objects.pack_dir / ("ab" * 32 + ".pack")
    planted.mkdir(parents=True)
    other = Repository(repo.root)
    assert other.objects.has(c) and not other.objects.has(ObjectId(b"\x01" * 32))
    assert other.objects.packs() == []
    rep = fsck(other)
    [err] = rep.errors
    assert err.subject == str(planted) and "stray directory" in err.message
    gc(other, grace_seconds=0)
    Indexer(other).rebuild()
    assert planted.is_dir() and other.objects.has(c)
    for args, code in ((["fsck"], 1), (["gc", "--grace", "0"], 0), (["reindex"], 0)):
        r = run_cli(*args, "--store", str(repo.root), cwd=repo.root.parent)
        assert r.returncode == code and "Traceback" not in r.stderr, (args, r.stderr)


def test_a_missing_object_is_labelled_with_the_ref_that_reaches_it(repo: Repository) -> None:
    """Reachable from main and from the reflog: named as main's, not as old history."""
    c1 = commit(repo, "a")
    repo.refs.set(MAIN, c1)
    c2 = commit(repo, "b", parents=(c1,))
    repo.refs.set(MAIN, c2)
    (repo.staged_dir / new_ulid()).write_bytes(encode({"run": Link(c2)}))
    for victim in (c1, c2):  # c1 first: main reaches it through c2
        repo.objects.delete(victim)
        labels = {p.subject: p.message for p in fsck(repo).errors}
        # (then "; needed by ...": what the loss costs, tested in test_damaged_objects.py)
        assert labels[victim.hex()].startswith(f"missing object (reachable from {MAIN});")
    only_old = commit(repo, "only in the reflog")
    repo.refs.set(MAIN, only_old)
    repo.refs.set(MAIN, c2)
    repo.objects.delete(only_old)
    labels = {p.subject: p.message for p in fsck(repo).errors}
    assert labels[only_old.hex()].startswith(f"missing object (reachable from reflog {MAIN});")
