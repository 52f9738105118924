"""Every view and key of the TUI, driven through textual's pilot on the fixture store."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style

from extract.display.settings import THEME_DEFAULTS
from extract.store.history import list_staged
from extract.store.repo import Repository
from extract.tui.app import FOREVER, ExtractApp
from extract.tui.keys import KEYMAP, all_keys
from extract.tui.screens.browser import ColumnPicker, RunBrowser
from extract.tui.screens.common import goto_run
from extract.tui.screens.compare import CompareScreen, DiffScreen
from extract.tui.screens.lists import RunPicker, SearchScreen, SelectionScreen
from extract.tui.screens.main import MainScreen
from extract.tui.screens.popups import ConfirmDelete, HelpScreen, TodoAdd
from extract.tui.screens.tableview import TableScreen
from extract.tui.widgets.detail import DetailPanel
from extract.tui.widgets.navigator import Navigator
from extract.tui.widgets.views import DashboardView, LineageView, RegistryView, TodoView
from extract.tui.widgets.vtable import VirtualTable
from tests.test_tui_fixture import CONFIG, Fixture, build, fixed_clock, press, screen_text, settle

SIZE = (130, 44)


@pytest.fixture
def fx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fixture:
    monkeypatch.chdir(tmp_path)
    return build(tmp_path)


def app_for(fx: Fixture, refresh: float = 0) -> ExtractApp:
    return ExtractApp(fx.root, clock=fixed_clock, refresh_interval=refresh)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def goto(app: ExtractApp, pilot: Any, fx: Fixture, name: str) -> None:
    goto_run(app, fx.runs[name])
    await settle(app, pilot)


def detail(app: ExtractApp) -> DetailPanel:
    return app.screen.query_one(DetailPanel)


def test_first_paint_shows_the_tree_and_the_store_summary(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            text = screen_text(app)
            assert "1 Runs" in text and "5 TODO" in text  # tab bar
            assert "▼ all experiments 5" in text and "imagenet 4" in text
            assert "all experiments  5 runs" in text  # summary of the root node
            assert "val_loss" in text  # overlaid curves of the newest runs
            assert ".extract · 5 runs" in text  # status bar
            assert isinstance(app.focused, Navigator)

    run(go())


def test_navigator_keys_move_expand_collapse_and_focus(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            nav = app.screen.query_one(Navigator)
            await press(app, pilot, "down")  # cifar
            assert nav.current() == ("exp", "cifar")
            assert detail(app).key == ("node", "cifar")
            await press(app, pilot, "left")  # collapse cifar
            assert not nav.cursor_node.is_expanded  # type: ignore[union-attr]
            await press(app, pilot, "right", "right")  # expand, then into its first child
            assert nav.current() == ("exp", "cifar/resnet18")
            await press(app, pilot, "enter", "down", "enter", "down")  # resnet18, baseline, its run
            assert nav.current() == ("run", fx.runs["baseline"])
            assert detail(app).key == ("run", fx.runs["baseline"])
            await press(app, pilot, "k", "j")
            assert nav.current() == ("run", fx.runs["baseline"])
            await press(app, pilot, "left")  # a leaf: to its parent
            assert nav.current() == ("exp", "cifar/resnet18/baseline")
            await press(app, pilot, "tab")
            assert isinstance(app.focused, type(app.screen.query_one("#summary")))

    run(go())


def test_detail_tabs_curve_focus_smoothing_and_provenance(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await goto(app, pilot, fx, "lr1e-3")
            text = screen_text(app)
            assert "imagenet/resnet50/lr-sweep#lr1e-3" in text
            assert re.search(r"code\s+[0-9a-f]{12} \(main\)\s+dirty", text)
            assert "stamp       c0ffeec0ffee" in text
            assert re.search(r"record\s+[0-9a-f]{64}", text)
            assert "x pinned to [0, 49]" in text
            await press(app, pilot, "I")
            text = screen_text(app)
            assert "method.momentum" in text and "Params" in text
            assert detail(app).tab == "info"
            await press(app, pilot, "S", "tab", "right")
            assert detail(app).focus_index == 0
            assert "curve focus 1/2" in screen_text(app)
            await press(app, pilot, "right", "right")
            assert detail(app).focus_index == -1  # all charts again
            await press(app, pilot, "left")
            assert detail(app).focus_index == 1
            assert app.smooth is False
            await press(app, pilot, "z")
            assert app.smooth is True

    run(go())


def test_view_tabs_cycle_with_h_l_and_digits(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, MainScreen)
            seen = []
            for _ in range(5):
                await press(app, pilot, "l")
                seen.append(screen.view)
            assert seen == ["dashboard", "models", "lineage", "todo", "runs"]
            await press(app, pilot, "h")
            assert screen.view == "todo"
            for digit, view in zip(
                "12345", ["runs", "dashboard", "models", "lineage", "todo"], strict=True
            ):
                await press(app, pilot, digit)
                assert screen.view == view

    run(go())


def test_dashboard_models_and_todo_views(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "2")
            text = screen_text(app)
            assert "✗ 1 failed" in text and "1 deleted" in text and "Open TODOs" in text
            assert isinstance(app.focused, DashboardView)
            await press(app, pilot, "3")
            text = screen_text(app)
            assert "resnet50-imagenet@v1.0" in text and re.search(r"content\s+[0-9a-f]{64}", text)
            await press(app, pilot, "enter")  # go to the run that registered it
            assert app.screen.view == "runs"  # type: ignore[attr-defined]
            assert detail(app).key == ("run", fx.runs["lr1e-3"])
            await press(app, pilot, "5")
            table = app.screen.query_one("#todo-table", VirtualTable)
            assert [t.priority for t in table.rows] == [2, 1, 0]
            await press(app, pilot, "space")  # the high-priority one is done
            assert table.rows[0].done is True
            assert "[x]" in screen_text(app)
            await press(app, pilot, "f")
            assert all(not t.done for t in table.rows) and len(table.rows) == 2
            await press(app, pilot, "f", "home", "enter")
            assert table.rows[0].done is False  # reopened
            ops = {s.key for s in list_staged(Repository(fx.root)) if s.section == "events"}
            assert len(ops) >= 2

    run(go())


def test_mark_select_compare_and_diff(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "c")
            assert isinstance(app.screen, MainScreen)  # nothing marked: a warning, no screen
            for name in ("lr1e-3", "lr1e-2", "lr1e-1"):
                await goto(app, pilot, fx, name)
                await press(app, pilot, "m" if name == "lr1e-1" else "space")
            assert list(app.marks) == [fx.runs["lr1e-3"], fx.runs["lr1e-2"], fx.runs["lr1e-1"]]
            assert "◆ 3 marked" in screen_text(app)
            await press(app, pilot, "v")
            assert isinstance(app.screen, SelectionScreen)
            await press(app, pilot, "down", "down", "space")  # unmark lr1e-1
            assert len(app.marks) == 2
            await press(app, pilot, "c")
            assert isinstance(app.screen, CompareScreen)
            text = screen_text(app)
            order = [
                text.index(h)
                for h in ("Headline metrics", "Config differences", "Tables", "Curves")
            ]
            assert order == sorted(order)  # [compare] sections order
            assert "★ 0.91" in text and "★ 0.12" in text
            pivot = app.screen.query_one("#cmp-pivot")
            best = _styled_cells(pivot, "★ 0.91")
            assert best and best[0].color.name == THEME_DEFAULTS["success"]  # type: ignore[union-attr]
            assert "method.momentum" in text and "0.8" in text
            await press(app, pilot, "right")
            assert isinstance(app.screen, CompareScreen) and app.screen.focus_index == 0
            await press(app, pilot, "left", "j", "k")
            await press(app, pilot, "t")
            assert isinstance(app.screen, TableScreen) and len(app.screen.refs) == 2
            await press(app, pilot, "escape", "d")
            assert isinstance(app.screen, DiffScreen)
            text = screen_text(app)
            assert "a better" in text and "git_stamp" in text
            first = app.screen.a
            await press(app, pilot, "w")
            assert app.screen.b == first
            await press(app, pilot, "escape", "escape")
            assert isinstance(app.screen, MainScreen)
            await press(app, pilot, "d")  # two marked: diff them
            assert isinstance(app.screen, DiffScreen)
            await press(app, pilot, "q", "v", "C")
            assert app.marks == {}
            await press(app, pilot, "escape")

    run(go())


def _styled_cells(widget: Any, needle: str) -> list[Style]:
    """Styles of the spans covering ``needle`` in a Static's rendered content."""
    from rich.console import Console

    console = Console(width=200, record=True, color_system="truecolor")
    console.print(widget.renderable if hasattr(widget, "renderable") else widget.content)
    out = []
    for seg in console._record_buffer:
        if needle in seg.text and seg.style is not None:
            out.append(seg.style)
    return out


