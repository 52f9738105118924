"""The MCP server through real client sessions: JSON-RPC over memory streams
(``Client(server, mode="legacy")``) and a subprocess spoken to over stdio
(``python -m extract.mcp --store X``), both running one scenario that calls every
tool, checks every documented field, the clamp, every error string, hostile
inputs and NaN. The client validates every structured result against the tool's
published output schema, so a NaN that leaked as null would fail here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import typer
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

from extract.mcp.server import build_server
from extract.mcp.view import StoreView
from tests.test_mcp_tools import (
    EXPERIMENT_FIELDS,
    GET_RUN_SEED_FIELDS,
    LONG_STEPS,
    MODEL_FIELDS,
    RUN_ITEM_FIELDS,
    Fixture,
    build_fixture_store,
)

REPO = Path(__file__).resolve().parent.parent
TOOLS = {
    "list_experiments",
    "list_runs",
    "get_run",
    "compare_runs",
    "search",
    "list_todos",
    "get_lineage",
    "list_models",
    "sql",
}
ENVELOPE = {"items", "total", "truncated", "limit", "limit_clamped"}


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    base = tmp_path_factory.mktemp("mcp-server")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # provenance capture must not read this repository
        f = build_fixture_store(base)
        yield f
        f.live.finish()
        f.store.close()


def _no_constants(token: str) -> Any:
    raise AssertionError(f"bare {token} in a tool's JSON text: JSON has no such value")


class Session:
    """A connected client plus helpers that check what every result must satisfy."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def ok(self, tool: str, **args: Any) -> dict[str, Any]:
        r = await self.client.call_tool(tool, args)
        assert not r.is_error, (tool, args, r.content)
        data = r.structured_content
        assert isinstance(data, dict)
        text = r.content[0].text  # type: ignore[union-attr]
        assert json.loads(text, parse_constant=_no_constants) == data  # the same JSON
        return data

    async def error(self, tool: str, **args: Any) -> str:
        r: CallToolResult = await self.client.call_tool(tool, args)
        assert r.is_error, (tool, args, r.structured_content)
        return r.content[0].text  # type: ignore[union-attr]


Check = Callable[[Session, Fixture], Awaitable[None]]
CHECKS: dict[str, Check] = {}


def check(fn: Check) -> Check:
    CHECKS[fn.__name__] = fn
    return fn


