"""A damaged index.db heals itself: moved aside, rebuilt, one warning (issue 12, part 3).

Random bytes, a truncated file and a damaged header, each followed by every read
command and by ``Store()`` in a training script, in real processes on real SQLite
files: each works, says so in one warning line, and the bad file is kept aside.
Several processes finding the damage at once move it aside once and never move the
new index another one just built.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from extract.index.files import kept_aside
from extract.mcp.view import StoreView
from extract.tui.core import Browser

from .cli import REPO, extract
from .stores import copy_store, make_store


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def truncated(path: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def damaged_header(path: Path) -> None:
    with open(path, "r+b") as f:
        f.write(os.urandom(100))  # the 100-byte database header


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "random": random_bytes,
    "truncated": truncated,
    "header": damaged_header,
}
READS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "log": ("log",),
    "show": ("show", "r1"),
    "sql": ("sql", "SELECT COUNT(*) AS n FROM runs"),
    "diff": ("diff", "r0", "r1"),
    "reindex": ("reindex",),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("heal-template")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        root = make_store(base / "origin")
    assert extract("status", cwd=base / "origin").returncode == 0  # index built, closed
    assert not (root / "index.db-wal").exists()
    yield root


def corrupt_copy(template: Path, project: Path, how: str) -> Path:
    root = copy_store(template, project)
    CORRUPTIONS[how](root / "index.db")
    return root


def warnings(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize("command", list(READS))
@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_every_read_command_heals_a_damaged_index(
    how: str, command: str, template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    root = corrupt_copy(template, project, how)
    bad = (root / "index.db").read_bytes()
    r = extract(*READS[command], cwd=project)
    assert r.returncode == 0, r.stderr
    [warning] = warnings(r.stderr)
    assert "moved it aside" in warning and "rebuilt the index" in warning
    [aside] = kept_aside(root / "index.db")
    assert aside.read_bytes() == bad  # the evidence, byte for byte
    assert aside.name in warning
    if command == "sql":
        assert "4" in r.stdout
    # healed: the next command is quiet and sees every run
    again = extract("sql", "-f", "json", "SELECT COUNT(*) AS n FROM runs", cwd=project)
    assert again.returncode == 0 and warnings(again.stderr) == []
    assert json.loads(again.stdout) == [{"n": 4}]


SCRIPT = """
import sys
from extract import Store
with Store(sys.argv[1]) as s:
    runs = s.experiment({"bench": "b", "model": "m1"}).list_runs()
    with s.experiment({"bench": "b", "model": "m9"}).run(name="after") as run:
        run.curve(0, loss=1.0)
    print(len(runs))
"""


@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_a_training_script_starts_on_a_damaged_index(
    how: str, template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    root = corrupt_copy(template, project, how)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2"
    [warning] = warnings(r.stderr)
    assert "moved it aside" in warning
    assert len(kept_aside(root / "index.db")) == 1
    assert "r0" in extract("sql", "SELECT name FROM runs", cwd=project).stdout


def test_processes_finding_the_damage_at_once_move_it_aside_once(
    template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    root = corrupt_copy(template, project, "random")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EXTRACT_STORE", None)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "extract",
                "sql",
                "-f",
                "json",
                "SELECT COUNT(*) AS n FROM runs",
            ],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err
        assert json.loads(out) == [{"n": 4}]
    assert len(kept_aside(root / "index.db")) == 1  # a fresh index was never moved aside
    conn = sqlite3.connect(root / "index.db")
    try:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_fsck_reports_a_damaged_index_and_repair_rebuilds_it(
    template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    root = corrupt_copy(template, project, "random")
    fs = extract("fsck", cwd=project)
    assert fs.returncode == 0  # the store itself is sound: the index is a cache
    assert f"warning: index {root / 'index.db'} is damaged" in fs.stderr
    assert kept_aside(root / "index.db") == []  # fsck alone changes nothing
    assert json.loads(extract("fsck", "--json", cwd=project).stdout)["index"]["problem"]
    r = extract("fsck", "--repair", cwd=project)
    assert r.returncode == 0, r.stderr
    assert len(kept_aside(root / "index.db")) == 1
    fs = extract("fsck", cwd=project)
    assert "is damaged" not in fs.stderr
    assert "is a damaged index moved aside earlier" in fs.stderr


def test_reindex_moves_aside_an_index_damaged_deep_inside(template: Path, tmp_path: Path) -> None:
    """Damage no plain open reads (a page near the end) is found by quick_check."""
    project = tmp_path / "p"
    root = copy_store(template, project)
    path = root / "index.db"
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size - 4096)  # the last page's b-tree header
        f.write(os.urandom(12))
    r = extract("reindex", cwd=project)
    assert r.returncode == 0, r.stderr
    assert len(kept_aside(path)) == 1
    assert "reindexed 4 runs" in r.stdout


def test_the_tui_core_and_the_mcp_view_heal_it_too(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = corrupt_copy(template, tmp_path / "tui", "random")
    b = Browser(root)
    try:
        assert b.counts() == (4, 0)
        [warning] = b.take_warnings()
        assert "moved it aside" in warning
    finally:
        b.close()
    assert len(kept_aside(root / "index.db")) == 1

    root = corrupt_copy(template, tmp_path / "mcp", "truncated")
    said: list[str] = []
    monkeypatch.setattr("extract.mcp.view.log.warning", said.append)
    view = StoreView(root)
    try:
        with view.reading() as conn:
            assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 4
    finally:
        view.close()
    assert len(said) == 1 and "moved it aside" in said[0]
    assert len(kept_aside(root / "index.db")) == 1
