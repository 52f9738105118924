"""Fixture data for the TUI tests: a small store built through the SDK, the same every time.

Run ids, times and the host name are fixed while the store is built, and the
code provenance comes from a throwaway git repository with fixed author dates,
so the screens drawn from it are the same on every machine (apart from object
ids that hash a temporary path, which the snapshot tests mask).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from extract import Store
from extract.index.build import Indexer
from extract.store.repo import Repository
from extract.tui import actions

BASE = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.UTC)
#: The clock the app is given in tests: an hour after the fixture's first run started.
NOW = BASE + dt.timedelta(hours=1)
HIERARCHY = "benchmark > model > variant"
CONFIG = """
[store]
hierarchy = "benchmark > model > variant"

[metrics]
minimize = ["test_error"]

[[tables.highlight]]
min = 0.9
color = "green"

[[tables.highlight]]
max = 0.1
color = "#ff6600"

[[tables.highlight]]
pattern = "nan"
color = "darkgray"

[notifications]
timeout = 3
"""


@dataclass
class Fixture:
    root: Path  # the store (.extract)
    cwd: Path
    runs: dict[str, str] = field(default_factory=dict)  # name -> run id
    live: Any = None  # an unfinished Run when built with live=True
    store: Store | None = None


def fixed_clock() -> dt.datetime:
    return NOW


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Fixed ULIDs, times and host name while the SDK writes."""
    counter = {"id": 0, "t": 0}

    def ulid() -> str:
        counter["id"] += 1
        return f"01KZ{counter['id']:022d}"

    def now_iso() -> str:
        counter["t"] += 1
        t = BASE + dt.timedelta(seconds=counter["t"])
        return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    with contextlib.ExitStack() as stack:
        for target in (
            "extract.sdk.run",
            "extract.sdk.attach",
            "extract.sdk.store",
            "extract.tracking.events",
            "extract.tui.actions",
        ):
            try:
                module = importlib.import_module(target)
            except ImportError:
                continue
            for name, fake in (("new_ulid", ulid), ("now_iso", now_iso)):
                if hasattr(module, name):
                    stack.enter_context(mock.patch.object(module, name, fake))
        stack.enter_context(mock.patch.object(socket, "gethostname", lambda: "testhost"))
        yield


def git_repo(path: Path) -> None:
    """A code repository with one commit at a fixed date and one uncommitted edit."""
    path.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    (path / "train.py").write_text("print('train')\n")
    (path / ".gitignore").write_text(".extract/\n*.pt\n")
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "train.py", ".gitignore"],
        ["git", "commit", "-q", "-m", "first"],
    ):
        subprocess.run(cmd, cwd=path, env=env, check=True, capture_output=True)
    (path / "train.py").write_text("print('train, edited')\n")


def curve(kind: str, n: int, scale: float = 1.0) -> np.ndarray[Any, Any]:
    s = np.arange(n, dtype=np.float64)
    if kind == "loss":
        return 2.3 * np.exp(-s / (15 * scale)) + 0.1
    return 0.95 * (1 - np.exp(-s / (12 * scale)))


