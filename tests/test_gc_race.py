"""gc with no grace period racing real writers loses nothing (DESIGN.md, "Maintenance is
safe while others write"; store/writelock.py).

Eight processes (tests/workers/gc_writer.py) log runs with curves, a table, a text and a
new model each, while one process runs ``gc`` with grace 0 in a loop and another commits
in a loop (tests/workers/maintainer.py). Before the writer lock, this lost a committed
table and once bricked the store within a few gc passes. At the end every run, point,
table, text and model is there and ``fsck --read-data`` is clean.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from extract.sdk import Store
from extract.store.fsck import fsck
from extract.store.history import commit_staged
from extract.store.repo import Repository
from tests.workers import gc_writer

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 8
MAX_RUNS = 200  # each writer's bound; they stop once gc has swept GC_PASSES times
GC_PASSES = 3
STEPS = 200


def start(out_dir: Path, name: str, module: str, *args: str) -> subprocess.Popen[bytes]:
    out, err = (out_dir / f"{name}.out").open("wb"), (out_dir / f"{name}.err").open("wb")
    with out, err:
        return subprocess.Popen(
            [sys.executable, "-m", f"tests.workers.{module}", *args],
            cwd=ROOT,
            stdout=out,
            stderr=err,
        )


def finished(proc: subprocess.Popen[bytes], out_dir: Path, name: str, timeout: float) -> str:
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = (out_dir / f"{name}.err").read_text()
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{err}"
    assert "database is locked" not in err
    return (out_dir / f"{name}.out").read_text()


def test_gc_with_no_grace_racing_eight_writers_and_commits_loses_nothing(
    tmp_path: Path,
) -> None:
    root = tmp_path / ".extract"
    Repository.init(root, ("sweep", "trial"))
    Store(root).close()  # the index exists before the race starts
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    go, stop = out_dir / "go", out_dir / "stop"

    enough = out_dir / "enough"  # writers finish the run they are in, then stop
    writers = {
        f"writer-{w}": start(
            out_dir,
            f"writer-{w}",
            "gc_writer",
            str(root),
            str(w),
            str(MAX_RUNS),
            str(STEPS),
            str(go),
            str(enough),
        )
        for w in range(WRITERS)
    }
    deadline = time.monotonic() + 60
    for name, proc in writers.items():
        while not (out_dir / f"{name}.out").read_bytes().startswith(b"ready"):
            assert proc.poll() is None, (out_dir / f"{name}.err").read_text()
            assert time.monotonic() < deadline, "writers did not start"
            time.sleep(0.01)
    sweeper = start(out_dir, "gc", "maintainer", "gc", str(root), str(stop))
    committer = start(out_dir, "commit", "maintainer", "commit", str(root), str(stop))
    go.touch()
    # The writers go on (up to MAX_RUNS runs each) until gc has swept GC_PASSES times
    # while they ran, however fast this machine is at the moment.
    passes = out_dir / "gc.passes"
    deadline = time.monotonic() + 240
    while not passes.exists() or int(passes.read_text() or 0) < GC_PASSES:
        assert all(p.poll() is None for p in writers.values()), "a writer ended before gc swept"
        assert time.monotonic() < deadline, "gc did not sweep while the writers ran"
        time.sleep(0.05)
    enough.touch()
    outs = {name: finished(proc, out_dir, name, timeout=300) for name, proc in writers.items()}
    stop.touch()
    gc_passes = int(finished(sweeper, out_dir, "gc", timeout=120).split()[-1])
    finished(committer, out_dir, "commit", timeout=120)
    assert gc_passes >= GC_PASSES

    repo = Repository(root)
    commit_staged(repo, "the rest")
    rep = fsck(repo, read_data=True)
    assert rep.ok, "\n".join(map(str, rep.errors))

    store = Store(root)
    try:
        for w in range(WRITERS):
            lines = [ln.split() for ln in outs[f"writer-{w}"].splitlines() if ln.startswith("run")]
            assert lines, f"writer {w} sealed no run"
            for _, run_id, k_text in lines:
                k = int(k_text)
                data = store.load_run(run_id)
                assert data.status == "completed"
                for i, metric in enumerate(gc_writer.METRICS):
                    steps, values = data.curve(metric)[:2]
                    assert list(steps) == list(range(STEPS))
                    assert list(values) == [gc_writer.point(w, k, s, i) for s in range(STEPS)]
                np.testing.assert_array_equal(data.table("tab").read(), gc_writer.table(w, k))
                assert data.text("report") == f"worker {w} run {k}"
                dest = tmp_path / "checkout" / f"{w}-{k}.bin"
                store.checkout_model(f"m{w}", f"r{k}", dest)
                assert dest.read_bytes() == gc_writer.model_bytes(w, k)
    finally:
        store.close()