def test_diff_against_a_picked_run(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "d")
            assert isinstance(app.screen, MainScreen)  # nothing selected
            await goto(app, pilot, fx, "lr1e-2")
            await press(app, pilot, "d")
            assert isinstance(app.screen, RunPicker)
            for ch in "vit":
                await press(app, pilot, ch)
            await press(app, pilot, "enter")
            assert isinstance(app.screen, DiffScreen)
            assert (app.screen.a, app.screen.b) == (fx.runs["lr1e-2"], fx.runs["vit-base"])
            assert "patch" in screen_text(app)  # config key only one side has

    run(go())


def test_search_popup_filters_marks_and_goes_to_a_run(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "slash")
            assert isinstance(app.screen, SearchScreen)
            for ch in "status:failed":
                await pilot.press(ch)
            await settle(app, pilot)
            table = app.screen.query_one(VirtualTable)
            assert [r.short for r in table.rows] == ["lr1e-1"]
            await press(app, pilot, "tab", "space")
            assert fx.runs["lr1e-1"] in app.marks
            await press(app, pilot, "shift+tab", "enter")
            assert isinstance(app.screen, MainScreen)
            assert detail(app).key == ("run", fx.runs["lr1e-1"])
            await press(app, pilot, "slash", "escape")
            assert isinstance(app.screen, MainScreen)

    run(go())