def build(cwd: Path, *, live: bool = False, config: str = CONFIG) -> Fixture:
    """The fixture store at ``cwd/.extract``; ``cwd`` must be the current directory."""
    git_repo(cwd)
    root = cwd / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text(config)
    fx = Fixture(root=root, cwd=cwd)
    (cwd / "model.pt").write_bytes(b"weights" * 100)
    with deterministic():
        store = Store(root)
        sweep = store.experiment(
            {"benchmark": "imagenet", "model": "resnet50", "variant": "lr-sweep"}
        )
        specs = [
            ("lr1e-3", 0.001, 32, 0.9, 0.91, 0.12, 1.0, 50),
            ("lr1e-2", 0.01, 64, 0.8, 0.85, 0.30, 1.6, 50),
        ]
        for name, lr, bs, mom, acc, loss, scale, n in specs:
            cfg = {"lr": lr, "bs": bs, "method": {"name": "sgd", "momentum": mom, "parent": "none"}}
            with sweep.run(config=cfg, name=name, total_steps=50) as run:
                for step, (lo, ac) in enumerate(
                    zip(curve("loss", n, scale), curve("acc", n, scale), strict=True)
                ):
                    run.curve(step, train_loss=float(lo), train_acc=float(ac))
                run.log(final_acc=acc, final_loss=loss, arch="resnet50")
                grid = np.linspace(0, 1, 64).reshape(8, 8) * (acc / 0.91)
                run.log_table("confusion", grid, axes={"rows": "true", "cols": "predicted"})
                run.log_text("notes", f"## {name}\nconverges")
                run.tag("sweep")
                if name == "lr1e-3":
                    run.tag("best")
                    run.note("Best learning rate in sweep")
                    run.todo("Try lr=0.005 next", priority=1)
                    run.register_model("resnet50-imagenet", "v1.0", cwd / "model.pt")
                fx.runs[name] = run.id
        bad = sweep.run(config={"lr": 0.1, "bs": 32}, name="lr1e-1", total_steps=50)
        for step, lo in enumerate(curve("loss", 20, 0.5)[::-1]):
            bad.curve(step, train_loss=float(lo))
        bad.log(final_acc=0.40, final_loss=1.9)
        bad.finish("failed")
        fx.runs["lr1e-1"] = bad.id

        vit = store.experiment({"benchmark": "imagenet", "model": "vit", "variant": "base"})
        with vit.run(config={"lr": 0.0005, "bs": 128, "patch": 16}, name="vit-base") as run:
            for step, lo in enumerate(curve("loss", 30, 0.8)):
                run.curve(step * 10, val_loss=float(lo))
            run.log(final_acc=0.93, final_loss=0.10)
            run.log_table("attention", np.linspace(-1, 1, 4 * 6 * 7).reshape(4, 6, 7))
            run.derived_from(run=fx.runs["lr1e-3"])
            run.derived_from(model="resnet50-imagenet", version="v1.0")
            run.branched_from(run=fx.runs["lr1e-2"])
            fx.runs["vit-base"] = run.id

        cifar = store.experiment({"benchmark": "cifar", "model": "resnet18", "variant": "baseline"})
        with cifar.run(
            config={"lr": 0.1, "bs": 256, "aug": ["flip", "crop"]}, name="baseline"
        ) as run:
            run.log(final_acc=0.95, test_error=0.05)
            run.log_table("per_class", np.array([[0.95, 0.05, float("nan"), 0.5]]))
            fx.runs["baseline"] = run.id
        with cifar.run(config={"lr": 0.1}, name="scratch") as run:
            run.log(final_acc=0.1)
            fx.runs["scratch"] = run.id

        store.todo("Write up results for the paper", priority=2)
        sweep.todo("Sweep batch size too", priority=0)
        repo = Repository(root)
        indexer = Indexer(repo)
        actions.record(indexer, "stamp", f"run:{fx.runs['lr1e-3']}", {"sha": "c0ffee" * 6 + "c0ff"})
        actions.delete_run(indexer, fx.runs["scratch"])
        indexer.close()
        if live:
            exp = store.experiment({"benchmark": "cifar", "model": "resnet18", "variant": "live"})
            run = exp.run(config={"lr": 0.05}, name="live-run", total_steps=100)
            for step in range(10):
                run.curve(step, loss=1.0 / (step + 1))
            run.flush()
            fx.live = run
            fx.runs["live-run"] = run.id
        fx.store = store
    if not live:
        store.close()
        fx.store = None
    return fx


def test_fixture_builds(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    fx = build(tmp_path)
    assert set(fx.runs) == {"lr1e-3", "lr1e-2", "lr1e-1", "vit-base", "baseline", "scratch"}
    assert fx.runs["lr1e-3"] == "01KZ" + "0" * 20 + fx.runs["lr1e-3"][-2:]


# --- driving the app ------------------------------------------------------------------------


def screen_text(app: Any) -> str:
    """The current screen as plain text, one line per terminal row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(s.text.rstrip() for s in strips)


async def settle(app: Any, pilot: Any, rounds: int = 6) -> None:
    """Let workers finish and the messages they post be handled."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def press(app: Any, pilot: Any, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(app, pilot, 3)
