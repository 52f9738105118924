"""The TUI's headless core, its read-only queries, its event writes and its pure renderers."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.style import Style

from extract import Store
from extract.display.settings import HighlightRule, TablesConfig, tui_config
from extract.errors import InvalidInput
from extract.index import read
from extract.index.build import Indexer
from extract.index.db import open_reader
from extract.index.models import ABSENT, Change, LineageEdge, LineageNode
from extract.store.config import parse
from extract.store.history import list_staged
from extract.store.repo import Repository
from extract.tui import chart, dag, heatmap
from extract.tui.core import Browser
from extract.tui.data import CHART_POINTS, search_terms
from tests.test_tui_fixture import Fixture, build, fixed_clock

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def fx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fixture:
    monkeypatch.chdir(tmp_path)
    return build(tmp_path)


@pytest.fixture
def browser(fx: Fixture) -> Any:
    b = Browser(fx.root, clock=fixed_clock)
    yield b
    b.close()


# --- layering -----------------------------------------------------------------------------


def test_core_loads_neither_textual_nor_rich() -> None:
    code = (
        "import sys, extract.tui, extract.tui.core, extract.tui.actions, extract.index.read;"
        "print(','.join(m for m in ('textual', 'rich', 'typer', 'mcp') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


ALLOWED = {
    "extract.tui",
    "extract.index",
    "extract.tracking",
    "extract.store",
    "extract.objects",
    "extract.errors",
    "extract.git",
    "extract.display",
}


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return [m for m in out if m.startswith("extract")]


def test_tui_imports_only_the_layers_below_it() -> None:
    bad = []
    for path in sorted((REPO / "extract" / "tui").rglob("*.py")):
        for module in _imports(path):
            if not any(module == a or module.startswith(a + ".") for a in ALLOWED):
                bad.append(f"{path.name} imports {module}")
    assert bad == []


#: What the TUI may use of the index: the one read layer, its typed values, and opening
#: (and refreshing) the index. ``actions.py`` writes events and may use the writer too.
INDEX_ALLOWED = ("extract.index.read", "extract.index.models", "extract.index.access")


def _index_imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "extract.index":
            out += [f"extract.index.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [m for m in out if m.startswith("extract.index")]


def test_tui_reads_only_through_the_read_layer() -> None:
    bad = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sorted((REPO / "extract" / "tui").rglob("*.py"))
        if path.name != "actions.py"
        for module in _index_imports(path)
        if not any(module == a or module.startswith(a + ".") for a in INDEX_ALLOWED)
    ]
    assert bad == []


def test_front_ends_write_no_sql_of_their_own() -> None:
    """Query code lives in the index layer: the TUI's modules hold no SQL."""
    for path in sorted((REPO / "extract" / "tui").rglob("*.py")):
        text = path.read_text()
        assert "SELECT " not in text and ".execute(" not in text, path


# --- browse: read-only queries ------------------------------------------------------------


def test_experiment_tree_counts_runs_below_each_node(browser: Browser) -> None:
    assert browser.tree() == read.experiment_tree(browser.conn)  # the read layer's own nodes
    nodes = {n.path: n for n in browser.tree()}
    assert nodes["imagenet"].n_total == 4 and nodes["imagenet"].n_runs == 0
    assert nodes["imagenet/resnet50/lr-sweep"].n_runs == 3
    assert nodes["cifar/resnet18/baseline"].n_total == 1  # "scratch" is deleted
    assert nodes["imagenet"].node_type == "benchmark"


def test_run_rows_orders_and_pages(browser: Browser) -> None:
    newest = [r.short for r in browser.runs("imagenet/resnet50")]
    assert newest == ["lr1e-1", "lr1e-2", "lr1e-3"]
    assert [r.short for r in browser.runs("imagenet/resnet50", order="oldest")] == newest[::-1]
    assert [r.short for r in browser.runs("", order="name", limit=2, offset=1)] == [
        "lr1e-1",
        "lr1e-2",
    ]
    row = browser.runs("imagenet/vit")[0]
    assert (row.short, row.label) == ("vit-base", "imagenet/vit/base#vit-base")
    with pytest.raises(InvalidInput, match="unknown order"):
        browser.runs("", order="sideways")


