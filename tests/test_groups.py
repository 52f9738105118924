"""One job, many ranks: a distributed job's runs grouped, the same group from every front
end (the one read layer, the CLI, MCP over a real client session, the TUI core and the
web UI's source), and a group that does not exist named as not found."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from rich.console import Console

from extract.display.settings import tui_config
from extract.errors import GroupNotFound
from extract.index import read
from extract.index.access import open_index
from extract.mcp.server import build_server
from extract.mcp.view import StoreView
from extract.sdk import Store
from extract.store.repo import Repository
from extract.tui import actions
from extract.tui.core import Browser
from extract.tui.sections.run import run_section
from extract.ui.source import Source
from tests.cli import extract


@dataclass
class Fx:
    root: Path
    job_a: list[str]  # run ids by rank
    job_b: list[str]
    alone: str


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fx]:
    root = tmp_path_factory.mktemp("groups") / ".extract"
    Repository.init(root, ("project", "variant"))
    mp = pytest.MonkeyPatch()
    job_a: list[str] = []
    job_b: list[str] = []
    with Store(root) as store:
        exp = store.experiment({"project": "p", "variant": "ddp"})
        # ranks started out of order, as processes of a real job do
        for rank in (2, 0, 3, 1):
            mp.setenv("RANK", str(rank))
            mp.setenv("WORLD_SIZE", "4")
            with exp.run(name=f"a{rank}", group="job-a") as run:
                run.log(loss=0.1 * rank)
            job_a.append(run.id)
        for rank in (0, 1):
            mp.setenv("RANK", str(rank))
            mp.setenv("WORLD_SIZE", "2")
            with store.experiment({"project": "p", "variant": "other"}).run(group="job-b") as run:
                run.log(loss=1.0)
            job_b.append(run.id)
        mp.delenv("RANK")
        mp.delenv("WORLD_SIZE")
        with exp.run(name="single") as run:
            run.log(loss=0.5)
        alone = run.id
        actions.delete_run(store._indexer, job_b[1])  # a deleted rank is left out
    mp.undo()
    by_rank = [job_a[i] for i in (1, 3, 0, 2)]  # ranks 0, 1, 2, 3
    yield Fx(root, by_rank, job_b, alone)


def test_the_read_layer_groups_a_jobs_ranks_in_rank_order(fx: Fx) -> None:
    with open_index(Repository(fx.root)) as index:
        conn = index.reader()
        g = read.get_group(conn, "job-a")
        assert g.world_size == 4 and g.experiment_paths == ("p/ddp",)
        assert [m.run_id for m in g.members] == fx.job_a
        assert [m.rank for m in g.members] == [0, 1, 2, 3]
        assert {m.status for m in g.members} == {"completed"}
        assert read.group_of(conn, fx.job_a[2]) == g
        assert read.group_of(conn, fx.alone) is None
        assert read.get_run(conn, fx.job_a[3]).group == g
        b = read.get_group(conn, "job-b")
        assert [m.run_id for m in b.members] == fx.job_b[:1]  # the deleted rank left out
        assert [x.name for x in read.list_groups(conn)] == ["job-b", "job-a"]  # newest first
        assert [x.name for x in read.list_groups(conn, "p/ddp")] == ["job-a"]
        ids = {r.id for r in read.list_runs(conn, group="job-a").items}
        assert ids == set(fx.job_a)
        with pytest.raises(GroupNotFound, match=r"Group not found: 'job-c' \(did you mean"):
            read.get_group(conn, "job-c")
    with Store(fx.root) as store:
        assert store.load_run(fx.job_a[1]).group == g
        assert store.load_run(fx.alone).group is None


def test_the_cli_shows_the_group_and_lists_a_jobs_ranks(fx: Fx) -> None:
    r = extract("show", fx.job_a[2], "--json", "--store", str(fx.root), cwd=fx.root.parent)
    assert r.returncode == 0, r.stderr
    group = json.loads(r.stdout)["group"]
    assert group["name"] == "job-a" and group["world_size"] == 4
    assert [m["run_id"] for m in group["members"]] == fx.job_a
    r = extract("show", fx.job_a[2], "--store", str(fx.root), cwd=fx.root.parent)
    assert "group    job-a  (4 runs, world size 4)" in r.stdout
    assert f"rank   2  {fx.job_a[2]}  completed  <- this run" in r.stdout

    r = extract("runs", "--group", "job-a", "-c", "loss", "--json", "--store", str(fx.root), cwd=fx.root.parent)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in json.loads(r.stdout)["runs"]] == fx.job_a  # by rank
    r = extract("runs", "--group", "job-aa", "--store", str(fx.root), cwd=fx.root.parent)
    assert r.returncode == 3
    assert r.stderr.strip() == "error: Group not found: 'job-aa' (did you mean 'job-a'?)"
    r = extract("show", fx.alone, "--json", "--store", str(fx.root), cwd=fx.root.parent)
    assert json.loads(r.stdout)["group"] is None


def _mcp_get_run(root: Path, run_id: str) -> Any:
    out: list[Any] = []

    async def go() -> None:
        view = StoreView(root)
        try:
            async with Client(build_server(view), mode="legacy") as client:
                r = await client.call_tool("get_run", {"run_id": run_id})
                assert not r.is_error
                out.append(r.structured_content)
        finally:
            view.close()

    anyio.run(go)
    return out[0]


def test_mcp_tui_and_web_ui_show_the_same_group(fx: Fx) -> None:
    got = _mcp_get_run(fx.root, fx.job_a[0])["group"]
    assert got["name"] == "job-a"
    assert [(m["rank"], m["run_id"]) for m in got["members"]] == list(enumerate(fx.job_a))
    assert _mcp_get_run(fx.root, fx.alone)["group"] is None

    b = Browser(fx.root)
    b.open()
    try:
        d = b.run_detail(fx.job_a[1])
        assert d.info.group is not None
        assert [m.run_id for m in d.info.group.members] == fx.job_a
        console = Console(width=120, record=True)
        console.print(run_section(d, tui_config(Repository(fx.root).config), marked=False))
        text = console.export_text()
        assert "job-a  (4 runs, world size 4)" in text and "(this run)" in text
    finally:
        b.close()

    source = Source(fx.root)
    try:
        page = source.run(fx.job_a[3])
        assert [m["run_id"] for m in page["group"]["members"]] == fx.job_a
    finally:
        source.close()
