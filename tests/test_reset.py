"""`extract reset REV`: main moves back (or anywhere) by compare-and-swap, with its own
reflog line; nothing uncommitted is dropped; the index answers as for the new head."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from extract import Store
from extract.index.build import Indexer
from extract.objects import ObjectId, RunRecord, from_hex, to_hex
from extract.objects.kinds import cast
from extract.store.fsck import fsck
from extract.store.gc import gc
from extract.store.history import head_state, list_staged, reset_main
from extract.store.repo import MAIN, Repository
from tests.cli import extract
from tests.sshd import add_runs, commit, run_cli

LEVELS = ("sweep", "trial")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repository:
    """main: c1 (2 runs) <- c2 (3 more runs, a model, a tag event): the 'bad' commit."""
    monkeypatch.chdir(tmp_path)
    repo = Repository.init(tmp_path / ".extract", LEVELS)
    add_runs(repo, 2, prefix="good")
    commit(repo, "good runs")
    model = tmp_path / "w.bin"
    model.write_bytes(b"weights")
    with Store(repo.root) as s, s.experiment({"sweep": "x", "trial": "y"}).run(name="m") as r:
        r.register_model("net", "1", model)
    add_runs(repo, 2, prefix="bad")
    commit(repo, "a bad merge, say")
    return repo


def count(repo: Repository, sql: str) -> int:
    conn = sqlite3.connect(repo.root / "index.db")
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def run_name(repo: Repository, oid: ObjectId) -> str | None:
    return cast(repo.objects.get(oid), RunRecord).name


def cli(repo: Repository, *args: str) -> dict[str, object]:
    r = run_cli(*args, "--store", str(repo.root), "--json", cwd=repo.root.parent)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert isinstance(out, dict)
    return out


def test_reset_moves_main_back_and_the_index_follows(store: Repository) -> None:
    c2 = store.refs.get(MAIN)
    c1 = store.resolve("main@{1}")
    assert count(store, "SELECT COUNT(*) FROM runs") == 5
    assert count(store, "SELECT COUNT(*) FROM models") == 1

    out = cli(store, "reset", "main@{1}")
    assert out["old"] == to_hex(c2) and out["new"] == to_hex(c1) and out["moved"] is True
    assert out["removed"] == {"runs": 3, "models": 1, "events": 0}
    assert store.refs.get(MAIN) == c1
    last = store.refs.reflog(MAIN)[-1]
    assert (last.old, last.new) == (c2, c1) and last.message == "reset: moving to main@{1}"
    # the index answers as for c1: the same as a reindex from scratch
    assert count(store, "SELECT COUNT(*) FROM runs") == 2
    assert count(store, "SELECT COUNT(*) FROM models") == 0
    assert count(store, "SELECT COUNT(*) FROM commits") == 1
    assert count(store, "SELECT COUNT(*) FROM runs WHERE name LIKE 'bad%'") == 0
    # nothing is lost: the reflog keeps c2's objects through a gc, and undo brings them back
    gc(store, grace_seconds=0)
    assert fsck(store).ok
    out = cli(store, "reset", "main@{1}")
    assert out["new"] == to_hex(c2) and out["added"] == {"runs": 3, "models": 1, "events": 0}
    assert count(store, "SELECT COUNT(*) FROM runs") == 5
    assert count(store, "SELECT COUNT(*) FROM models") == 1


def test_reset_output_for_people(store: Repository) -> None:
    c2 = store.refs.get(MAIN)
    r = run_cli("reset", "main@{1}", "--store", str(store.root), cwd=store.root.parent)
    assert r.returncode == 0, r.stderr
    assert f"-> {to_hex(store.refs.get(MAIN))[:12]}" in r.stdout
    assert "no longer holds 3 runs, 1 model" in r.stdout
    assert f"undo with: extract reset {to_hex(c2)[:12]}" in r.stdout
    again = run_cli(
        "reset",
        to_hex(store.refs.get(MAIN))[:10],
        "--store",
        str(store.root),
        cwd=store.root.parent,
    )
    assert "nothing moved" in again.stdout
    assert len(store.refs.reflog(MAIN)) == 3  # two commits, one reset: no line for a no-op


def test_uncommitted_work_survives_a_reset(store: Repository, tmp_path: Path) -> None:
    """Sealed runs waiting in staged/ and a live run are untouched, and the next commit
    puts them on top of the commit main was reset to."""
    c1 = store.resolve("main@{1}")
    add_runs(store, 2, prefix="staged")  # sealed, not committed
    assert len(list_staged(store)) == 2
    with Store(store.root) as s:
        live = s.experiment({"sweep": "x", "trial": "live"}).run(name="live")
        live.curve(0, loss=1.0)
        live.flush()
        staged = len(list_staged(store))  # the runs and the new experiment's event
        out = cli(store, "reset", to_hex(c1)[:12])
        assert out["staged_entries"] == staged and out["live_runs"] == 1
        status = cli(store, "status")
        assert len(status["uncommitted_runs"]) == 2  # type: ignore[arg-type]
        assert status["live_runs"] == [live.id]
        live.curve(1, loss=0.5)  # still logging
        live.finish()
    new = commit(store, "after the reset")
    head, state = head_state(store)
    assert head == new
    names = {run_name(store, o) for o in state.sections["runs"].values()}
    assert names == {"good0", "good1", "staged0", "staged1", "live"}
    assert list_staged(store) == []
    assert count(store, "SELECT COUNT(*) FROM runs") == 5
    assert fsck(store).ok


def test_a_staged_file_left_after_its_commit_goes_with_the_commit(store: Repository) -> None:
    """A crash between a commit's ref move and its cleanup leaves staged files whose
    entries main already holds: committed work, which the reset takes out of main with
    the rest, rather than bringing it back at the next commit."""
    from extract.store.history import stage

    _, state = head_state(store)
    key, oid = next(
        (k, o) for k, o in state.sections["runs"].items() if run_name(store, o) == "bad0"
    )
    stage(store, "runs", key, oid)
    reset_main(store, store.resolve("main@{1}"), "main@{1}")
    assert list_staged(store) == []


@pytest.mark.parametrize(
    ("rev", "code", "message"),
    [
        ("RUN", 2, "is a run object, not a commit"),
        ("deadbeefdeadbeef", 3, "no object starts with deadbeefdeadbeef"),
        ("main@{9}", 3, "records 2 move(s)"),
        ("nonsense!", 2, "neither a ref nor an object id"),
    ],
)
def test_reset_refuses_what_is_not_a_commit_and_changes_nothing(
    store: Repository, rev: str, code: int, message: str
) -> None:
    if rev == "RUN":
        _, state = head_state(store)
        rev = to_hex(next(iter(state.sections["runs"].values())))
    head, log = store.refs.get(MAIN), store.refs.reflog(MAIN)
    r = run_cli("reset", rev, "--store", str(store.root), cwd=store.root.parent)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr
    assert store.refs.get(MAIN) == head and store.refs.reflog(MAIN) == log


def test_reset_in_a_real_process(store: Repository) -> None:
    c1 = store.resolve("main@{1}")
    r = extract("reset", "main@{1}", "--json", "--store", str(store.root), cwd=store.root.parent)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["new"] == to_hex(c1)
    assert from_hex(json.loads(r.stdout)["old"]) == store.resolve("main@{1}")


def test_the_index_heals_when_main_moved_back_behind_its_back(store: Repository) -> None:
    """Another process reset main and died before updating the index, or moved the ref
    by hand: the next refresh finds main is no descendant of what it indexed, and
    reindexes in place (its file stays: other processes' connections stay valid)."""
    c1 = store.resolve("main@{1}")
    ix = Indexer(store)
    try:
        ix.refresh()
        store.refs.set(MAIN, c1, message="by hand")
        ix.refresh()
        assert ix.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
        inode = (store.root / "index.db").stat().st_ino
    finally:
        ix.close()
    assert (store.root / "index.db").stat().st_ino == inode
    assert count(store, "SELECT COUNT(*) FROM runs") == 2


def test_a_reflog_position_resolves_everywhere(store: Repository) -> None:
    c2 = store.refs.get(MAIN)
    assert store.resolve("main@{0}") == c2 == store.resolve("refs/heads/main@{0}")
    r = run_cli("rev-parse", "main@{1}", "--store", str(store.root), cwd=store.root.parent)
    assert r.stdout.strip() == to_hex(store.resolve("main@{1}"))
