"""Log curves into a store through the SDK until killed (tests/test_sdk_durability.py).

Usage: ``python -m tests.workers.logger STORE SEED PACE``

Opens ``Store(STORE)``, starts one run and logs ``curve(step, loss=, acc=, lr=)`` for
step 0, 1, 2, ... with the values ``value(seed, step, metric)``, sleeping ``PACE``
seconds after each step. Every ``LOG_EVERY`` steps it also calls
``run.log(seen=step, phase=...)``; at steps ``TAG_PHASE (mod TAG_EVERY)`` it tags the run
``t<step>``. With ``PACE`` 0 it calls ``run.flush()`` at random moments (seeded); with
a positive pace it never flushes by hand, so only the SDK's own triggers (10 steps, the
2-second timer) hand points to the journal.

Protocol on stdout, one flushed line per event:

- ``run <id>``: the run is started (its journal exists and is locked);
- ``step <n> <time>``: ``curve(n)`` (and ``log``/``tag`` for that step, if any) returned,
  at ``time.time()`` = ``time``;
- ``flushed <n>``: ``run.flush()`` returned after step ``n``: every step up to ``n``
  was handed to the kernel.

It never finishes on its own: it exits with status 3 after ``MAX_SECONDS``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from extract.sdk import Store

METRICS = ("loss", "acc", "lr")
LOG_EVERY = 7
TAG_EVERY = 97
TAG_PHASE = 50
FLUSH_PROBABILITY = 1 / 15
MAX_SECONDS = 60.0
EXPERIMENT = "kills"


def value(seed: int, step: int, metric: str) -> float:
    """The value the worker logs; the test recomputes it to compare bit for bit."""
    if metric == "loss":
        return 1.0 / (step + 1) + (seed % 1000)
    if metric == "acc":
        return step / (step + 10.0)
    return seed * 1e-9 + step * 1e-3


def phase(step: int) -> str:
    return f"p{step // 100}"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    root, seed, pace = Path(argv[0]), int(argv[1]), float(argv[2])
    rng = random.Random(seed)
    store = Store(root)
    exp = store.experiment({"sweep": EXPERIMENT, "trial": f"w{seed % 3}"})
    run = exp.run({"seed": seed, "pace": pace}, name=f"seed{seed}")
    say(f"run {run.id}")
    deadline = time.monotonic() + MAX_SECONDS
    step = 0
    while time.monotonic() < deadline:
        run.curve(step, **{m: value(seed, step, m) for m in METRICS})
        if step % LOG_EVERY == 0:
            run.log(seen=step, phase=phase(step))
        if step % TAG_EVERY == TAG_PHASE:
            run.tag(f"t{step}")
        say(f"step {step} {time.time():.6f}")
        if pace == 0 and rng.random() < FLUSH_PROBABILITY:
            run.flush()
            say(f"flushed {step}")
        if pace:
            time.sleep(pace)
        step += 1
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
