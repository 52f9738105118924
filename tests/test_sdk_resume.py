"""Resuming a failed or preempted run: ``exp.run(..., resume=RUN_ID)`` (issue 14, part 4).

Real processes: a training loop ended by SIGTERM (SLURM preemption) or SIGKILL is
continued by a new process under the same id, and the run then holds every point once,
old and new. Two stores that each continued one run merge, in either order, to the same
index; a rebuilt index gives the same answers; wrong calls change nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from extract.errors import InvalidInput, LockHeld, RunNotFound, WrongType
from extract.index import schema
from extract.index.build import Indexer
from extract.objects import Segment
from extract.objects.kinds import cast
from extract.sdk import Store
from extract.store.history import head_state
from extract.store.repo import Repository
from extract.sync import ops
from extract.sync.transport import LocalTransport
from tests.cli import REPO, extract
from tests.sshd import commit
from tests.stores import table_rows

COMPARED = (*schema.TABLES, "events", "segments")
#: Surrogate counters, and the commits that brought rows (each store makes its own).
SKIPPED = {"key", "id_", "commit_id"}


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # git provenance capture reads the tmp dir, not this checkout


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _store(tmp_path: Path) -> Path:
    root = tmp_path / ".extract"
    Repository.init(root, ("bench",))
    return root


#: A training loop: 3 metrics a step, from the step after the run's last (a fresh run: 0),
#: reporting its run id and, every 500 steps, how far it got.
LOOP = """
import sys
from extract import Store
root, resume = sys.argv[1], (sys.argv[2] or None)
store = Store(root)
run = store.experiment({"bench": "b"}).run(name="r", resume=resume)
print(run.id, flush=True)
step = run._last_step + 1
while True:
    run.curve(step, a=float(step), b=2.0 * step, c=-1.0)
    if step % 500 == 0:
        run.log(reached=float(step))
        with open(root + "/../steps", "w") as f:
            f.write(str(step))
    step += 1
"""

#: Continues a run for ``n`` steps, without a step argument (after the last one), then
#: finishes it as completed.
FINISH = """
import sys
from extract import Store
root, resume, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Store(root) as store:
    with store.experiment({"bench": "b"}).run(resume=resume, config={"lr": 0.5}) as run:
        for _ in range(n):
            run.curve(a=1.0, b=2.0, c=3.0)
        run.log(reached=-1.0)
        run.tag("resumed")