def test_search_text_and_filters(browser: Browser) -> None:
    assert [r.short for r in browser.search("LR1E-3")] == ["lr1e-3"]
    assert [r.short for r in browser.search("status:failed")] == ["lr1e-1"]
    assert {r.short for r in browser.search("tag:sweep")} == {"lr1e-2", "lr1e-3"}
    assert {r.short for r in browser.search("exp:imagenet/vit")} == {"vit-base"}
    assert [r.short for r in browser.search("best rate")] == []  # words are one substring
    assert [r.short for r in browser.search("learning rate")] == ["lr1e-3"]  # notes
    assert [r.short for r in browser.search("BES")] == ["lr1e-3"]  # part of a tag, any case
    assert browser.search("scratch") == []  # deleted runs are hidden
    with pytest.raises(InvalidInput, match="Valid statuses"):
        browser.search("status:sideways")


def test_search_is_the_read_layers_one_rule(fx: Fixture, browser: Browser) -> None:
    """The search box's words and terms go to ``read.list_runs`` unchanged: what the TUI
    finds is what MCP's ``search_runs`` and the CLI find."""
    assert search_terms("lr  status:completed tag:sweep exp:imagenet/ 1e") == (
        "lr 1e",
        {"status": "completed", "tag": "sweep", "experiment_prefix": "imagenet/"},
    )
    assert search_terms("note:x") == ("note:x", {})  # not a filter: plain text
    for text in ("lr1e", "01kz", "sweep status:completed", "exp:cifar", "converges"):
        query, filters = search_terms(text)
        expected = read.list_runs(browser.conn, query=query, filters=filters, limit=200).items
        assert browser.search(text) == list(expected), text
    prefix = fx.runs["vit-base"].lower()  # an id (a prefix of itself), any case
    assert [r.short for r in browser.search(prefix)] == ["vit-base"]


def test_headline_points_and_curves(fx: Fixture, browser: Browser) -> None:
    rid = fx.runs["lr1e-3"]
    assert browser.headline([rid])[rid] == {"final_acc": 0.91, "final_loss": 0.12}
    d = browser.run_detail(rid)
    assert d.points == 100
    stats = d.curve_stats["train_loss"]
    assert (stats.points, stats.first_step, stats.last_step, stats.nan) == (50, 0, 49, 0)
    assert stats.min == pytest.approx(0.1 + 2.3 * math.exp(-49 / 15))
    series = d.charts[1].series[0]
    assert series.steps.tolist() == list(range(50)) and series.values[0] == pytest.approx(2.4)
    assert series.points == 50


def test_long_curves_are_read_as_an_envelope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chart asks for at most ``CHART_POINTS`` points; the envelope keeps the spike."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text('[store]\nhierarchy = "a"\n')
    n = 3 * CHART_POINTS
    with (
        Store(root) as store,
        store.experiment({"a": "long"}).run(name="long", total_steps=n) as run,
    ):
        for step in range(n):
            run.curve(step, loss=100.0 if step == 4321 else 1.0)
        rid = run.id
    b = Browser(root, clock=fixed_clock)
    d = b.run_detail(rid)
    series = d.charts[0].series[0]
    assert len(series.steps) <= CHART_POINTS < series.points == n
    assert series.values.max() == 100.0 and series.steps[0] == 0 and series.steps[-1] == n - 1
    assert d.curve_stats["loss"].points == n and d.charts[0].x_max == n - 1
    b.close()


def test_lineage_walks_both_ways_with_models(fx: Fixture, browser: Browser) -> None:
    g = browser.lineage("run", fx.runs["lr1e-3"], depth=2)
    labels = {n.label: n.level for n in g.nodes}
    assert labels["imagenet/resnet50/lr-sweep#lr1e-3"] == 0
    assert labels["resnet50-imagenet@v1.0"] == 1  # the model it registered
    assert labels["imagenet/vit/base#vit-base"] == 1  # derived from it
    assert all(n.found for n in g.nodes)
    up = browser.lineage("run", fx.runs["vit-base"], depth=1, direction="ancestors")
    relations = {(e.parent_type, e.relation) for e in up.edges}
    assert relations == {
        ("run", "derived_from"),
        ("model", "derived_from"),
        ("run", "branched_from"),
    }
    assert {n.level for n in up.nodes} == {0, -1}  # ancestors stand left of the root
    with pytest.raises(InvalidInput, match="depth"):
        browser.lineage("run", fx.runs["vit-base"], depth=9)


