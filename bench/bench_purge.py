"""Deleting a run frees its space: `extract purge` then `extract gc` on a 1 GiB model.

A training script (its own process) logs a run that registers a model of random bytes
(incompressible, as weights are) and a second, small run that stays; both are committed.
Then, as a user would: `extract purge RUN --yes`, `extract gc --grace 0`. Figures: the
bytes on disk under `objects/` before and after, the share of the model's bytes returned
(target at least 99%), and the time each command took. The floor is a durable write of
the same bytes measured in the same run (times jump between two levels on this VM:
compare ratios, not seconds).

    .venv/bin/python bench/bench_purge.py [--mib N] [--dir D]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SHARE = 0.99
HERE = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(HERE)}

LOG = """
import json, sys
from extract import Store
root, name, model = sys.argv[1], sys.argv[2], sys.argv[3]
with Store(root) as s:
    with s.experiment({"bench": "purge"}).run(name=name) as r:
        r.log(loss=0.1)
        r.register_model(f"m-{name}", "v1", model)
print(r.id)
"""


def extract(*args: str, cwd: Path) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "extract", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
    )
    if r.returncode != 0:
        raise SystemExit(f"extract {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def timed(*args: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    extract(*args, cwd=cwd)
    return time.perf_counter() - t0


def objects_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root / "objects"):
        for f in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.path.getsize(Path(dirpath) / f)
    return total


def write_random(path: Path, size: int) -> float:
    """The model file, written durably; returns the seconds taken (the floor)."""
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 << 20)
            f.write(os.urandom(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())
    return time.perf_counter() - t0


def log(root: Path, name: str, model: Path, cwd: Path) -> str:
    r = subprocess.run(
        [sys.executable, "-c", LOG, str(root), name, str(model)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    )
    return r.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1024, help="model size in MiB (default 1 GiB)")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-purge-", dir=args.dir))
    try:
        project = work / "p"
        project.mkdir()
        extract("init", ".", "--hierarchy", "bench", cwd=project)
        root = project / ".extract"
        size = args.mib << 20
        big, small = work / "big.bin", work / "small.bin"
        floor = write_random(big, size)
        write_random(small, 1 << 20)
        rid = log(root, "big", big, project)
        log(root, "small", small, project)
        big.unlink()  # the store holds the only copy, as after a real training job
        extract("commit", "-m", "two runs", cwd=project)
        before = objects_bytes(root)
        purge_s = timed("purge", rid, "--yes", cwd=project)
        after_purge = objects_bytes(root)
        gc_s = timed("gc", "--grace", "0", cwd=project)
        after = objects_bytes(root)
        fsck = extract("fsck", cwd=project)
        share = (before - after) / size
        figures = {
            "model_bytes": size,
            "objects_before": before,
            "objects_after_purge": after_purge,
            "objects_after_gc": after,
            "returned_share": round(share, 5),
            "purge_s": round(purge_s, 3),
            "gc_s": round(gc_s, 3),
            "floor_write_s": round(floor, 3),
            "purge_over_floor": round(purge_s / floor, 2),
            "fsck_clean": " 0 errors" in fsck,
        }
        print(
            f"model {args.mib} MiB: objects {before / 2**20:.1f} MiB -> "
            f"{after_purge / 2**20:.1f} MiB after purge -> {after / 2**20:.1f} MiB after gc; "
            f"returned {share:.2%} of the model's bytes; purge {purge_s:.2f} s, gc {gc_s:.2f} s "
            f"(durable write of the model {floor:.2f} s)"
        )
        ok = share >= TARGET_SHARE and figures["fsck_clean"]
        print(json.dumps({**figures, "targets_met": ok}))
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
