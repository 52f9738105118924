"""The SDK under SIGKILL and under concurrent writers (DESIGN.md "On disk").

- ``test_sigkill_while_logging_*`` kills a real logging process
  (tests/workers/logger.py) at random moments, over and over, on one store. Each
  reopen of the store seals the orphaned journal as a ``failed`` run that holds every
  point the worker had flushed (and, by the SDK's own bounds, every point but the
  last 9 steps, and every point older than the 2-second timer); fsck stays clean.
- ``test_concurrent_sweep_*`` starts 8 processes (tests/workers/sweeper.py) logging
  into one store at the same moment: no "database is locked", every run complete,
  and the commits (one at the end, or 8 racing ones) hold all 8 runs. The
  ``fresh_stores`` variant repeats it on stores that have no index.db yet.
- ``test_racing_commits_lose_nothing`` has 8 processes (tests/workers/committer.py)
  stage and commit 25 times each, all at once.
- The last tests check that out-of-range numbers never leave a run, or the store,
  unable to flush, finish or open.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from extract.index import read
from extract.index.build import Indexer
from extract.objects import RunRecord, from_hex
from extract.objects.kinds import cast
from extract.sdk import Store
from extract.sdk.run import CURVE_FLUSH_STEPS, FLUSH_SECONDS
from extract.store.curves import read_curves
from extract.store.fsck import FsckReport, fsck
from extract.store.history import commit_staged, head_state, list_staged
from extract.store.repo import Repository
from tests.stores import curve_arrays, uncommitted_events
from tests.workers import committer, logger, sweeper

ROOT = Path(__file__).resolve().parent.parent
HIERARCHY = ("sweep", "trial")

KILLS = 24
KILL_SEED = 20240612
KILL_DELAY = (0.02, 0.6)  # seconds after the worker printed "run <id>"
#: Every EARLY-th kill comes at a random moment after the process starts, without
#: waiting for the run: it may land in imports, in Store() or in the Run constructor.
EARLY = 6
EARLY_DELAY = (0.0, 0.9)
#: Kills with these indices use a slow worker that never flushes by hand, killed
#: after SLOW_DELAY: only the SDK's timer thread hands its points to the journal.
SLOW_KILLS = (9, 19)
SLOW_PACE = 0.6
SLOW_DELAY = (4.0, 5.0)
#: Slack on top of the timer bound (FLUSH_SECONDS plus one tick of the timer thread).
TIMER_SLACK = 1.0

SWEEP_WORKERS = 8
SWEEP_STEPS = 2000
LOCKED = "database is locked"


def describe(rep: FsckReport) -> str:
    return "\n".join(str(p) for p in rep.problems) or "(no problems)"


def new_store(tmp_path: Path) -> Path:
    root = tmp_path / ".extract"
    Repository.init(root, HIERARCHY)
    return root


# SIGKILL while logging ---------------------------------------------------------------


@dataclass
class LoggerReport:
    """What a killed logger said, from complete lines of its stdout."""

    run_id: str | None = None
    last_step: int = -1  # the last step whose curve() returned (-1: none)
    last_flushed: int = -1  # the step after which the last run.flush() returned
    step_times: dict[int, float] | None = None


def parse_logger_output(text: str) -> LoggerReport:
    rep = LoggerReport(step_times={})
    assert rep.step_times is not None
    complete = text[: text.rfind("\n") + 1]  # a line cut by the kill is not a report
    for line in complete.splitlines():
        word, _, rest = line.partition(" ")
        if word == "run":
            assert rep.run_id is None, "two runs in one worker"
            rep.run_id = rest
        elif word == "step":
            step, at = rest.split()
            assert int(step) == rep.last_step + 1, f"step {step} after {rep.last_step}"
            rep.last_step = int(step)
            rep.step_times[rep.last_step] = float(at)
        elif word == "flushed":
            assert int(rest) == rep.last_step, f"flushed {rest} after step {rep.last_step}"
            rep.last_flushed = int(rest)
        else:
            raise AssertionError(f"unexpected logger output {line!r}")
    return rep


def run_logger_and_kill(
    root: Path, out_dir: Path, seed: int, pace: float, delay: float, wait_for_run: bool
) -> tuple[str, float]:
    """Start a logger, SIGKILL it; return what it printed and the time.time() of the kill."""
    out_path = out_dir / f"logger-{seed}.out"
    err_path = out_dir / f"logger-{seed}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.workers.logger", str(root), str(seed), repr(pace)],
            cwd=ROOT,
            stdout=out,
            stderr=err,
        )
    try:
        if wait_for_run:
            deadline = time.monotonic() + 30
            while not out_path.read_bytes().startswith(b"run "):
                assert proc.poll() is None, f"logger exited early: {err_path.read_text()}"
                assert time.monotonic() < deadline, "logger did not start a run within 30 s"
                time.sleep(0.002)
        time.sleep(delay)
        assert proc.poll() is None, f"logger exited early: {err_path.read_text()}"
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == -signal.SIGKILL, f"logger exited with {code}: {err_path.read_text()}"
    return out_path.read_text(), killed_at


def last_multiple_below(n: int, k: int) -> int:
    """The largest multiple of k strictly below n (-1 if none)."""
    return ((n - 1) // k) * k if n >= 1 else -1


def check_recovered_run(
    store: Store, repo: Repository, seed: int, rep: LoggerReport, killed_at: float, slow: bool
) -> tuple[int, bool]:
    """The sealed, failed run holds what the worker reported.

    Returns its last recovered step, and whether the 2-second timer bound was checked."""
    assert rep.run_id is not None
    rid = rep.run_id
    conn = store._indexer.conn
    detail = read.get_run(conn, rid)
    row = detail.run
    assert row.status == "failed", row.status
    assert row.ended_at is not None
    assert row.object_id is not None, "the recovered run was not sealed"
    assert row.name == f"seed{seed}"
    record = cast(repo.objects.get(from_hex(row.object_id)), RunRecord)
    assert record.id == rid and record.status == "failed"
    sealed = read_curves(repo.objects, record.curves)

    # Through the index and through the sealed curve set: the same contiguous prefix.
    indexed = {m: curve_arrays(conn, rid, m) for m in logger.METRICS}
    n = len(indexed[logger.METRICS[0]][0])
    for m, (steps, values, walls) in indexed.items():
        assert np.array_equal(steps, np.arange(n)), f"{m}: steps are not 0..{n - 1}: {steps}"
        expected = np.array([logger.value(seed, int(s), m) for s in steps], dtype=np.float64)
        assert np.array_equal(values, expected), f"{m}: values differ from what was logged"
        if n:
            s_steps, s_values, s_walls = sealed[m]
            assert np.array_equal(s_steps, steps)
            assert np.array_equal(s_values, values)
            assert np.array_equal(s_walls, walls)
        else:
            assert m not in sealed
    last = n - 1

    # The loss bounds: nothing before the last reported flush is lost; at most the
    # steps still in the buffer (CURVE_FLUSH_STEPS - 1 of them) are; nothing logged
    # more than the timer bound before the kill is lost; nothing is invented.
    assert last >= rep.last_flushed, (
        f"flushed up to step {rep.last_flushed} but recovered only up to {last}"
    )
    assert last >= rep.last_step - (CURVE_FLUSH_STEPS - 1), (
        f"step {rep.last_step} returned but only {last} was recovered: "
        f"more than {CURVE_FLUSH_STEPS - 1} steps were still buffered"
    )
    assert last <= rep.last_step + 1, f"recovered step {last}, logged only {rep.last_step + 1}"
    old: list[int] = []
    if slow:
        assert rep.step_times is not None
        old = [s for s, t in rep.step_times.items() if t < killed_at - FLUSH_SECONDS - TIMER_SLACK]
        if old:
            assert last >= max(old), (
                f"step {max(old)} was logged more than {FLUSH_SECONDS + TIMER_SLACK} s "
                f"before the kill but only {last} was recovered"
            )

    # Headline values and params ride in the same buffer: a prefix consistent with the curves.
    seen_floor = last_multiple_below(last, logger.LOG_EVERY)
    seen = detail.metrics.get("seen")
    if seen_floor >= 0:
        assert seen is not None, f"log(seen={seen_floor}) came before step {last} and was lost"
    if seen is not None:
        assert seen_floor <= seen <= last and seen % logger.LOG_EVERY == 0, (seen, last)
        assert detail.params == {"phase": logger.phase(int(seen))}
        assert record.metrics["seen"]["value"] == seen
        assert record.params == {"phase": logger.phase(int(seen))}
    else:
        assert detail.params == {}
    # Tags are durable records: one made before the last recovered step survives.
    must = {f"t{s}" for s in range(logger.TAG_PHASE, last, logger.TAG_EVERY)}
    may = {f"t{s}" for s in range(logger.TAG_PHASE, last + 1, logger.TAG_EVERY)}
    assert must <= set(row.tags) <= may, (row.tags, last)
    assert must <= set(record.tags) <= may
    return last, bool(old)


@pytest.mark.slow
def test_sigkill_while_logging_keeps_every_flushed_point(tmp_path: Path) -> None:
    root = new_store(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(KILL_SEED)
    runs: dict[str, int] = {}  # recovered run id -> its last recovered step
    early_nothing = flushes = timer_checks = 0

    for k in range(KILLS):
        seed = rng.getrandbits(32)
        slow = k in SLOW_KILLS
        early = not slow and k % EARLY == EARLY - 1
        pace = SLOW_PACE if slow else 0.0
        delay = rng.uniform(*(SLOW_DELAY if slow else EARLY_DELAY if early else KILL_DELAY))
        text, killed_at = run_logger_and_kill(root, logs, seed, pace, delay, wait_for_run=not early)
        rep = parse_logger_output(text)
        if not early:
            assert rep.run_id is not None
        flushes += text.count("\nflushed ")

        store = Store(root)  # never fails to open; seals the orphan
        try:
            repo = store._repo
            assert not list((root / "journal").glob("*.journal")), "an orphan was not sealed"
            if rep.run_id is not None:
                assert store.recovered == [rep.run_id], (store.recovered, rep.run_id)
                last, timed = check_recovered_run(store, repo, seed, rep, killed_at, slow)
                runs[rep.run_id] = last
                timer_checks += timed
            else:
                # Killed before it could say so: at most one run, started and sealed as failed.
                assert len(store.recovered) <= 1
                for rid in store.recovered:
                    assert read.get_run(store._indexer.conn, rid).run.status == "failed"
                    runs[rid] = -1
                early_nothing += not store.recovered
            # Every earlier recovered run is still there, as it was.
            conn = store._indexer.conn
            for rid, last in runs.items():
                if last >= 0:
                    assert len(curve_arrays(conn, rid, "loss")[0]) == last + 1
                assert read.get_run(conn, rid).run.status == "failed"
        finally:
            store.close()
        report = fsck(Repository(root), read_data=True)
        assert report.ok, f"after kill {k} (seed {seed}):\n{describe(report)}"

    # The staged runs are the recovered ones; committing them keeps every point.
    repo = Repository(root)
    staged = {s.key for s in list_staged(repo) if s.section == "runs"}
    assert staged == set(runs)
    commit_staged(repo, "recovered runs")
    assert set(head_state(repo)[1].sections["runs"]) == set(runs)
    assert sum(last >= 0 for last in runs.values()) >= KILLS - KILLS // EARLY
    assert timer_checks == len(SLOW_KILLS), "a slow kill did not check the 2-second bound"
    leftovers = [p.name for p in (root / "journal").iterdir()]
    print(
        f"{KILLS} kills: {len(runs)} runs recovered, {sum(runs.values()) + len(runs)} steps, "
        f"{flushes} reported flushes, {timer_checks} timer-bound checks, "
        f"{early_nothing} early kills before any run, "
        f"journal leftovers {leftovers}"
    )


# many processes at once ---------------------------------------------------------------


def run_together(
    out_dir: Path, module: str, args: list[list[str]], timeout: float = 300
) -> list[str]:
    """Start one ``python -m module`` per argument list, release them together through a
    barrier file (given as each one's last argument), wait for all; return their stdouts.

    Every worker must exit 0 without writing to stderr, and no output may mention
    "database is locked"."""
    out_dir.mkdir(parents=True, exist_ok=True)
    go = out_dir / "go"
    procs: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
    try:
        for w, extra in enumerate(args):
            out_path, err_path = out_dir / f"{module}-{w}.out", out_dir / f"{module}-{w}.err"
            cmd = [sys.executable, "-m", f"tests.workers.{module}", *extra, str(go)]
            with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
                proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out_f, stderr=err_f)
            procs.append((proc, out_path, err_path))
        deadline = time.monotonic() + 60
        for proc, out_path, err_path in procs:
            while not out_path.read_bytes().startswith(b"ready"):
                assert proc.poll() is None, f"{module} exited early: {err_path.read_text()}"
                assert time.monotonic() < deadline, f"{module} workers did not start within 60 s"
                time.sleep(0.005)
        go.touch()
        for proc, _, _ in procs:
            proc.wait(timeout=timeout)
    finally:
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    outs = []
    for w, (proc, out_path, err_path) in enumerate(procs):
        out, err = out_path.read_text(), err_path.read_text()
        assert LOCKED not in out.lower() and LOCKED not in err.lower(), f"worker {w}:\n{err}"
        assert proc.returncode == 0, f"worker {w} exited with {proc.returncode}:\n{err}"
        assert err == "", f"worker {w} wrote to stderr:\n{err}"
        outs.append(out)
    return outs


def run_sweep(root: Path, out_dir: Path, commit: bool) -> list[str]:
    """Start the sweep's workers together; return their run ids, in worker order."""
    args = [
        [str(root), str(w), str(SWEEP_STEPS), "1" if commit else "0"] for w in range(SWEEP_WORKERS)
    ]
    ids = []
    for out in run_together(out_dir, "sweeper", args):
        done = [line for line in out.splitlines() if line.startswith("done ")]
        assert len(done) == 1, out
        ids.append(done[0].removeprefix("done "))
    assert len(set(ids)) == SWEEP_WORKERS
    return ids


def check_sweep_runs(root: Path, ids: list[str]) -> None:
    """Every run is completed with exactly all its points and everything else it logged."""
    repo = Repository(root)
    ix = Indexer(repo)
    try:
        ix.refresh()
        conn = ix.conn
        steps = np.arange(SWEEP_STEPS)
        for w, rid in enumerate(ids):
            detail = read.get_run(conn, rid)
            row = detail.run
            assert row.status == "completed", (w, row.status)
            assert row.experiment_path == f"sweep/lr{w % sweeper.TRIALS}"
            assert row.total_steps == SWEEP_STEPS
            assert detail.config == {"worker": w, "lr": 10.0**-w}
            assert list(row.tags) == ["sweep", f"worker-{w}"]
            assert detail.notes == f"worker {w} of the sweep"
            assert detail.params == {"optimizer": f"adam-{w}"}
            last_seen = (SWEEP_STEPS - 1) // sweeper.LOG_EVERY * sweeper.LOG_EVERY
            assert detail.metrics == {
                "seen": last_seen,
                "final": logger.value(w, SWEEP_STEPS - 1, "loss"),
            }
            assert [(a.name, a.kind) for a in detail.artifacts] == [("confusion", "matrix")]
            assert [t.content for t in detail.todos] == [f"look at worker {w}"]
            assert sorted(detail.curves) == sorted(logger.METRICS)
            assert row.object_id is not None
            record = cast(repo.objects.get(from_hex(row.object_id)), RunRecord)
            sealed = read_curves(repo.objects, record.curves)
            for m in logger.METRICS:
                got_steps, values, _ = curve_arrays(conn, rid, m)
                expected = np.array([logger.value(w, int(s), m) for s in steps])
                assert np.array_equal(got_steps, steps), (w, m)
                assert np.array_equal(values, expected), (w, m)
                assert np.array_equal(sealed[m][0], steps) and np.array_equal(
                    sealed[m][1], expected
                )
            n_points = conn.execute(
                "SELECT COUNT(*) FROM curve_points WHERE run_id=?", (rid,)
            ).fetchone()[0]
            assert n_points == SWEEP_STEPS * len(logger.METRICS)
        assert read.status_counts(conn).live == 0
    finally:
        ix.close()
    assert not list((root / "journal").iterdir()), "journals left after every run finished"


def sweep_commit_state(root: Path) -> dict[str, Any]:
    repo = Repository(root)
    return dict(head_state(repo)[1].sections["runs"])


@pytest.mark.slow
def test_concurrent_sweep_then_one_commit(tmp_path: Path) -> None:
    root = new_store(tmp_path)
    ids = run_sweep(root, tmp_path, commit=False)
    check_sweep_runs(root, ids)
    repo = Repository(root)
    assert {s.key for s in list_staged(repo) if s.section == "runs"} == set(ids)
    result = commit_staged(repo, "the sweep")
    assert result.commit is not None and result.added["runs"] == SWEEP_WORKERS
    assert set(sweep_commit_state(root)) == set(ids)
    assert list_staged(repo) == []
    assert fsck(repo, read_data=True).ok


@pytest.mark.slow
def test_concurrent_sweep_with_racing_commits(tmp_path: Path) -> None:
    root = new_store(tmp_path)
    ids = run_sweep(root, tmp_path, commit=True)
    check_sweep_runs(root, ids)
    repo = Repository(root)
    assert set(sweep_commit_state(root)) == set(ids)
    assert list_staged(repo) == []
    assert sorted(os.listdir(root / "staged")) == [], "staged files remain"
    # Every staged event (experiments, todos) made it into main too.
    state = head_state(repo)[1]
    assert len(state.sections["events"]) >= SWEEP_WORKERS  # one todo per run at least
    ix = Indexer(repo)
    try:
        ix.refresh()
        counts = read.status_counts(ix.conn)
        assert (counts.live, counts.uncommitted, counts.committed) == (0, 0, SWEEP_WORKERS)
        assert uncommitted_events(ix.conn) == 0
    finally:
        ix.close()
    assert fsck(repo, read_data=True).ok


FRESH_ROUNDS = 3
COMMITTERS = 8
COMMITS_EACH = 25


@pytest.mark.slow
def test_concurrent_sweep_on_fresh_stores(tmp_path: Path) -> None:
    """More rounds of the sweep, each on a store with no index.db yet (a sweep launched
    right after `extract init`), where the first opens race to create it."""
    for k in range(FRESH_ROUNDS):
        root = new_store(tmp_path / f"round{k}")
        assert not (root / "index.db").exists()
        ids = run_sweep(root, tmp_path / f"round{k}" / "logs", commit=False)
        check_sweep_runs(root, ids)


@pytest.mark.slow
def test_racing_commits_lose_nothing(tmp_path: Path) -> None:
    """8 processes each stage an event and commit, 25 times, all at once: every commit
    lands, every event is in main, no staged file is left, nobody crashes."""
    root = new_store(tmp_path)
    with Store(root):
        pass  # the index exists: this test is about staged files and the ref
    args = [[str(root), str(w), str(COMMITS_EACH)] for w in range(COMMITTERS)]
    run_together(tmp_path / "logs", "committer", args)
    repo = Repository(root)
    assert list_staged(repo) == []
    assert os.listdir(root / "staged") == []
    ix = Indexer(repo)
    try:
        ix.refresh()
        got = sorted(t.content for t in read.list_todos(ix.conn, include_done=True).items)
        assert uncommitted_events(ix.conn) == 0
    finally:
        ix.close()
    want = sorted(committer.todo_text(w, k) for w in range(COMMITTERS) for k in range(COMMITS_EACH))
    assert got == want
    assert len(head_state(repo)[1].sections["events"]) == COMMITTERS * COMMITS_EACH
    assert fsck(repo, read_data=True).ok


# bad values must not brick a run or the store ------------------------------------------


def test_step_out_of_int64_range_does_not_brick_the_store(tmp_path: Path) -> None:
    """A step SQLite and the sealed int64 column cannot hold is refused at curve(), or at
    worst the run still seals and the store still opens after its process dies."""
    root = new_store(tmp_path)
    code = (
        "import os, sys\n"
        "from extract.sdk import Store\n"
        "s = Store(sys.argv[1])\n"
        "r = s.experiment({'sweep': 'a'}).run()\n"
        "r.curve(0, loss=1.0)\n"
        "try:\n"
        "    r.curve(2**63, loss=2.0)\n"
        "except (TypeError, ValueError):\n"
        "    pass\n"
        "r.flush()\n"
        "os._exit(0)\n"  # dies without finish(), as a killed process would
    )
    subprocess.run([sys.executable, "-c", code, str(root)], cwd=ROOT, check=True)
    store = Store(root)  # recovers the orphan: must not raise
    try:
        assert len(store.recovered) == 1
        steps, values, _ = curve_arrays(store._indexer.conn, store.recovered[0], "loss")
        assert steps[0] == 0 and values[0] == 1.0
    finally:
        store.close()


def test_huge_ints_do_not_poison_the_run(tmp_path: Path) -> None:
    """Ints beyond 64 bits in curve() and log() are refused at once or stored (as floats);
    either way the run keeps working and finishes: the buffer is never left holding
    something the journal cannot take, which would fail every later flush (and the
    2-second timer thread with it)."""
    root = new_store(tmp_path)
    store = Store(root)
    try:
        run = store.experiment({"sweep": "a"}).run()
        calls: list[Callable[[], None]] = [
            lambda: run.curve(1, loss=2**64),
            lambda: run.curve(2, loss=-(2**70)),
            lambda: run.log(big=2**64),
            lambda: run.log(small=-(2**70)),
        ]
        for call in calls:
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                call()
            run.flush()
        run.curve(3, loss=1.0)
        run.log(ok=1.0)
        run.finish()
        steps, values, _ = curve_arrays(store._indexer.conn, run.id, "loss")
        assert steps[-1] == 3 and values[-1] == 1.0
        assert read.get_run(store._indexer.conn, run.id).metrics["ok"] == 1.0
    finally:
        store.close()