def test_todos_overview_and_change_marker(fx: Fixture, browser: Browser) -> None:
    todos = browser.todos()
    assert [t.priority for t in todos] == [2, 1, 0]
    assert todos[1].scope_label == "imagenet/resnet50/lr-sweep#lr1e-3"
    over = browser.dashboard().overview
    assert over.runs == 5 and over.deleted == 1 and over.by_status["failed"] == 1
    assert not browser.changed()
    browser.add_todo("again", 1)
    assert browser.changed()


# --- the core's answers ------------------------------------------------------------------------


def test_run_detail_has_provenance_ids_and_filtered_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fx = build(
        tmp_path,
        config='[store]\nhierarchy = "benchmark > model > variant"\n[info]\nfields = ["method.**", "!method.parent", "lr"]\n',
    )
    b = Browser(fx.root, clock=fixed_clock)
    d = b.run_detail(fx.runs["lr1e-3"])
    assert list(d.config) == ["lr", "method.momentum", "method.name"]  # stored keys are sorted
    assert d.config_hidden == 2
    assert d.info == read.get_run(b.conn, fx.runs["lr1e-3"])  # the read layer's answer
    assert d.info.code.git_sha and d.info.code.git_dirty is True
    assert (d.info.code.git_stamp or "").startswith("c0ffee")
    assert len(d.row.object_id or "") == 64
    assert [c.metric for c in d.charts] == ["train_acc", "train_loss"]
    assert d.charts[0].x_max == 49  # pinned: total_steps - 1
    assert d.tables[0].shape == (8, 8) and d.tables[0].axes == {"rows": "true", "cols": "predicted"}
    vit = b.run_detail(fx.runs["vit-base"])
    assert vit.charts[0].x_max is None  # no total_steps: auto-fit
    b.close()


def test_node_summary_ranks_by_direction(fx: Fixture, browser: Browser) -> None:
    s = browser.node_summary("imagenet")
    assert s.total == 4
    assert s.best["final_acc"] == (fx.runs["vit-base"],)
    assert s.best["final_loss"] == (fx.runs["vit-base"],)  # lower is better for a loss
    ranking = {r.metric: r for r in s.rankings}
    assert ranking["final_acc"].best[0] == ("vit-base", 0.93)
    assert [b for b, _ in ranking["final_acc"].branches] == ["vit", "resnet50"]
    root = browser.node_summary("")
    assert {b for b, _ in {r.metric: r for r in root.rankings}["final_acc"].branches} == {
        "cifar",
        "imagenet",
    }


def test_compare_pivot_best_config_diffs_tables_curves(fx: Fixture, browser: Browser) -> None:
    ids = [fx.runs["lr1e-3"], fx.runs["lr1e-2"], fx.runs["lr1e-1"]]
    c = browser.compare(ids)
    assert c.comparison == read.compare(browser.conn, ids, browser.config.store)
    assert c.comparison.metric("final_acc").best == (fx.runs["lr1e-3"],)
    assert c.comparison.metric("final_loss").best == (fx.runs["lr1e-3"],)
    assert c.config_keys == ("bs", "lr", "method.momentum", "method.name", "method.parent")
    assert [name for name, _ in c.tables] == ["confusion"]
    assert len(dict(c.tables)["confusion"]) == 2
    assert [ch.metric for ch in c.charts] == ["train_acc", "train_loss"]
    assert len(c.charts[1].series) == 3 and c.charts[1].x_max == 49
    with pytest.raises(InvalidInput, match="at least 2"):
        browser.compare(ids[:1])


