"""The same question through every front end gets the same answer (issue: one read model).

One fixture store holds the awkward cases: configs that differ only as ``1`` vs ``1.0``,
NaN headline values, nested configs, a key one run has as ``None`` and another lacks, a
name two runs share, an id prefix two runs share, a deleted run, a live run. Each
question is asked through the SDK, the CLI (``--json``, in a subprocess), the MCP server
(a real client session over JSON-RPC) and the TUI's headless core, and the answers are
compared with each other.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from extract.errors import ExtractError
from extract.mcp.server import build_server
from extract.mcp.view import StoreView
from extract.sdk import Run, Store
from extract.store.repo import Repository
from extract.tui import actions
from extract.tui.core import Browser
from tests.cli import extract

NAN = float("nan")


@dataclass
class Fx:
    root: Path
    ids: dict[str, str]
    live: Run
    store: Store


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fx]:
    root = tmp_path_factory.mktemp("consistency") / ".extract"
    Repository.init(root, ("project", "variant"))
    store = Store(root)
    exp = store.experiment({"project": "p", "variant": "v"})
    other = store.experiment({"project": "p", "variant": "w"})
    ids: dict[str, str] = {}
    specs: list[tuple[str, Any, dict[str, Any], dict[str, float]]] = [
        (
            "alpha",
            exp,
            {"lr": 1, "opt": {"name": "adam", "b": [0.9, 0.99]}, "seed": 1},
            {"acc": 0.8, "loss": NAN},
        ),
        (
            "beta",
            exp,
            {"lr": 1.0, "opt": {"name": "adam", "b": [0.9, 0.99]}, "seed": 2},
            {"acc": 0.9, "loss": 0.3},
        ),
        ("twin", other, {"lr": 0.1}, {"acc": NAN}),
        ("twin", other, {"lr": 0.1, "extra": None}, {"acc": NAN}),
        ("gone", exp, {"lr": 5}, {"acc": 0.99}),
    ]
    for i, (name, e, config, metrics) in enumerate(specs):
        with e.run(config=config, name=name, total_steps=10) as run:
            for step in range(10):
                run.curve(step, loss=1.0 / (step + 1 + i))
            run.log(**metrics)
            if name == "alpha":
                run.tag("sweep")
                run.note("first try")
                run.todo("look at alpha", priority=2)
        ids[name if name not in ids else f"{name}2"] = run.id
    actions.delete_run(store._indexer, ids["gone"])
    live = exp.run(config={"lr": 3}, name="live")
    live.curve(0, loss=1.0)
    live.flush()
    yield Fx(root, ids, live, store)
    live.finish()
    store.close()


# the four front ends ---------------------------------------------------------------------


def via_sdk(fx: Fx, run: str) -> str:
    """A run as the SDK resolves it: its id, or ``!message`` of the error."""
    try:
        return fx.store.load_run(run).id
    except ExtractError as e:
        return f"!{e}"


def via_cli(fx: Fx, *args: str) -> Any:
    r = extract(*args, "--json", "--store", str(fx.root), cwd=fx.root.parent)
    if r.returncode != 0:
        return f"!{r.stderr.strip().removeprefix('error: ')}"
    return json.loads(r.stdout)


def via_mcp(fx: Fx, tool: str, **args: Any) -> Any:
    """A tool's structured result, or ``!message`` of its error, over a real session."""
    out: list[Any] = []

    async def go() -> None:
        view = StoreView(fx.root)
        try:
            async with Client(build_server(view), mode="legacy") as client:
                r = await client.call_tool(tool, args)
                text = r.content[0].text  # type: ignore[union-attr]
                out.append(f"!{text}" if r.is_error else r.structured_content)
        finally:
            view.close()

    anyio.run(go)
    return out[0]


@pytest.fixture(scope="module")
def tui(fx: Fx) -> Iterator[Browser]:
    b = Browser(fx.root)
    b.open()
    yield b
    b.close()


def via_tui(tui: Browser, run: str) -> str:
    try:
        return tui.run_detail(run).row.id
    except ExtractError as e:
        return f"!{e}"


# the questions ----------------------------------------------------------------------------


def test_which_run_a_text_names(fx: Fx, tui: Browser) -> None:
    ids = fx.ids
    a, b = ids["twin"], ids["twin2"]
    shared = a[: next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)]
    assert len(shared) >= 4, "runs made a moment apart share an id prefix"
    texts = [
        ids["alpha"],
        ids["alpha"].lower(),
        ids["beta"][:20],
        "alpha",
        "twin",  # two runs have this name
        shared,  # two runs have this prefix (and likely every run)
        ids["gone"],  # deleted: still found by id
        "nope",
        "../etc/passwd",
    ]
    for text in texts:
        sdk = via_sdk(fx, text)
        mcp = via_mcp(fx, "get_run", run_id=text)
        mcp = mcp if isinstance(mcp, str) else mcp["id"]
        cli = via_cli(fx, "show", text)
        cli = cli if isinstance(cli, str) else cli["id"]
        core = via_tui(tui, text)
        assert sdk == mcp == cli == core, (text, sdk, mcp, cli, core)
    assert via_sdk(fx, "alpha") == ids["alpha"]
    assert via_sdk(fx, "nope") == "!Run not found: 'nope'"
    assert via_sdk(fx, "twin").startswith("!run 'twin' is ambiguous")


