"""``extract tui`` in a real terminal (tmux): keys in, screen out, while another process trains.

A writer process logs a curve point every 20 ms into a live run; the UI, started
in a tmux pane, is sent keys to open that run, and the pane is captured until the
run's point count has risen several times with no further keypress.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from extract import Store

    root = Path(sys.argv[1])
    with Store(root) as store:
        exp = store.experiment({"benchmark": "demo", "model": "mlp"})
        with exp.run(config={"lr": 0.1}, name="done-run", total_steps=5) as run:
            for step in range(5):
                run.curve(step, loss=1.0 / (step + 1))
        run = exp.run(config={"lr": 0.01}, name="live-run", total_steps=2000)
        for step in range(20):
            run.curve(step, loss=1.0 / (step + 1))
        run.flush()
        Path(sys.argv[2]).write_text(run.id)
        step = 20
        deadline = time.time() + float(sys.argv[3])
        while time.time() < deadline and step < 2000:
            run.curve(step, loss=1.0 / (step + 1))
            step += 1
            time.sleep(0.02)
        run.finish()
    """
)


def tui_command(store: Path) -> list[str]:
    """``extract tui`` once the command is registered; the module entry point until then."""
    from extract.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    if "tui" in names:
        return [sys.executable, "-m", "extract", "tui", "--store", str(store)]
    return [sys.executable, "-m", "extract.tui", "--store", str(store)]


class Pane:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=20,
        )

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "tui").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "tui", *keys)

    def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        t0 = time.monotonic()
        screen = ""
        while time.monotonic() - t0 < timeout:
            screen = self.capture()
            m = re.search(pattern, screen)
            if m:
                return m
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared; the pane shows:\n{screen}")

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", "tui", check=False).returncode == 0


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    p = Pane(f"extract-test-{os.getpid()}-{tmp_path.name}")
    yield p
    p.tmux("kill-server", check=False)


def test_live_point_count_rises_in_a_real_terminal(tmp_path: Path, pane: Pane) -> None:
    from extract.store.repo import Repository

    root = tmp_path / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text('[store]\nhierarchy = "benchmark > model"\n')
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(ready), "25"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        t0 = time.monotonic()
        while not ready.exists():
            assert writer.poll() is None, writer.stdout.read().decode() if writer.stdout else ""
            assert time.monotonic() - t0 < 30, "the writer never started its live run"
            time.sleep(0.05)
        command = " ".join(tui_command(root))
        pane.tmux(
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            str(tmp_path),
            f"env TERM=xterm-256color PYTHONPATH={env['PYTHONPATH']} {command}",
        )
        pane.tmux("resize-window", "-t", "tui", "-x", "120", "-y", "40", check=False)
        pane.wait_for(r"Experiments")
        pane.wait_for(r"●1")  # the navigator counts the running run
        pane.keys("g")
        pane.wait_for(r"Go to run")
        pane.keys("live-run")
        pane.wait_for(r"live-run\s+demo/mlp")
        pane.keys("Enter")
        first = int(pane.wait_for(r"progress\s+(\d+) points").group(1))
        seen = [first]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(set(seen)) < 4:
            time.sleep(0.5)
            m = re.search(r"progress\s+(\d+) points", pane.capture())
            if m:
                seen.append(int(m.group(1)))
        assert len(set(seen)) >= 4, f"point counts seen without a keypress: {seen}"
        assert seen == sorted(seen), seen
        assert "● running" in pane.capture()
        pane.keys("?")
        pane.wait_for(r"Everywhere on the main screen")
        pane.keys("Escape")
        time.sleep(0.6)  # a lone ESC is told from an alt+key by a short pause
        pane.wait_for(r"progress\s+\d+ points")
        pane.keys("c")
        pane.wait_for(r"mark at least two runs")
        pane.keys("q")
        t1 = time.monotonic()
        while pane.alive() and time.monotonic() - t1 < 10:
            time.sleep(0.1)
        assert not pane.alive(), "q did not quit the app"
    finally:
        writer.terminate()
        writer.wait(timeout=10)