def test_diff_marks_the_better_side(fx: Fixture, browser: Browser) -> None:
    d = browser.diff(fx.runs["lr1e-2"], fx.runs["lr1e-3"])
    assert d.diff == read.diff(
        browser.conn, fx.runs["lr1e-2"], fx.runs["lr1e-3"], browser.config.store
    )
    assert {c.key for c in d.config} == {"lr", "bs", "method.momentum"}
    better = {m.name: m.better for m in d.diff.metrics}
    assert better == {"final_acc": "b", "final_loss": "b"}
    assert Change("git_stamp", None, "c0ffee" * 6 + "c0ff") in d.diff.code
    other = browser.diff(fx.runs["lr1e-2"], fx.runs["vit-base"])
    assert Change("patch", ABSENT, 16) in other.config  # a key only one run has


def _pair(tmp: Path, fields: str = "") -> tuple[Browser, str, str]:
    """Two runs whose configs agree by value but not by type (``1`` and ``1.0``), both
    NaN in one key, with a NaN headline value on one side."""
    root = tmp / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text(f'[store]\nhierarchy = "a"\n{fields}')
    nan = float("nan")
    with Store(root) as store:
        exp = store.experiment({"a": "pair"})
        with exp.run(config={"lr": 1, "x": nan, "opt": {"m": 2}, "bs": 8}, name="a") as run:
            run.log(acc=nan, loss=1, note="one")
            a = run.id
        with exp.run(config={"lr": 1.0, "x": nan, "opt": {"m": 2.0}, "bs": 16}, name="b") as run:
            run.log(acc=0.5, loss=1.0, note="one")
            b = run.id
    return Browser(root, clock=fixed_clock), a, b


def test_compare_and_diff_agree_with_the_read_layer_on_1_and_nan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One equality rule: ``1 == 1.0`` and NaN equals NaN, so only ``bs`` differs; one
    "better" rule: NaN is worse than any number. (The TUI once compared ``repr()``s.)"""
    monkeypatch.chdir(tmp_path)
    browser, a, b = _pair(tmp_path)
    conn = browser.conn
    c = browser.compare([a, b])
    assert c.comparison == read.compare(conn, [a, b], browser.config.store)
    assert c.config_keys == c.comparison.config_diffs == ("bs",)
    assert c.comparison.param_diffs == ()
    acc = c.comparison.metric("acc")
    assert acc.best == (b,) and acc.ranking == (b, a) and math.isnan(acc.values[a] or 0.0)
    assert c.comparison.metric("loss").best == (a, b)  # 1 and 1.0: a tie
    d = browser.diff(a, b)
    assert d.diff == read.diff(conn, a, b, browser.config.store)
    assert d.config == (Change("bs", 8, 16),) and d.config_hidden == 0
    assert {m.name: m.better for m in d.diff.metrics} == {"acc": "b", "loss": None}
    assert d.diff.params == ()
    browser.close()


def test_info_fields_narrow_what_is_shown_not_what_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    browser, a, b = _pair(tmp_path, '[info]\nfields = ["lr", "opt.**"]\n')
    c = browser.compare([a, b])
    assert c.comparison.config_diffs == ("bs",)  # the read layer's answer is unchanged
    assert (c.config_keys, c.config_hidden) == ((), 1)
    d = browser.diff(a, b)
    assert d.diff.config == (Change("bs", 8, 16),)
    assert (d.config, d.config_hidden) == ((), 1)
    assert browser.run_detail(a).config_hidden == 2  # x and bs
    browser.close()


def test_run_table_sorts_by_metrics_and_config(fx: Fixture, browser: Browser) -> None:
    """The run browser's rows: ``read.runs_table``, a metric best first by its direction."""
    t = browser.run_table("", ["final_loss", "config.lr"], sort="final_loss")
    assert t == read.runs_table(
        browser.conn,
        "",
        ["final_loss", "config.lr"],
        sort="final_loss",
        config=browser.config.store,
    )
    assert [r.short for r in t.rows][:3] == ["vit-base", "lr1e-3", "lr1e-2"]  # lower first
    assert t.best["final_loss"] == fx.runs["vit-base"] and not t.descending
    by_lr = browser.run_table("", ["config.lr"], sort="config.lr", descending=True)
    assert [v[0] for v in by_lr.values] == [0.1, 0.1, 0.01, 0.001, 0.0005]
    assert browser.metric_columns("") == ["final_acc", "final_loss", "test_error"]
    names = [c.name for c in browser.table_columns("imagenet")]
    assert names[:7] == ["name", "status", "experiment", "started", "ended", "steps", "id"]
    assert "config.method.momentum" in names and "param.arch" in names
    assert "test_error" not in names  # only cifar's baseline logged it


