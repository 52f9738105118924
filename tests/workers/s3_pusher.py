"""One of several processes pushing to one S3 remote at once (tests/test_sync_s3_cli.py).

Usage: ``python -m tests.workers.s3_pusher STORE URL GO_FILE``

Prints ``ready``, waits until ``GO_FILE`` exists (the start barrier), then pushes main to
URL; when the push loses the race (RefConflict, exit 4 on the CLI) it fetches, merges
and pushes again, as a user told "fetch and merge first" would. Ends with
``done <conflicts>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from extract.errors import RefConflict
from extract.store.repo import Repository
from extract.sync import ops
from extract.sync.transport import open_transport

BARRIER_TIMEOUT = 60.0
TRIES = 50


def main(argv: list[str]) -> int:
    store, url, go = Path(argv[0]), argv[1], Path(argv[2])
    repo = Repository(store)
    print("ready", flush=True)
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            print("barrier timed out", file=sys.stderr)
            return 2
        time.sleep(0.001)
    conflicts = 0
    for _ in range(TRIES):
        with open_transport(url, create=True, store=repo.root) as t:
            try:
                ops.push(repo, t, "team")
            except RefConflict:
                conflicts += 1
                fetched = ops.fetch(repo, t, "team")
                assert fetched.head is not None
                ops.merge(repo, fetched.head)
                continue
        print(f"done {conflicts}", flush=True)
        return 0
    print(f"gave up after {TRIES} tries", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
