"""The SDK's background indexer: a run's points reach index.db once, during the run.

The journal stays the truth: whatever the background thread does not get to (it falls
behind, or the process dies), finish() or the next reader reads from the journal.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from extract.index.access import open_index
from extract.objects import RunRecord
from extract.objects.kinds import cast
from extract.sdk import Store, background
from extract.sdk.run import Run
from extract.store.curves import read_curves
from extract.store.history import list_staged
from extract.store.repo import Repository
from tests.stores import curve_arrays

ROOT = Path(__file__).resolve().parent.parent
HIERARCHY = ("sweep",)
METRICS = ("a", "b", "c")


def new_store(tmp_path: Path) -> Path:
    """A store whose runs are indexed by the background thread while they log."""
    root = tmp_path / ".extract"
    Repository.init(root, HIERARCHY)
    config = root / "config.toml"
    config.write_text(
        config.read_text().replace("[store]\n", "[store]\nindex_while_logging = true\n")
    )
    return root


def value(step: int, j: int) -> float:
    return step * 0.5 + j


def log(run: Run, first: int, n: int) -> None:
    for step in range(first, first + n):
        run.curve(step, a=value(step, 0), b=value(step, 1), c=value(step, 2))


def rows_of(conn: sqlite3.Connection, run_id: str) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM curve_data c JOIN runs r ON r.key = c.run_key WHERE r.id = ?",
            (run_id,),
        ).fetchone()[0]
    )


def index_offset(conn: sqlite3.Connection, run_id: str) -> int:
    row = conn.execute("SELECT offset FROM journals WHERE run_id = ?", (run_id,)).fetchone()
    return 0 if row is None else int(row[0])


def wait_for(what: str, cond: object, limit: float = 60.0) -> None:
    """Poll ``cond()`` until true (a liveness bound, not a speed assertion)."""
    deadline = time.monotonic() + limit
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {limit} s"
        time.sleep(0.01)


def check_run(root: Path, run_id: str, steps: int) -> None:
    """The run is sealed; its index rows are its sealed curves, each point once."""
    repo = Repository(root)
    oid = {s.key: s.oid for s in list_staged(repo) if s.section == "runs"}[run_id]
    record = cast(repo.objects.get(oid), RunRecord)
    sealed = read_curves(repo.objects, record.curves)
    assert sorted(sealed) == list(METRICS)
    with open_index(repo, refresh=True) as index:
        conn = index.reader()
        assert rows_of(conn, run_id) == len(METRICS) * steps
        for j, name in enumerate(METRICS):
            s_steps, s_values, _ = sealed[name]
            assert s_steps.tolist() == list(range(steps))
            i_steps, i_values, _ = curve_arrays(conn, run_id, name)
            assert i_steps.tolist() == s_steps.tolist()
            want = np.arange(steps) * 0.5 + j
            assert np.array_equal(i_values, want) and np.array_equal(s_values, want)


def test_points_are_in_the_index_once_after_finish(tmp_path: Path) -> None:
    root = new_store(tmp_path)
    with Store(root) as store:
        run = store.experiment({"sweep": "s"}).run(name="r")
        log(run, 0, 20_000)
        run.flush()
        start_offset = index_offset(store._indexer.conn, run.id)
        # the background thread indexes what was flushed, while the run goes on
        wait_for(
            "the background indexer read the flushed points",
            lambda: index_offset(store._indexer.conn, run.id) > start_offset,
        )
        log(run, 20_000, 5_000)  # and finish() indexes the tail it has not read
        run.finish()
        assert rows_of(store._indexer.conn, run.id) == 3 * 25_000
    check_run(root, run.id, 25_000)


def test_background_indexer_falling_behind_ends_with_the_right_rows(tmp_path: Path) -> None:
    root = new_store(tmp_path)
    with Store(root) as store:
        run = store.experiment({"sweep": "s"}).run(name="r")
        # a reader holds the index's write lock while the run logs: the background
        # thread cannot write, and the records it was told of pile up or are dropped
        blocker = sqlite3.connect(store._indexer.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            for first in range(0, 60_000, 6_000):
                log(run, first, 6_000)
                run.flush()
            time.sleep(0.5)  # let the background thread try (and wait) meanwhile
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        log(run, 60_000, 1_000)
        run.finish()
        assert rows_of(store._indexer.conn, run.id) == 3 * 61_000
    check_run(root, run.id, 61_000)


def test_reader_refreshing_while_the_run_logs(tmp_path: Path) -> None:
    """A reader (its own connection) reads the live journal too; nobody indexes a point twice
    or skips one."""
    root = new_store(tmp_path)
    with Store(root) as store:
        run = store.experiment({"sweep": "s"}).run(name="r")
        for first in range(0, 30_000, 3_000):
            log(run, first, 3_000)
            run.flush()
            with open_index(Repository(root), refresh=True) as index:
                assert rows_of(index.reader(), run.id) == 3 * (first + 3_000)
        run.finish()
    check_run(root, run.id, 30_000)


WORKER = textwrap.dedent(
    """
    import sys
    from extract.sdk import Store
    store = Store(sys.argv[1])
    run = store.experiment({"sweep": "s"}).run(name="killed")
    print("run", run.id, flush=True)
    step = 0
    while True:
        for _ in range(1000):
            run.curve(step, a=step * 0.5, b=step * 0.5 + 1, c=step * 0.5 + 2)
            step += 1
        run.flush()
        print("flushed", step, flush=True)
    """
)


def test_sigkill_mid_loop_keeps_every_flushed_point(tmp_path: Path) -> None:
    root = new_store(tmp_path)
    out = tmp_path / "worker.out"
    err = tmp_path / "worker.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root)],
            cwd=ROOT,
            stdout=o,
            stderr=e,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:

        def flushed() -> int:
            text = out.read_text()
            lines = text[: text.rfind("\n") + 1].splitlines()
            done = [int(line.split()[1]) for line in lines if line.startswith("flushed ")]
            return done[-1] if done else 0

        def run_id() -> str:
            return out.read_text().splitlines()[0].split()[1]

        wait_for("the worker flushed 40,000 steps", lambda: flushed() >= 40_000, 120)
        # the worker's background thread has indexed part of the run: the kill lands
        # with points in index.db and more in the journal only
        with open_index(Repository(root), refresh=False) as index:
            wait_for(
                "the worker's background indexer wrote points",
                lambda: rows_of(index.reader(), run_id()) > 0,
            )
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == -signal.SIGKILL, err.read_text()
    last = flushed()  # every step up to here was flushed before the kill
    rid = run_id()
    with Store(root) as store:  # the next opener seals the orphan
        assert store.recovered == [rid]
        steps, _, _ = curve_arrays(store._conn, rid, "a")
        n = len(steps)
        assert n >= last
        assert steps.tolist() == list(range(n))
        assert rows_of(store._indexer.conn, rid) == 3 * n
    check_run(root, rid, n)


def test_a_run_past_the_kept_fold_seals_from_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past FOLD_MAX_BYTES the background indexer drops its fold (memory stays bounded);
    finish() then folds the whole journal, and the rows are still right."""
    monkeypatch.setattr(background, "FOLD_MAX_BYTES", 64 << 10)
    root = new_store(tmp_path)
    with Store(root) as store:
        run = store.experiment({"sweep": "s"}).run(name="r")
        for first in range(0, 20_000, 2_000):
            log(run, first, 2_000)
            run.flush()
        wait_for(
            "the background indexer passed the kept fold's bound",
            lambda: index_offset(store._indexer.conn, run.id) > 64 << 10,
        )
        run.finish()
        assert rows_of(store._indexer.conn, run.id) == 3 * 20_000
    check_run(root, run.id, 20_000)