def test_table_window_reads_only_the_chunks_under_it(tmp_path: Path, browser: Browser) -> None:
    ref = browser.run_detail(browser.search("vit-base")[0].id).tables[0]
    assert ref.run_label == "vit-base"
    win = browser.table_window(ref, 2, 3, 3, 3, lead=(1,))
    assert win.data.shape == (3, 3) and win.lead == (1,)
    expected = np.linspace(-1, 1, 4 * 6 * 7).reshape(4, 6, 7)[1, 2:5, 3:6]
    assert np.allclose(win.data, expected)
    edge = browser.table_window(ref, 100, 100, 3, 3)
    assert (edge.row0, edge.col0) == (3, 4)  # clamped to a full window


def test_actions_write_events_that_survive_a_reindex(fx: Fixture, browser: Browser) -> None:
    rid = fx.runs["lr1e-2"]
    browser.delete_run(rid)
    todo = browser.add_todo("check the loss spike", 2, "run", rid)
    browser.set_todo_done(todo, True)
    staged = {s.section for s in list_staged(Repository(fx.root))}
    assert "events" in staged
    before = ([r.id for r in browser.runs("")], browser.todos())
    browser.close()
    indexer = Indexer(Repository(fx.root))
    indexer.rebuild()
    indexer.close()
    again = Browser(fx.root, clock=fixed_clock)
    assert ([r.id for r in again.runs("")], again.todos()) == before
    assert rid not in [r.id for r in again.runs("")]
    assert next(t for t in again.todos() if t.id == todo).done is True
    again.close()
    with pytest.raises(InvalidInput, match="priority"):
        Browser(fx.root).add_todo("x", 7)


def test_reader_cannot_write(fx: Fixture) -> None:
    conn = open_reader(fx.root / "index.db")
    with pytest.raises(Exception, match=r"not authorized|readonly"):
        conn.execute("DELETE FROM runs")


# --- charts, heatmaps, DAG -------------------------------------------------------------------


def test_chart_pins_the_x_axis_and_fills_left_to_right() -> None:
    line = chart.Line("a", np.arange(10), np.linspace(1, 0, 10), "red")
    assert chart.x_range([line], 99) == (0.0, 99.0)
    assert chart.x_range([line], None) == (0.0, 9.0)
    lines = chart.render([line], 40, 6, x_max=99)
    assert len(lines) == 8 and lines[-1].plain.strip().endswith("99")
    plot = [t.plain[chart.Y_LABEL + 1 :] for t in lines[:6]]
    used = [i for row in plot for i, ch in enumerate(row) if ch.strip()]
    assert max(used) < 8  # 10 of 100 steps: only the left tenth is drawn


def test_chart_reduction_keeps_spikes_and_nan_breaks_lines() -> None:
    steps = np.arange(100_000)
    values = np.zeros(100_000)
    values[50_000] = 10.0
    px = steps / steps[-1] * 79
    x, y = chart.reduce_columns(px, 79 - values / 10 * 79)
    assert len(x) == 4 * 80 and y.min() == 0.0  # the spike survives
    bits, owner = chart.canvas(
        [chart.Line("a", np.arange(5), np.array([0, 1, np.nan, 3, 4.0]), "red")],
        10,
        4,
        (0, 4),
        (0, 4),
    )
    assert bits.any() and owner.max() == 1
    assert "no finite points" in chart.render([], 40, 4)[2].plain


def test_catmull_rom_passes_through_the_points() -> None:
    px = np.array([0.0, 10.0, 20.0, 30.0])
    py = np.array([0.0, 8.0, 2.0, 6.0])
    x, y = chart.catmull_rom(px, py)
    for a, b in zip(px, py, strict=True):
        i = int(np.argmin(np.abs(x - a)))
        assert x[i] == pytest.approx(a) and y[i] == pytest.approx(b)
    assert len(x) > 20


