"""The store commands through the real CLI: output, exit codes, and nothing changed on error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extract.objects import Blob, Commit, Tree
from extract.store.repo import MAIN, Repository

from .cli import extract, extract_bytes


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_init_then_refuse(tmp_path: Path) -> None:
    r = extract("init", "--hierarchy", "benchmark > model > variant", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "benchmark > model > variant" in r.stdout
    assert ".extract/" in (tmp_path / ".gitignore").read_text()
    before = snapshot(tmp_path)
    r = extract("init", "--hierarchy", "a > b", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("error:") and "already configured" in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(tmp_path) == before


def test_init_in_a_path_without_gitignore(tmp_path: Path) -> None:
    r = extract("init", "proj", "--hierarchy", "a", "--no-gitignore", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "proj" / ".extract" / "FORMAT").exists()
    assert not (tmp_path / "proj" / ".gitignore").exists()


def test_init_gitignore_is_not_duplicated(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\n.extract/")
    extract("init", "--hierarchy", "a", cwd=tmp_path)
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n.extract/"


def test_init_interactive(tmp_path: Path) -> None:
    # No terminal: a clear error instead of a hang.
    r = extract("init", cwd=tmp_path, input="a > b\n")
    assert r.returncode == 2 and "--hierarchy" in r.stderr
    assert not (tmp_path / ".extract").exists()


@pytest.mark.parametrize("bad", ["", "a >", "a > a", "bad level > x"])
def test_init_bad_hierarchy_changes_nothing(tmp_path: Path, bad: str) -> None:
    r = extract("init", "--hierarchy", bad, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def make_history(root: Path) -> Repository:
    repo = Repository(root)
    with repo.writing():
        blob = repo.objects.put(Blob(b"weights"))
        tree = repo.objects.put(Tree({"model.pt": blob}))
        c = repo.objects.put(Commit((), tree, "me", "host", "2026-01-01T00:00:00Z", "first"))
        repo.objects.sync()
        repo.refs.set(MAIN, c, expected=None, message="commit: first")
    return repo


def test_fsck_gc_and_plumbing(tmp_path: Path) -> None:
    extract("init", "--hierarchy", "a", cwd=tmp_path)
    repo = make_history(tmp_path / ".extract")
    r = extract("fsck", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr
    r = extract("fsck", "--json", "--read-data", cwd=tmp_path)
    report = json.loads(r.stdout)
    assert report["ok"] and report["objects"] == 3 and report["reachable"] == 3

    head = repo.refs.get(MAIN).hex()
    assert extract("rev-parse", "main", cwd=tmp_path).stdout.strip() == head
    assert extract("rev-parse", head[:10], cwd=tmp_path).stdout.strip() == head
    shown = json.loads(extract("cat-object", "main", cwd=tmp_path).stdout)
    assert shown["kind"] == "commit" and shown["message"] == "first" and "$link" in shown["state"]
    assert extract("show-ref", cwd=tmp_path).stdout.strip() == f"{head} {MAIN}"
    assert "commit: first" in extract("reflog", cwd=tmp_path).stdout

    f = tmp_path / "data.bin"
    f.write_bytes(os.urandom(2 << 20))
    oid = extract("hash-object", str(f), cwd=tmp_path).stdout.strip()
    assert not repo.objects.has(bytes.fromhex(oid))  # type: ignore[arg-type]
    assert extract("hash-object", "-w", str(f), cwd=tmp_path).stdout.strip() == oid
    assert (
        extract_bytes("cat-object", "--content", oid, "--store", ".extract", cwd=tmp_path)
        == f.read_bytes()
    )

    r = extract("gc", "--grace", "0", "--dry-run", "--json", cwd=tmp_path)
    gone = json.loads(r.stdout)
    assert gone["dry_run"] and oid in gone["removed"]
    assert repo.objects.has(bytes.fromhex(oid))  # type: ignore[arg-type]
    r = extract("gc", "--grace", "0", cwd=tmp_path)
    assert r.returncode == 0 and "removed" in r.stdout
    assert not repo.objects.has(bytes.fromhex(oid))  # type: ignore[arg-type]
    assert extract("fsck", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cat-object", "xyz"], 2, "neither a ref nor an object id"),
        (["cat-object", "deadbeefdeadbeef"], 3, "no object starts with"),
        (["rev-parse", "refs/heads/../x"], 2, "neither a ref"),
        (["gc", "--grace", "soon"], 2, "invalid duration"),
        (["cat-object", "--raw", "--content", "main"], 2, "exclude each other"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    extract("init", "--hierarchy", "a", cwd=tmp_path)
    make_history(tmp_path / ".extract")
    before = snapshot(tmp_path / ".extract")
    r = extract(*args, cwd=tmp_path)
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert snapshot(tmp_path / ".extract") == before


def test_no_store_here(tmp_path: Path) -> None:
    r = extract("fsck", cwd=tmp_path)
    assert r.returncode == 3 and "extract init" in r.stderr


def test_store_found_from_a_subdirectory_and_env(tmp_path: Path) -> None:
    extract("init", "--hierarchy", "a", cwd=tmp_path)
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    assert extract("fsck", cwd=sub).returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    assert (
        extract("fsck", cwd=other, env={"EXTRACT_STORE": str(tmp_path / ".extract")}).returncode
        == 0
    )


def test_unknown_store_format(tmp_path: Path) -> None:
    extract("init", "--hierarchy", "a", cwd=tmp_path)
    (tmp_path / ".extract" / "FORMAT").write_text("extract-store 9\nhash blake3-256\n")
    r = extract("fsck", cwd=tmp_path)
    assert r.returncode == 5 and "format 9" in r.stderr


def test_every_command_has_help_with_text(tmp_path: Path) -> None:
    import typer.main
    from typer.testing import CliRunner

    from extract.cli import app
    from extract.cli.registry import BY_NAME

    group = typer.main.get_command(app)
    names = sorted(group.commands)  # type: ignore[attr-defined]
    assert {"init", "fsck", "gc", "cat-object"} <= set(names)
    # the real entry point once; each command's help in this process (an interpreter per
    # command cost the suite most of a minute)
    r = extract("--help", cwd=tmp_path)
    assert r.returncode == 0 and all(f"  {n} " in r.stdout for n in names)
    # the entry point lists commands from the registry without loading them: each
    # summary there is its command's own first line of help
    assert sorted(BY_NAME) == names
    for name, entry in BY_NAME.items():
        cmd = group.commands[name]  # type: ignore[attr-defined]
        assert cmd.get_short_help_str(limit=300) == entry.summary, name
    runner = CliRunner()
    for name in names:
        got = runner.invoke(app, [name, "--help"])
        assert got.exit_code == 0 and "Usage" in got.output, (name, got.output)
        assert len(group.commands[name].help or "") > 20, name  # type: ignore[attr-defined]


def test_the_entry_point_loads_only_the_command_it_runs(tmp_path: Path) -> None:
    extract("init", "--hierarchy", "a", cwd=tmp_path)
    code = (
        "import sys; from extract.cli import main; sys.argv = ['extract', 'status', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('extract.cli.')), file=sys.stderr)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert '"live"' in r.stdout or "live" in r.stdout, r.stderr
    loaded = r.stderr.strip().splitlines()[-1]
    assert "extract.cli.track_cmds" in loaded
    for other in ("sync_cmds", "ui_cmd", "tui_cmd", "annotate_cmds", "git_cmds"):
        assert f"extract.cli.{other}" not in loaded, loaded
    r = extract("stauts", cwd=tmp_path)
    assert r.returncode == 2 and "Did you mean 'status'?" in r.stderr
    r = extract("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("extract ")