@check
async def tools_are_all_read_only(s: Session, fx: Fixture) -> None:
    listed = (await s.client.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for t in listed:
        assert t.annotations is not None and t.annotations.read_only_hint is True, t.name
        assert t.annotations.destructive_hint is False, t.name
        assert t.output_schema is not None, t.name
        assert t.description, t.name
    params = {t.name: t.input_schema["properties"] for t in listed}
    assert params["list_runs"]["limit"]["default"] == 50
    assert params["list_experiments"]["prefix"]["default"] == ""
    assert params["compare_runs"]["include_curves"]["default"] is False
    assert params["list_todos"]["scope_type"]["default"] == "global"
    assert params["list_todos"]["include_done"]["default"] is False
    assert params["get_lineage"]["direction"]["default"] == "both"
    assert params["get_lineage"]["depth"]["default"] == 2
    assert params["list_models"]["name_prefix"]["default"] == ""
    assert params["search"]["query"]["default"] == ""


@check
async def listing_envelope_and_clamp(s: Session, fx: Fixture) -> None:
    for tool in ("list_experiments", "list_runs", "search", "list_todos", "list_models"):
        d = await s.ok(tool)
        assert set(d) == ENVELOPE, tool
        assert (d["limit"], d["limit_clamped"]) == (50, False)
        huge = await s.ok(tool, limit=10**30)
        assert (huge["limit"], huge["limit_clamped"]) == (500, True), tool
        assert huge["total"] == d["total"]
        assert await s.error(tool, limit=-5) == "limit must be 0 or more (got -5)"
    page = await s.ok("list_runs", limit=2)
    assert (len(page["items"]), page["total"], page["truncated"]) == (2, 6, True)


@check
async def experiments_and_runs(s: Session, fx: Fixture) -> None:
    exps = await s.ok("list_experiments", prefix="imagenet/resnet50")
    assert [e["path"] for e in exps["items"]] == ["imagenet/resnet50", "imagenet/resnet50/lr-sweep"]
    assert set(exps["items"][1]) >= EXPERIMENT_FIELDS
    runs = await s.ok("list_runs")
    assert [r["id"] for r in runs["items"]] == [fx.live.id, fx.r5, fx.r4, fx.r3, fx.r2, fx.r1]
    for item in runs["items"]:
        assert set(item) == RUN_ITEM_FIELDS
        assert set(item["config_summary"]) == {"n_keys", "top_level_keys"}
    scoped = await s.ok("list_runs", experiment_id=fx.exp_a)
    assert [r["id"] for r in scoped["items"]] == [fx.live.id, fx.r2, fx.r1]
    assert await s.error("list_runs", experiment_id="../x") == "Experiment not found: '../x'"


@check
async def get_run_fields_nan_and_live(s: Session, fx: Fixture) -> None:
    d = await s.ok("get_run", run_id=fx.r1)
    assert set(d) >= GET_RUN_SEED_FIELDS
    for extra in ("object_id", "commit_id", "git_stamp", "git_branch", "git_dirty", "curves"):
        assert extra in d
    assert d["git_stamp"] == fx.stamp and len(d["object_id"]) == 64
    assert d["metrics_available"] == ["train_acc", "train_loss"]
    assert d["artifacts"][0]["shape"] == [4, 4]
    nan = await s.ok("get_run", run_id=fx.r2)
    assert nan["metrics_final"]["final_loss"] == "NaN"
    assert nan["curves"]["train_loss"]["max"] == "Infinity"
    inf = await s.ok("get_run", run_id=fx.r3)
    assert inf["metrics_final"] == {"final_acc": "-Infinity", "grad_norm": "Infinity"}
    assert inf["config"]["extra"] == "NaN"
    live = await s.ok("get_run", run_id=fx.live.id)
    assert (live["status"], live["live"]) == ("running", True)
    assert live["curves"]["train_loss"]["points"] >= 25


@check
async def errors_are_exact(s: Session, fx: Fixture) -> None:
    for bad in ("X", "../x", "../../etc/passwd", "/etc/passwd", "..\\x", "%", "a/b#c"):
        assert await s.error("get_run", run_id=bad) == f"Run not found: {bad!r}"
    assert await s.error("compare_runs", run_ids=[fx.r1]) == (
        "compare_runs requires at least 2 run_ids (got 1)"
    )
    assert await s.error("compare_runs", run_ids=[fx.r1] * 11) == (
        "compare_runs accepts at most 10 run_ids (got 11)"
    )
    assert await s.error("search", filters={"owner": "me"}) == (
        "Unknown filter: 'owner'. Valid filters: tag, status, experiment_prefix, "
        "started_after, started_before"
    )
    assert await s.error("search", filters={"status": "done"}) == (
        "Invalid status: 'done'. Valid statuses: running, completed, failed"
    )
    assert await s.error("list_todos", scope_type="team") == (
        "Invalid scope_type: 'team'. Valid scope types: global, experiment, run"
    )
    assert await s.error("list_todos", scope_type="run") == (
        "scope_id is required for scope_type 'run'"
    )
    assert await s.error("list_todos", scope_id=fx.r1) == (
        f"scope_id must be None for scope_type 'global' (got {fx.r1!r})"
    )
    assert await s.error("get_lineage", node_type="dataset", node_id=fx.r1) == (
        "Invalid node_type: 'dataset'. Valid node types: experiment, run, model"
    )
    assert await s.error("get_lineage", node_type="run", node_id=fx.r1, direction="up") == (
        "Invalid direction: 'up'. Valid directions: ancestors, descendants, both"
    )
    for depth in (-1, 0, 6, 10**30):
        assert await s.error("get_lineage", node_type="run", node_id=fx.r1, depth=depth) == (
            f"depth must be between 1 and 5 (got {depth})"
        )
    assert await s.error("get_lineage", node_type="model", node_id="../x") == (
        "Model not found: '../x'"
    )
    # arguments of the wrong type, or unknown ones, are refused, never coerced or ignored
    assert await s.error("list_runs", limit="many") == "limit must be an integer (got 'many')"
    assert await s.error("list_runs", limit="5") == "limit must be an integer (got '5')"
    assert await s.error("list_runs", limit=True) == "limit must be an integer (got True)"
    assert await s.error("list_runs", limit=2.0) == "limit must be an integer (got 2.0)"
    assert await s.error("list_runs", bogus=1) == (
        "Unknown argument: 'bogus'. Valid arguments: experiment_id, limit"
    )
    assert await s.error("compare_runs", run_ids=[fx.r1, 3]) == (
        "run_ids must hold only strings (got 3)"
    )
    assert await s.error("compare_runs", run_ids=[fx.r1, fx.r2], include_curves=1) == (
        "include_curves must be true or false (got 1)"
    )
    assert "Unknown tool" in await s.error("delete_run", run_id=fx.r1)
    # an optional object or list may come as a JSON string (the MCP Inspector sends it so)
    tagged = await s.ok("search", filters=json.dumps({"status": "completed"}))
    assert tagged["total"] >= 1


@check
async def compare_with_curves(s: Session, fx: Fixture) -> None:
    plain = await s.ok("compare_runs", run_ids=[fx.r1, fx.r2, fx.r3])
    assert set(plain) == {"runs", "metrics", "config_diffs"}  # curves only when asked
    loss = plain["metrics"]["final_loss"]
    assert set(loss) == {"direction", "values", "ranking"}
    assert loss["direction"] == "min" and loss["ranking"] == [fx.r1, fx.r2]
    assert loss["values"] == {fx.r1: 0.3, fx.r2: "NaN", fx.r3: None}
    assert plain["metrics"]["final_acc"]["ranking"] == [fx.r1, fx.r2, fx.r3]
    assert plain["metrics"]["custom_loss"]["direction"] == "max"
    assert plain["config_diffs"]["method.lora_r"] == {fx.r1: 8, fx.r2: 16, fx.r3: None}
    assert "bs" in plain["config_diffs"] and "epochs" in plain["config_diffs"]
    c = await s.ok("compare_runs", run_ids=[fx.r2, fx.r4], include_curves=True, max_points=50)
    assert set(c["curves"]) == {"train_loss", "val_loss"}
    assert c["curves"]["train_loss"][fx.r2][3] == [3, "NaN"]
    assert c["curves"]["train_loss"][fx.r2][4] == [4, "Infinity"]
    long = c["curves"]["val_loss"][fx.r4]
    assert len(long) == 50 and long[0] == [0, 1.0] and long[-1][0] == LONG_STEPS - 1
    assert c["curves_info"]["val_loss"][fx.r4] == {"points": LONG_STEPS, "returned": 50}


@check
async def search_todos_models_lineage(s: Session, fx: Fixture) -> None:
    hits = await s.ok("search", query="PRODUCTION", filters={"tag": "sweep", "status": "completed"})
    assert [r["id"] for r in hits["items"]] == [fx.r1]
    assert set(hits["items"][0]) == RUN_ITEM_FIELDS
    todos = await s.ok("list_todos")
    assert [t["priority"] for t in todos["items"]] == [2, 0]
    done = await s.ok("list_todos", include_done=True)
    assert done["total"] == 3
    run_todos = await s.ok("list_todos", scope_type="run", scope_id=fx.r1)
    assert [t["content"] for t in run_todos["items"]] == ["Try lr=0.005 next"]
    models = await s.ok("list_models", name_prefix="resnet")
    assert set(models["items"][0]) >= MODEL_FIELDS
    g = await s.ok("get_lineage", node_type="run", node_id=fx.r5, direction="ancestors", depth=5)
    assert set(g) >= {"root", "nodes", "edges"}
    assert g["root"]["id"] == fx.r5
    ids = [n["id"] for n in g["nodes"]]
    assert len(ids) == len(set(ids)) and fx.r1 in ids
    labels = {n["type"]: n["label"] for n in g["nodes"]}
    assert labels["model"] == "resnet50-imagenet@v1.0"
    assert labels["experiment"] == "imagenet/resnet50/lr-sweep"
    assert "#" in labels["run"]


@check
async def sql_reads_only(s: Session, fx: Fixture) -> None:
    out = await s.ok("sql", query="SELECT name FROM runs WHERE id = '" + fx.r1 + "'")
    assert out == {
        "columns": ["name"],
        "rows": [["resnet50-lr1e3"]],
        "truncated": False,
        "limit": 50,
        "limit_clamped": False,
    }
    for query in (
        "DELETE FROM runs",
        "ATTACH DATABASE '/tmp/extract-mcp-evil.db' AS evil",
        "VACUUM INTO '/tmp/extract-mcp-evil.db'",
        "PRAGMA writable_schema = 1",
    ):
        msg = await s.error("sql", query=query)
        assert msg.startswith("only read-only queries are allowed"), (query, msg)
    assert not Path("/tmp/extract-mcp-evil.db").exists()
    assert (await s.ok("sql", query="SELECT COUNT(*) FROM runs"))["rows"] == [[7]]


async def run_checks(connect: Callable[[], Client], fx: Fixture, names: list[str]) -> None:
    async with connect() as client:
        session = Session(client)
        for name in names:
            await CHECKS[name](session, fx)


@pytest.mark.parametrize("name", list(CHECKS))
def test_in_memory_json_rpc(fx: Fixture, name: str) -> None:
    view = StoreView(fx.root)
    try:
        server = build_server(view)
        anyio.run(run_checks, lambda: Client(server, mode="legacy"), fx, [name])
    finally:
        view.close()


def _stdio(args: list[str], cwd: Path) -> StdioServerParameters:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EXTRACT_STORE", None)
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(cwd))


