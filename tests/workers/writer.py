"""Write blobs, commits and ref moves in a loop until killed (tests/test_crash.py).

Usage: ``python -m tests.workers.writer STORE SEED``

Protocol on stdout, one flushed line per event:

- ``ready <ref hex | none>`` once the store is open;
- ``blob <id> <seed> <size>``: ``write_bytes`` stored ``random.Random(seed).randbytes(size)``
  under ``id`` (a blob or a chunk list); not yet referenced by anything;
- ``about to set <commit>``: every object of that commit is written and synced;
- ``set <commit>``: ``RefStore.set`` returned: the ref holds ``commit``, and the blobs
  printed since the previous ``set`` (or ``ready``) are durably referenced.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

from extract.objects import Commit, ObjectId, Tree, to_hex
from extract.store import chunking
from extract.store.repo import MAIN, Repository

#: Big enough that FastCDC (min 256 KiB, avg 1 MiB) usually cuts them into a chunk list.
BIG_MIN = 1200 * 1024
BIG_MAX = 2500 * 1024


def content(seed: int, size: int) -> bytes:
    """The bytes a ``blob`` line stands for; the test regenerates them to compare."""
    return random.Random(seed).randbytes(size)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def pick_size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.02:
        return rng.randint(BIG_MIN, BIG_MAX)  # chunked
    if roll < 0.15:
        return rng.randint(8 * 1024, 64 * 1024)
    if roll < 0.25:
        return 0
    return rng.randint(1, 4096)


def main(argv: list[str]) -> int:
    store, seed = Path(argv[0]), int(argv[1])
    rng = random.Random(seed)
    repo = Repository(store)
    head = repo.refs.read(MAIN)
    say(f"ready {to_hex(head) if head is not None else 'none'}")
    step = 0
    while True:
        with repo.writing():  # the blobs and commit are unnamed until the ref moves
            entries: dict[str, ObjectId] = {}
            for i in range(rng.randint(1, 3)):
                blob_seed = rng.getrandbits(63)
                size = pick_size(rng)
                oid = chunking.write_bytes(repo.objects, content(blob_seed, size))
                say(f"blob {to_hex(oid)} {blob_seed} {size}")
                entries[f"f{i}"] = oid
            state = repo.objects.put(Tree(entries))
            commit = repo.objects.put(
                Commit(
                    parents=() if head is None else (head,),
                    state=state,
                    author="crash-test",
                    host="worker",
                    time=dt.datetime.now(dt.UTC).isoformat(),
                    message=f"writer {seed} step {step}",
                )
            )
            repo.objects.sync()  # objects durable before anything points at them
            say(f"about to set {to_hex(commit)}")
            repo.refs.set(MAIN, commit, expected=head, message=f"writer {seed} step {step}")
            say(f"set {to_hex(commit)}")
        head = commit
        step += 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
