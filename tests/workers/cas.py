"""One of several processes moving one ref by compare-and-swap (tests/test_ref_race.py).

Usage: ``python -m tests.workers.cas STORE WORKER N GO_FILE``

Prints ``ready``, waits until ``GO_FILE`` exists (the start barrier), then makes ``N``
updates of refs/heads/main, each a commit whose only parent is the value it read,
retrying on RefConflict. Ends with ``done <updates> <conflicts>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from extract.errors import RefConflict
from extract.objects import Commit, to_hex
from extract.store.repo import MAIN, Repository

BARRIER_TIMEOUT = 60.0


def main(argv: list[str]) -> int:
    store, worker, n, go = Path(argv[0]), int(argv[1]), int(argv[2]), Path(argv[3])
    repo = Repository(store)
    print("ready", flush=True)
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            print("barrier timed out", file=sys.stderr)
            return 2
        time.sleep(0.001)
    conflicts = 0
    for k in range(n):
        with repo.writing():  # the blob and commit are unnamed until the ref moves
            state = repo.objects.put_blob(f"worker {worker} update {k}".encode())
            while True:
                old = repo.refs.read(MAIN)
                commit = repo.objects.put(
                    Commit(
                        parents=() if old is None else (old,),
                        state=state,
                        author=f"worker-{worker}",
                        host="race",
                        time=str(time.time_ns()),
                        message=f"w{worker} #{k}",
                    )
                )
                repo.objects.sync()
                try:
                    repo.refs.set(MAIN, commit, expected=old, message=f"w{worker} #{k}")
                except RefConflict:
                    conflicts += 1
                    continue
                print(f"set {to_hex(commit)}", flush=True)
                break
    print(f"done {n} {conflicts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
