"""Maintenance in a loop, racing writers (tests/test_gc_race.py).

Usage: ``python -m tests.workers.maintainer OP STORE STOP_FILE [ARG]``

``OP`` is ``gc`` (``gc`` with grace 0), ``commit`` (``commit_staged``), ``reindex``
(``Indexer.rebuild``) or ``fetch`` (``ops.fetch`` from the store at ``ARG``, then merge, again if a commit
moved main meanwhile).
Repeats until ``STOP_FILE`` exists (writing the passes done so far to ``OP.passes``
beside it), then prints ``passes N`` and exits 0. Any error ends
it with a traceback and exit 1: the test counts that as a failure.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from extract.errors import RefConflict
from extract.index.build import Indexer
from extract.store.gc import gc
from extract.store.history import commit_staged
from extract.store.repo import Repository
from extract.sync import ops
from extract.sync.transport import LocalTransport


def once(op: str, repo: Repository, arg: str | None, n: int) -> None:
    if op == "gc":
        gc(repo, grace_seconds=0)
    elif op == "commit":
        commit_staged(repo, f"maintainer commit {n}")
    elif op == "reindex":
        indexer = Indexer(repo)
        try:
            indexer.rebuild()
        finally:
            indexer.close()
    elif op == "fetch":
        assert arg is not None
        with LocalTransport(Path(arg)) as t:
            result = ops.fetch(repo, t, "peer")
        while result.head is not None:
            try:
                ops.merge(repo, result.head)
                break
            except RefConflict:  # a local commit moved main meanwhile: merge onto it
                continue
    else:
        raise SystemExit(f"unknown op {op}")


def main(argv: list[str]) -> int:
    op, root, stop = argv[0], Path(argv[1]), Path(argv[2])
    arg = argv[3] if len(argv) > 3 else None
    repo = Repository(root)
    n = 0
    progress = stop.parent / f"{op}.passes"  # for a test that waits on our progress
    while not stop.exists():
        once(op, repo, arg, n)
        n += 1
        progress.write_text(str(n))
        time.sleep(0.01)
    print(f"passes {n}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
