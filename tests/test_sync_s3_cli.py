"""S3 remotes through the real ``extract`` command and real processes, against moto's
server on 127.0.0.1: clone a machine from a bucket (init + remote add + pull), push, fetch,
merge, ``extract sync``; 8 processes pushing at once with no update lost; a push and a
fetch killed halfway, then resumed without resending what arrived; the install hint when
boto3 is missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from extract.objects import ObjectId, to_hex
from extract.sdk import Store
from extract.store.fsck import fsck
from extract.store.history import head_state
from extract.store.repo import MAIN, Repository
from tests.cli import REPO, extract
from tests.s3server import S3, moto_server, s3
from tests.sshd import HIERARCHY as SSHD_HIERARCHY
from tests.sshd import add_runs, add_tag_events, commit, make_store, object_ids_on_disk, reachable

S3_FIXTURES = (moto_server, s3)  # imported for pytest
HIERARCHY = " > ".join(SSHD_HIERARCHY)


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout


def as_json(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    value = json.loads(ok(r))
    assert isinstance(value, dict)
    return value


def one_line_error(r: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def runs(root: Path) -> set[str]:
    _, state = head_state(Repository(root))
    return set(state.sections["runs"])


def test_clone_push_fetch_merge_and_sync_through_the_cli(tmp_path: Path, s3: S3) -> None:
    a = make_store(tmp_path / "a" / ".extract")
    add_runs(a, 2, prefix="a")
    commit(a, "a")
    url = s3.url()
    ok(extract("remote", "add", "--store", str(a.root), "team", url, cwd=tmp_path))
    pushed = as_json(extract("push", "--store", str(a.root), "team", "--json", cwd=tmp_path))
    head = a.refs.read(MAIN)
    assert head is not None and pushed["head"] == to_hex(head)

    # a new machine: init + remote add + pull
    b = tmp_path / "b" / ".extract"
    ok(extract("init", "--hierarchy", HIERARCHY, str(b.parent), cwd=tmp_path))
    ok(extract("remote", "add", "--store", str(b), "team", url, cwd=tmp_path))
    ok(extract("pull", "--store", str(b), "team", cwd=tmp_path))
    assert Repository(b).refs.read(MAIN) == a.refs.read(MAIN)
    assert runs(b) == runs(a.root)

    # both sides add work; the second pusher is told to pull, then gets in
    add_runs(Repository(b), 1, prefix="b")
    commit(Repository(b), "b")
    add_runs(a, 1, prefix="a2")
    commit(a, "a2")
    ok(extract("push", "--store", str(b), "team", cwd=tmp_path))
    lost = extract("push", "--store", str(a.root), "team", cwd=tmp_path)
    one_line_error(lost, 4, "extract pull team")
    ok(extract("fetch", "--store", str(a.root), "team", cwd=tmp_path))
    assert "merged" in ok(extract("merge", "--store", str(a.root), "team", cwd=tmp_path))
    ok(extract("push", "--store", str(a.root), "team", cwd=tmp_path))
    counts = ok(extract("sync", "pull", "team", "--store", str(b), cwd=tmp_path))
    assert "runs: 1" in counts
    assert runs(b) == runs(a.root)
    ok(extract("sync", "push", "team", "--store", str(b), cwd=tmp_path))
    assert fsck(Repository(b)).ok


def test_endpoint_region_and_addressing_style_from_config_toml(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = make_store(tmp_path / "a" / ".extract")
    add_runs(a, 1, prefix="a")
    commit(a, "a")
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # only config.toml knows where the service is
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    args = ["--endpoint-url", s3.server.endpoint, "--region", "eu-west-1"]
    ok(
        extract(
            "remote",
            "add",
            "--store",
            str(a.root),
            "team",
            s3.url(),
            *args,
            "--addressing-style",
            "path",
            cwd=tmp_path,
        )
    )
    text = (a.root / "config.toml").read_text()
    assert f'endpoint_url = "{s3.server.endpoint}"' in text and "AWS_" not in text
    ok(extract("push", "--store", str(a.root), "team", cwd=tmp_path))
    assert f"{s3.bucket}" and any(k.endswith("refs/heads/main") for k in s3.listing())
    bad = extract(
        "remote", "add", "--store", str(a.root), "nas", "/mnt/x", "--region", "x", cwd=tmp_path
    )
    one_line_error(bad, 2, "applies only to an s3:// remote")
    bad = extract(
        "remote",
        "add",
        "--store",
        str(a.root),
        "t2",
        s3.url(),
        "--addressing-style",
        "sideways",
        cwd=tmp_path,
    )
    one_line_error(bad, 2, "addressing_style")
    assert "nas" not in (a.root / "config.toml").read_text()


def test_a_missing_bucket_and_no_boto3_are_one_line_errors(tmp_path: Path, s3: S3) -> None:
    a = make_store(tmp_path / "a" / ".extract")
    add_runs(a, 1, prefix="a")
    commit(a, "a")
    r = extract("push", "--store", str(a.root), f"s3://nope-{s3.bucket}/x", cwd=tmp_path)
    one_line_error(r, 3, "does not exist")
    # boto3 not installed: a package of that name that cannot be imported shadows it
    fake = tmp_path / "no-boto3" / "boto3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named boto3')\n")
    env = {"PYTHONPATH": f"{fake.parent}{os.pathsep}{REPO}"}
    r = extract("fetch", "--store", str(a.root), s3.url(), cwd=tmp_path, env=env)
    one_line_error(r, 2, "pip install 'extract-tracker[s3]'")


@pytest.mark.slow
def test_eight_processes_push_at_once_and_no_update_is_lost(tmp_path: Path, s3: S3) -> None:
    url = s3.url()
    seed = make_store(tmp_path / "seed" / ".extract")
    add_runs(seed, 1, prefix="seed")
    commit(seed, "seed")
    ok(extract("push", "--store", str(seed.root), url, cwd=tmp_path))
    stores = []
    for i in range(8):
        project = tmp_path / f"w{i}"
        ok(extract("init", "--hierarchy", HIERARCHY, str(project), cwd=tmp_path))
        ok(extract("pull", "--store", str(project / ".extract"), url, cwd=tmp_path))
        repo = Repository(project / ".extract")
        add_runs(repo, 1, prefix=f"w{i}")
        commit(repo, f"w{i}")
        stores.append(repo.root)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workers.s3_pusher", str(root), url, str(go)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in stores
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outs]
    conflicts = sum(int(out.split()[-1]) for out, _ in outs)
    assert conflicts > 0, "the pushes never raced: the test proved nothing"

    final = tmp_path / "final"
    ok(extract("init", "--bare", str(final), cwd=tmp_path))
    ok(extract("pull", "--store", str(final), url, cwd=tmp_path))
    expected = runs(seed.root).union(*(runs(root) for root in stores))
    assert runs(final) >= expected, "an update was lost"
    assert fsck(Repository(final)).ok


# interrupted transfers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ObjectId, int]:
    """A store whose main holds a 96 MiB model (three data packs and more) and 2,000
    small objects."""
    top = tmp_path_factory.mktemp("big")
    old = Path.cwd()
    os.chdir(top)
    try:
        repo = make_store(top / "a" / ".extract")
        (top / "model.bin").write_bytes(os.urandom(96 * 2**20))
        with (
            Store(repo.root) as st,
            st.experiment({"sweep": "x", "trial": "big"}).run(name="big") as r,
        ):
            r.register_model("net", "1", top / "model.bin")
        [many] = add_runs(repo, 2, prefix="many")[:1]
        commit(repo, "big")
        head = add_tag_events(repo, 2000, many, "many small objects")
        (top / "model.bin").unlink()
    finally:
        os.chdir(old)
    return repo.root, head, len(reachable(repo, head))


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "extract", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(proc: subprocess.Popen[str], done: Any, what: str) -> None:
    import time

    deadline = time.monotonic() + 300
    while not done():
        if proc.poll() is not None:
            pytest.fail(
                f"the transfer ended (exit {proc.returncode}) before {what}: "
                f"{proc.communicate()[1]}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} in 300 s")
        time.sleep(0.01)


@pytest.mark.slow
def test_push_killed_midway_then_resumed(
    tmp_path: Path, s3: S3, big: tuple[Path, ObjectId, int]
) -> None:
    root, head, total = big
    url = s3.url()
    proc = start(["push", "--store", str(root), url, "--json"], tmp_path)
    wait_until(proc, lambda: any("-data-" in k for k in s3.listing()), "a data pack arrived")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not any("/refs/" in k for k in s3.listing()), "a ref moved before the push completed"
    sent = {k for k in s3.listing() if "/packs/" in k}

    done = as_json(extract("push", "--store", str(root), url, "--json", cwd=tmp_path))
    assert done["head"] == to_hex(head)
    assert 0 < done["objects"] < total, "what arrived before the kill was sent again"
    assert sent <= {k for k in s3.listing() if "/packs/" in k}
    fresh = tmp_path / "fresh"
    ok(extract("init", "--bare", str(fresh), cwd=tmp_path))
    ok(extract("fetch", "--store", str(fresh), url, cwd=tmp_path))
    assert fsck(Repository(fresh)).ok


@pytest.mark.slow
def test_fetch_killed_midway_then_resumed(
    tmp_path: Path, s3: S3, big: tuple[Path, ObjectId, int]
) -> None:
    root, head, total = big
    url = s3.url()
    ok(extract("push", "--store", str(root), url, cwd=tmp_path))
    local = tmp_path / "local"
    ok(extract("init", "--bare", str(local), cwd=tmp_path))
    proc = start(["fetch", "--store", str(local), url, "--json"], tmp_path)
    wait_until(proc, lambda: len(object_ids_on_disk(local)) >= 5, "objects arrived")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    repo = Repository(local)
    assert fsck(repo).ok
    wanted = {to_hex(o) for o in reachable(Repository(root), head)}
    arrived = len(wanted & object_ids_on_disk(local))
    assert 0 < arrived < total, "the kill came too late to test anything"

    again = as_json(extract("fetch", "--store", str(local), url, "--json", cwd=tmp_path))
    assert again["objects"] == total - arrived, "what arrived before the kill was resent"
    assert again["head"] == to_hex(head)
    assert fsck(repo).ok


def test_gc_and_fsck_of_a_bucket_remote_through_the_cli(tmp_path: Path, s3: S3) -> None:
    a = make_store(tmp_path / "a" / ".extract")
    add_runs(a, 1, prefix="a")
    commit(a, "a")
    store = ["--store", str(a.root)]
    ok(extract("remote", "add", *store, "team", s3.url(), cwd=tmp_path))
    ok(extract("remote", "add", *store, "disk", str(tmp_path / "disk"), cwd=tmp_path))
    ok(extract("push", *store, "team", cwd=tmp_path))
    s3.write("team/packs/" + "cd" * 32 + ".pack", b"left by a push that died")
    checked = json.loads(ok(extract("fsck", *store, "--remote", "team", "--json", cwd=tmp_path)))
    assert checked["ok"] and checked["reachable"] > 0 and checked["problems"] == []
    dry = as_json(
        extract("gc", *store, "--remote", "team", "--grace", "0", "-n", "--json", cwd=tmp_path)
    )
    assert dry["orphans"] == ["packs/" + "cd" * 32 + ".pack"]
    assert "team/packs/" + "cd" * 32 + ".pack" in s3.listing()
    out = ok(extract("gc", *store, "--remote", "team", "--grace", "0", cwd=tmp_path))
    assert "deleted 1 packs" in out
    assert "team/packs/" + "cd" * 32 + ".pack" not in s3.listing()
    one_line_error(extract("gc", *store, "--remote", "disk", cwd=tmp_path), 2, "s3:// remotes")
    # a pack the refs need, gone: fsck says so and exits 1
    [meta] = [k for k in s3.listing() if "-meta-" in k]
    s3.client.delete_object(Bucket=s3.bucket, Key=f"team/packs/{meta.rsplit('-', 1)[1]}.pack")
    r = extract("fsck", *store, "--remote", "team", cwd=tmp_path)
    assert r.returncode == 1 and "is missing" in r.stderr and "remote has errors" in r.stdout
