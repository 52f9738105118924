"""One trial of a sweep: several of these log into one store at once (tests/test_sdk_durability.py).

Usage: ``python -m tests.workers.sweeper STORE WORKER STEPS COMMIT GO_FILE``

Prints ``ready``, waits until ``GO_FILE`` exists (the start barrier), then opens
``Store(STORE)`` and logs one run to completion: ``STEPS`` steps of
``curve(step, loss=, acc=, lr=)`` (values from ``tests.workers.logger.value``), a
headline ``log`` every ``LOG_EVERY`` steps, tags, a note, a todo and a small table.
With ``COMMIT`` 1 it then calls ``commit_staged`` itself, racing the other workers.
Ends with ``done <run id>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from extract.sdk import Store
from extract.store.history import commit_staged
from extract.store.repo import Repository
from tests.workers.logger import METRICS, value

BARRIER_TIMEOUT = 60.0
LOG_EVERY = 100
TRIALS = 4


def table(worker: int) -> np.ndarray[tuple[int, int], np.dtype[np.float64]]:
    return np.arange(12, dtype=np.float64).reshape(3, 4) * (worker + 1)


def main(argv: list[str]) -> int:
    root, worker, steps = Path(argv[0]), int(argv[1]), int(argv[2])
    commit, go = argv[3] == "1", Path(argv[4])
    print("ready", flush=True)
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            print("barrier timed out", file=sys.stderr)
            return 2
        time.sleep(0.001)
    store = Store(root)
    exp = store.experiment({"sweep": "sweep", "trial": f"lr{worker % TRIALS}"})
    with exp.run(
        {"worker": worker, "lr": 10.0**-worker}, name=f"w{worker}", total_steps=steps
    ) as run:
        run.tag("sweep", f"worker-{worker}")
        run.note(f"worker {worker} of the sweep")
        run.todo(f"look at worker {worker}", priority=worker % 3)
        for step in range(steps):
            run.curve(step, **{m: value(worker, step, m) for m in METRICS})
            if step % LOG_EVERY == 0:
                run.log(seen=step, optimizer=f"adam-{worker}")
        run.log_table("confusion", table(worker), step=steps - 1)
        run.log(final=value(worker, steps - 1, "loss"))
    store.close()
    if commit:
        commit_staged(Repository(root), f"sweep worker {worker}")
    print(f"done {run.id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
