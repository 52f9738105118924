"""A tour of the object store: write a small model's history, edit it, check it.

Run: python examples/demo.py [STORE_DIR]   (default: ./demo/.extract, recreated each run)

It stores a model checkpoint (chunked), a logged activation matrix (an N-d
array read back by slice), a run record and a commit on refs/heads/main; then a
second checkpoint with one layer changed, to show that only the changed chunks
are new; then runs `extract fsck` on the result.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from extract.objects import Commit, Link, ModelVersion, RunRecord, Tree, new_ulid, short
from extract.store import chunking
from extract.store.arrays import ArrayReader, write_array
from extract.store.repo import MAIN, Repository


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def objects_bytes(repo: Repository) -> int:
    return sum(repo.objects.size_on_disk(o) for o in repo.objects.iter_ids())


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo") / ".extract"
    if root.exists():
        shutil.rmtree(root)
    repo = Repository.init(root, ("benchmark", "model", "variant"))
    rng = np.random.default_rng(0)
    print(f"store: {root}")

    # A checkpoint of a small MLP: 24 MiB of float32 weights.
    layers = [rng.standard_normal((1024, 2048), dtype=np.float32) for _ in range(3)]
    ckpt = root.parent / "checkpoint.bin"
    ckpt.write_bytes(b"".join(w.tobytes() for w in layers))
    model_v1 = chunking.write_file(repo.objects, ckpt, cache_dir=repo.cache_dir / "content")
    size_v1 = objects_bytes(repo)
    print(f"checkpoint v1: {ckpt.stat().st_size >> 20} MiB -> {short(model_v1)} ({size_v1 >> 20} MiB stored)")

    # Fine-tune: only the last layer changes.
    layers[-1] += 0.01 * rng.standard_normal(layers[-1].shape, dtype=np.float32)
    ckpt.write_bytes(b"".join(w.tobytes() for w in layers))
    model_v2 = chunking.write_file(repo.objects, ckpt, cache_dir=repo.cache_dir / "content")
    added = objects_bytes(repo) - size_v1
    print(f"checkpoint v2: last layer changed -> {short(model_v2)} ({added >> 20} MiB new, not 24)")

    activations = rng.standard_normal((4096, 512)).astype(np.float32)
    table = write_array(repo.objects, activations)
    reader = ArrayReader(repo.objects, table)
    rows = reader[100:110]
    assert np.array_equal(rows, activations[100:110])
    print(f"activations (4096, 512): rows 100-109 read from {reader.chunks_read} of {len(reader.meta.chunks)} chunks")

    run_id = new_ulid()
    started = now()
    model_ids = []
    for version, content in (("v1", model_v1), ("v2", model_v2)):
        mv = ModelVersion("mlp", version, "numpy", {"layers": 3}, content, ckpt.stat().st_size, run_id, now())
        model_ids.append(repo.objects.put(mv))
    run = RunRecord(
        id=run_id,
        experiment="synthetic/mlp/finetune",
        name="demo-run",
        config={"lr": 3e-4, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}},
        status="completed",
        started_at=started,
        ended_at=now(),
        host=socket.gethostname(),
        code=None,
        total_steps=None,
        metrics={"final_loss": {"value": 0.123, "wall_time": 1.0}},
        params={"arch": "mlp"},
        tags=("demo",),
        notes=(),
        curves=None,
        artifacts=({"name": "activations", "kind": "table", "step": None, "object": Link(table), "meta": None},),
        models=tuple(model_ids),
        lineage=(),
    )
    run_oid = repo.objects.put(run)
    state = repo.objects.put(Tree({"runs": repo.objects.put(Tree({run_id: run_oid}))}))
    commit = repo.objects.put(Commit((), state, "demo", socket.gethostname(), now(), "demo: fine-tune run"))
    repo.objects.sync()  # objects are durable before the ref points at them
    repo.refs.set(MAIN, commit, expected=None, message="commit: demo")
    print(f"commit {short(commit)} on {MAIN}: run {run_id}, models mlp@v1 and mlp@v2")

    print("\n$ extract fsck --read-data")
    r = subprocess.run([sys.executable, "-m", "extract", "fsck", "--read-data", "--store", str(root)])
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
