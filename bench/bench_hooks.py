"""Git hook cost: what `extract hooks install` adds to every `git commit`.

A small repository with a store beside it; each repeat times a `git commit` with no
hooks (the floor) and, back to back, with extract's shims installed, in three cases:
no run waits for a stamp (the common commit: the shims should start no interpreter),
and a run waits for exactly this commit (post-commit starts Python and stamps it).
Target: with no run waiting, the hooks add under 0.15 s to a commit (median).

    .venv/bin/python bench/bench_hooks.py [--repeat K] [--dir D]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from extract import Store
from extract.git import hooks
from extract.store.repo import Repository

LIMIT_S = 0.15
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / ".gitignore").write_text(".extract/\n")
    (path / "train.py").write_text("lr = 0\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "start")
    Repository.init(path / ".extract", ("exp",))
    return path


def timed_commit(repo: Path, i: int) -> float:
    (repo / "train.py").write_text(f"lr = {i}\n")
    git(repo, "add", "train.py")
    t0 = time.perf_counter()
    git(repo, "commit", "-q", "-m", f"change {i}")
    return time.perf_counter() - t0


def waiting_run(repo: Path, i: int) -> None:
    """A run started from the dirty state the next commit will have."""
    (repo / "train.py").write_text(f"lr = {i}\n")
    here = Path.cwd()
    os.chdir(repo)
    try:
        with Store(repo / ".extract") as s, s.experiment({"exp": "e"}).run(name=f"r{i}") as run:
            run.log(acc=0.5)
    finally:
        os.chdir(here)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="extract-bench-hooks-", dir=args.dir))
    try:
        plain = make_repo(work / "plain")
        hooked = make_repo(work / "hooked")
        hooks.install(hooked, sys.executable)
        floor, idle, stamping = [], [], []
        for i in range(1, args.repeat + 1):
            floor.append(timed_commit(plain, i))
            idle.append(timed_commit(hooked, i))
            waiting_run(hooked, 1000 + i)
            stamping.append(timed_commit(hooked, 1000 + i))
        f, n, s = (statistics.median(x) for x in (floor, idle, stamping))
        print(
            f"git commit, no hooks:                    {f * 1e3:7.1f} ms (median of {args.repeat})"
        )
        print(
            f"git commit, hooks, no run waiting:       {n * 1e3:7.1f} ms (+{(n - f) * 1e3:.1f} ms)"
        )
        print(
            f"git commit, hooks, stamping one run:     {s * 1e3:7.1f} ms (+{(s - f) * 1e3:.1f} ms)"
        )
        ok = n - f < LIMIT_S
        print(
            f"target: hooks add < {LIMIT_S * 1e3:.0f} ms when no run waits: {'met' if ok else 'MISSED'}"
        )
        print(
            json.dumps(
                {
                    "commit_floor_ms": round(f * 1e3, 2),
                    "commit_hooks_idle_ms": round(n * 1e3, 2),
                    "commit_hooks_stamping_ms": round(s * 1e3, 2),
                    "hooks_added_idle_ms": round((n - f) * 1e3, 2),
                    "target_met": ok,
                }
            )
        )
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
