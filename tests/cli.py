"""Run the real ``extract`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def extract(
    *args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "EXTRACT_STORE"}
    full_env.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "extract", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def extract_bytes(*args: str, cwd: Path) -> bytes:
    """stdout of a command that writes binary data; fails the test on a non-zero exit."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EXTRACT_STORE", None)
    r = subprocess.run(
        [sys.executable, "-m", "extract", *args],
        cwd=cwd,
        capture_output=True,
        env=env,
        timeout=120,
        check=True,
    )
    return r.stdout
