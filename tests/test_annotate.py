"""Annotating a finished run: tags, notes and TODOs from the SDK and the CLI, recorded as
events that commit, push and fetch like the run itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extract import Store
from extract.errors import InvalidInput, RunNotFound, TodoNotFound
from extract.index import read
from extract.store.repo import Repository
from tests.cli import extract


def _ok(*args: str, cwd: Path) -> str:
    r = extract(*args, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "a"
    Repository.init(p / ".extract", ("bench",))
    with Store(p / ".extract") as s:
        run = s.experiment({"bench": "b"}).run(name="alpha")
        run.tag("first")
        run.finish()
    return p


def test_the_sdk_annotates_a_finished_run_by_name(project: Path) -> None:
    with Store(project / ".extract") as s:
        a = s.annotate("alpha")
        a.tag("paper", "first")  # one already there: kept once
        a.untag("first")
        a.note("diverged after warmup")
        tid = a.todo("rerun with 3 seeds", priority=2)
        got = read.get_run(s._conn, a.id)
        assert list(got.run.tags) == ["paper"]
        assert got.notes == "diverged after warmup"
        assert [t.content for t in got.todos] == ["rerun with 3 seeds"]
        a.todo_done(tid[:8])
        assert read.list_todos(s._conn, "run", a.id).items == ()  # done: hidden by default
        with pytest.raises(RunNotFound, match="did you mean 'alpha'"):
            s.annotate("alpah")
        with pytest.raises(InvalidInput, match="non-empty"):
            a.tag("  ")
        with pytest.raises(TodoNotFound):
            a.todo_done("ZZZZZZZZ")
        assert list(read.get_run(s._conn, a.id).run.tags) == ["paper"]  # refused: unchanged


def test_the_cli_annotates_and_lists(project: Path) -> None:
    out = json.loads(_ok("tag", "alpha", "baseline", "paper", "--json", cwd=project))
    assert out["tags"] == ["first", "baseline", "paper"]
    assert "first, paper" in _ok("untag", "alpha", "baseline", cwd=project)
    _ok("note", "alpha", "looks good", cwd=project)
    tid = json.loads(
        _ok("todo", "add", "write it up", "--run", "alpha", "-p", "high", "--json", cwd=project)
    )["id"]
    _ok("todo", "add", "global chore", cwd=project)
    listed = json.loads(_ok("todo", "list", "--json", cwd=project))
    assert {t["content"] for t in listed} == {"write it up", "global chore"}
    assert "write it up" in _ok("todo", "list", "--run", "alpha", cwd=project)
    _ok("todo", "done", tid, cwd=project)
    assert "write it up" not in _ok("todo", "list", cwd=project)
    assert "[x]" in _ok("todo", "list", "--done", cwd=project)
    shown = json.loads(_ok("show", "alpha", "--json", cwd=project))
    assert shown["tags"] == ["first", "paper"] and "looks good" in shown["notes"]
    bad = extract("tag", "nosuch", "x", cwd=project)
    assert bad.returncode == 3 and bad.stderr == "error: Run not found: 'nosuch'\n"
    bad = extract("todo", "add", "x", "--priority", "urgent", cwd=project)
    assert bad.returncode == 2 and "low, mid or high" in bad.stderr


def test_tags_added_after_finish_travel_over_push_and_fetch(project: Path, tmp_path: Path) -> None:
    _ok("commit", "-m", "alpha", cwd=project)
    _ok("tag", "alpha", "late", cwd=project)
    _ok("note", "alpha", "added after the run", cwd=project)
    _ok("commit", "-m", "annotations", cwd=project)
    hub = tmp_path / "hub"
    _ok("init", "--bare", str(hub), cwd=tmp_path)
    _ok("push", "--store", str(project), str(hub), cwd=tmp_path)
    b = tmp_path / "b"
    Repository.init(b / ".extract", ("bench",))
    _ok("pull", "--store", str(b), str(hub), cwd=tmp_path)
    shown = json.loads(_ok("show", "alpha", "--json", "--store", str(b), cwd=tmp_path))
    assert shown["tags"] == ["first", "late"] and shown["notes"] == "added after the run"
