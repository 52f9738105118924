"""Many processes moving one ref by compare-and-swap: no update is ever lost.

Eight real processes (tests/workers/cas.py) each make N updates of refs/heads/main,
each a commit whose parent is the value it read, retrying when set() says the ref
moved. If any update were lost (two writers both winning from the same old value),
the chain behind the ref would be shorter than 8 * N, or the reflog would branch.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extract.errors import LockHeld
from extract.objects import Blob, Commit, ObjectId, to_hex
from extract.store.fsck import fsck
from extract.store.refs import RefStore
from extract.store.repo import MAIN, Repository
from tests.cli import extract

# Ref races on raw commits: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 8
UPDATES = 50


def start_workers(store: Path, go: Path, logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for w in range(WORKERS):
        with open(logs / f"w{w}.out", "wb") as out, open(logs / f"w{w}.err", "wb") as err:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.workers.cas",
                        str(store),
                        str(w),
                        str(UPDATES),
                        str(go),
                    ],
                    cwd=ROOT,
                    stdout=out,
                    stderr=err,
                )
            )
    return procs


def wait_until_ready(procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + 60
    for w, proc in enumerate(procs):
        out = logs / f"w{w}.out"
        while not out.read_bytes().startswith(b"ready"):
            assert proc.poll() is None, (logs / f"w{w}.err").read_text()
            assert time.monotonic() < deadline, f"worker {w} did not start"
            time.sleep(0.005)


@pytest.mark.slow
def test_eight_processes_racing_lose_no_update(tmp_path: Path) -> None:
    store = tmp_path / "store"
    Repository.create(store)
    logs = tmp_path / "logs"
    logs.mkdir()
    go = tmp_path / "go"
    procs = start_workers(store, go, logs)
    try:
        wait_until_ready(procs, logs)
        go.touch()  # the barrier: every worker is past its imports and polling for this
        for proc in procs:
            proc.wait(timeout=120)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    outputs = [(logs / f"w{w}.out").read_text().splitlines() for w in range(WORKERS)]
    for w, proc in enumerate(procs):
        assert proc.returncode == 0, (logs / f"w{w}.err").read_text()
        assert outputs[w][-1].startswith(f"done {UPDATES} "), outputs[w][-3:]
    conflicts = sum(int(lines[-1].split()[2]) for lines in outputs)

    repo = Repository(store)
    head = repo.refs.get(MAIN)

    # The chain behind the ref holds every update, exactly once.
    chain: list[ObjectId] = []
    per_worker = [0] * WORKERS
    message_of: dict[ObjectId, str] = {}
    oid: ObjectId | None = head
    while oid is not None:
        chain.append(oid)
        commit = repo.objects.get(oid)
        assert isinstance(commit, Commit)
        parsed = re.fullmatch(r"w(\d+) #(\d+)", commit.message)
        assert parsed is not None, commit.message
        worker, k = int(parsed[1]), int(parsed[2])
        message_of[oid] = commit.message
        state = repo.objects.get(commit.state)
        assert isinstance(state, Blob) and state.data == f"worker {worker} update {k}".encode()
        per_worker[worker] += 1
        assert len(commit.parents) <= 1
        oid = commit.parents[0] if commit.parents else None
    assert len(chain) == WORKERS * UPDATES
    assert len(set(chain)) == len(chain)
    assert per_worker == [UPDATES] * WORKERS

    # Each worker's own updates are in its order, and each is the commit it reported set.
    chain.reverse()
    for w, lines in enumerate(outputs):
        reported = [line.removeprefix("set ") for line in lines if line.startswith("set ")]
        mine = [to_hex(c) for c in chain if message_of[c].startswith(f"w{w} ")]
        assert reported == mine

    # The reflog is one unbroken line of moves, the same line as the chain.
    log = repo.refs.reflog(MAIN)
    assert len(log) == WORKERS * UPDATES
    assert log[0].old is None
    for prev, entry in itertools.pairwise(log):
        assert entry.old == prev.new
    assert [e.new for e in log] == chain
    assert log[-1].new == head

    rep = fsck(repo, read_data=True)
    assert rep.ok and not rep.problems, "\n".join(map(str, rep.problems))
    assert conflicts > 0, "no compare-and-swap ever lost: the workers did not really race"
    print(f"{WORKERS} x {UPDATES} updates, {conflicts} conflicts retried")


def test_left_lock_makes_set_wait_then_raise_lock_held(tmp_path: Path) -> None:
    store = tmp_path / "store"
    repo = Repository.create(store)
    first = repo.objects.put_blob(b"state")
    root = repo.objects.put(Commit((), first, "t", "h", "2024-06-11T00:00:00+00:00", "root"))
    child = repo.objects.put(Commit((root,), first, "t", "h", "2024-06-11T00:00:01+00:00", "next"))
    repo.objects.sync()
    repo.refs.set(MAIN, root, expected=None, message="root")
    ref_file = store / "refs" / "heads" / "main"
    log_file = store / "logs" / "refs" / "heads" / "main"
    before = (ref_file.read_bytes(), log_file.read_bytes())

    lock = store / "refs" / "heads" / "main.lock"
    lock.write_bytes(b"")  # left behind by a crashed process
    refs = RefStore(store, lock_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LockHeld) as info:
        refs.set(MAIN, child, expected=root, message="blocked")
    waited = time.monotonic() - started
    assert 0.3 <= waited < 5, f"waited {waited:.2f} s for a 0.3 s timeout"
    message = str(info.value)
    assert str(lock) in message
    assert f"rm '{lock}'" in message
    assert MAIN in message

    # Nothing changed: ref, reflog, and the lock itself (it is not ours to remove).
    assert (ref_file.read_bytes(), log_file.read_bytes()) == before
    assert lock.exists()
    assert refs.read(MAIN) == root
    rep = fsck(repo)
    assert rep.ok
    assert [p.subject for p in rep.problems] == [str(lock)]
    assert rep.problems[0].severity == "warning"

    # Through the real CLI too: a warning naming the lock, exit 0.
    cli = extract("fsck", "--store", str(store), cwd=tmp_path)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert str(lock) in cli.stdout + cli.stderr

    # Doing what the message says frees the ref.
    command = re.search(r"rm '[^']+'", message)
    assert command is not None
    subprocess.run(command.group(0), shell=True, check=True)
    refs.set(MAIN, child, expected=root, message="after removing the lock")
    assert refs.read(MAIN) == child
    assert [e.new for e in refs.reflog(MAIN)] == [root, child]
    assert fsck(repo).ok and not fsck(repo).problems


def test_lock_held_by_a_live_process_is_waited_for(tmp_path: Path) -> None:
    """A lock that goes away within the timeout (a live updater) is waited for, not an error."""
    store = tmp_path / "store"
    repo = Repository.create(store)
    state = repo.objects.put_blob(b"s")
    root = repo.objects.put(Commit((), state, "t", "h", "2024-06-11T00:00:00+00:00", "root"))
    repo.objects.sync()
    repo.refs.set(MAIN, root, expected=None)
    lock = store / "refs" / "heads" / "main.lock"
    lock.write_bytes(b"")
    # A separate process stands in for the updater holding the lock, and lets go after 0.3 s.
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import os, time; time.sleep(0.3); os.unlink({str(lock)!r})"]
    )
    try:
        child = repo.objects.put(Commit((root,), state, "t", "h", "2024-06-11T00:00:01+00:00", "c"))
        repo.objects.sync()
        RefStore(store, lock_timeout=10).set(MAIN, child, expected=root)
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0
    assert repo.refs.read(MAIN) == child
    assert not lock.exists()