def test_run_picker_and_run_browser(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "g")
            assert isinstance(app.screen, RunPicker)
            for ch in "base":
                await pilot.press(ch)
            await settle(app, pilot)
            await press(app, pilot, "enter")
            key = detail(app).key
            assert key is not None and key[1] in (
                fx.runs["vit-base"],
                fx.runs["baseline"],
            )
            await press(app, pilot, "g", "escape", "b")
            assert isinstance(app.screen, RunBrowser)
            browser = app.screen
            table = browser.query_one(VirtualTable)
            assert len(table.rows) == 5
            assert [c.name for c in browser.columns] == ["final_acc", "final_loss", "test_error"]
            assert browser.cells[fx.runs["lr1e-3"]][0] == 0.91  # read with the page
            orders = []
            for _ in range(4):
                await press(app, pilot, "o")
                orders.append(browser.order)
            assert orders == ["oldest", "name", "status", "newest"]
            await press(app, pilot, "end", "home", "pagedown", "pageup", "down", "up", "space")
            assert len(app.marks) == 1
            await press(app, pilot, "x")
            assert isinstance(app.screen, ConfirmDelete)
            await press(app, pilot, "n")
            assert isinstance(app.screen, RunBrowser) and len(table.rows) == 5
            await press(app, pilot, "up", "x", "y")
            await settle(app, pilot)
            assert len(table.rows) == 4
            await press(app, pilot, "escape")
            assert isinstance(app.screen, MainScreen)

    run(go())


def _names(browser: RunBrowser) -> list[str]:
    return [r.short for r in browser.query_one(VirtualTable).rows]


async def _sort_by(app: ExtractApp, pilot: Any, text: str) -> None:
    await press(app, pilot, "s")
    assert isinstance(app.screen, ColumnPicker)
    for ch in text:
        await pilot.press(ch)
    await settle(app, pilot)
    await press(app, pilot, "enter")