def test_what_differs_between_two_runs(fx: Fx, tui: Browser) -> None:
    a, b = fx.ids["alpha"], fx.ids["beta"]
    mcp = via_mcp(fx, "compare_runs", run_ids=[a, b])
    cli = via_cli(fx, "diff", a, b)
    core = tui.diff(a, b)
    # lr is 1 in one and 1.0 in the other: the same value, by the one rule
    assert set(mcp["config_diffs"]) == set(cli["config"]) == {c.key for c in core.config}
    assert set(cli["config"]) == {"seed"}
    c, d = fx.ids["twin"], fx.ids["twin2"]
    mcp = via_mcp(fx, "compare_runs", run_ids=[c, d])
    cli = via_cli(fx, "diff", c, d)
    core = tui.diff(c, d)
    # "extra" is None in one run and missing in the other: that differs
    assert set(mcp["config_diffs"]) == set(cli["config"]) == {x.key for x in core.config}
    assert set(cli["config"]) == {"extra"}
    assert mcp["metrics"]["acc"]["values"] == {c: "NaN", d: "NaN"}
    assert cli["metrics"]["acc"]["better"] is None  # NaN against NaN: neither


def test_which_run_is_best(fx: Fx, tui: Browser) -> None:
    a, b, c = fx.ids["alpha"], fx.ids["beta"], fx.ids["twin"]
    mcp = via_mcp(fx, "compare_runs", run_ids=[a, b, c])
    assert mcp["metrics"]["acc"]["ranking"] == [b, a, c]  # NaN last
    core = tui.compare([a, b, c])
    assert core.comparison.metric("acc").best == (b,)
    cli = via_cli(fx, "runs", "-c", "acc")
    assert cli["best"]["acc"] == b  # the deleted run's 0.99 does not count
    assert via_cli(fx, "diff", a, b)["metrics"]["acc"]["better"] == "b"
    assert via_cli(fx, "diff", a, b)["metrics"]["loss"]["better"] == "b"  # NaN is worse


def test_which_runs_a_list_holds(fx: Fx, tui: Browser) -> None:
    everyone = set(fx.ids.values()) - {fx.ids["gone"]} | {fx.live.id}
    mcp = {r["id"] for r in via_mcp(fx, "list_runs", limit=500)["items"]}
    cli = {r["id"] for r in via_cli(fx, "runs", "--limit", "0")["runs"]}
    core = {r.id for r in tui.runs()}
    assert mcp == cli == core == everyone
    sdk = {r["id"] for e in fx.store.list_experiments() for r in e.list_runs()}
    assert sdk == everyone
    # the one search rule: a substring of the name, tags or notes, or an id prefix
    for text in ("first", "SWEEP", "twin", fx.ids["beta"][:22].lower()):
        mcp = {r["id"] for r in via_mcp(fx, "search", query=text)["items"]}
        cli = {r["id"] for r in via_cli(fx, "runs", "--search", text, "--limit", "0")["runs"]}
        core = {r.id for r in tui.search(text)}
        assert mcp == cli == core and mcp, text


def test_experiments_todos_and_values(fx: Fx, tui: Browser) -> None:
    sdk = sorted(e.path for e in fx.store.list_experiments())
    mcp = sorted(e["path"] for e in via_mcp(fx, "list_experiments")["items"])
    core = sorted(n.path for n in tui.tree())
    assert sdk == mcp == core == ["p", "p/v", "p/w"]
    a = fx.ids["alpha"]
    sdk_todos = [t["content"] for t in fx.store.list_todos("run", a)]
    mcp_todos = [
        t["content"] for t in via_mcp(fx, "list_todos", scope_type="run", scope_id=a)["items"]
    ]
    assert sdk_todos == mcp_todos == ["look at alpha"]
    # a NaN headline value is NaN everywhere (named where JSON cannot hold it)
    assert math.isnan(fx.store.load_run(a).detail.metrics["loss"])
    assert via_mcp(fx, "get_run", run_id=a)["metrics_final"]["loss"] == "NaN"
    assert via_cli(fx, "show", a)["metrics"]["loss"] == "nan"
    assert math.isnan(tui.run_detail(a).info.metrics["loss"])
    # a live run is live everywhere
    assert via_mcp(fx, "get_run", run_id=fx.live.id)["live"] is True
    assert via_cli(fx, "show", fx.live.id)["object_id"] is None


def test_outside_readers_need_no_function_of_ours(fx: Fx) -> None:
    """The views work in any SQLite reader: the sqlite3 CLI, pandas, polars."""
    conn = sqlite3.connect(f"file:{fx.root / 'index.db'}?mode=ro", uri=True)
    try:
        tagged = conn.execute(
            "SELECT specimen_id, variant FROM catalog "
            "WHERE specimen_id IN (SELECT run_id FROM run_tags WHERE tag = 'sweep')"
        ).fetchall()
        assert tagged == [(fx.ids["alpha"], "v")]
        with pytest.raises(sqlite3.OperationalError, match="array_contains"):
            conn.execute("SELECT * FROM catalog WHERE array_contains(tags, 'sweep')").fetchall()
    finally:
        conn.close()
    # ... while extract's own SQL offers the Specimen Vault's spelling too
    rows = via_cli(fx, "sql", "SELECT specimen_id FROM catalog WHERE array_contains(tags, 'sweep')")
    assert rows == [{"specimen_id": fx.ids["alpha"]}]
