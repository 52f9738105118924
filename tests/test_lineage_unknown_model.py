"""A run derived from a model this store has never seen (issue 14, section 8).

``run.derived_from(model="baseline-imagenet", version="v0.9")`` records the model's id as
the edge's parent, as for a model the store has (the reference's lineage rows), and keeps
the name and version with the edge, so every reader names the parent
``baseline-imagenet@v0.9``: the SDK, the MCP ``get_lineage`` tool over a real client
session, ``extract show``, the TUI's lineage view and run summary, the web UI's data,
and an index rebuilt from the store. Once the model arrives (fetched from a store that
registered it), the same edge reaches the real model.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from extract import Store, sync
from extract.index import read
from extract.index.build import Indexer
from extract.index.ids import model_id
from extract.mcp.server import build_server
from extract.mcp.view import StoreView
from extract.store.repo import Repository
from extract.tui.app import ExtractApp
from extract.tui.screens.common import goto_run
from extract.tui.widgets.views import LineageView
from tests.cli import extract
from tests.test_tui_fixture import fixed_clock, press, screen_text, settle

NAME, VERSION = "baseline-imagenet", "v0.9"
LABEL = f"{NAME}@{VERSION}"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A store with one finished run derived from a model it does not have."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / ".extract"
    Repository.init(root, ("bench",))
    store = Store(root)
    with store.experiment({"bench": "imagenet"}).run(name="finetune") as run:
        run.derived_from(model=NAME, version=VERSION)
    store.close()
    return root, run.id


def lineage_rows(root: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(root / "index.db")
    try:
        return conn.execute(
            "SELECT parent_type, parent_id, child_id, relation, metadata FROM lineage"
        ).fetchall()
    finally:
        conn.close()


def test_the_edge_keeps_the_models_id_and_carries_its_name(world: tuple[Path, str]) -> None:
    root, rid = world
    [(ptype, pid, child, relation, metadata)] = lineage_rows(root)
    # the reference contract: parent_id is the model's id, as for a registered model
    assert (ptype, pid, child, relation) == ("model", model_id(NAME, VERSION), rid, "derived_from")
    assert json.loads(metadata) == {"name": NAME, "version": VERSION}


def test_sdk_and_read_layer_name_the_unknown_parent(world: tuple[Path, str]) -> None:
    root, rid = world
    store = Store(root)
    try:
        [ref] = store.load_run(rid).detail.lineage
        assert (ref.label, ref.found, ref.parent_id) == (LABEL, False, model_id(NAME, VERSION))
        g = read.lineage(store._conn, "run", rid, "both", 2)
        parent = next(n for n in g.nodes if n.type == "model")
        assert (parent.label, parent.found, parent.side) == (LABEL, False, "ancestor")
    finally:
        store.close()


def test_mcp_get_lineage_names_the_unknown_parent(world: tuple[Path, str]) -> None:
    root, rid = world

    async def go() -> tuple[dict[str, Any], dict[str, Any], str]:
        view = StoreView(root)
        try:
            async with Client(build_server(view), mode="legacy") as client:
                r = await client.call_tool(
                    "get_lineage", {"node_type": "run", "node_id": rid, "direction": "ancestors"}
                )
                assert not r.is_error, r.content
                assert isinstance(r.structured_content, dict)
                d = await client.call_tool(
                    "get_lineage",
                    {"node_type": "model", "node_id": LABEL, "direction": "descendants"},
                )
                assert not d.is_error, d.content
                assert isinstance(d.structured_content, dict)
                m = await client.call_tool(
                    "get_lineage", {"node_type": "model", "node_id": f"{NAME}@v1.0"}
                )
                assert m.is_error
                return r.structured_content, d.structured_content, m.content[0].text  # type: ignore[union-attr]
        finally:
            view.close()

    data, down, missing = anyio.run(go)
    parent = next(n for n in data["nodes"] if n["type"] == "model")
    assert parent["label"] == LABEL and parent["found"] is False
    assert parent["id"] == model_id(NAME, VERSION)
    assert any(e["parent"] == parent["id"] and e["child"] == rid for e in data["edges"])
    # the unknown model can be walked from, by name@version, to the runs derived from it
    assert (down["root"]["label"], down["root"]["found"]) == (LABEL, False)
    assert rid in {n["id"] for n in down["nodes"]}
    assert "Model not found: 'baseline-imagenet@v1.0'" in missing


def test_cli_show_names_the_unknown_parent(world: tuple[Path, str]) -> None:
    root, rid = world
    r = extract("show", rid, "--json", "--store", str(root), cwd=root.parent)
    assert r.returncode == 0, r.stderr
    [edge] = json.loads(r.stdout)["lineage"]
    assert (edge["label"], edge["found"]) == (LABEL, False)
    text = extract("show", rid, "--store", str(root), cwd=root.parent)
    assert f"lineage  derived_from model {LABEL}" in text.stdout


def test_tui_lineage_view_and_run_summary_name_the_unknown_parent(world: tuple[Path, str]) -> None:
    root, rid = world

    async def go() -> None:
        app = ExtractApp(root, clock=fixed_clock, refresh_interval=0)
        async with app.run_test(size=(130, 44)) as pilot:
            await settle(app, pilot)
            goto_run(app, rid)
            await settle(app, pilot)
            assert f"derived_from model {LABEL}  (not in this store)" in screen_text(app)
            await press(app, pilot, "L")
            view = app.screen.query_one(LineageView)
            assert view.data is not None
            labels = {n.label for n in view.data.nodes}
            assert LABEL in labels
            assert LABEL in screen_text(app)
            assert model_id(NAME, VERSION) not in screen_text(app)

    asyncio.run(go())


def test_reindex_gives_the_same_answer(world: tuple[Path, str]) -> None:
    root, rid = world
    (root / "index.db").unlink()
    for extra in root.glob("index.db-*"):
        extra.unlink()
    ix = Indexer(Repository(root))
    try:
        g = read.lineage(ix.conn, "run", rid, "ancestors", 1)
        parent = next(n for n in g.nodes if n.type == "model")
        assert (parent.id, parent.label, parent.found) == (model_id(NAME, VERSION), LABEL, False)
    finally:
        ix.close()
    r = extract("reindex", "--store", str(root), cwd=root.parent)
    assert r.returncode == 0, r.stderr
    [edge] = json.loads(extract("show", rid, "--json", cwd=root.parent).stdout)["lineage"]
    assert edge["label"] == LABEL


def test_the_label_resolves_to_the_real_model_once_it_is_fetched(
    world: tuple[Path, str], tmp_path: Path
) -> None:
    root, rid = world
    other = tmp_path / "other" / ".extract"
    (tmp_path / "w.bin").write_bytes(b"weights" * 10)
    Repository.init(other, ("bench",))
    maker = Store(other)
    with maker.experiment({"bench": "imagenet"}).run(name="pretrain") as run:
        run.register_model(NAME, VERSION, str(tmp_path / "w.bin"))
    maker.close()
    sync.merge_db(other, root)
    store = Store(root)
    try:
        [ref] = store.load_run(rid).detail.lineage
        assert (ref.label, ref.found) == (LABEL, True)
        model = read.get_model(store._conn, NAME, VERSION)
        assert ref.parent_id == model.id
        down = read.lineage(store._conn, "model", model.id, "descendants", 1)
        assert rid in {n.id for n in down.nodes}
        up = read.lineage(store._conn, "run", rid, "ancestors", 2)
        assert run.id in {n.id for n in up.nodes}  # through the model to the run that made it
    finally:
        store.close()


def test_web_ui_data_names_the_unknown_parent(world: tuple[Path, str]) -> None:
    """What the browser UI's /api/run and /api/lineage answer (``ui.source``)."""
    from extract.ui.source import Source

    root, rid = world
    source = Source(root)
    try:
        [edge] = source.run(rid)["lineage"]
        assert (edge["label"], edge["found"]) == (LABEL, False)
        g = source.lineage("run", rid)
        assert LABEL in {n["label"] for n in g["nodes"]}
    finally:
        source.close()