def test_run_browser_sorts_by_any_metric_or_config_column(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=(160, 30)) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "b")
            screen = app.screen
            assert isinstance(screen, RunBrowser)
            browser: RunBrowser = screen
            await press(app, pilot, "s")
            picker = app.screen
            assert isinstance(picker, ColumnPicker)
            listed = [c.name for c in picker.query_one(VirtualTable).rows]
            assert {"final_loss", "config.lr", "config.method.momentum", "param.arch"} <= set(
                listed
            )
            await press(app, pilot, "escape")
            assert app.screen == browser
            assert browser.sort is None

            # a loss: lower is better, so the best run comes first
            await _sort_by(app, pilot, "final_lo")
            assert app.screen == browser and browser.sort == "final_loss"
            assert _names(browser) == ["vit-base", "lr1e-3", "lr1e-2", "lr1e-1", "baseline"]
            text = screen_text(app)
            assert "by final_loss ▲ (best first)" in text and "final_lo…▲" in text
            await press(app, pilot, "r")
            assert _names(browser)[:4] == ["lr1e-1", "lr1e-2", "lr1e-3", "vit-base"]
            assert "by final_loss ▼ (worst first)" in screen_text(app)

            # a config key: ascending, shown as a column next to the metric chosen before
            await _sort_by(app, pilot, "config.lr")
            assert browser.sort == "config.lr"
            assert [c.name for c in browser.columns][:2] == ["config.lr", "final_loss"]
            assert _names(browser)[:2] == ["vit-base", "lr1e-3"]  # 0.0005, 0.001
            lrs = [browser.cells[r.id][0] for r in browser.query_one(VirtualTable).rows]
            assert lrs == sorted(lrs)
            await press(app, pilot, "r")
            assert [browser.cells[r.id][0] for r in browser.query_one(VirtualTable).rows] == (
                sorted(lrs, reverse=True)
            )

            # a name typed that is not listed is taken as typed; presets still cycle
            await _sort_by(app, pilot, "steps")
            assert browser.sort == "steps" and "steps" in [c.name for c in browser.columns]
            await press(app, pilot, "o")
            assert browser.order == "newest" and browser.sort is None
            await press(app, pilot, "r")
            assert browser.order == "oldest"
            await press(app, pilot, "escape")

    run(go())


def test_run_browser_reads_pages_as_they_scroll_into_view(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from extract.tui.screens import browser

    monkeypatch.setattr(browser, "PAGE", 1)

    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=(160, 5)) as pilot:  # room for one row
            await settle(app, pilot)
            await press(app, pilot, "b")
            browser = app.screen
            assert isinstance(browser, RunBrowser)
            rows = browser.query_one(VirtualTable).rows
            assert len(rows) == 5 and rows[2:] == [None, None, None]  # not near the screen
            await press(app, pilot, "end")  # the last row and the one before it are read
            assert rows[2] is None and None not in rows[3:]
            await press(app, pilot, "up", "up")
            assert [r.short for r in rows] == [r.short for r in app.browser.runs("")]
            await press(app, pilot, "space")
            third: Any = browser.query_one(VirtualTable).rows[2]
            assert list(app.marks) == [third.id]

    run(go())


