"""A run's end when the process is stopped from outside, in real processes.

1. SIGTERM to a training loop logging 3 metrics a step (a user handler installed before
   the run reports the last step the loop logged): points lost (target 0) and the time
   from the signal to the process's exit (target < 1 s).
2. SIGKILL to a loop, then readers: how long until `extract status --json` no longer
   shows the run as live, with no SDK process opening the store (target < 5 s).

    .venv/bin/python bench/bench_lifecycle.py [--repeat K] [--dir D]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from extract.store.repo import Repository

TERM_LIMIT_S = 1.0
DEAD_LIMIT_S = 5.0
HERE = Path(__file__).resolve().parent.parent

LOOP = """
import signal, sys, time
from extract import Store
last = [-1]
def mine(signum, frame):
    print("last", last[0], flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, mine)  # a user's handler: runs after extract's
store = Store(sys.argv[1])
run = store.experiment({"bench": "b"}).run(name=sys.argv[2])
print("ready", flush=True)
step = 0
while True:
    run.curve(step, a=1.0, b=2.0, c=3.0)
    last[0] = step
    step += 1
"""


def points(root: Path, name: str) -> tuple[int, str]:
    r = subprocess.run(
        [sys.executable, "-m", "extract", "show", name, "--json", "--store", str(root)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    got = json.loads(r.stdout)
    return int(got["curve_stats"]["a"]["points"]), str(got["status"])


def sigterm_case(root: Path, name: str) -> tuple[int, float]:
    p = subprocess.Popen(
        [sys.executable, "-c", LOOP, str(root), name],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=120)
    took = time.perf_counter() - t0
    last = int(out.split()[-1])
    n, status = points(root, name)
    assert status == "failed", status
    return (last + 1) - n, took


def sigkill_case(root: Path, name: str) -> float:
    p = subprocess.Popen(
        [sys.executable, "-c", LOOP, str(root), name],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    p.send_signal(signal.SIGKILL)
    p.wait()
    t0 = time.perf_counter()
    while True:
        r = subprocess.run(
            [sys.executable, "-m", "extract", "status", "--json", "--store", str(root)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(HERE)},
        )
        if json.loads(r.stdout)["live"] == 0:
            return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="extract-bench-lifecycle-", dir=args.dir))
    try:
        root = work / ".extract"
        Repository.init(root, ("bench",))
        lost, took, dead = [], [], []
        for i in range(args.repeat):
            lo, tk = sigterm_case(root, f"term{i}")
            lost.append(lo)
            took.append(tk)
            dead.append(sigkill_case(root, f"kill{i}"))
            print(
                f"repeat {i}: SIGTERM lost {lo} points, exit {tk:.3f} s; SIGKILL not live after {dead[-1]:.3f} s"
            )
        figures = {
            "sigterm_points_lost_max": max(lost),
            "sigterm_exit_s_median": round(statistics.median(took), 3),
            "sigterm_exit_s_max": round(max(took), 3),
            "sigkill_not_live_s_max": round(max(dead), 3),
        }
        ok = max(lost) == 0 and statistics.median(took) < TERM_LIMIT_S and max(dead) < DEAD_LIMIT_S
        print(
            f"targets: 0 points lost, exit < {TERM_LIMIT_S} s, not live < {DEAD_LIMIT_S} s: {'met' if ok else 'MISSED'}"
        )
        print(json.dumps({**figures, "targets_met": ok}))
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
