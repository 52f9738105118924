"""The sync commands end to end, as a user runs them (``python -m extract`` in a subprocess).

``extract remote add|list|remove``, ``fetch``, ``merge``, ``pull``, ``push`` (with
``--json`` summaries and ``-q``), a push refused when the remote moved on, ``export``
and ``import``, the reference API's ``extract sync push|pull|export|import`` and its
library functions (``extract.sync.pull``, ``import_archive``, ``merge_db`` return rows
added per table), and ``extract init --bare``.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

import extract.sync as sync
from extract.objects import to_hex
from extract.store import config as configmod
from extract.store.fsck import fsck
from extract.store.history import head_state
from extract.store.repo import MAIN, Repository
from extract.sync import table_counts
from tests.cli import extract
from tests.sshd import (
    SshServer,
    add_runs,
    commit,
    make_store,
    reachable,
    run_cli,
    sshd,
)

SSH_FIXTURES = (sshd,)  # imported for pytest (fixtures of tests/sshd.py)


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # git provenance capture reads the tmp dir, not this checkout


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, real: bool = False
) -> subprocess.CompletedProcess[str]:
    """The CLI in this process, or with ``real`` as ``python -m extract`` in a subprocess."""
    return (extract if real else run_cli)(*args, cwd=cwd, env=env)


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None, real: bool = False) -> str:
    r = run(*args, cwd=cwd, env=env, real=real)
    assert r.returncode == 0, f"extract {' '.join(args)}: {r.stderr}"
    return r.stdout


def js(*args: str, cwd: Path, env: dict[str, str] | None = None, real: bool = False) -> Any:
    return json.loads(ok(*args, "--json", cwd=cwd, env=env, real=real))


def fails(code: int, *args: str, cwd: Path, real: bool = False) -> str:
    """stderr of a command that must fail with ``code``: one line, no traceback."""
    r = run(*args, cwd=cwd, real=real)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def project(tmp_path: Path, name: str, runs: int = 0, prefix: str = "r") -> Repository:
    """A project directory ``tmp_path/name`` with its store in ``.extract``."""
    repo = make_store(tmp_path / name / ".extract")
    if runs:
        add_runs(repo, runs, prefix=prefix, sweep=name)
        commit(repo, f"{runs} runs in {name}")
    return repo


def config_of(repo: Repository) -> dict[str, Any]:
    text = (repo.root / "config.toml").read_text("utf-8")
    configmod.parse(text, repo.root / "config.toml")  # extract reads it
    return tomllib.loads(text)


# remotes ----------------------------------------------------------------------------------


def test_remote_add_list_remove(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    cwd = tmp_path / "a"
    assert ok("remote", "list", cwd=cwd) == ""
    assert js("remote", "list", cwd=cwd) == {}
    assert ok("remote", "add", "origin", "/mnt/backup/.extract", cwd=cwd).strip() == (
        "added remote origin -> /mnt/backup/.extract"
    )
    ok("remote", "add", "cluster", "ssh://me@login.hpc:2222/scratch/me/.extract", cwd=cwd)
    ok("remote", "add", "laptop", "me@laptop:work/.extract", cwd=cwd)
    assert ok("remote", "list", cwd=cwd).splitlines() == [
        "origin\t/mnt/backup/.extract",
        "cluster\tssh://me@login.hpc:2222/scratch/me/.extract",
        "laptop\tme@laptop:work/.extract",
    ]
    cfg = config_of(a)
    assert cfg["store"]["hierarchy"] == "sweep > trial"
    assert cfg["remotes"]["cluster"]["url"] == "ssh://me@login.hpc:2222/scratch/me/.extract"

    msg = fails(2, "remote", "add", "origin", "/elsewhere", cwd=cwd)
    assert "already exists" in msg and "/mnt/backup/.extract" in msg

    assert ok("remote", "remove", "cluster", cwd=cwd).strip() == "removed remote cluster"
    assert js("remote", "list", cwd=cwd) == {
        "origin": "/mnt/backup/.extract",
        "laptop": "me@laptop:work/.extract",
    }
    assert config_of(a)["store"]["hierarchy"] == "sweep > trial"
    assert "Remote not found: 'cluster'" in fails(3, "remote", "remove", "cluster", cwd=cwd)


@pytest.mark.parametrize(
    "url", ['/data/my "quoted" store', "C:\\Users\\me\\.extract", "/tmp/ünï cödé/#not a comment"]
)
def test_remote_urls_round_trip_through_config(tmp_path: Path, url: str) -> None:
    a = project(tmp_path, "a")
    ok("remote", "add", "--store", str(a.root), "odd", url, cwd=tmp_path)
    assert js("remote", "list", "--store", str(a.root), cwd=tmp_path) == {"odd": url}
    assert config_of(a)["remotes"]["odd"]["url"] == url


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("-x", "/p"),
        (".hidden", "/p"),
        ("bad name", "/p"),
        ("../x", "/p"),
        ("a]", "/p"),
        ("x.lock", "/p"),
        ('a"b', "/p"),
        ("", "/p"),
        ("good", "ssh://host"),
        ("good", "ssh://-oProxyCommand=x/y"),
        ("good", ""),
    ],
)
def test_remote_add_refuses_bad_names_and_urls(tmp_path: Path, name: str, url: str) -> None:
    a = project(tmp_path, "a")
    before = (a.root / "config.toml").read_bytes()
    fails(2, "remote", "add", "--store", str(a.root), "--", name, url, cwd=tmp_path)
    assert (a.root / "config.toml").read_bytes() == before
    config_of(a)


def test_remote_name_with_a_dot(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    ok("remote", "add", "--store", str(a.root), "v1.2", "/p", cwd=tmp_path)
    assert js("remote", "list", "--store", str(a.root), cwd=tmp_path) == {"v1.2": "/p"}


def test_a_bad_remote_name_is_named_in_the_error(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    msg = fails(2, "remote", "add", "--store", str(a.root), "bad name", "/p", cwd=tmp_path)
    assert "bad name" in msg and "malformed TOML" not in msg


def test_remote_remove_deletes_the_tracking_ref(tmp_path: Path) -> None:
    src = project(tmp_path, "src", runs=1)
    a = project(tmp_path, "a")
    cwd = tmp_path / "a"
    ok("remote", "add", "origin", str(src.root), cwd=cwd)
    ok("fetch", "origin", "-q", cwd=cwd)
    assert a.refs.read("refs/remotes/origin/main") == src.refs.read(MAIN)
    ok("remote", "remove", "origin", cwd=cwd)
    assert a.refs.read("refs/remotes/origin/main") is None
    assert "Remote not found: 'origin'" in fails(3, "fetch", "origin", cwd=cwd)


# fetch, merge, pull, push ----------------------------------------------------------------------


def test_push_fetch_merge_pull_with_json(tmp_path: Path) -> None:
    a = project(tmp_path, "a", runs=3)
    head = a.refs.get(MAIN)
    total = len(reachable(a, head))
    hub = tmp_path / "hub"
    ok("init", "--bare", str(hub), cwd=tmp_path)
    cwd_a = tmp_path / "a"
    ok("remote", "add", "origin", str(hub), cwd=cwd_a)

    out = js("push", cwd=cwd_a, real=True)  # origin by default; once as a real process
    assert out["remote"] == "origin" and out["head"] == to_hex(head)
    assert out["objects"] == total and out["bytes"] > 0 and out["up_to_date"] is False
    assert isinstance(out["seconds"], float)
    assert js("push", "origin", cwd=cwd_a)["up_to_date"] is True
    assert ok("push", "origin", cwd=cwd_a).strip() == "everything up to date"
    assert Repository(hub).refs.read(MAIN) == head

    b = project(tmp_path, "b")
    cwd_b = tmp_path / "b"
    ok("remote", "add", "origin", str(hub), cwd=cwd_b)
    out = js("fetch", cwd=cwd_b, real=True)
    assert out == {
        "remote": "origin",
        "head": to_hex(head),
        "objects": total,
        "bytes": out["bytes"],
        "seconds": out["seconds"],
    }
    assert b.refs.read(MAIN) is None
    merged = js("merge", "origin", cwd=cwd_b)
    assert merged == {"kind": "fast-forward", "head": to_hex(head), "added": {}}
    assert b.refs.read(MAIN) == head
    assert js("merge", "origin", cwd=cwd_b)["kind"] == "up-to-date"
    assert ok("merge", "origin", cwd=cwd_b).strip() == "already up to date"
    assert fsck(b).ok

    # b adds two runs and pushes; a pulls them in with a merge commit of its own work
    add_runs(b, 2, prefix="b", sweep="b")
    commit(b, "b work")
    add_runs(a, 1, prefix="a2", sweep="a")
    commit(a, "a work")
    assert js("push", cwd=cwd_b)["objects"] > 0
    pulled = js("pull", cwd=cwd_a)
    assert pulled["kind"] == "merge"
    assert pulled["added"]["runs"] == 2 and pulled["added"]["models"] == 0
    assert len(head_state(a)[1].sections["runs"]) == 6
    assert ok("pull", cwd=cwd_a).strip() == "already up to date"
    assert table_counts(a)["runs"] == 6


def test_quiet(tmp_path: Path) -> None:
    a = project(tmp_path, "a", runs=1)
    hub = tmp_path / "hub"
    r = run("push", "-q", "--store", str(a.root), str(hub), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    b = project(tmp_path, "b")
    r = run("fetch", "-q", "--store", str(b.root), str(hub), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    r = run("pull", "-q", "--store", str(b.root), str(hub), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""  # -q: quiet, like fetch -q
    assert b.refs.read(MAIN) == a.refs.read(MAIN)
    r = run("fetch", "--store", str(b.root), str(hub), cwd=tmp_path)
    assert r.stdout.startswith("fetched 0 objects (0 bytes) from ")


def test_push_is_refused_when_the_remote_moved_on(tmp_path: Path) -> None:
    a = project(tmp_path, "a", runs=1)
    hub = tmp_path / "hub"
    ok("push", "--store", str(a.root), str(hub), cwd=tmp_path)
    ok("remote", "add", "--store", str(a.root), "origin", str(hub), cwd=tmp_path)
    b = project(tmp_path, "b")
    ok("remote", "add", "--store", str(b.root), "origin", str(hub), cwd=tmp_path)
    ok("pull", "--store", str(b.root), "origin", cwd=tmp_path)
    add_runs(b, 1, prefix="b", sweep="b")
    commit(b, "b")
    ok("push", "--store", str(b.root), "origin", cwd=tmp_path)
    hub_head = Repository(hub).refs.read(MAIN)

    add_runs(a, 1, prefix="a", sweep="a")
    commit(a, "a")
    msg = fails(4, "push", "--store", str(a.root), "origin", cwd=tmp_path, real=True)
    assert "extract pull origin" in msg and "then push" in msg
    assert Repository(hub).refs.read(MAIN) == hub_head

    ok("pull", "--store", str(a.root), "origin", cwd=tmp_path)
    out = js("push", "--store", str(a.root), "origin", cwd=tmp_path)
    assert out["up_to_date"] is False
    assert Repository(hub).refs.read(MAIN) == a.refs.read(MAIN)
    assert len(head_state(Repository(hub))[1].sections["runs"]) == 3


def test_nothing_to_push_or_fetch(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    msg = fails(2, "push", "--store", str(a.root), str(tmp_path / "hub"), cwd=tmp_path)
    assert "nothing to push" in msg
    assert not (tmp_path / "hub" / "refs" / "heads" / "main").exists()
    ok("init", "--bare", str(tmp_path / "empty"), cwd=tmp_path)
    assert "has no commits yet" in ok(
        "fetch", "--store", str(a.root), str(tmp_path / "empty"), cwd=tmp_path
    )
    assert "no extract store" in fails(
        3, "fetch", "--store", str(a.root), str(tmp_path / "nowhere"), cwd=tmp_path
    )
    assert "which remote?" in fails(2, "fetch", "--store", str(a.root), cwd=tmp_path)


def test_cli_over_ssh(tmp_path: Path, sshd: SshServer) -> None:
    a = project(tmp_path, "a", runs=2)
    b = project(tmp_path, "b")
    url = sshd.url(tmp_path / "hub")
    ok("remote", "add", "--store", str(a.root), "cluster", url, cwd=tmp_path)
    ok("remote", "add", "--store", str(b.root), "cluster", url, cwd=tmp_path)
    out = js("push", "--store", str(a.root), "cluster", cwd=tmp_path, env=sshd.env, real=True)
    assert out["objects"] == len(reachable(a, a.refs.get(MAIN)))
    counts = ok("sync", "pull", "--store", str(b.root), "cluster", cwd=tmp_path, env=sshd.env)
    assert "runs: 2" in counts.splitlines()
    assert b.refs.read(MAIN) == a.refs.read(MAIN)


# bundles -------------------------------------------------------------------------------------


def test_export_import(tmp_path: Path) -> None:
    a = project(tmp_path, "a", runs=2)
    first = a.refs.get(MAIN)
    out = js("export", str(tmp_path / "all.bundle"), "--store", str(a.root), cwd=tmp_path)
    assert out["objects"] == len(reachable(a, first)) and out["file"] == str(
        tmp_path / "all.bundle"
    )
    assert not list(tmp_path.glob(".all.bundle.tmp-*"))

    b = project(tmp_path, "b")
    r = js("import", str(tmp_path / "all.bundle"), "--store", str(b.root), cwd=tmp_path)
    assert r["kind"] == "fast-forward" and r["head"] == to_hex(first)
    assert b.refs.read("refs/remotes/bundle/main") == first
    assert (
        js("import", str(tmp_path / "all.bundle"), "--store", str(b.root), cwd=tmp_path)["kind"]
        == "up-to-date"
    )

    add_runs(a, 1, prefix="later")
    second = commit(a, "later")
    out = js(
        "export", "new.bundle", "--since", to_hex(first)[:12], "--store", str(a.root), cwd=tmp_path
    )
    assert out["objects"] == len(reachable(a, second) - reachable(a, first))
    add_runs(b, 1, prefix="b", sweep="b")
    commit(b, "b")
    r = js("import", "new.bundle", "--store", str(b.root), cwd=tmp_path)
    assert r["kind"] == "merge" and r["added"]["runs"] == 1
    assert fsck(b).ok
    assert "nothing to export" in fails(
        2, "export", "x.bundle", "--store", str(project(tmp_path, "c").root), cwd=tmp_path
    )


def expected_added(src: Repository) -> dict[str, int]:
    """Rows a store with the same hierarchy and nothing else gains from all of ``src``."""
    counts = table_counts(src)
    return {t: (0 if t == "hierarchy" else n) for t, n in counts.items()}


def printed_counts(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        table, _, n = line.partition(": ")
        out[table] = int(n)
    return out


def test_reference_sync_commands(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    add_runs(a, 3, todo=True)
    commit(a, "three")
    want = expected_added(a)
    assert want["runs"] == 3 and want["curve_points"] == 3 * 3 * 2 and want["todos"] == 3

    hub = tmp_path / "hub"
    for _ in range(2):  # the second time there is nothing to send, and that is fine
        out = ok("sync", "push", str(hub), "--store", str(a.root), cwd=tmp_path)
        assert out.strip() == f"pushed main to {hub}"
    assert Repository(hub).refs.read(MAIN) == a.refs.read(MAIN)

    b = project(tmp_path, "b")
    assert (
        printed_counts(ok("sync", "pull", str(hub), "--store", str(b.root), cwd=tmp_path)) == want
    )
    again = printed_counts(ok("sync", "pull", str(hub), "--store", str(b.root), cwd=tmp_path))
    assert set(again.values()) == {0}

    text = ok("sync", "export", str(tmp_path / "a.bundle"), "--store", str(a.root), cwd=tmp_path)
    assert text.strip() == f"wrote {tmp_path / 'a.bundle'}"
    c = project(tmp_path, "c")
    assert (
        printed_counts(
            ok("sync", "import", str(tmp_path / "a.bundle"), "--store", str(c.root), cwd=tmp_path)
        )
        == want
    )
    again = printed_counts(
        ok("sync", "import", str(tmp_path / "a.bundle"), "--store", str(c.root), cwd=tmp_path)
    )
    assert set(again.values()) == {0}


def test_reference_api_functions(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    add_runs(a, 2, todo=True)
    commit(a, "two")
    want = expected_added(a)

    hub = tmp_path / "hub" / ".extract"
    sync.push(tmp_path / "a", str(hub))  # a project directory works as root
    assert Repository(hub).refs.read(MAIN) == a.refs.read(MAIN)

    b = project(tmp_path, "b")
    assert sync.pull(b.root, str(hub)) == want
    assert set(sync.pull(b.root, str(hub)).values()) == {0}

    sync.export_archive(a.root, tmp_path / "a.bundle")
    c = project(tmp_path, "c")
    assert sync.import_archive(tmp_path / "a.bundle", tmp_path / "c") == want
    assert set(sync.import_archive(tmp_path / "a.bundle", c.root).values()) == {0}

    d = project(tmp_path, "d")
    assert sync.merge_db(a.root, d.root) == want
    # the reference API names database files; they stand for their stores
    e = project(tmp_path, "e")
    table_counts(e)  # e's index.db exists (a's does: table_counts read it)
    assert sync.merge_db(a.root / "index.db", e.root / "index.db") == want

    # two sides with work of their own: only the other side's rows are counted
    add_runs(d, 1, prefix="d", sweep="d")
    commit(d, "d")
    add_runs(a, 1, prefix="a", sweep="a")
    commit(a, "a")
    added = sync.merge_db(d.root, a.root)
    assert added["runs"] == 1 and added["curve_points"] == 3 * 2 and added["experiments"] == 2


# init --bare ----------------------------------------------------------------------------------


def test_init_bare(tmp_path: Path) -> None:
    target = tmp_path / "srv" / "store"
    assert (
        ok("init", "--bare", str(target), cwd=tmp_path).strip()
        == f"Initialized bare extract store in {target}"
    )
    repo = Repository(target)
    assert repo.config.hierarchy is None and repo.refs.names() == []
    assert fsck(repo).ok
    assert not (tmp_path / ".gitignore").exists()
    assert "already an extract store" in fails(2, "init", "--bare", str(target), cwd=tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    assert "not empty" in fails(2, "init", "--bare", str(tmp_path / "full"), cwd=tmp_path)
    assert "no --hierarchy" in fails(
        2, "init", "--bare", str(tmp_path / "h"), "--hierarchy", "a > b", cwd=tmp_path
    )
    assert not (tmp_path / "h").exists()
    # a bare store takes pushes and serves fetches
    a = project(tmp_path, "a", runs=1)
    ok("push", "--store", str(a.root), str(target), cwd=tmp_path)
    assert Repository(target).refs.read(MAIN) == a.refs.read(MAIN)