def test_delete_from_the_navigator_hides_the_run(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await goto(app, pilot, fx, "lr1e-1")
            await press(app, pilot, "x")
            assert isinstance(app.screen, ConfirmDelete)
            assert "hidden by a delete event" in screen_text(app)
            await press(app, pilot, "escape", "delete", "y")
            await settle(app, pilot)
            assert isinstance(app.screen, MainScreen)
            nav = app.screen.query_one(Navigator)
            assert fx.runs["lr1e-1"] not in [
                n.data[1] for n in nav._run_nodes.values() if n.data is not None
            ]
            assert fx.runs["lr1e-1"] not in [r.id for r in app.browser.runs("")]
            assert any(n.message == "" or "deleted" in n.message for n in app._notifications)

    run(go())


def test_table_viewer_keys(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "t")
            assert isinstance(app.screen, MainScreen)  # no run selected
            await goto(app, pilot, fx, "vit-base")
            await press(app, pilot, "t")
            screen = app.screen
            assert isinstance(screen, TableScreen)
            assert screen.window is not None and screen.window.data.shape == (6, 7)
            assert "heatmap" in screen_text(app) and "scale of this window" in screen_text(app)
            await press(app, pilot, "H")
            assert screen.mode == "rules" and "first match wins" in screen_text(app)
            await press(app, pilot, "H", "full_stop", "full_stop")
            assert screen.lead == (2,)
            await press(app, pilot, "comma")
            assert screen.lead == (1,)
            await press(
                app, pilot, "down", "right", "up", "left", "pagedown", "pageup", "end", "home"
            )
            assert (screen.row0, screen.col0) == (0, 0)
            await press(app, pilot, "right_square_bracket", "left_square_bracket", "escape")
            assert isinstance(app.screen, MainScreen)

    run(go())


def test_big_table_reads_only_visible_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from extract import Store

    monkeypatch.chdir(tmp_path)
    with Store(tmp_path / ".extract") as store:
        (tmp_path / ".extract" / "config.toml").write_text('[store]\nhierarchy = "a"\n')
        store._repo._config = None
        exp = store.experiment({"a": "big"})
        with exp.run(name="big") as r:
            r.log_table("m", np.arange(2000 * 2000, dtype=np.float64).reshape(2000, 2000))
            rid = r.id

    async def go() -> None:
        app = ExtractApp(tmp_path / ".extract", clock=fixed_clock, refresh_interval=0)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            goto_run(app, rid)
            await settle(app, pilot)
            await press(app, pilot, "t")
            screen = app.screen
            assert isinstance(screen, TableScreen)
            assert screen.chunks_read <= 2  # of 32 chunks of 1 MiB
            await press(app, pilot, "end")
            assert screen.window is not None and screen.window.row0 > 1900
            assert screen.chunks_read <= 4

    run(go())


def test_lineage_view_keys(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "4")
            assert "press L" in screen_text(app)
            await goto(app, pilot, fx, "lr1e-3")
            await press(app, pilot, "L")
            view = app.screen.query_one(LineageView)
            assert app.screen.view == "lineage"  # type: ignore[attr-defined]
            text = screen_text(app)
            assert (
                "◆ imagenet/resnet50/lr-sweep#lr1e-3" in text and "▣ resnet50-imagenet@v1.0" in text
            )
            assert "▶◆ imagenet/vit/base#vit-base" in text
            await press(app, pilot, "minus")
            assert view.depth == 1
            await press(app, pilot, "plus", "plus")
            assert view.depth == 3
            await press(app, pilot, "o")
            assert view.direction == "ancestors"
            await press(app, pilot, "o", "o", "down")
            assert view.selected != view.root
            while view.selected is not None and view.selected[1] != fx.runs["vit-base"]:
                await press(app, pilot, "j")
            await press(app, pilot, "enter")
            assert view.root == ("run", fx.runs["vit-base"])
            assert "model:" not in screen_text(app).split("\n")[2]
            await press(app, pilot, "k", "g")
            assert app.screen.view == "runs"  # type: ignore[attr-defined]
            await press(app, pilot, "3", "L")
            assert view.root is not None and view.root[0] == "model"

    run(go())


def test_add_todo_with_priority_and_scope(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await goto(app, pilot, fx, "lr1e-2")
            await press(app, pilot, "a")
            popup = app.screen
            assert isinstance(popup, TodoAdd) and popup.scope == "run"
            await press(app, pilot, "ctrl+p", "ctrl+p")
            assert popup.priority == 2
            await press(app, pilot, "ctrl+g")
            assert popup.scope == "global"
            await press(app, pilot, "ctrl+g")
            await press(app, pilot, "enter")
            assert isinstance(app.screen, TodoAdd)  # empty text is refused
            for ch in "rerun":
                await pilot.press(ch)
            await press(app, pilot, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, MainScreen)
            todos = app.browser.todos()
            new = next(t for t in todos if t.content == "rerun")
            assert (new.priority, new.scope_type, new.scope_id) == (2, "run", fx.runs["lr1e-2"])
            await press(app, pilot, "5")
            assert "rerun" in screen_text(app)
            await press(app, pilot, "a", "escape")
            assert isinstance(app.screen, MainScreen)

    run(go())


def test_help_lists_every_key_and_closes(fx: Fixture) -> None:
    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=(130, 200)) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = screen_text(app)
            for group, rows in KEYMAP:
                assert group in text
                for keys, _ in rows:
                    assert keys in text, keys
            await press(app, pilot, "j", "k", "question_mark")
            assert isinstance(app.screen, MainScreen)

    run(go())


def _binding_keys() -> set[str]:
    classes: list[Any] = [
        MainScreen,
        Navigator,
        DetailPanel,
        VirtualTable,
        RegistryView,
        LineageView,
        TodoView,
        SearchScreen,
        RunPicker,
        RunBrowser,
        ColumnPicker,
        SelectionScreen,
        CompareScreen,
        DiffScreen,
        TableScreen,
        ConfirmDelete,
        HelpScreen,
        TodoAdd,
    ]
    from extract.tui.widgets.detail import DetailBody

    classes.append(DetailBody)
    keys: set[str] = set()
    for cls in classes:
        for b in cls.BINDINGS:
            keys.update(k.strip() for k in b.key.split(","))
    return keys


SHOWN = {
    "question_mark": "?",
    "slash": "/",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "comma": ",",
    "full_stop": ".",
    "plus": "+",
    "equals_sign": "+",
    "minus": "-",
    "pageup": "pgup",
    "pagedown": "pgdn",
}


def test_every_binding_is_in_the_keymap() -> None:
    listed = " ".join(all_keys())
    missing = [
        k
        for k in _binding_keys()
        if SHOWN.get(k, k) not in listed.split() and SHOWN.get(k, k) not in listed
    ]
    assert missing == []


def test_notifications_use_the_configured_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fx = build(tmp_path, config=CONFIG.replace("timeout = 3", "timeout = 0"))

    async def go(fx: Fixture, expected: float) -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.say("hello")
            await settle(app, pilot)
            note = list(app._notifications)[-1]
            assert note.timeout == expected

    run(go(fx, FOREVER))
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    run(go(build(other), 3))


def test_theme_colours_come_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fx = build(tmp_path, config=CONFIG + '\n[theme]\naccent = "#ff0000"\nborder = "#00ff00"\n')

    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            theme = app.get_theme("extract")
            assert theme is not None
            assert theme.primary == "#ff0000"
            assert theme.background == THEME_DEFAULTS["bg"]  # left out: the seed's default
            assert app.get_css_variables()["x-border"] == "#00ff00"
            nav = app.screen.query_one(Navigator)
            assert nav.styles.border_top[1].hex.lower() in ("#89b4fa", "#00ff00")

    run(go())


def test_live_run_grows_without_a_keypress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fx = build(tmp_path, live=True)
    run_obj = fx.live
    stop = threading.Event()

    def log() -> None:
        step = 10
        while not stop.is_set() and step < 100:
            run_obj.curve(step, loss=1.0 / (step + 1))
            run_obj.flush()
            step += 1
            time.sleep(0.05)

    async def go() -> None:
        app = app_for(fx, refresh=1.0)  # the default: the index is refreshed every second
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await goto(app, pilot, fx, "live-run")
            text = screen_text(app)
            assert "● running" in text and "10 points in 1 curves" in text
            assert "x pinned to [0, 99]" in text
            thread = threading.Thread(target=log)
            t0 = time.monotonic()
            thread.start()
            grew_at = None
            # how soon is measured in bench/ (live: journal to screen); here only that
            # the points arrive with no keypress, on however loaded a machine
            while time.monotonic() - t0 < 30:
                await pilot.pause(0.1)
                m = re.search(r"progress\s+(\d+) points", screen_text(app))
                if m and int(m.group(1)) >= 20:
                    grew_at = time.monotonic() - t0
                    break
            stop.set()
            thread.join()
            assert grew_at is not None  # logged points reached the screen by themselves

    try:
        run(go())
    finally:
        stop.set()
        run_obj.finish()
        if fx.store is not None:
            fx.store.close()