def test_stdio_session_runs_every_check(fx: Fixture) -> None:
    """The real thing: a host spawning ``python -m extract.mcp --store X``."""
    params = _stdio(["-m", "extract.mcp", "--store", str(fx.root)], fx.root.parent)
    anyio.run(run_checks, lambda: Client(params, mode="legacy"), fx, list(CHECKS))


def test_stdio_default_store_is_dot_extract_in_the_cwd(fx: Fixture) -> None:
    async def go() -> None:
        async with Client(_stdio(["-m", "extract.mcp"], fx.root.parent), mode="legacy") as c:
            r = await c.call_tool("get_run", {"run_id": fx.r1})
            assert not r.is_error and r.structured_content is not None
            assert r.structured_content["id"] == fx.r1

    anyio.run(go)


def test_stdio_sees_points_a_live_run_adds(fx: Fixture) -> None:
    async def go() -> None:
        params = _stdio(["-m", "extract.mcp", "--store", str(fx.root)], fx.root.parent)
        async with Client(params, mode="legacy") as c:
            before = await c.call_tool("get_run", {"run_id": fx.live.id})
            assert before.structured_content is not None
            n = before.structured_content["curves"]["train_loss"]["points"]
            last = before.structured_content["curves"]["train_loss"]["last_step"]
            for step in range(last + 1, last + 11):
                fx.live.curve(step, train_loss=float("nan"))
            fx.live.flush()
            after = await c.call_tool("get_run", {"run_id": fx.live.id})
            assert after.structured_content is not None
            stats = after.structured_content["curves"]["train_loss"]
            assert stats["points"] == n + 10 and stats["last_value"] == "NaN"

    anyio.run(go)


