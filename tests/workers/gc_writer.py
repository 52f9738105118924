"""A writer racing gc (tests/test_gc_race.py): runs with curves, a table, a text and a model.

Usage: ``python -m tests.workers.gc_writer STORE WORKER RUNS STEPS GO_FILE [STOP_FILE]``

Prints ``ready``, waits for ``GO_FILE``, then logs ``RUNS`` runs one after the other (or
fewer, if ``STOP_FILE`` appears first), each
``STEPS`` steps of three curves, a headline value, a table, a text and a model version
``m<WORKER>@r<K>`` whose bytes are ``model_bytes(WORKER, K)`` (new content every time, so
every model is new objects a concurrent gc could take). After each run it prints
``run <id> <K>``; at the end ``done``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from extract.sdk import Store

BARRIER_TIMEOUT = 60.0
METRICS = ("loss", "acc", "lr")


def point(worker: int, k: int, step: int, metric: int) -> float:
    return float(worker * 1_000_000 + k * 10_000 + step) + metric / 10


def table(worker: int, k: int) -> np.ndarray[tuple[int, int], np.dtype[np.float64]]:
    return np.arange(20 * 3, dtype=np.float64).reshape(20, 3) + worker * 1000 + k


def model_bytes(worker: int, k: int) -> bytes:
    return f"model of worker {worker} run {k}\n".encode() * (2000 + k)


def main(argv: list[str]) -> int:
    root, worker, runs, steps, go = (
        Path(argv[0]),
        int(argv[1]),
        int(argv[2]),
        int(argv[3]),
        Path(argv[4]),
    )
    stop = Path(argv[5]) if len(argv) > 5 else None
    print("ready", flush=True)
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            print("barrier timed out", file=sys.stderr)
            return 2
        time.sleep(0.001)
    store = Store(root)
    exp = store.experiment({"sweep": "gc-race", "trial": f"w{worker}"})
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(runs):
            if stop is not None and stop.exists():
                break
            with exp.run({"worker": worker, "k": k}, name=f"w{worker}-r{k}") as run:
                for step in range(steps):
                    run.curve(step, **{m: point(worker, k, step, i) for i, m in enumerate(METRICS)})
                run.log(final=float(k))
                run.log_table("tab", table(worker, k))
                run.log_text("report", f"worker {worker} run {k}")
                path = Path(tmp) / f"m{k}.bin"
                path.write_bytes(model_bytes(worker, k))
                run.register_model(f"m{worker}", f"r{k}", path, framework="numpy")
            print(f"run {run.id} {k}", flush=True)
    store.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
