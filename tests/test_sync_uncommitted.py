"""The reference API has no commit step: its sync functions commit what a script sealed,
then send it; the git-style `extract push` says what it did not send."""

from __future__ import annotations

import json
from pathlib import Path

from extract import Store, sync
from extract.store.history import walk_commits
from extract.store.repo import MAIN, Repository
from tests.cli import extract


def _log_runs(project: Path, names: tuple[str, ...]) -> None:
    with Store(project / ".extract") as s:
        exp = s.experiment({"bench": "b"})
        for name in names:
            with exp.run(name=name) as run:
                run.curve(0, loss=1.0)


def _names(project: Path) -> set[str]:
    r = extract("runs", "--json", "--limit", "0", "--store", str(project), cwd=project.parent)
    assert r.returncode == 0, r.stderr
    return {row["name"] for row in json.loads(r.stdout)["runs"]}


def test_reference_sync_functions_send_what_a_script_logged(tmp_path: Path) -> None:
    a = tmp_path / "a"
    Repository.init(a / ".extract", ("bench",))
    _log_runs(a, ("r1", "r2"))
    assert Repository(a / ".extract").refs.read(MAIN) is None  # nobody committed
    hub = tmp_path / "hub"
    sync.push(a, str(hub))
    repo = Repository(a / ".extract")
    head = repo.refs.read(MAIN)
    assert head is not None
    [(_, message)] = [(oid, c.message) for oid, c in walk_commits(repo.objects, head)]
    assert "sync.push" in message and "commit what was sealed" in message

    b = tmp_path / "b"
    Repository.init(b / ".extract", ("bench",))
    added = sync.pull(b, str(hub))
    assert added["runs"] == 2 and _names(b) == {"r1", "r2"}

    _log_runs(a, ("r3",))
    sync.export_archive(a, tmp_path / "out.bundle")
    c = tmp_path / "c"
    Repository.init(c / ".extract", ("bench",))
    assert sync.import_archive(tmp_path / "out.bundle", c)["runs"] == 3

    _log_runs(a, ("r4",))  # merge_db(src, dst) takes the source's uncommitted runs too
    assert sync.merge_db(a, b)["runs"] == 2 and _names(b) == {"r1", "r2", "r3", "r4"}


def test_git_style_push_says_what_it_did_not_send(tmp_path: Path) -> None:
    a = tmp_path / "a"
    Repository.init(a / ".extract", ("bench",))
    _log_runs(a, ("r1",))
    assert extract("commit", "-m", "one", cwd=a).returncode == 0
    _log_runs(a, ("r2", "r3"))
    hub = tmp_path / "hub"
    r = extract("push", str(hub), cwd=a)
    assert r.returncode == 0, r.stderr
    assert "2 sealed runs are not committed, so not sent" in r.stderr
    r = extract("push", str(hub), "--json", cwd=a)
    assert json.loads(r.stdout)["uncommitted_runs"] == 2
    r = extract("sync", "push", str(hub), cwd=a)
    assert r.returncode == 0, r.stderr
    r = extract("push", str(hub), "--json", cwd=a)
    assert json.loads(r.stdout)["uncommitted_runs"] == 0