def test_cli_command_serves_over_stdio(fx: Fixture) -> None:
    """``extract mcp`` as the CLI will have it: the command registered on the real app
    with the line extract/cli/__init__.py is to get (done here in the child process)."""
    code = (
        "from extract.cli import app, mcp_cmd; "
        "app.command('mcp')(mcp_cmd.mcp) if 'mcp' not in "
        "{c.name for c in app.registered_commands} else None; app()"
    )

    async def go() -> None:
        params = _stdio(["-c", code, "mcp", "--store", str(fx.root)], fx.root.parent)
        async with Client(params, mode="legacy") as c:
            r = await c.call_tool("list_models", {})
            assert not r.is_error and r.structured_content is not None
            assert r.structured_content["total"] == 1

    anyio.run(go)


def test_extract_mcp_command_when_registered(fx: Fixture) -> None:
    from extract.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    if "mcp" not in names:
        pytest.skip("`extract mcp` is not registered in extract/cli/__init__.py yet")

    async def go() -> None:
        params = _stdio(["-m", "extract", "mcp", "--store", str(fx.root)], fx.root.parent)
        async with Client(params, mode="legacy") as c:
            r = await c.call_tool("list_runs", {"limit": 1})
            assert not r.is_error

    anyio.run(go)


def test_cli_help_documents_the_command() -> None:
    from typer.testing import CliRunner

    from extract.cli.mcp_cmd import mcp

    app = typer.Typer()
    app.command()(mcp)
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
    assert "--store" in r.output and "read-only" in r.output and "Example" in r.output


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EXTRACT_STORE", None)
    r = subprocess.run(
        [sys.executable, "-m", "extract.mcp", "--store", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 3
    assert "no extract store at" in r.stderr
    assert not (tmp_path / "nope").exists()  # nothing created
