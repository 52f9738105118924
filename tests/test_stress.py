"""Everything at once, for a bounded time (slow set; figures in docs/storage.md).

Writers log runs into two stores while store A commits, collects garbage with no grace
period, rebuilds its index and fetches and merges from store B, all in loops, each in
its own process. At the end every run every writer finished is in A with every point,
table, text and model, ``fsck --read-data`` is clean, and a rebuilt index answers the
same as the incremental one.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from extract.index.build import Indexer
from extract.index.db import INDEX_FILE, open_reader
from extract.sdk import Store
from extract.store.fsck import fsck
from extract.store.history import commit_staged
from extract.store.repo import Repository
from extract.sync import ops
from extract.sync.transport import LocalTransport
from tests.test_gc_race import finished, start
from tests.workers import gc_writer

HIERARCHY = ("sweep", "trial")
#: How long the loops run; override with EXTRACT_STRESS_SECONDS for a longer soak.
SECONDS = float(os.environ.get("EXTRACT_STRESS_SECONDS", "40"))
WRITERS_A = 6
WRITERS_B = 2
STEPS = 300
TABLES = ("runs", "scalar_metrics", "curve_points", "artifacts", "models", "lineage")


def counts(root: Path) -> dict[str, int]:
    conn = open_reader(root / INDEX_FILE)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


@pytest.mark.slow
def test_writers_commits_gc_reindex_and_fetches_together(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / ".extract", tmp_path / "b" / ".extract"
    for root in (a, b):
        Repository.init(root, HIERARCHY)
        Store(root).close()
    out = tmp_path / "out"
    out.mkdir()
    go, stop = out / "go", out / "stop"
    writers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    for w in range(WRITERS_A + WRITERS_B):
        worker = w if w < WRITERS_A else 100 + w
        root = a if w < WRITERS_A else b
        name = f"writer-{worker}"
        args = (str(root), str(worker), "10000", str(STEPS), str(go), str(stop))
        writers[name] = (start(out, name, "gc_writer", *args), worker)
    deadline = time.monotonic() + 60
    for name, (proc, _) in writers.items():
        while not (out / f"{name}.out").read_bytes().startswith(b"ready"):
            assert proc.poll() is None, (out / f"{name}.err").read_text()
            assert time.monotonic() < deadline, "writers did not start"
            time.sleep(0.01)
    loops: dict[str, tuple[str, Path, *tuple[Path, ...]]] = {
        "gc": ("gc", a),
        "commit": ("commit", a),
        "reindex": ("reindex", a),
        "fetch": ("fetch", a, b),
        "commit-b": ("commit", b),
    }
    maintainers = {
        name: start(out, name, "maintainer", op, str(root), str(stop), *(str(x) for x in rest))
        for name, (op, root, *rest) in loops.items()
    }
    go.touch()
    time.sleep(SECONDS)
    stop.touch()
    outs = {name: finished(proc, out, name, timeout=300) for name, (proc, _) in writers.items()}
    passes = {
        name: int(finished(proc, out, name, timeout=300).split()[-1])
        for name, proc in maintainers.items()
    }
    assert all(n >= 1 for n in passes.values()), passes

    repo_a, repo_b = Repository(a), Repository(b)
    commit_staged(repo_b, "the rest of b")
    commit_staged(repo_a, "the rest of a")
    with LocalTransport(b) as t:
        fetched = ops.fetch(repo_a, t, "peer")
    assert fetched.head is not None
    ops.merge(repo_a, fetched.head)
    rep = fsck(repo_a, read_data=True)
    assert rep.ok, "\n".join(map(str, rep.errors))

    runs = points = 0
    store = Store(a)
    try:
        for name, (_, w) in writers.items():
            for line in outs[name].splitlines():
                if not line.startswith("run "):
                    continue
                _, run_id, k_text = line.split()
                k = int(k_text)
                data = store.load_run(run_id)
                for i, metric in enumerate(gc_writer.METRICS):
                    steps, values = data.curve(metric)[:2]
                    assert list(values) == [gc_writer.point(w, k, s, i) for s in range(STEPS)]
                    assert list(steps) == list(range(STEPS))
                    points += len(values)
                np.testing.assert_array_equal(data.table("tab").read(), gc_writer.table(w, k))
                assert data.text("report") == f"worker {w} run {k}"
                dest = tmp_path / "checkout" / f"{w}-{k}"
                store.checkout_model(f"m{w}", f"r{k}", dest)
                assert dest.read_bytes() == gc_writer.model_bytes(w, k)
                runs += 1
    finally:
        store.close()
    incremental = counts(a)
    indexer = Indexer(repo_a)
    try:
        indexer.rebuild()
    finally:
        indexer.close()
    assert counts(a) == incremental
    assert incremental["runs"] == runs
    processes = len(writers) + len(maintainers)
    print(
        f"\nstress: {SECONDS:.0f} s, {processes} processes, {runs} runs, {points} points; "
        + ", ".join(f"{name} {n}" for name, n in sorted(passes.items()))
    )
