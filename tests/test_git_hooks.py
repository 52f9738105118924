"""Git hooks with the real git binary: stamping, chaining, core.hooksPath, trailers, pre-push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extract import Store
from extract.git.hooks import HOOKS, render
from extract.store.repo import Repository

from .cli import REPO, extract

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    git("init", "-q", "-b", "main", cwd=tmp_path)
    (tmp_path / "train.py").write_text("lr = 0.1\n")
    git("add", "train.py", cwd=tmp_path)
    git("commit", "-q", "-m", "start", cwd=tmp_path)
    Repository.init(tmp_path / ".extract", ("exp",))
    (tmp_path / ".gitignore").write_text(".extract/\n")
    git("add", ".gitignore", cwd=tmp_path)
    git("commit", "-q", "-m", "ignore store", cwd=tmp_path)
    return tmp_path


def log_run(project: Path, name: str) -> str:
    with Store(project / ".extract") as s, s.experiment({"exp": "e"}).run(name=name) as run:
        run.log(acc=0.5)
        return run.id


def run_row(project: Path, run_id: str) -> dict[str, object]:
    r = extract("show", run_id, "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    data: dict[str, object] = json.loads(r.stdout)
    return data


def test_dirty_run_is_stamped_by_the_commit_of_exactly_its_state(project: Path) -> None:
    assert extract("hooks", "install", cwd=project).returncode == 0
    (project / "train.py").write_text("lr = 0.01\n")
    dirty = log_run(project, "dirty")
    info = run_row(project, dirty)
    assert info["git_dirty"] is True and info["git_stamp"] is None
    git("commit", "-q", "-am", "lower lr", cwd=project)
    sha = git("rev-parse", "HEAD", cwd=project)
    assert run_row(project, dirty)["git_stamp"] == sha
    listed = json.loads(extract("log", "--code", "HEAD", "--json", cwd=project).stdout)
    assert [r["id"] for r in listed] == [dirty]

    # A commit of a different state stamps nothing.
    (project / "train.py").write_text("lr = 0.02\n")
    other = log_run(project, "other")
    (project / "train.py").write_text("lr = 0.03\n")
    git("commit", "-q", "-am", "something else", cwd=project)
    assert run_row(project, other)["git_stamp"] is None

    # A clean run is listed for its HEAD without any stamp.
    clean = log_run(project, "clean")
    listed = json.loads(extract("log", "--code", "HEAD", "--json", cwd=project).stdout)
    assert [r["id"] for r in listed] == [clean]


def test_show_code_rebuilds_the_exact_tree(project: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=project)
    (project / "train.py").write_text("lr = 0.5\nepochs = 3\n")
    (project / "data.bin").write_bytes(bytes(range(256)))
    git("add", "data.bin", cwd=project)
    run_id = log_run(project, "r")
    text = extract("show", run_id, "--code", cwd=project).stdout
    assert base in text and "git apply" in text
    wt = project.parent / "rebuilt"
    git("worktree", "add", "-q", str(wt), base, cwd=project)
    patch = subprocess.run(
        [
            sys.executable,
            "-m",
            "extract",
            "show",
            run_id,
            "--patch",
            "--store",
            str(project / ".extract"),
        ],
        cwd=project,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert patch.returncode == 0, patch.stderr
    subprocess.run(["git", "apply", "--binary"], input=patch.stdout, cwd=wt, check=True)
    assert (wt / "train.py").read_text() == "lr = 0.5\nepochs = 3\n"
    assert (wt / "data.bin").read_bytes() == bytes(range(256))


def test_existing_hook_is_chained_and_restored(project: Path) -> None:
    hooks = project / ".git" / "hooks"
    mine = '#!/bin/sh\necho ran >> "$(git rev-parse --show-toplevel)/mine.log"\n'
    (hooks / "post-commit").write_text(mine)
    (hooks / "post-commit").chmod(0o755)
    assert extract("hooks", "install", cwd=project).returncode == 0
    st = json.loads(extract("hooks", "status", "--json", cwd=project).stdout)
    assert {s["hook"]: (s["installed"], s["chained"]) for s in st}["post-commit"] == (True, True)
    (project / "train.py").write_text("lr = 0.7\n")
    run_id = log_run(project, "r")
    git("commit", "-q", "-am", "x", cwd=project)
    assert (project / "mine.log").read_text() == "ran\n"  # the user's hook still runs
    assert run_row(project, run_id)["git_stamp"] == git("rev-parse", "HEAD", cwd=project)
    assert (
        extract("hooks", "install", cwd=project).returncode == 0
    )  # again: idempotent, no double chain
    assert extract("hooks", "uninstall", cwd=project).returncode == 0
    assert (hooks / "post-commit").read_text() == mine
    assert not (hooks / "post-commit.extract-chained").exists()
    assert not (hooks / "commit-msg").exists() and not (hooks / "pre-push").exists()


def test_core_hooks_path_is_honoured(project: Path) -> None:
    git("config", "core.hooksPath", "githooks", cwd=project)
    assert extract("hooks", "install", cwd=project).returncode == 0
    assert (project / "githooks" / "post-commit").exists()
    assert not (project / ".git" / "hooks" / "post-commit").exists()
    (project / "train.py").write_text("lr = 0.9\n")
    run_id = log_run(project, "r")
    git("add", "githooks", cwd=project)
    git("commit", "-q", "-am", "x", cwd=project)
    # githooks/ is part of this commit's tree, so the run's state differs: nothing stamped...
    assert run_row(project, run_id)["git_stamp"] is None
    (project / "train.py").write_text("lr = 0.8\n")
    run2 = log_run(project, "r2")
    git("commit", "-q", "-am", "y", cwd=project)
    assert run_row(project, run2)["git_stamp"] == git("rev-parse", "HEAD", cwd=project)


def test_trailer_names_the_runs(project: Path) -> None:
    extract("hooks", "install", cwd=project)
    git("config", "extract.trailer", "true", cwd=project)
    (project / "train.py").write_text("lr = 0.4\n")
    run_id = log_run(project, "r")
    git("add", "train.py", cwd=project)
    git("commit", "-q", "-m", "lr 0.4", cwd=project)
    assert f"Extract-Runs: {run_id}" in git("log", "-1", "--format=%B", cwd=project)


def test_pre_push_pushes_history_when_enabled(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    remote_git = tmp_path_factory.mktemp("remote") / "code.git"
    git("init", "-q", "--bare", str(remote_git), cwd=project)
    git("remote", "add", "origin", str(remote_git), cwd=project)
    history = tmp_path_factory.mktemp("history") / "store"
    assert extract("remote", "add", "origin", str(history), cwd=project).returncode == 0
    log_run(project, "r")
    assert extract("commit", "-m", "runs", cwd=project).returncode == 0
    extract("hooks", "install", cwd=project)
    git("push", "-q", "origin", "main", cwd=project)
    assert not history.exists()  # off by default
    git("config", "extract.pushHistory", "true", cwd=project)
    (project / "x").write_text("x")
    git("add", "x", cwd=project)
    git("commit", "-q", "-m", "x", cwd=project)
    git("push", "-q", "origin", "main", cwd=project)
    assert Repository(history).refs.read("refs/heads/main") == Repository(
        project / ".extract"
    ).refs.read("refs/heads/main")


def test_hooks_outside_a_repository(tmp_path: Path) -> None:
    r = extract("hooks", "install", cwd=tmp_path)
    assert r.returncode == 2 and "not inside a git repository" in r.stderr


def test_shipped_shims_and_pre_commit_manifest() -> None:
    for name in HOOKS:
        shipped = REPO / "hooks" / name
        assert shipped.read_text() == render(name, None), f"hooks/{name} is stale"
        assert os.access(shipped, os.X_OK)
    manifest = (REPO / ".pre-commit-hooks.yaml").read_text()
    for hook_id in ("extract-stamp", "extract-trailer", "extract-push-history"):
        assert f"- id: {hook_id}" in manifest


def _counting_python(tmp_path: Path) -> tuple[Path, Path]:
    """An interpreter wrapper that notes each start, so a test can see the shim skip it."""
    calls = tmp_path / "python-starts"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, calls


def test_a_commit_no_run_waits_for_starts_no_interpreter(project: Path, tmp_path: Path) -> None:
    from extract.git import hooks as hookmod

    wrapper, calls = _counting_python(tmp_path)
    hookmod.install(project, str(wrapper))
    (project / "a.txt").write_text("1\n")
    git("add", "a.txt", cwd=project)
    git("commit", "-q", "-m", "nothing waits", cwd=project)
    assert not calls.exists()  # neither post-commit nor commit-msg started Python

    (project / "train.py").write_text("lr = 0.5\n")
    dirty = log_run(project, "dirty")  # the SDK lists the tree it waits for
    git("commit", "-q", "-am", "its state", cwd=project)
    assert calls.read_text().count("hooks run post-commit") == 1
    assert run_row(project, dirty)["git_stamp"] == git("rev-parse", "HEAD", cwd=project)


def test_stamps_are_committed_with_auto_commit_and_before_a_history_push(
    project: Path, tmp_path: Path
) -> None:
    assert extract("hooks", "install", cwd=project).returncode == 0
    config = project / ".extract" / "config.toml"
    config.write_text(config.read_text().replace("[store]\n", "[store]\nauto_commit = true\n"))
    (project / "train.py").write_text("lr = 0.7\n")
    dirty = log_run(project, "dirty")
    git("commit", "-q", "-am", "stamp me", cwd=project)
    r = extract("status", "--json", cwd=project)
    assert json.loads(r.stdout)["staged_entries"] == 0, "the stamp event was not committed"
    assert run_row(project, dirty)["git_stamp"] is not None
