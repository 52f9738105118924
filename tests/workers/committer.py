"""Stage and commit over and over, racing other committers (tests/test_sdk_durability.py).

Usage: ``python -m tests.workers.committer STORE WORKER N GO_FILE``

Prints ``ready``, waits until ``GO_FILE`` exists (the start barrier), opens
``Store(STORE)``, then ``N`` times adds a global todo (one staged event) and calls
``commit_staged``. A commit folds in every staged entry, the other workers' too, and
removes their files; so each worker lists, reads and removes files the others are
adding and removing at the same moment. Ends with ``done``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from extract.sdk import Store
from extract.store.history import commit_staged
from extract.store.repo import Repository

BARRIER_TIMEOUT = 60.0


def todo_text(worker: int, k: int) -> str:
    return f"worker {worker} todo {k}"


def main(argv: list[str]) -> int:
    root, worker, n, go = Path(argv[0]), int(argv[1]), int(argv[2]), Path(argv[3])
    print("ready", flush=True)
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            print("barrier timed out", file=sys.stderr)
            return 2
        time.sleep(0.001)
    repo = Repository(root)
    with Store(root) as store:
        for k in range(n):
            store.todo(todo_text(worker, k))
            commit_staged(repo, f"worker {worker} commit {k}")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
