"""One answer to "which store?": the SDK, the CLI, the TUI and the MCP server find the
same store from the same place ($EXTRACT_STORE, else the nearest .extract), and accept
a project directory that holds one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from extract.errors import StoreNotFound
from extract.store.repo import Repository, locate_store
from tests.cli import REPO, extract

LEVELS = ("bench",)


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    Repository.init(project / ".extract", LEVELS)
    return project


def _python(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if env is None or "EXTRACT_STORE" not in env:
        full.pop("EXTRACT_STORE", None)
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


WHERE = "from extract import Store; s = Store(); print(s.root.resolve()); s.close()"


def test_a_script_in_a_subdirectory_finds_the_projects_store(tmp_path: Path) -> None:
    project = _project(tmp_path)
    got = _python(WHERE, project / "src" / "deep")
    assert Path(got) == (project / ".extract").resolve()
    assert not (project / "src" / "deep" / ".extract").exists()  # no second, empty store


def test_the_sdk_honours_extract_store(tmp_path: Path) -> None:
    project = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    got = _python(WHERE, elsewhere, env={"EXTRACT_STORE": str(project)})
    assert Path(got) == (project / ".extract").resolve()  # a project directory is accepted
    fresh = tmp_path / "fresh-store"
    got = _python(WHERE, elsewhere, env={"EXTRACT_STORE": str(fresh)})
    assert Path(got) == fresh.resolve() and (fresh / "FORMAT").is_file()


def test_the_sdk_creates_dot_extract_where_none_is_found(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert Path(_python(WHERE, empty)) == (empty / ".extract").resolve()


def test_an_explicit_root_keeps_its_meaning(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code = f"from extract import Store; s = Store({str(project)!r}); print(s.root.resolve())"
    assert Path(_python(code, tmp_path)) == (project / ".extract").resolve()
    new = tmp_path / "a" / "new-store"
    code = f"from extract import Store; s = Store({str(new)!r}); print(s.root.resolve())"
    assert Path(_python(code, tmp_path)) == new.resolve()


def test_the_cli_finds_the_same_store_and_takes_a_project_directory(tmp_path: Path) -> None:
    project = _project(tmp_path)
    r = extract("status", "--json", cwd=project / "src" / "deep")
    assert r.returncode == 0, r.stderr
    r = extract("status", "--json", "--store", str(project), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = extract("status", "--json", cwd=tmp_path, env={"EXTRACT_STORE": str(project)})
    assert r.returncode == 0, r.stderr


def test_not_found_names_the_places_it_looked(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    r = extract("status", cwd=nowhere)
    assert r.returncode == 3
    assert r.stderr.count("\n") == 1, r.stderr
    assert str(nowhere.resolve()) in r.stderr and "every parent" in r.stderr
    r = extract("status", "--store", str(nowhere), cwd=tmp_path)
    assert r.returncode == 3
    assert f"looked in {nowhere} and {nowhere / '.extract'}" in r.stderr


def test_one_function_decides_for_every_front_end(tmp_path: Path) -> None:
    project = _project(tmp_path)
    # The MCP server and the TUI take --store the same way (a project directory here).
    for module in ("extract.mcp", "extract.tui"):
        r = subprocess.run(
            [sys.executable, "-m", module, "--store", str(tmp_path / "nowhere")],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert r.returncode == 3, (module, r.stderr)
        assert "looked in" in r.stderr
    with pytest.raises(StoreNotFound, match="looked in"):
        locate_store(tmp_path / "nowhere")
    assert locate_store(project) == project / ".extract"
    assert locate_store(start=project / "src") == project / ".extract"
