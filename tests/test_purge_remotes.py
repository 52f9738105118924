"""A purged history through git and S3 remotes (their own walks and receivers), as a user
runs it: ``extract push`` to the remote, then a store that never had the run pulls it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.s3server import S3, moto_server, s3
from tests.test_purge import MiB, fsck_clean, log_run, ok, project, runs

S3_FIXTURES = (moto_server, s3)  # imported for pytest


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _purged_history(tmp_path: Path) -> Path:
    """A store whose history holds a run with a model, then its purge."""
    a = project(tmp_path, "a")
    big = log_run(a, "big", 1 * MiB, seed=1)
    log_run(a, "small", 64 << 10, seed=2)
    ok("commit", "-m", "two runs", cwd=a)
    ok("purge", big, "--yes", cwd=a)
    return a


def test_purged_history_through_a_git_remote(tmp_path: Path) -> None:
    a = _purged_history(tmp_path)
    hub = tmp_path / "hub.git"
    subprocess.run(["git", "init", "-q", "--bare", str(hub)], check=True)
    ok("remote", "add", "hub", f"git+file://{hub}", cwd=a)
    ok("push", "hub", cwd=a)
    c = project(tmp_path, "c")
    ok("remote", "add", "hub", f"git+file://{hub}", cwd=c)
    ok("pull", "hub", cwd=c)
    assert runs(c) == {"small"}
    fsck_clean(c, read_data=True)


def test_purged_history_through_an_s3_bucket(tmp_path: Path, s3: S3) -> None:
    a = _purged_history(tmp_path)
    ok("remote", "add", "team", s3.url(), cwd=a)
    ok("push", "team", cwd=a)
    c = project(tmp_path, "c")
    ok("remote", "add", "team", s3.url(), cwd=c)
    ok("pull", "team", cwd=c)
    assert runs(c) == {"small"}
    fsck_clean(c, read_data=True)
    ok("gc", "--remote", "team", "--grace", "0", cwd=a)  # the bucket's own walk copes too
