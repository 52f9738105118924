"""A run whose process was SIGKILLed is never shown as running: every reader sees the
journal lock free and reports the run as not live, without any SDK process opening the
store; the next writing command seals it as failed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from extract.mcp.server import build_server
from extract.mcp.view import StoreView
from extract.store.repo import Repository
from extract.tui.core import Browser
from tests.cli import REPO, extract

TRAIN = """
import sys, time
from extract import Store
store = Store(sys.argv[1])
run = store.experiment({"bench": "b"}).run(name="victim", config={"lr": 0.1})
for step in range(50):
    run.curve(step, loss=1.0 / (step + 1))
run.flush()
print(run.id, flush=True)
time.sleep(600)
"""


def via_mcp(root: Path, tool: str, **args: Any) -> Any:
    out: list[Any] = []

    async def go() -> None:
        view = StoreView(root)
        try:
            async with Client(build_server(view), mode="legacy") as client:
                r = await client.call_tool(tool, args)
                assert not r.is_error, r.content
                out.append(r.structured_content)
        finally:
            view.close()

    anyio.run(go)
    return out[0]


def test_a_killed_run_is_not_live_for_any_reader(tmp_path: Path) -> None:
    root = tmp_path / ".extract"
    Repository.init(root, ("bench",))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen(
        [sys.executable, "-c", TRAIN, str(root)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert p.stdout is not None
        run_id = p.stdout.readline().strip()
        alive = json.loads(extract("status", "--json", "--store", str(root), cwd=tmp_path).stdout)
        assert alive["live_runs"] == [run_id]
        assert via_mcp(root, "get_run", run_id=run_id)["live"] is True
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    killed_at = time.monotonic()

    # No SDK process opens the store from here on: only readers.
    status = json.loads(extract("status", "--json", "--store", str(root), cwd=tmp_path).stdout)
    assert status["live"] == 0 and status["live_runs"] == []
    assert status["crashed"] == 1 and status["crashed_runs"] == [run_id]
    text = extract("status", "--store", str(root), cwd=tmp_path).stdout
    assert "1 crashed" in text and "0 live" in text
    shown = json.loads(extract("show", run_id, "--json", "--store", str(root), cwd=tmp_path).stdout)
    assert shown["status"] == "failed"
    assert via_mcp(root, "get_run", run_id=run_id)["live"] is False
    running = via_mcp(root, "search", filters={"status": "running"})
    assert running["items"] == []
    assert [r["status"] for r in via_mcp(root, "list_runs")["items"]] == ["failed"]
    b = Browser(root)
    b.open()
    try:
        assert b.run_detail(run_id).row.status == "failed" and not b.run_detail(run_id).row.live
    finally:
        b.close()
    assert time.monotonic() - killed_at < 60  # (bounded by the test, measured in bench)
    # Every flushed point is still there, and a writing command seals the run as failed.
    assert (root / "journal" / f"{run_id}.journal").exists()
    r = extract("commit", "-m", "after the crash", "--store", str(root), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (root / "journal" / f"{run_id}.journal").exists()
    status = json.loads(extract("status", "--json", "--store", str(root), cwd=tmp_path).stdout)
    assert (status["crashed"], status["committed"]) == (0, 1)
    got = via_mcp(root, "get_run", run_id=run_id)
    assert got["status"] == "failed" and got["curves"]["loss"]["points"] == 50
