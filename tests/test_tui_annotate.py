"""Annotating runs from the TUI (issue 14, section 5), driven through textual's pilot.

Each test presses the key, types into the popup and submits, then checks the answer
through the one read layer (``extract.index.read``) on its own connection, and where it
matters through the real ``extract`` command: the TUI records the same events as the
SDK and the CLI, so another process and another store see them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from extract import sync
from extract.index import read
from extract.index.access import open_index
from extract.index.models import RunDetail
from extract.store.history import list_staged
from extract.store.repo import Repository
from extract.tui.app import ExtractApp
from extract.tui.screens.annotate import AnnotateRun
from extract.tui.screens.browser import RunBrowser
from extract.tui.screens.main import RUN_KEYS, MainScreen
from extract.tui.screens.popups import TodoAdd
from extract.tui.widgets.views import TodoView
from extract.tui.widgets.vtable import VirtualTable
from tests.cli import extract
from tests.test_tui_fixture import Fixture, build, fixed_clock, press, screen_text, settle
from tests.test_tui_pilot import goto

SIZE = (130, 44)


@pytest.fixture
def fx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fixture:
    monkeypatch.chdir(tmp_path)
    return build(tmp_path)


def app_for(fx: Fixture) -> ExtractApp:
    return ExtractApp(fx.root, clock=fixed_clock, refresh_interval=0)


@contextmanager
def reading(root: Path) -> Iterator[Any]:
    """A reader connection of our own, caught up with the store as any process opens it."""
    index = open_index(Repository(root))
    try:
        yield index.reader()
    finally:
        index.close()


def detail_of(root: Path, run_id: str) -> RunDetail:
    with reading(root) as conn:
        return read.get_run(conn, run_id)


def staged_events(root: Path) -> int:
    return sum(1 for s in list_staged(Repository(root)) if s.section == "events")


async def type_text(app: ExtractApp, pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)
    await settle(app, pilot, 2)


def test_tag_untag_and_note_from_the_runs_view(fx: Fixture) -> None:
    rid = fx.runs["lr1e-2"]
    before = detail_of(fx.root, rid)
    assert "sweep" in before.run.tags and "needs-review" not in before.run.tags

    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await goto(app, pilot, fx, "lr1e-2")
            assert RUN_KEYS in screen_text(app)  # the status bar says how
            await press(app, pilot, "T")
            assert isinstance(app.screen, AnnotateRun) and app.screen.kind == "tag"
            assert "Add tag" in screen_text(app) and "sweep" in screen_text(app)
            await type_text(app, pilot, "needs review")
            await press(app, pilot, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, MainScreen)
            # the detail panel shows it at once, without waiting for a refresh
            assert "needs review" in screen_text(app)
            assert "needs review" in detail_of(fx.root, rid).run.tags

            await press(app, pilot, "U")
            untag = app.screen
            assert isinstance(untag, AnnotateRun) and untag.kind == "untag"
            await type_text(app, pilot, "sweep")
            await press(app, pilot, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, MainScreen)

            await press(app, pilot, "N")
            await type_text(app, pilot, "warmup too short")
            await press(app, pilot, "enter")
            await settle(app, pilot)
            assert isinstance(app.screen, MainScreen)
            assert any("note added" in n.message for n in app._notifications)
            await press(app, pilot, "2")  # no run to act on in the Dashboard: no reminder
            assert RUN_KEYS not in screen_text(app)
            await press(app, pilot, "T")
            assert isinstance(app.screen, MainScreen)

    asyncio.run(go())
    after = detail_of(fx.root, rid)
    assert set(after.run.tags) == (set(before.run.tags) - {"sweep"}) | {"needs review"}
    assert "warmup too short" in after.notes
    # another process, the real CLI, reads the same answer
    r = extract("show", rid, "--json", "--store", str(fx.root), cwd=fx.cwd)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert "needs review" in shown["tags"] and "sweep" not in shown["tags"]
    assert "warmup too short" in shown["notes"]


def test_bad_input_is_refused_in_the_dialog_and_changes_nothing(fx: Fixture) -> None:
    rid = fx.runs["lr1e-3"]
    before = detail_of(fx.root, rid)
    events = staged_events(fx.root)

    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await goto(app, pilot, fx, "lr1e-3")
            for key, typed, said in (
                ("T", "", "a tag must be non-empty text"),
                ("T", "   ", "a tag must be non-empty text"),
                ("T", "x" * 201, "201 characters; at most 200"),
                ("U", "nope", "has no tag 'nope'; it has: "),
                ("N", "  ", "a note must be non-empty text"),
            ):
                await press(app, pilot, key)
                popup = app.screen
                assert isinstance(popup, AnnotateRun)
                await type_text(app, pilot, typed)
                await press(app, pilot, "enter")
                await settle(app, pilot)
                still = app.screen
                assert isinstance(still, AnnotateRun) and still is popup  # open, saying why
                assert said in still.error and "\n" not in still.error
                assert said[:20] in screen_text(app)
                await press(app, pilot, "escape")
                assert isinstance(app.screen, MainScreen)
            # an empty TODO is refused the same way
            await press(app, pilot, "a", "enter")
            assert isinstance(app.screen, TodoAdd)
            assert "type the TODO first" in screen_text(app)
            await press(app, pilot, "escape")

    asyncio.run(go())
    after = detail_of(fx.root, rid)
    assert (after.run.tags, after.notes, len(after.todos)) == (
        before.run.tags,
        before.notes,
        len(before.todos),
    )
    assert staged_events(fx.root) == events


def test_run_browser_annotates_the_row_and_the_todo_view_marks_done(fx: Fixture) -> None:
    rid = fx.runs["lr1e-1"]

    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await press(app, pilot, "b")
            browser = app.screen
            assert isinstance(browser, RunBrowser)
            table = browser.query_one(VirtualTable)
            index = next(i for i, r in enumerate(table.rows) if r is not None and r.id == rid)
            for _ in range(index):
                await pilot.press("down")
            await settle(app, pilot)
            assert table.current.id == rid
            await press(app, pilot, "T")
            await type_text(app, pilot, "discard")
            await press(app, pilot, "enter")
            await settle(app, pilot)
            assert app.screen is browser
            assert "discard" in screen_text(app)  # the row redrawn with its new tag
            await press(app, pilot, "a")
            assert isinstance(app.screen, TodoAdd) and app.screen.scope == "run"
            await type_text(app, pilot, "delete it")
            await press(app, pilot, "enter")
            await settle(app, pilot)
            assert app.screen is browser
            await press(app, pilot, "escape", "5")
            todos = app.screen.query_one(TodoView).query_one(VirtualTable)
            index = next(i for i, t in enumerate(todos.rows) if t.content == "delete it")
            await press(app, pilot, "home", *(["down"] * index), "space")
            await settle(app, pilot)

    asyncio.run(go())
    detail = detail_of(fx.root, rid)
    assert "discard" in detail.run.tags
    [todo] = [t for t in detail.todos if t.content == "delete it"]
    assert (todo.scope_type, todo.scope_id, todo.done) == ("run", rid, True)


def test_a_tag_added_in_the_tui_travels_to_another_store(fx: Fixture, tmp_path: Path) -> None:
    rid = fx.runs["baseline"]

    async def go() -> None:
        app = app_for(fx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await goto(app, pilot, fx, "baseline")
            await press(app, pilot, "T")
            await type_text(app, pilot, "shared")
            await press(app, pilot, "enter")
            await settle(app, pilot)

    asyncio.run(go())
    other = tmp_path / "laptop" / ".extract"
    Repository.init(other, ("benchmark", "model", "variant"))
    sync.merge_db(fx.root, other)  # commits what is staged here, then pulls it there
    r = extract("show", rid, "--json", "--store", str(other), cwd=other.parent)
    assert r.returncode == 0, r.stderr
    assert "shared" in json.loads(r.stdout)["tags"]
