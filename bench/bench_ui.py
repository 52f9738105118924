"""Web UI benchmark: ``extract ui`` on the TUI bench's store of 10,000 runs and 10M points,
driven by headless chromium (Playwright), against the issue's targets.

1. First paint of the runs table: navigation start to the table drawn, in the page's
   own clock (``performance.now()``); cold (plotly.js parsed for the first time) and warm.
2. Sort by a metric: header click to the sorted page drawn.
3. A run page with 5 curves of 100,000 points each (downsampled server-side to the
   envelope, extremes kept): navigation start to every chart drawn (a fresh page load,
   plotly.js parsed from the browser's cache), and from a click on the run in the runs
   table (how a person gets there: the app swaps its content in place). That run lives
   in a small store of its own, built once, so the TUI bench's store stays as it is.
4. Compare of 10 runs: navigation start to the metrics, config diff and overlaid curves
   drawn, as a fresh page load and from the "Compare marked" button of the runs table.
5. Peak memory (VmHWM) of the server process after all of the above.
6. Live: seconds from a point reaching the journal (another process logs and flushes
   one every 0.3 s) to the run page's chart showing it, median and max (target: 2 s).
7. For comparison, measured in the same run: the TUI's first paint on the same store
   (``bench_tui.py``'s measurement, in its own process).

    .venv/bin/python bench/bench_ui.py [--quick] [--dir D] [--repeat N]

Needs the ``ui-test`` extra and /usr/bin/chromium. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_tui  # the same store and sizes as the TUI bench

REPO = Path(__file__).resolve().parent.parent
TARGETS = {
    "first_paint_s": 1.0,
    "sort_ms": 300.0,
    "run_page_ms": 500.0,
    "compare_ms": 500.0,
    "rss_mib": 300.0,
}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BIG_CURVES, BIG_POINTS = 5, 100_000


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_big_run(base: Path, points: int) -> tuple[Path, str]:
    """A store holding one run with 5 curves of ``points`` points (built once)."""
    import numpy as np

    from extract import Store
    from extract.store.repo import Repository

    work = base / f"bigrun-{BIG_CURVES}x{points}"
    root = work / ".extract"
    done = work / "COMPLETE"
    if done.exists():
        return root, done.read_text().strip()
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    Repository.create(root)
    (root / "config.toml").write_text('[store]\nhierarchy = "benchmark > model"\n')
    old = Path.cwd()
    os.chdir(work)
    try:
        with Store(root) as store:
            exp = store.experiment({"benchmark": "big", "model": "curves"})
            with exp.run(config={"lr": 0.1}, name="big", total_steps=points) as run:
                s = np.arange(points, dtype=np.float64)
                waves = [np.exp(-s / (points / (k + 2))) + 0.01 * np.sin(s / 50) for k in range(5)]
                for step in range(points):
                    run.curve(step, **{f"m{k}": float(waves[k][step]) for k in range(BIG_CURVES)})
                run.log(acc=0.9)
                rid = run.id
    finally:
        os.chdir(old)
    done.write_text(rid + "\n")
    return root, rid


class Ui:
    """``extract ui`` as a subprocess on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "extract", "ui", "--store", str(root), "--port", "0"]
        self.process = subprocess.Popen(
            cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        assert self.process.stderr is not None
        line = self.process.stderr.readline().decode()
        m = re.search(r"(http://\S+)", line)
        if m is None:
            raise RuntimeError(f"extract ui printed {line!r}")
        self.base = m.group(1).rstrip("/")

    def peak_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        return kib / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def ready_at(page: Any, name: str, url: str) -> float:
    """Navigate; ms from navigation start until the page says it has drawn."""
    page.goto(url)
    page.wait_for_selector(f"body[data-ready='{name}']", timeout=120_000)
    page.wait_for_timeout(50)  # let any chart promise settle before the next step
    return float(page.evaluate("() => window.extractUi.at"))


def sort_ms(page: Any, column: str) -> float:
    """ms from a header click to the re-sorted table drawn."""
    before = page.evaluate("() => window.extractUi.draws")
    t0 = page.evaluate(
        "c => { const t = performance.now(); "
        "document.querySelector(`th[data-sort='${c}'] .label`).click(); return t; }",
        column,
    )
    page.wait_for_function("n => window.extractUi.draws > n", arg=before, timeout=60_000)
    return float(page.evaluate("() => window.extractUi.at")) - float(t0)


def click_ms(page: Any, selector: str, name: str) -> float:
    """ms from a click on a link inside the app to the page it opens drawn (no page load:
    the app swaps its content in place)."""
    t0 = page.evaluate(
        "s => { const t = performance.now(); document.querySelector(s).click(); return t; }",
        selector,
    )
    page.wait_for_selector(f"body[data-ready='{name}']", timeout=120_000)
    page.wait_for_timeout(50)
    return float(page.evaluate("() => window.extractUi.at")) - float(t0)


def measure(root: Path, big_root: Path, big_id: str, repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from extract.index import read
    from extract.index.access import open_index
    from extract.store.repo import Repository

    index = open_index(Repository(root))
    conn = index.reader()
    ids = [r.id for r in read.list_runs(conn, limit=10).items]
    index.close()
    out: dict[str, Any] = {}
    ui, big = Ui(root), Ui(big_root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            table = f"{ui.base}/?cols=acc,loss,config.lr,config.bs"
            out["first_paint_cold_s"] = ready_at(page, "runs", table) / 1000
            paints = [ready_at(page, "runs", table) / 1000 for _ in range(repeat)]
            out["first_paint_s"] = statistics.median(paints)
            sorts = []
            for _ in range(repeat):
                ready_at(page, "runs", table)
                sorts.append(sort_ms(page, "acc"))  # best first
                sorts.append(sort_ms(page, "acc"))  # and back
            out["sort_ms"] = statistics.median(sorts)
            out["sort_max_ms"] = max(sorts)
            opened = []
            for _ in range(repeat):  # as a person gets there: a click in the runs table
                ready_at(page, "runs", f"{big.base}/")
                opened.append(click_ms(page, f"#runs-table a[href='/run/{big_id}']", "run"))
            out["run_from_table_ms"] = statistics.median(opened)
            run_url = f"{big.base}/run/{big_id}"
            ready_at(page, "run", run_url)  # warm plotly for this origin
            runs = [ready_at(page, "run", run_url) for _ in range(repeat)]
            out["run_page_ms"] = statistics.median(runs)
            drawn = page.eval_on_selector_all(
                ".card[data-curve]", "els => els.map(e => [+e.dataset.drawn, +e.dataset.total])"
            )
            out["run_page_points"] = drawn
            cmp_url = f"{ui.base}/compare?runs={','.join(ids)}"
            cmps = [ready_at(page, "compare", cmp_url) for _ in range(repeat)]
            out["compare_ms"] = statistics.median(cmps)
            marked = f"{table}&marks={','.join(ids)}"  # marks live in the URL
            from_table = []
            for _ in range(repeat):
                ready_at(page, "runs", marked)
                from_table.append(click_ms(page, "#compare", "compare"))
            out["compare_from_table_ms"] = statistics.median(from_table)
            t0 = time.perf_counter()
            page.request.get(f"{big.base}/api/run/{big_id}")
            out["run_api_ms"] = (time.perf_counter() - t0) * 1000
            browser.close()
        out["rss_mib"] = ui.peak_mib()
        out["rss_big_mib"] = big.peak_mib()
    finally:
        ui.stop()
        big.stop()
    return out


LIVE_WRITER = """
import sys, time
from pathlib import Path
from extract import Store

root, ready, log = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
with Store(root) as store:
    run = store.experiment({"benchmark": "live", "model": "m"}).run(config={}, name="live")
    for step in range(20):
        run.curve(step, loss=1.0 / (step + 1))
    run.flush()
    ready.write_text(run.id)
    go = ready.with_name("go")
    while not go.exists():  # the page is open and its event stream connected
        time.sleep(0.01)
    with log.open("w") as out:
        for step in range(20, 60):
            run.curve(step, loss=1.0 / (step + 1))
            run.flush()  # in the journal now
            out.write(f"{step + 1} {time.time()}\\n")
            out.flush()
            time.sleep(0.3)
    run.finish()
"""


def live_latency(base: Path) -> list[float]:
    """Seconds from a point reaching the journal (the writer's flush) to the chart in the
    browser showing it, for 40 points logged 0.3 s apart by another process."""
    import shutil

    from playwright.sync_api import sync_playwright

    from extract.store.repo import Repository

    work = base / "live"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    root = work / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text('[store]\nhierarchy = "benchmark > model"\n')
    ready, log = work / "ready", work / "flushed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", LIVE_WRITER, str(root), str(ready), str(log)], env=env, cwd=work
    )
    try:
        while not ready.exists():
            time.sleep(0.05)
        ui = Ui(root)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page()
                ready_at(page, "run", f"{ui.base}/run/{ready.read_text()}")
                page.wait_for_selector("#live.on", timeout=60_000)
                page.evaluate(
                    "() => { window.seen = []; let last = 0; const tick = () => {"
                    " const el = document.querySelector('[data-curve=loss] .chart');"
                    " const n = el && el.data ? el.data[0].x.length : 0;"
                    " if (n !== last) { last = n; window.seen.push([n, Date.now() / 1000]); }"
                    " requestAnimationFrame(tick); }; tick(); }"
                )
                (work / "go").write_text("go")
                writer.wait(timeout=120)
                page.wait_for_function(
                    "() => window.seen.length && window.seen[window.seen.length - 1][0] >= 60",
                    timeout=30_000,
                )
                seen = page.evaluate("() => window.seen")
                browser.close()
        finally:
            ui.stop()
    finally:
        if writer.poll() is None:
            writer.terminate()
            writer.wait()
    out = []
    flushed = [tuple(map(float, ln.split())) for ln in log.read_text().splitlines()]
    for n, t in flushed:
        shown = next(ts for count, ts in seen if count >= n)
        out.append(shown - t)
    return out


def tui_first_paint(root: Path) -> float | None:
    """The TUI bench's own first-paint measurement on the same store, in its process."""
    r = subprocess.run(
        [sys.executable, bench_tui.__file__, "--measure", str(root), "--repeat", "3"],
        capture_output=True,
        text=True,
        cwd=root.parent,
    )
    if r.returncode != 0:
        say(r.stderr[-2000:])
        return None
    return float(json.loads(r.stdout.strip().splitlines()[-1])["first_paint_s"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small stores (a smoke run)")
    p.add_argument("--dir", type=Path, default=Path("/tmp/extract-bench-tui"))
    p.add_argument("--big-dir", type=Path, default=Path("/tmp/extract-bench-ui"))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-tui", action="store_true", help="skip the TUI comparison")
    a = p.parse_args(argv)
    s = bench_tui.sizes(a.quick)
    root = bench_tui.ensure_store(a.dir, s)
    big_root, big_id = ensure_big_run(a.big_dir, 2_000 if a.quick else BIG_POINTS)
    runs = s["benchmarks"] * s["models"] * s["variants"] * s["runs_per_leaf"]
    say(f"store: {root} ({runs:,} runs, {runs * s['steps']:,} curve points); big run {big_root}")
    figures = measure(root, big_root, big_id, a.repeat)
    lags = live_latency(a.big_dir)
    figures["live_median_s"] = statistics.median(lags)
    figures["live_max_s"] = max(lags)
    figures["live_lags_s"] = [round(x, 2) for x in lags]
    figures["tui_first_paint_s"] = None if a.no_tui else tui_first_paint(root)
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
        f"(cold first paint {figures['first_paint_cold_s']:.3f} s with plotly.js parsed; "
        f"sort max {figures['sort_max_ms']:.0f} ms; run API alone {figures['run_api_ms']:.0f} ms; "
        f"run page opened from the table {figures['run_from_table_ms']:.0f} ms; "
        f"compare opened from the table {figures['compare_from_table_ms']:.0f} ms; "
        f"live: journal to chart median {figures['live_median_s']:.2f} s, "
        f"max {figures['live_max_s']:.2f} s (target 2 s); "
        f"points drawn/held per curve {figures['run_page_points']}; "
        f"TUI first paint on the same store {figures['tui_first_paint_s']} s)"
    )
    figures["ok"] = ok
    print(json.dumps(figures))
    return 0 if ok or a.quick else 1


if __name__ == "__main__":
    sys.exit(main())