"""


def _kill_loop(root: Path, resume: str, sig: int, past: int) -> str:
    """Start LOOP, let it get past step ``past``, send ``sig``; the run's id."""
    steps = root.parent / "steps"
    steps.unlink(missing_ok=True)
    p = subprocess.Popen(
        [sys.executable, "-c", LOOP, str(root), resume],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    run_id = p.stdout.readline().strip()
    assert len(run_id) == 26, p.stderr.read() if p.stderr else ""
    deadline = time.monotonic() + 120
    while not steps.exists() or int(steps.read_text() or 0) < past:
        assert p.poll() is None and time.monotonic() < deadline, "the loop did not get going"
        time.sleep(0.01)
    p.send_signal(sig)
    p.communicate(timeout=60)
    assert p.returncode == -sig
    return run_id


def _finish(root: Path, run_id: str, n: int) -> None:
    r = subprocess.run(
        [sys.executable, "-c", FINISH, str(root), run_id, str(n)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr


def _show(root: Path, run: str) -> dict[str, Any]:
    r = extract("show", run, "--json", "--store", str(root), cwd=root.parent)
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def _every_step_once(root: Path, run_id: str) -> int:
    """The run's curves hold each step from 0 to the last exactly once; the step count."""
    with Store(root) as s:
        curves = s.load_run(run_id).curves()
    steps = curves["a"][0]
    assert np.array_equal(steps, np.arange(steps.size)), "a step is missing or repeated"
    for name in ("b", "c"):
        assert np.array_equal(curves[name][0], steps)
    return int(steps.size)


def _same_after_reindex(root: Path, run: str) -> None:
    before = _show(root, run)
    r = extract("reindex", "--store", str(root), cwd=root.parent)
    assert r.returncode == 0, r.stderr
    assert _show(root, run) == before


def test_resume_after_sigterm_appends_every_point_once(tmp_path: Path) -> None:
    root = _store(tmp_path)
    run_id = _kill_loop(root, "", signal.SIGTERM, 2000)
    first = _show(root, run_id)
    assert first["status"] == "failed" and "SIGTERM" in first["notes"]
    n = first["curve_stats"]["a"]["points"]
    _finish(root, run_id, 100)

    got = _show(root, run_id)
    assert got["id"] == run_id and got["status"] == "completed"
    assert got["curve_stats"]["a"]["points"] == n + 100
    assert got["curve_stats"]["a"]["last_step"] == n + 99
    assert got["metrics"]["reached"] == -1.0  # headline values: the latest wins
    assert got["config"] == {"lr": 0.5} and set(got["tags"]) == {"resumed"}
    assert "SIGTERM" in got["notes"]  # notes carry over
    assert _every_step_once(root, run_id) == n + 100
    status = json.loads(extract("status", "--json", "--store", str(root), cwd=tmp_path).stdout)
    assert status["live"] == 0 and status["crashed"] == 0
    _same_after_reindex(root, run_id)


def test_resume_after_sigkill_twice_then_finish(tmp_path: Path) -> None:
    root = _store(tmp_path)
    run_id = _kill_loop(root, "", signal.SIGKILL, 1000)
    # the continuation is itself killed: its orphaned journal is sealed as a failed segment
    assert _kill_loop(root, run_id, signal.SIGKILL, 3000) == run_id
    with Store(root) as s:
        assert s.load_run(run_id).status == "failed"
        repo = Repository(root)
        staged = [p.name for p in repo.staged_dir.iterdir() if p.name.startswith("runs.")]
        assert len(staged) == 2  # the run record and one segment, each under its own key
    n = _every_step_once(root, run_id)
    assert n > 3000
    _finish(root, run_id, 50)
    assert _every_step_once(root, run_id) == n + 50
    assert _show(root, run_id)["status"] == "completed"
    _same_after_reindex(root, run_id)


def test_a_live_continuation_is_one_live_run_to_readers(tmp_path: Path) -> None:
    root = _store(tmp_path)
    with Store(root) as s:
        exp = s.experiment({"bench": "b"})
        with pytest.raises(ValueError), exp.run(name="r") as r:
            for step in range(5):
                r.curve(step, loss=1.0)
            raise ValueError("diverged")
        cont = exp.run(resume="r", total_steps=10)
        cont.curve(loss=0.5)  # step 5
        cont.flush()
        shown = _show(root, r.id)
        assert shown["status"] == "running" and shown["object_id"] is None
        assert shown["curve_stats"]["loss"]["points"] == 6 and shown["total_steps"] == 10
        cont.finish()
    shown = _show(root, r.id)
    assert shown["status"] == "completed" and shown["object_id"] is not None


# bad inputs ------------------------------------------------------------------------------


def _fingerprint(root: Path) -> tuple[Any, ...]:
    files = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("index.db") and "cache" not in p.parts
    )
    return tuple(files)


def test_bad_resume_calls_change_nothing(tmp_path: Path) -> None:
    root = _store(tmp_path)
    with Store(root) as s:
        exp = s.experiment({"bench": "b"})
        other = s.experiment({"bench": "other"})
        with exp.run(name="done") as done:
            done.curve(0, loss=1.0)
        with pytest.raises(RuntimeError), exp.run(name="broke") as broke:
            broke.curve(0, loss=1.0)
            raise RuntimeError("x")
        live = exp.run(name="live")
        before = _fingerprint(root)
        cases: list[tuple[Any, dict[str, Any], type[Exception], str]] = [
            (
                "01JZZZZZZZZZZZZZZZZZZZZZZZ",
                {},
                RunNotFound,
                "Run not found: '01JZZZZZZZZZZZZZZZZZZZZZZZ'",
            ),
            ("nope", {}, RunNotFound, "Run not found: 'nope'"),
            (5, {}, WrongType, "resume must be a run id or name (a str), got int 5"),
            (True, {}, WrongType, "got bool True"),
            (done.id, {}, InvalidInput, "is completed: resume= continues only a failed"),
            (live.id, {}, LockHeld, f"run {live.id} is live"),
            (broke.id, {"name": "renamed"}, InvalidInput, "a resumed run keeps its name"),
            (broke.id, {"config": {"x": {1, 2}}}, TypeError, "config"),
        ]
        for resume, kwargs, error, words in cases:
            with pytest.raises(error) as caught:
                exp.run(resume=resume, **kwargs)
            assert words in str(caught.value) and "\n" not in str(caught.value)
            assert _fingerprint(root) == before, f"resume={resume!r} changed the store"
        with pytest.raises(InvalidInput, match="belongs to experiment 'b'"):
            other.run(resume=broke.id)
        assert _fingerprint(root) == before
        live.finish()
        # and the run refused above can still be resumed as it should
        with exp.run(resume="broke") as cont:
            assert cont.id == broke.id
            cont.curve(loss=0.5)
        assert s.load_run(broke.id).curve("loss")[0].tolist() == [0, 1]


# two machines continuing one run ----------------------------------------------------------


def _exchange(dst: Repository, src: Repository, name: str) -> None:
    with LocalTransport(src.root) as t:
        r = ops.fetch(dst, t, name)
    if r.head is not None:
        ops.merge(dst, r.head)


def _rows(repo: Repository) -> dict[str, list[tuple[Any, ...]]]:
    idx = Indexer(repo)
    try:
        idx.refresh()
        out = {}
        for table in COMPARED:
            cols = [r[1] for r in idx.conn.execute(f"PRAGMA table_info({table})")]
            skip = SKIPPED | schema.SURROGATE_COLUMNS.get(table, set())
            out[table] = table_rows(idx.conn, table, exclude=[c for c in cols if c in skip])
        return out
    finally:
        idx.close()


#: One continuation: (first step, number of steps, value, ends failed?)
Continuation = tuple[int, int, float, bool]
continuations = st.lists(
    st.tuples(st.integers(0, 12), st.integers(1, 6), st.floats(-4, 4), st.booleans()),
    max_size=2,
)


def _continue(root: Path, run_id: str, plan: list[Continuation], who: str) -> None:
    with Store(root) as s:
        exp = s.experiment({"bench": "b"})
        for i, (first, n, value, fails) in enumerate(plan):
            last = i == len(plan) - 1
            run = exp.run(resume=run_id, config={"who": who})
            for step in range(first, first + n):
                run.curve(step, loss=value + step)
            run.log(score=value)
            run.tag(f"{who}{i}")
            run.note(f"{who} {i}")
            run.finish("failed" if fails or not last else "completed")
    if plan:
        commit(Repository(root), f"{who} continued")


@contextmanager
def _two_stores() -> Iterator[tuple[Path, str]]:
    """A store with a failed, committed run (10 steps); yields its folder and the run id."""
    with tempfile.TemporaryDirectory(prefix="resume-") as d:
        top = Path(d)
        root = _store(top / "a")
        with Store(root) as s:
            run = s.experiment({"bench": "b"}).run(name="r", config={"lr": 1})
            for step in range(10):
                run.curve(step, loss=float(step))
            run.log(score=0.0)
            run.tag("base")
            run.finish("failed")
        commit(Repository(root), "base")
        yield top, run.id


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(continuations, continuations)
@example(  # both continued, over the same steps: the later segment's points win
    plan_a=[(5, 3, 1.0, True), (0, 2, 2.0, False)], plan_b=[(4, 8, -1.0, False)]
)
def test_two_stores_that_continued_one_run_merge_in_either_order(
    plan_a: list[Continuation], plan_b: list[Continuation]
) -> None:
    with _two_stores() as (top, run_id):
        a = top / "a" / ".extract"
        b = top / "b" / ".extract"
        shutil.copytree(a.parent, b.parent)
        _continue(a, run_id, plan_a, "A")
        _continue(b, run_id, plan_b, "B")
        ab = Repository(Path(shutil.copytree(a.parent, top / "ab")) / ".extract")
        ba = Repository(Path(shutil.copytree(b.parent, top / "ba")) / ".extract")
        _exchange(ab, Repository(b), "b")
        _exchange(ba, Repository(a), "a")
        state_ab, state_ba = head_state(ab)[1], head_state(ba)[1]
        assert state_ab.sections == state_ba.sections  # commutative
        segs = [k for k in state_ab.sections["runs"] if k != run_id]
        assert len(segs) == len(plan_a) + len(plan_b)  # a union: no continuation lost
        rows = _rows(ab)
        assert rows == _rows(ba)
        # idempotent: merging again changes nothing
        head = ab.refs.read("refs/heads/main")
        _exchange(ab, Repository(b), "b")
        _exchange(ab, ba, "ba")
        assert _rows(ab) == rows
        assert head_state(ab)[1].sections == state_ab.sections
        assert ab.refs.read("refs/heads/main") is not None and head is not None
        # the fold: every continuation's points, the latest segment's status
        ordered = sorted(
            (cast(ab.objects.get(state_ab.sections["runs"][k]), Segment) for k in segs),
            key=lambda s: s.id,
        )
        (status,) = [r[6] for r in rows["runs"] if r[0] == run_id]
        assert status == (ordered[-1].status if ordered else "failed")
        expected = {step: float(step) for step in range(10)}
        plans = {"A": plan_a, "B": plan_b}
        for seg in ordered:  # the segment's note says which continuation it was
            who, i = seg.notes[0].split()
            first, n, value, _ = plans[who][int(i)]
            expected.update({step: value + step for step in range(first, first + n)})
        points = sorted((r[2], r[3]) for r in rows["curve_points"] if r[0] == run_id)
        assert points == sorted(expected.items())
        # a rebuilt index answers the same
        idx = Indexer(ab)
        try:
            idx.rebuild()
        finally:
            idx.close()
        assert _rows(ab) == rows


# the index: incremental and rebuilt agree ---------------------------------------------------


def _snapshot(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: table_rows(conn, t, exclude=tuple(schema.SURROGATE_COLUMNS.get(t, ())))
        for t in (*COMPARED, "commits")
    }


@pytest.mark.parametrize("while_logging", [False, True])
def test_index_of_a_resumed_run_equals_a_rebuilt_one(tmp_path: Path, while_logging: bool) -> None:
    root = _store(tmp_path)
    if while_logging:  # the background indexer folds the continuation as it logs
        config = root / "config.toml"
        config.write_text(
            config.read_text().replace("[store]\n", "[store]\nindex_while_logging = true\n")
        )
    with Store(root) as s:
        exp = s.experiment({"bench": "b"})
        run = exp.run(name="r", config={"lr": 1, "bs": 8})
        for step in range(300):
            run.curve(step, loss=1.0, acc=0.5)
        run.log(best=0.5, opt="sgd")
        run.finish("failed")
        commit(Repository(root), "base")
        cont = exp.run(resume=run.id, config={"lr": 2})
        reader = Indexer(Repository(root))  # another reader's refreshes, mid-continuation
        for step in range(250, 700):  # restarted from a checkpoint at 250
            cont.curve(step, loss=0.25)
            if step % 150 == 0:
                cont.flush()
                reader.refresh()
        cont.log(best=0.75)
        cont.tag("resumed")
        cont.finish()
        reader.refresh()
        reader.close()
        s._indexer.refresh()
        before = _snapshot(s._indexer.conn)
        steps, values, _ = s.load_run(run.id).curve("loss")
        assert steps.tolist() == list(range(700))
        assert values.tolist() == [1.0] * 250 + [0.25] * 450
        assert s.load_run(run.id).curve("acc")[0].tolist() == list(range(300))
        detail = s.load_run(run.id).detail
        assert detail.config == {"lr": 2, "bs": 8} and detail.metrics["best"] == 0.75
        assert detail.params == {"opt": "sgd"} and detail.run.tags == ("resumed",)
    ix = Indexer(Repository(root))
    try:
        ix.rebuild()
        assert _snapshot(ix.conn) == before
    finally:
        ix.close()


def test_a_continuation_merged_in_while_another_is_live(tmp_path: Path) -> None:
    """Store A continues a run; meanwhile B continues it too (a later segment), and A
    merges B's history before its own continuation ends: A's index shows the run live
    throughout, and once sealed, the fold of all three pieces, as a rebuild does."""
    with _two_stores() as (top, run_id):
        a, b = top / "a" / ".extract", top / "b" / ".extract"
        shutil.copytree(a.parent, b.parent)
        with Store(a) as s:
            mine = s.experiment({"bench": "b"}).run(resume=run_id)
            for step in range(8, 14):
                mine.curve(step, loss=100.0 + step)
            mine.flush()
            _continue(b, run_id, [(12, 4, 50.0, False)], "B")  # starts after A's: later id
            _exchange(Repository(a), Repository(b), "b")
            s._indexer.refresh()
            row = s._indexer.conn.execute(
                "SELECT status, object_id FROM runs WHERE id=?", (run_id,)
            ).fetchone()
            assert row == ("running", None)
            mine.finish()
            s._indexer.refresh()
            before = _snapshot(s._indexer.conn)
            steps, values, _ = s.load_run(run_id).curve("loss")
            # B's segment is later: its points win on steps 12 and 13, its status is the run's
            want = [float(i) for i in range(8)] + [108.0, 109.0, 110.0, 111.0]
            assert steps.tolist() == list(range(16))
            assert values.tolist() == [*want, 62.0, 63.0, 64.0, 65.0]
            assert s.load_run(run_id).status == "completed"
        ix = Indexer(Repository(a))
        try:
            ix.rebuild()
            assert _snapshot(ix.conn) == before
        finally:
            ix.close()


def test_commit_and_push_count_a_continuation_apart_from_runs(tmp_path: Path) -> None:
    root = _store(tmp_path)
    with Store(root) as store:
        exp = store.experiment({"bench": "b"})
        run = exp.run()
        run.curve(0, loss=1.0)
        run.finish("failed")
        rid = run.id
    assert extract("commit", "-m", "base", "--store", str(root), cwd=tmp_path).returncode == 0
    with Store(root) as store, store.experiment({"bench": "b"}).run(resume=rid) as again:
        again.curve(1, loss=0.5)
    r = extract("push", str(tmp_path / "remote"), "--store", str(root), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 continuation of resumed runs is not committed, so not sent" in r.stderr
    r = extract("commit", "-m", "resumed", "--json", "--store", str(root), cwd=tmp_path)
    added = json.loads(r.stdout)["added"]
    assert (added["runs"], added["continued"]) == (0, 1)
    r = extract("commit", "-m", "again", "--store", str(root), cwd=tmp_path)
    assert r.stdout.strip() == "nothing to commit"
    shown = json.loads(extract("show", rid, "--json", "--store", str(root), cwd=tmp_path).stdout)
    [c] = shown["continuations"]
    assert c["status"] == "completed" and c["commit_id"] is not None  # committed above
    assert shown["status"] == "completed"
