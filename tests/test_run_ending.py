"""Runs a script does not end itself: at interpreter exit and on SIGTERM, in real
processes, nothing logged is lost and the run ends with the right status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from extract.store.repo import Repository
from tests.cli import REPO, extract

HEAD = """
import os, signal, sys, time
from extract import Store
store = Store(sys.argv[1])
run = store.experiment({"bench": "b"}).run(name="r")
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _store(tmp_path: Path) -> Path:
    root = tmp_path / ".extract"
    Repository.init(root, ("bench",))
    return root


def _show(root: Path) -> dict[str, Any]:
    r = extract("show", "r", "--json", "--store", str(root), cwd=root.parent)
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def _run(code: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HEAD + code, str(root)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_script_without_finish_loses_nothing(tmp_path: Path) -> None:
    root = _store(tmp_path)
    r = _run("for s in range(25):\n    run.curve(s, loss=1.0 / (s + 1))\nrun.log(acc=0.9)\n", root)
    assert r.returncode == 0, r.stderr
    got = _show(root)
    assert got["status"] == "completed" and got["object_id"] is not None
    assert got["curve_stats"]["loss"]["points"] == 25 and got["metrics"]["acc"] == 0.9
    assert not list((root / "journal").glob("*.journal"))


def test_an_uncaught_exception_fails_the_run_and_says_why(tmp_path: Path) -> None:
    root = _store(tmp_path)
    r = _run("for s in range(5):\n    run.curve(s, loss=1.0)\nraise ValueError('diverged')\n", root)
    assert r.returncode == 1 and "ValueError: diverged" in r.stderr  # the traceback still shows
    got = _show(root)
    assert got["status"] == "failed" and got["curve_stats"]["loss"]["points"] == 5
    assert "ValueError: diverged" in got["notes"]


LOOP = """
print("ready", flush=True)
step = 0
while True:
    run.curve(step, a=1.0, b=2.0, c=3.0)
    step += 1
    if step % 1000 == 0:
        with open(sys.argv[1] + "/../steps", "w") as f:
            f.write(str(step))
"""


def _terminate(root: Path, code: str) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-c", HEAD + code, str(root)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    steps = root.parent / "steps"
    while not steps.exists() or int(steps.read_text() or 0) < 5000:
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    return p, err


def test_sigterm_finishes_a_training_loop_as_failed_losing_nothing(tmp_path: Path) -> None:
    root = _store(tmp_path)
    p, err = _terminate(root, LOOP)
    assert p.returncode == -signal.SIGTERM, err  # died by the signal, as without extract
    got = _show(root)
    assert got["status"] == "failed" and "SIGTERM" in got["notes"]
    n = got["curve_stats"]["a"]["points"]
    assert n >= 5000
    assert got["curve_stats"]["a"]["last_step"] == n - 1  # every step up to the last, none lost


def test_sigterm_chains_the_users_own_handler(tmp_path: Path) -> None:
    root = _store(tmp_path)
    handler = (
        "def mine(signum, frame):\n"
        "    run.curve(10**9, a=0.0)  # logging after the end is dropped, not an error\n"
        "    print('user handler ran', flush=True)\n"
        "    sys.exit(7)\n"
        "signal.signal(signal.SIGTERM, mine)\n"
    )
    # the user's handler was installed before the run started: extract chains it
    code = HEAD.replace("run = store", handler + "run = store") + LOOP
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(root)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    steps = root.parent / "steps"
    while not steps.exists() or int(steps.read_text() or 0) < 2000:
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 7, err
    assert "user handler ran" in out
    got = _show(root)
    assert got["status"] == "failed" and got["curve_stats"]["a"]["last_step"] < 10**9


def test_the_handler_is_restored_when_the_last_run_finishes(tmp_path: Path) -> None:
    root = _store(tmp_path)
    code = (
        "before = signal.getsignal(signal.SIGTERM)\n"
        "run.finish()\n"
        "assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, signal.getsignal(signal.SIGTERM)\n"
        "print('restored')\n"
    )
    r = _run(code, root)
    assert r.returncode == 0 and "restored" in r.stdout, r.stderr


def test_no_handler_is_installed_outside_the_main_thread(tmp_path: Path) -> None:
    root = _store(tmp_path)
    code = (
        "import threading\n"
        "def work():\n"
        "    r = store.experiment({'bench': 'b'}).run(name='t')\n"
        "    assert signal.getsignal(signal.SIGTERM) is not None\n"
        "    r.finish()\n"
        "run.finish()\n"
        "t = threading.Thread(target=work); t.start(); t.join()\n"
        "assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL\n"
        "print('ok')\n"
    )
    r = _run(code, root)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
