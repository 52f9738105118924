"""``extract ui`` in a real browser: Playwright drives Debian's chromium headless against
``extract ui`` started as a subprocess on 127.0.0.1 over a fixture store.

Every page is screenshotted into ``<pytest tmp>/ui-screenshots`` (and into
``$EXTRACT_UI_SCREENSHOTS`` when set: ``docs/img`` is made that way) for review.
CI installs chromium with apt and the ``ui-test`` extra; elsewhere these tests skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_tui_fixture import Fixture
from tests.ui_server import LONG_POINTS, REPO, Server, build_store, serve

CHROMIUM = Path("/usr/bin/chromium")
pytest.importorskip("plotly", reason="the ui extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: How long a page may take to draw before the test gives up (a wait, not a measurement).
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_store(tmp_path_factory.mktemp("ui-browser-store"))


@pytest.fixture(scope="module")
def server(fx: Fixture) -> Iterator[Server]:
    with serve(fx.root) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("ui-screenshots", numbered=False)]
    if os.environ.get("EXTRACT_UI_SCREENSHOTS"):
        dirs.append(Path(os.environ["EXTRACT_UI_SCREENSHOTS"]))
        dirs[-1].mkdir(parents=True, exist_ok=True)
    return dirs


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert errors == [], errors


def open_page(page: Any, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector(f"body[data-ready='{ready}']", timeout=WAIT_MS)


def snap(page: Any, shots: list[Path], name: str) -> None:
    for d in shots:
        page.screenshot(path=str(d / f"{name}.png"), full_page=True)


def table_names(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "#runs-table tbody tr td:nth-child(2)", "els => els.map(e => e.textContent)"
        )
    )


def wait_names(page: Any, first: str) -> list[str]:
    page.wait_for_function(
        "f => document.querySelector('#runs-table tbody tr td:nth-child(2)')?.textContent === f",
        arg=first,
        timeout=WAIT_MS,
    )
    return table_names(page)


# --- runs table -------------------------------------------------------------------------------


def test_runs_table_sorts_by_a_metric_and_a_config_key(
    page: Any, server: Server, shots: list[Path]
) -> None:
    open_page(page, server.base + "/?cols=final_acc,config.bs", "runs")
    snap(page, shots, "runs")
    page.click("th[data-sort='final_acc'] .label")  # a metric: best (highest) first
    names = wait_names(page, "baseline")
    assert names[:4] == ["baseline", "vit-base", "lr1e-3", "lr1e-2"]
    assert "sort=final_acc" in page.url  # the view is a link
    best = page.eval_on_selector(
        "td.best[data-col='final_acc']", "e => e.closest('tr').dataset.run"
    )
    assert best == page.eval_on_selector("#runs-table tbody tr", "e => e.dataset.run")
    page.click("th[data-sort='final_acc'] .label")  # again: the other way
    assert wait_names(page, "lr1e-1")[-1] == "baseline"
    page.click("th[data-sort='config.bs'] .label")  # a config key: ascending
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"#runs-table tbody td[data-col='config.bs']\")]"
        ".map(e => e.textContent).join() === '32,32,64,64,128,256'",
        timeout=WAIT_MS,
    )
    assert "sort=config.bs" in page.url


def test_a_filter_narrows_the_table_and_stays_in_the_url(
    page: Any, server: Server, shots: list[Path]
) -> None:
    open_page(page, server.base + "/?cols=final_acc,config.bs", "runs")
    assert len(table_names(page)) == 6
    page.fill("#filter", "config.bs>=64")
    page.press("#filter", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#runs-table tbody tr').length === 4")
    page.fill("input[data-range='final_acc<=']", "0.9")
    page.press("input[data-range='final_acc<=']", "Enter")  # a numeric range, from the header
    page.wait_for_function("() => document.querySelectorAll('#runs-table tbody tr').length === 2")
    assert sorted(table_names(page)) == ["long", "lr1e-2"]
    assert "config.bs%3E%3D64" in page.url and "final_acc%3C%3D0.9" in page.url
    snap(page, shots, "runs-filtered")
    open_page(page, page.url, "runs")  # the link brings back the same view
    assert sorted(table_names(page)) == ["long", "lr1e-2"]


# --- run page ----------------------------------------------------------------------------------


def chart_points(page: Any, curve: str) -> int:
    return int(
        page.eval_on_selector(
            f"[data-curve='{curve}'] .chart", "el => el.data ? el.data[0].x.length : -1"
        )
    )


def test_run_page_chart_has_the_downsampled_points(
    page: Any, server: Server, fx: Fixture, shots: list[Path]
) -> None:
    expected = page.request.get(server.base + f"/api/run/{fx.runs['long']}").json()
    (wave,) = [c for c in expected["curves"] if c["name"] == "wave"]
    assert wave["total"] == LONG_POINTS and wave["points"] < LONG_POINTS
    open_page(page, server.base + f"/run/{fx.runs['long']}", "run")
    page.wait_for_selector("[data-curve='wave'] .main-svg", timeout=WAIT_MS)
    assert chart_points(page, "wave") == wave["points"]
    ys = page.eval_on_selector("[data-curve='wave'] .chart", "el => Array.from(el.data[0].y)")
    assert max(ys) == 50.0 and min(ys) == -50.0  # the spike and the dip survive
    page.check("#opt-log")  # log scale, smoothing, wall-time x: the chart redraws
    assert (
        page.eval_on_selector("[data-curve='wave'] .chart", "el => el.layout.yaxis.type") == "log"
    )
    page.uncheck("#opt-log")
    page.select_option("#opt-x", "wall")
    assert chart_points(page, "wave") == wave["points"]
    page.select_option("#opt-x", "step")
    open_page(page, server.base + f"/run/{fx.runs['lr1e-3']}", "run")
    page.wait_for_selector("[data-text='notes'] h2", timeout=WAIT_MS)  # Markdown rendered
    page.wait_for_selector("[data-table='confusion'] .main-svg", timeout=WAIT_MS)
    assert page.locator("pre.diff .add").count() >= 1  # the dirty diff, as a diff
    assert chart_points(page, "train_loss") == 50
    snap(page, shots, "run")


def test_links_navigate_in_place_and_back_returns(page: Any, server: Server, fx: Fixture) -> None:
    open_page(page, server.base + "/?cols=final_acc", "runs")
    page.evaluate("() => { window.sameTab = true; }")
    page.click(f"#runs-table a[href='/run/{fx.runs['lr1e-3']}']")
    page.wait_for_selector("body[data-ready='run']", timeout=WAIT_MS)
    page.wait_for_selector("[data-curve='train_loss'] .main-svg", timeout=WAIT_MS)
    assert page.evaluate("() => window.sameTab") is True  # no page load: plotly parsed once
    assert page.url.endswith(f"/run/{fx.runs['lr1e-3']}")
    page.go_back()
    page.wait_for_selector("body[data-ready='runs']", timeout=WAIT_MS)
    assert len(table_names(page)) == 6 and page.evaluate("() => window.sameTab") is True


# --- compare and sweep -------------------------------------------------------------------------


def test_compare_overlays_two_runs(
    page: Any, server: Server, fx: Fixture, shots: list[Path]
) -> None:
    open_page(page, server.base + "/?cols=final_acc", "runs")
    for name in ("lr1e-3", "lr1e-2"):
        page.check(f"input.mark[data-run='{fx.runs[name]}']")
        page.wait_for_selector(f"tr.marked[data-run='{fx.runs[name]}']")
    page.click("#compare")
    page.wait_for_selector("body[data-ready='compare']", timeout=WAIT_MS)
    page.wait_for_selector("[data-curve='train_loss'] .main-svg", timeout=WAIT_MS)
    traces = page.eval_on_selector(
        "[data-curve='train_loss'] .chart", "el => el.data.map(t => [t.name, t.x.length])"
    )
    assert traces == [["lr1e-3", 50], ["lr1e-2", 50]]
    assert page.locator("[data-curve='train_loss'] .scatterlayer .trace").count() == 2
    snap(page, shots, "compare")


def test_sweep_draws_one_line_per_run(page: Any, server: Server, shots: list[Path]) -> None:
    url = "/sweep?scope=imagenet/resnet50&keys=config.lr,config.bs&metric=final_acc"
    open_page(page, server.base + url, "sweep")
    lines = page.eval_on_selector_all(
        "#parallel path.pc-line", "els => els.map(e => e.dataset.run)"
    )
    assert len(lines) == len(set(lines)) == 4  # lr1e-3, lr1e-2, lr1e-1, long
    page.wait_for_selector("#scatter .main-svg", timeout=WAIT_MS)
    assert page.eval_on_selector("#scatter", "el => el.data[0].x.length") == 4
    snap(page, shots, "sweep")


def test_lineage_models_todos_and_sql_pages(
    page: Any, server: Server, fx: Fixture, shots: list[Path]
) -> None:
    open_page(page, server.base + f"/lineage?type=run&id={fx.runs['vit-base']}", "lineage")
    nodes = page.eval_on_selector_all(
        "#lineage-graph g.lineage-node", "els => els.map(e => e.dataset.node)"
    )
    assert f"run:{fx.runs['lr1e-3']}" in nodes and len(nodes) == 4
    snap(page, shots, "lineage")
    open_page(page, server.base + "/models", "models")
    assert "resnet50-imagenet" in page.inner_text("main")
    snap(page, shots, "models")
    open_page(page, server.base + "/todos", "todos")
    assert "Sweep batch size too" in page.inner_text("main")
    snap(page, shots, "todos")
    open_page(page, server.base + "/sql?q=SELECT%20name%20FROM%20runs%20ORDER%20BY%20name", "sql")
    assert "vit-base" in page.inner_text("#sql-out")
    snap(page, shots, "sql")


# --- live -------------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from extract import Store

    root = Path(sys.argv[1])
    with Store(root) as store:
        exp = store.experiment({"benchmark": "demo", "model": "mlp"})
        run = exp.run(config={"lr": 0.01}, name="live-run", total_steps=5000)
        for step in range(20):
            run.curve(step, loss=1.0 / (step + 1))
        run.flush()
        Path(sys.argv[2]).write_text(run.id)
        step = 20
        deadline = time.time() + float(sys.argv[3])
        while time.time() < deadline and step < 5000:
            run.curve(step, loss=1.0 / (step + 1))
            if step % 5 == 0:
                run.flush()
            step += 1
            time.sleep(0.02)
        run.finish()
    """
)


