"""Shared by the UI tests: a fixture store with a long curve, and ``extract ui`` as a real
subprocess on 127.0.0.1 (port 0: the address it prints is the one it bound)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from extract import Store
from tests.test_tui_fixture import Fixture, build

REPO = Path(__file__).resolve().parent.parent
#: The long run's curve: more points than a chart asks for, with one spike and one dip
#: that downsampling must keep.
LONG_POINTS = 10_000
SPIKE_STEP, SPIKE = 4321, 50.0
DIP_STEP, DIP = 7777, -50.0
URL = re.compile(r"extract ui: (http://\S+)")


def build_store(cwd: Path) -> Fixture:
    """The TUI fixture store plus one run with a 10,000-point curve ("long")."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        fx = build(cwd)
        with Store(fx.root) as store:
            exp = store.experiment(
                {"benchmark": "imagenet", "model": "resnet50", "variant": "long"}
            )
            with exp.run(
                config={"lr": 0.02, "bs": 64}, name="long", total_steps=LONG_POINTS
            ) as run:
                values = np.sin(np.arange(LONG_POINTS) / 300.0)
                values[SPIKE_STEP], values[DIP_STEP] = SPIKE, DIP
                # plateaus (ties), NaN runs and a lone NaN: the envelope's edge cases
                gappy = np.round(np.cos(np.arange(LONG_POINTS) / 700.0), 1)
                gappy[2000:2600] = np.nan
                gappy[9000] = np.nan
                for step, (v, g) in enumerate(zip(values, gappy, strict=True)):
                    run.curve(step, wave=float(v), gappy=float(g))
                run.log(final_acc=0.5)
                fx.runs["long"] = run.id
    finally:
        os.chdir(old)
    return fx


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT/ (with ?token=... when one is needed)
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return self.url.split("?", 1)[0].rstrip("/")


@contextlib.contextmanager
def serve(root: Path, *args: str) -> Iterator[Server]:
    """``extract ui --store root --port 0 ARGS`` until the block ends."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "extract", "ui", "--store", str(root), "--port", "0", *args]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        assert process.stderr is not None
        line = process.stderr.readline().decode()
        m = URL.search(line)
        assert m, f"extract ui printed no address: {line!r} {process.stderr.read().decode()[:2000]}"
        server = Server(m.group(1), process)
        _wait_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_up(server: Server) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            get(server.url)
            return
        except urllib.error.HTTPError:
            return  # it answers (maybe 401): it is up
        except OSError:
            assert server.process.poll() is None, "extract ui exited"
            assert time.monotonic() < deadline, "extract ui never answered"
            time.sleep(0.1)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()
