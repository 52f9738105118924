"""A store on a read-only mount can be read by everything, and refuses writes in one line
(issue 12, part 5).

The store is made read-only the way an archive or a shared results disk is: a bind
mount remounted read-only (root passes every permission check, so chmod would not
do). Every read command, the TUI's core, an MCP tool call through a real client
session and ``Store()`` read it through an index kept in ``$XDG_CACHE_HOME``; every
write command says it is read-only and exits 2, with no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp import Client

from extract.index.access import cache_index_path
from extract.mcp.server import build_server
from extract.mcp.view import StoreView
from extract.tui.core import Browser

from .cli import REPO, extract
from .stores import make_store


@dataclass
class ReadOnly:
    project: Path  # the mount point: project/.extract is the read-only store
    source: Path  # the same directory, writable, under its own name
    cache: Path  # XDG_CACHE_HOME for every process of these tests
    bundle: Path
    other: Path  # another store, to fetch from

    @property
    def root(self) -> Path:
        return self.project / ".extract"

    def env(self) -> dict[str, str]:
        return {"XDG_CACHE_HOME": str(self.cache)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return extract(*args, cwd=self.project, env=self.env())


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def ro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadOnly]:
    base = tmp_path_factory.mktemp("readonly")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        make_store(base / "src")
        make_store(base / "other", ("o1",))
    bundle = base / "other.bundle"
    assert extract("export", str(bundle), cwd=base / "other").returncode == 0
    assert extract("status", cwd=base / "src").returncode == 0  # the store's own index exists
    mnt = base / "mnt"
    mnt.mkdir()
    r = _mount("--bind", str(base / "src"), str(mnt))
    if r.returncode != 0:
        pytest.skip(
            f"mount --bind refused ({r.stderr.strip()}): run as root to test read-only stores"
        )
    r = _mount("-o", "remount,ro,bind", str(mnt))
    if r.returncode != 0:
        subprocess.run(["umount", str(mnt)], check=True)
        pytest.skip(f"remount,ro refused ({r.stderr.strip()})")
    try:
        assert not os.access(mnt / ".extract", os.W_OK)
        yield ReadOnly(mnt, base / "src", base / "cache", bundle, base / "other" / ".extract")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


READS = [
    ("status",),
    ("log",),
    ("log", "--graph"),
    ("show", "r1"),
    ("show", "main"),
    ("sql", "SELECT name FROM runs ORDER BY name"),
    ("diff", "r0", "r1"),
    ("fsck",),
    ("fsck", "--read-data"),
    ("reflog",),
    ("show-ref",),
]


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_read_commands_work(ro: ReadOnly, args: tuple[str, ...]) -> None:
    r = ro.run(*args)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "error" not in r.stderr, r.stderr


def test_reads_are_answered_from_an_index_in_the_cache(
    ro: ReadOnly, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = ro.run("sql", "-f", "json", "SELECT name FROM runs ORDER BY name")
    assert [row["name"] for row in json.loads(r.stdout)] == ["r0", "r1", "r2", "r3"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(ro.cache))
    cached = cache_index_path(ro.root)  # keyed by the store's real path
    assert cached.is_file() and cached.is_relative_to(ro.cache / "extract" / "index")
    label = cached.parent / "store"  # for a person cleaning the cache
    assert label.read_text().strip() == os.path.realpath(ro.root)
    r = ro.run("checkout", "net@v1", str(ro.cache.parent / "net.bin"))
    assert r.returncode == 0, r.stderr


WRITES = [
    ("commit", "-m", "x"),
    ("gc",),
    ("reindex",),
    ("fsck", "--repair"),
    ("merge", "main"),
    ("remote", "add", "o", "/nowhere"),
]


@pytest.mark.parametrize("args", WRITES, ids=" ".join)
def test_write_commands_say_read_only_in_one_line(ro: ReadOnly, args: tuple[str, ...]) -> None:
    r = ro.run(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: store ") and "is read-only" in line
    assert "nothing was changed" in line


def test_fetch_and_import_say_read_only(ro: ReadOnly) -> None:
    for args in (("fetch", str(ro.other)), ("import", str(ro.bundle)), ("pull", str(ro.other))):
        r = ro.run(*args)
        assert r.returncode == 2, r.stdout + r.stderr
        [line] = r.stderr.strip().splitlines()
        assert "is read-only" in line, line


SCRIPT = """
import sys
from extract import Store
from extract.errors import ReadOnlyStore
s = Store(sys.argv[1])
print(len(s.experiment({"bench": "b", "model": "m1"}).list_runs()))
try:
    s.experiment({"bench": "b", "model": "m1"}).run(name="nope")
except ReadOnlyStore as e:
    print("refused:", e)
s.close()
"""


def test_the_sdk_reads_and_refuses_to_start_a_run(ro: ReadOnly) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), **ro.env()}
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ro.root)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ro.cache.parent,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    count, refused = r.stdout.strip().splitlines()
    assert count == "2"
    assert refused.startswith("refused: store ") and "starting a run" in refused


def test_the_tui_core_browses_it(ro: ReadOnly, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(ro.cache))
    b = Browser(ro.root)
    try:
        assert sorted(r.name or "" for r in b.runs()) == ["r0", "r1", "r2", "r3"]
        assert b.counts() == (4, 0)
        assert b.take_warnings() == []
        with pytest.raises(Exception, match="read-only"):
            b.delete_run(b.runs()[0].id)
    finally:
        b.close()


def test_an_mcp_tool_answers_through_a_real_session(
    ro: ReadOnly, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(ro.cache))
    view = StoreView(ro.root)

    async def call() -> dict[str, object]:
        async with Client(build_server(view), mode="legacy") as c:
            r = await c.call_tool("list_runs", {})
            assert not r.is_error, r.content
            assert isinstance(r.structured_content, dict)
            return r.structured_content

    try:
        data = anyio.run(call)
    finally:
        view.close()
    assert data["total"] == 4