def test_a_live_runs_chart_grows_while_a_writer_logs(
    page: Any, tmp_path: Path, shots: list[Path]
) -> None:
    from extract.store.repo import Repository

    root = tmp_path / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text('[store]\nhierarchy = "benchmark > model"\n')
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(ready), "60"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        t0 = time.monotonic()
        while not ready.exists():
            assert writer.poll() is None, writer.stdout.read().decode() if writer.stdout else ""
            assert time.monotonic() - t0 < 60, "the writer never started its live run"
            time.sleep(0.05)
        with serve(root) as s:
            open_page(page, s.base + f"/run/{ready.read_text()}", "run")
            page.wait_for_selector("[data-curve='loss'] .main-svg", timeout=WAIT_MS)
            page.wait_for_selector("#live.on", timeout=WAIT_MS)  # the event stream is open
            seen = [chart_points(page, "loss")]
            for _ in range(3):  # grows again and again with no reload and no input
                page.wait_for_function(
                    "n => document.querySelector(\"[data-curve='loss'] .chart\").data[0].x.length > n",
                    arg=seen[-1],
                    timeout=WAIT_MS,
                )
                seen.append(chart_points(page, "loss"))
            assert seen == sorted(set(seen)) and seen[0] >= 20
            assert page.inner_text("#status") == "running"
            snap(page, shots, "live")
    finally:
        writer.terminate()
        writer.wait(timeout=20)
