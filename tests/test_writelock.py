"""The writer lock (store/writelock.py) and how gc uses it, with real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from extract.errors import LockHeld, StoreError
from extract.objects import Blob, from_hex, to_hex
from extract.store.gc import gc
from extract.store.repo import Repository
from extract.store.writelock import STRICT_ENV

ROOT = Path(__file__).resolve().parent.parent

#: A writer that stores a blob inside a transaction, says so, and waits for a file
#: before it names the blob with a ref and ends the transaction.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from extract.objects import Blob, Commit, to_hex
    from extract.store.repo import MAIN, Repository
    repo = Repository(Path(sys.argv[1]))
    release = Path(sys.argv[2])
    with repo.writing():
        blob = repo.objects.put(Blob(b"written inside a transaction"))
        c = repo.objects.put(Commit((), blob, "t", "h", "2026-01-01T00:00:00Z", "m"))
        repo.objects.sync()
        print(to_hex(blob), to_hex(c), flush=True)
        while not release.exists():
            time.sleep(0.01)
        repo.refs.set(MAIN, c, expected=None)
    print("named", flush=True)
    """
)


def holder(repo: Repository, release: Path) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(repo.root), str(release)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    blob, commit = proc.stdout.readline().split()
    return proc, blob, commit


def test_gc_waits_for_a_transaction_and_keeps_what_it_names(
    repo: Repository, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    proc, blob, commit = holder(repo, release)
    # The blob is unreachable and brand new; without the lock, grace 0 would take it.
    with pytest.raises(LockHeld, match="waited 1 s for write transactions"):
        gc(repo, grace_seconds=0, wait_seconds=1)
    assert repo.objects.has(from_hex(blob))
    release.touch()
    assert proc.stdout is not None and proc.stdout.readline().strip() == "named"
    assert proc.wait(timeout=30) == 0
    rep = gc(repo, grace_seconds=0)
    assert not rep.removed
    assert to_hex(repo.objects.resolve_prefix(blob)) == blob
    assert to_hex(repo.objects.resolve_prefix(commit)) == commit


def test_gc_takes_what_a_killed_writer_left_unnamed(repo: Repository, tmp_path: Path) -> None:
    proc, blob, _ = holder(repo, tmp_path / "never")
    proc.kill()  # the kernel drops its flock: the store is not left locked
    proc.wait()
    rep = gc(repo, grace_seconds=0, wait_seconds=5)
    assert {to_hex(o) for o, _ in rep.removed} >= {blob}


def test_writers_wait_while_gc_sweeps_and_a_transaction_nests(repo: Repository) -> None:
    lock = repo.write_lock
    assert not lock.held()
    with repo.writing():
        with repo.writing():  # re-entrant: a seal that auto-commits
            assert lock.held()
        assert lock.held()
        with pytest.raises(LockHeld, match="inside a write transaction"):
            gc(repo, grace_seconds=0)
    assert not lock.held()
    with lock.exclusive(wait=1):
        # Another process cannot start a transaction now.
        code = textwrap.dedent(
            f"""
            import fcntl, os
            fd = os.open({str(lock.path)!r}, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SystemExit(7)
            """
        )
        assert subprocess.run([sys.executable, "-c", code]).returncode == 7
    assert not lock.held()


def test_a_forked_child_does_not_share_its_parents_hold(repo: Repository) -> None:
    with repo.writing():
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            os._exit(0 if not repo.write_lock.held() else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        assert repo.write_lock.held()


def test_strict_mode_refuses_an_object_written_outside_a_transaction(repo: Repository) -> None:
    assert os.environ.get(STRICT_ENV)  # set for the whole suite by conftest.py
    with pytest.raises(RuntimeError, match="outside a write transaction"):
        repo.objects.put(Blob(b"loose"))
    with repo.writing():
        repo.objects.put(Blob(b"loose"))


def test_one_gc_at_a_time(repo: Repository) -> None:
    code = textwrap.dedent(
        f"""
        import fcntl, os, sys, time
        fd = os.open({str(repo.root / "gc.running")!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    try:
        with pytest.raises(LockHeld, match="another gc is running"):
            gc(repo, grace_seconds=0)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    gc(repo, grace_seconds=0)


def test_gc_refuses_a_damaged_reflog(repo: Repository) -> None:
    with repo.writing():
        c = repo.objects.put(Blob(b"x"))
        repo.objects.sync()
        repo.refs.set("refs/heads/main", c, expected=None)  # a blob, but gc only walks it
    log = repo.refs.logs / "refs" / "heads" / "main"
    log.write_bytes(log.read_bytes() + b"\x00garbage that is not a reflog line\n")
    with pytest.raises(StoreError, match="reflog refs/heads/main is damaged"):
        gc(repo, grace_seconds=0)
    assert repo.objects.has(c)  # nothing deleted
