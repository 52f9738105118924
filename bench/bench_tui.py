"""TUI benchmark: a store of 10,000 runs and 10M curve points, against the issue's targets.

1. First paint: from constructing the app to the navigator and the store summary drawn.
2. Moving the selection in the navigator: key press to the new run's detail drawn.
3. Switching detail tabs (I / S): key press to the tab drawn.
4. Opening compare on 10 marked runs: key press to every section drawn.
5. Peak memory (``ru_maxrss``) of the process running the app.
6. Responsiveness (reported, no target): the longest and p99 gap between ticks of a 10 ms
   timer on the UI's event loop while in use; queries run in workers, so what remains is
   drawing.

The store is built once through the SDK by two processes and cached under /tmp
(``--dir``); the measurements run headless (textual's pilot) in a fresh process.

    .venv/bin/python bench/bench_tui.py [--quick] [--dir D]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HIERARCHY = "benchmark > model > variant"
TARGETS = {
    "first_paint_s": 1.0,
    "move_ms": 50.0,
    "tab_ms": 50.0,
    "compare_ms": 200.0,
    "rss_mib": 300.0,
}


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"benchmarks": 2, "models": 5, "variants": 5, "runs_per_leaf": 4, "steps": 200}
    # 10 x 10 x 10 leaves x 10 runs = 10,000 runs; x 1,000 steps = 10M points
    return {"benchmarks": 10, "models": 10, "variants": 10, "runs_per_leaf": 10, "steps": 1000}


def build_part(root: str, cwd: str, leaves: list[tuple[int, int, int]], s: dict[str, int]) -> int:
    """Log the runs of some leaves through the SDK (runs in a worker process)."""
    import numpy as np

    from extract import Store

    os.chdir(cwd)
    n = 0
    with Store(root) as store:
        for b, m, v in leaves:
            exp = store.experiment(
                {"benchmark": f"bench{b:02d}", "model": f"model{m:02d}", "variant": f"var{v:02d}"}
            )
            for i in range(s["runs_per_leaf"]):
                lr = 10 ** -(1 + (i % 4)) * (1 + b)
                cfg = {"lr": lr, "bs": 32 * (1 + i % 3), "opt": {"name": "adam", "wd": 0.01 * m}}
                with exp.run(config=cfg, name=f"run{i:02d}", total_steps=s["steps"]) as run:
                    decay = 50.0 + 30 * (i % 5)
                    for step in range(s["steps"]):
                        run.curve(step, loss=float(2.3 * np.exp(-step / decay) + 0.01 * (i % 7)))
                    run.log(acc=0.5 + 0.04 * (i % 10), loss=0.1 + 0.01 * ((i * 7) % 10))
                    if i == 0:
                        run.log_table("confusion", np.linspace(0, 1, 100).reshape(10, 10))
                n += 1
    return n


def ensure_store(base: Path, s: dict[str, int]) -> Path:
    key = "-".join(f"{k}{v}" for k, v in s.items())
    work = base / key
    root = work / ".extract"
    done = work / "COMPLETE"
    if done.exists():
        return root
    import shutil

    from extract.store.history import commit_staged
    from extract.store.repo import Repository

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    Repository.create(root)
    (root / "config.toml").write_text(f'[store]\nhierarchy = "{HIERARCHY}"\n')
    leaves = [
        (b, m, v)
        for b in range(s["benchmarks"])
        for m in range(s["models"])
        for v in range(s["variants"])
    ]
    workers = max(1, min(2, os.cpu_count() or 1))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as ex:
        parts = [leaves[w::workers] for w in range(workers)]
        total = sum(
            ex.map(build_part, [str(root)] * workers, [str(work)] * workers, parts, [s] * workers)
        )
    say(f"built {total:,} runs in {time.perf_counter() - t0:.0f} s; committing")
    commit_staged(Repository(root), "bench: tui store")
    from extract.index.build import Indexer

    indexer = Indexer(Repository(root))
    indexer.refresh()
    indexer.conn.execute("ANALYZE")
    indexer.close()
    done.write_text("ok\n")
    return root


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- measuring (in a fresh process) ----------------------------------------------------------


async def measure(root: Path, repeat: int) -> dict[str, Any]:
    """Key-to-frame latencies: a key event goes to the app as a terminal would send it, and
    the clock stops when a frame showing the result has been composed. (Pilot's ``press``
    also waits for the process to go idle, which would add its own tens of milliseconds.)"""
    from textual import events
    from textual.screen import Screen

    from extract.tui.app import ExtractApp
    from extract.tui.data import RunDetail
    from extract.tui.screens.browser import RunBrowser
    from extract.tui.screens.compare import CompareScreen
    from extract.tui.widgets.detail import DetailPanel
    from extract.tui.widgets.navigator import Navigator
    from extract.tui.widgets.vtable import VirtualTable

    frames: list[float] = [0.0]
    original = Screen._compositor_refresh

    def counted(self: Screen[Any]) -> None:
        original(self)
        frames.append(time.perf_counter())

    Screen._compositor_refresh = counted  # type: ignore[method-assign]

    out: dict[str, Any] = {}
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    async def until(cond: Any, timeout: float = 30.0) -> float:
        t0 = time.perf_counter()
        while not cond():
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError("condition never held")
            await asyncio.sleep(0.0005)
        return time.perf_counter()

    async def key_to_frame(app: Any, key: str, cond: Any) -> float:
        t0 = time.perf_counter()
        char = key if len(key) == 1 else None
        app._driver.send_message(events.Key(key, char))
        seen = await until(cond)
        await until(lambda: frames[-1] > seen)
        return frames[-1] - t0

    t0 = time.perf_counter()
    app = ExtractApp(root, refresh_interval=0)
    async with app.run_test(size=(160, 50)) as pilot:
        app.set_interval(0.01, tick)
        screen = app.screen
        nav = screen.query_one(Navigator)
        panel = screen.query_one(DetailPanel)
        painted = await until(lambda: len(nav.root.children) > 0 and panel.data is not None)
        await until(lambda: frames[-1] > painted)
        out["first_paint_s"] = frames[-1] - t0
        out["startup_stall_ms"] = max(gaps) * 1000 if gaps else 0.0
        gaps.clear()  # from here on: stalls while workers load during use

        # open the first leaf: benchmark -> model -> variant -> its runs
        for _ in range(3):
            await pilot.press("down", "right")
            await app.workers.wait_for_complete()
            await pilot.pause()
        await until(lambda: nav.cursor_node is not None and len(nav.cursor_node.children) > 0)
        await pilot.press("down")
        await until(lambda: isinstance(panel.data, RunDetail))
        await pilot.pause()
        moves = []
        for _ in range(repeat):
            for key in ("down", "up"):
                before = panel.data.row.id if isinstance(panel.data, RunDetail) else None
                moves.append(
                    await key_to_frame(
                        app,
                        key,
                        lambda b=before: (
                            isinstance(panel.data, RunDetail) and panel.data.row.id != b
                        ),
                    )
                )
                await pilot.pause()
        out["move_ms"] = statistics.median(moves) * 1000
        out["move_max_ms"] = max(moves) * 1000

        tabs = []
        for _ in range(repeat):
            for key, tab in (("I", "info"), ("S", "summary")):
                tabs.append(await key_to_frame(app, key, lambda t=tab: panel.tab == t))
                await pilot.pause()
        out["tab_ms"] = statistics.median(tabs) * 1000
        out["tab_max_ms"] = max(tabs) * 1000

        # mark the leaf's 10 runs and compare them
        while nav.current() is not None and nav.current()[0] == "run":  # type: ignore[index]
            await pilot.press("up")
        for _ in range(10):
            await pilot.press("down")
            if nav.current_run() is not None:
                app.toggle_mark(nav.current_run())  # type: ignore[arg-type]
        await pilot.pause()
        out["compared"] = len(app.marks)
        compares = []
        for _ in range(max(1, repeat // 2)):
            compares.append(
                await key_to_frame(
                    app,
                    "c",
                    lambda: isinstance(app.screen, CompareScreen) and app.screen.data is not None,
                )
            )
            await pilot.press("escape")
            await pilot.pause()
        out["compare_ms"] = statistics.median(compares) * 1000

        out["browser_s"] = await key_to_frame(
            app,
            "b",
            lambda: (
                isinstance(app.screen, RunBrowser)
                and bool(app.screen.query("#browser-table"))
                and len(app.screen.query_one("#browser-table", VirtualTable).rows) > 0
            ),
        )
        out["browser_rows"] = len(app.screen.query_one("#browser-table", VirtualTable).rows)
        await pilot.press("pagedown")
        await app.workers.wait_for_complete()
        await pilot.pause()
        out["max_stall_ms"] = max(gaps[1:]) * 1000 if len(gaps) > 1 else 0.0
        out["p99_stall_ms"] = sorted(gaps)[int(len(gaps) * 0.99)] * 1000 if gaps else 0.0
        out["runs"], _ = app.browser.counts()
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def child(root: str, repeat: int) -> None:
    print(json.dumps(asyncio.run(measure(Path(root), repeat))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small store (a smoke run)")
    p.add_argument("--dir", type=Path, default=Path("/tmp/extract-bench-tui"))
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--measure", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.measure:
        child(a.measure, a.repeat)
        return 0
    s = sizes(a.quick)
    root = ensure_store(a.dir, s)
    runs = s["benchmarks"] * s["models"] * s["variants"] * s["runs_per_leaf"]
    say(f"store: {root} ({runs:,} runs, {runs * s['steps']:,} curve points)")
    r = subprocess.run(
        [sys.executable, __file__, "--measure", str(root), "--repeat", str(a.repeat)],
        capture_output=True,
        text=True,
        cwd=root.parent,
    )
    if r.returncode != 0:
        say(r.stderr[-4000:])
        return 1
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    figures.update({"store_runs": runs, "store_points": runs * s["steps"], "quick": a.quick})
    ok = True
    say(f"\n{'figure':<16} {'measured':>12} {'target':>10}")
    for key, target in TARGETS.items():
        value = figures[key]
        passed = value < target
        ok &= passed
        unit = key.rsplit("_", 1)[-1]
        say(
            f"{key:<16} {value:>10.3f} {unit:<3} {'<':>2} {target:g} {'ok' if passed else 'MISSED'}"
        )
    say(
        f"(move max {figures['move_max_ms']:.1f} ms, tab max {figures['tab_max_ms']:.1f} ms, "
        f"run browser over {figures['browser_rows']:,} runs {figures['browser_s'] * 1000:.0f} ms; "
        f"longest event-loop gap while in use {figures['max_stall_ms']:.0f} ms, "
        f"p99 {figures['p99_stall_ms']:.0f} ms: drawing, the queries run in workers)"
    )
    figures["ok"] = ok
    print(json.dumps(figures))
    return 0 if ok or a.quick else 1


if __name__ == "__main__":
    sys.exit(main())