def test_highlight_rules_first_match_wins_and_colours() -> None:
    cfg = tui_config(
        parse(
            '[[tables.highlight]]\neq = 1\ncolor = "none"\n[[tables.highlight]]\nmin = 0.5\ncolor = "#ff6600"\n'
            '[[tables.highlight]]\npattern = "nan"\ncolor = "darkgray"\n'
        )
    ).tables

    def style(v: float) -> Style | None:
        return heatmap.cell_style(np.float64(v), heatmap.cell_text(v, "f"), "rules", 0, 1, cfg)

    assert style(1.0) == Style()  # "none" matched first: the terminal's colour, not #ff6600
    assert style(0.7) == Style(color="#ff6600", bold=True)
    assert style(float("nan")) == Style(color="bright_black", bold=True)  # pattern on the text
    assert style(0.1) is None  # no rule matches
    lines = heatmap.render(np.array([[1.0, 0.7, np.nan, 0.1]]), mode="rules", rules=cfg)
    assert [s.style for s in lines[1].spans] == [style(0.7), style(float("nan"))]
    assert heatmap.terminal_color("orange") == "#ff8700"
    assert TablesConfig((HighlightRule("red", min=0.0),)).rule_for(True) is None


def test_heatmap_scales_to_the_window() -> None:
    lines = heatmap.render(np.array([[0.0, 5.0, 10.0]]))
    bgs = [
        s.style.bgcolor.name
        for s in lines[1].spans
        if isinstance(s.style, Style) and s.style.bgcolor
    ]
    assert bgs == [heatmap.ramp(0.0), heatmap.ramp(0.5), heatmap.ramp(1.0)]


def test_dag_layout_puts_generations_in_columns() -> None:
    nodes = [
        LineageNode("run", "b", "p#b", 0, "root", True),
        LineageNode("run", "a", "p#a", 1, "ancestor", True),
        LineageNode("model", "m", "m@1", 1, "descendant", True),
    ]
    edges = [
        LineageEdge("run", "a", "run", "b", "derived_from"),
        LineageEdge("run", "b", "model", "m", "registered"),
        LineageEdge("run", "a", "model", "m", "x"),
    ]
    text = "\n".join(t.plain for t in dag.render(nodes, edges, root=("run", "b")))
    assert "◆ p#a" in text and "▶◆ p#b" in text and "▶▣ m@1" in text
    assert "p#a ─x─▶ m@1" in text  # skips a generation: listed below the drawing
    assert dag.order(nodes, edges) == [("run", "a"), ("run", "b"), ("model", "m")]


# --- docs ------------------------------------------------------------------------------------


def test_docs_list_every_key_and_setting() -> None:
    import dataclasses

    from extract.display import settings as cfg
    from extract.store import config as store_cfg
    from extract.tui.keys import KEYMAP

    doc = (REPO / "docs" / "tui.md").read_text()
    table = doc[doc.index("## Every key") : doc.index("## Settings")]
    for _, rows in KEYMAP:
        for keys, _ in rows:
            for token in keys.replace("/", " ").split():
                assert token in table, f"docs/tui.md does not list the key {token!r}"
    settings = doc[doc.index("## Settings") :]
    for section, klass in (
        ("summary", cfg.SummaryConfig),
        ("info", cfg.InfoConfig),
        ("compare", cfg.CompareConfig),
        ("metrics", store_cfg.MetricsConfig),
        ("notifications", cfg.NotificationsConfig),
    ):
        for f in dataclasses.fields(klass):
            assert f"[{section}] {f.name}" in settings or f"`{f.name}`" in settings, (
                section,
                f.name,
            )
    for key in (*cfg.THEME_DEFAULTS, "eq", "min", "max", "pattern", "color"):
        assert f"`{key}`" in settings or f" {key}" in settings, key
    for key in ("fg", "bg", "accent"):
        assert cfg.THEME_DEFAULTS[key] in settings
