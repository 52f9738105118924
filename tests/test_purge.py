"""``extract purge``: a purged run or model version really goes, and stays gone.

Everything runs as a user runs it: runs are logged by a training script in its own
process, and every ``extract`` command is a real ``python -m extract`` process. What must
hold: purging a committed run that holds a large model frees its bytes and fsck stays
clean; chunks it shared with a kept model stay; a fetch and merge from a store that still
has the run does not bring it back, and that store learns of the purge when it merges;
bundles and pushes carry a purged history; bad input changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.cli import REPO, extract

SCRIPT = textwrap.dedent(
    """
    import json, random, sys
    from extract.sdk import Store

    root, name, size, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    prefix = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    path = f"{root}/../{name}.bin"
    data = random.Random(seed).randbytes(size)
    if prefix:  # share the first ``prefix`` bytes with the model of seed 0
        data = random.Random(0).randbytes(prefix) + data
    with open(path, "wb") as f:
        f.write(data)
    with Store(root) as s:
        with s.experiment({"project": "p"}).run(name=name) as r:
            r.log(loss=0.5)
            r.register_model(f"model-{name}", "v1", path)
    print(json.dumps({"id": r.id}))
    """
)

MiB = 1 << 20


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # git provenance capture reads the tmp dir, not this checkout


def ok(*args: str, cwd: Path) -> str:
    r = extract(*args, cwd=cwd)
    assert r.returncode == 0, f"extract {' '.join(args)}: {r.stdout}{r.stderr}"
    return r.stdout


def fails(code: int, *args: str, cwd: Path) -> str:
    """The one-line error of a command that must fail with ``code``."""
    r = extract(*args, cwd=cwd)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def project(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    ok("init", ".", "--hierarchy", "project", cwd=d)
    return d


def log_run(d: Path, name: str, size: int, seed: int, shared_prefix: int = 0) -> str:
    """A training script in its own process: one run registering a ``size``-byte model."""
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(d / ".extract"), name, str(size), str(seed)]
        + ([str(shared_prefix)] if shared_prefix else []),
        cwd=d,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=True,
    )
    return str(json.loads(r.stdout)["id"])


def store_bytes(d: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(d / ".extract" / "objects"):
        total += sum(os.path.getsize(Path(dirpath) / f) for f in files)
    return total


def runs(d: Path) -> set[str]:
    rows = json.loads(ok("sql", "SELECT name FROM runs", "--json", cwd=d))
    return {r["name"] for r in _rows(rows)}


def models(d: Path) -> set[str]:
    rows = json.loads(ok("sql", "SELECT name, version FROM models", "--json", cwd=d))
    return {f"{r['name']}@{r['version']}" for r in _rows(rows)}


def _rows(doc: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = doc["rows"] if isinstance(doc, dict) else doc
    return rows


def fsck_clean(d: Path, read_data: bool = False) -> None:
    out = ok("fsck", *(["--read-data"] if read_data else []), cwd=d)
    assert " 0 errors" in out, out


def snapshot(d: Path) -> tuple[str, int, set[str]]:
    """main, the bytes stored and the runs listed: what a refused purge must not change."""
    head = (d / ".extract" / "refs" / "heads" / "main").read_text()
    return head, store_bytes(d), runs(d)


def test_purge_of_a_run_with_a_large_model_frees_its_bytes(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    log_run(a, "big", 8 * MiB, seed=1)
    log_run(a, "small", 64 << 10, seed=2)
    ok("commit", "-m", "two runs", cwd=a)
    before = snapshot(a)

    # Off a terminal, without --yes: what would go, in one line, and nothing changes.
    line = fails(2, "purge", "big", cwd=a)
    assert "1 run and 1 model version" in line and "--yes" in line
    assert snapshot(a) == before

    out = json.loads(ok("purge", "big", "--yes", "--json", cwd=a))
    assert out["models"] == ["model-big@v1"] and len(out["runs"]) == 1
    assert out["bytes_freed"] >= 8 * MiB
    ok("gc", "--grace", "0", cwd=a)
    assert before[1] - store_bytes(a) >= 0.99 * 8 * MiB  # the model is gone from disk
    fsck_clean(a, read_data=True)
    assert runs(a) == {"small"} and models(a) == {"model-small@v1"}
    assert "purge: 1 run, 1 model version" in ok("log", cwd=a)
    # The index is a cache: rebuilt from the objects, it says the same.
    (a / ".extract" / "index.db").unlink()
    ok("reindex", cwd=a)
    assert runs(a) == {"small"} and models(a) == {"model-small@v1"}
    # Purging again changes nothing and says so.
    assert "already purged" in ok("purge", out["runs"][0], "--yes", cwd=a)


def test_shared_chunks_stay_with_the_kept_model(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    log_run(a, "old", 6 * MiB, seed=0)  # the kept model is these 6 MiB ...
    log_run(a, "new", 1 * MiB, seed=5, shared_prefix=6 * MiB)  # ... and this one starts with them
    ok("commit", "-m", "two checkpoints", cwd=a)
    before = store_bytes(a)
    ok("purge", "old", "--yes", cwd=a)
    ok("gc", "--grace", "0", cwd=a)
    freed = before - store_bytes(a)
    assert freed < 2 * MiB  # the shared chunks stayed: only what was old's own went
    fsck_clean(a, read_data=True)
    ok("checkout", "model-new@v1", str(tmp_path / "out.bin"), cwd=a)
    assert (tmp_path / "out.bin").read_bytes() == (a / "new.bin").read_bytes()


def test_purging_a_model_version_keeps_its_run(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    rid = log_run(a, "big", 4 * MiB, seed=1)
    ok("commit", "-m", "one", cwd=a)
    before = store_bytes(a)
    ok("purge", "model-big@v1", "--yes", cwd=a)
    assert before - store_bytes(a) >= 0.99 * 4 * MiB  # the run record links it: not kept
    assert runs(a) == {"big"} and models(a) == set()
    fsck_clean(a, read_data=True)
    assert rid in ok("show", rid, cwd=a)


def test_a_purged_run_does_not_come_back_and_other_stores_learn_of_the_purge(
    tmp_path: Path,
) -> None:
    a = project(tmp_path, "a")
    big = log_run(a, "big", 4 * MiB, seed=1)
    log_run(a, "small", 64 << 10, seed=2)
    ok("commit", "-m", "two runs", cwd=a)
    b = project(tmp_path, "b")
    ok("remote", "add", "a", str(a / ".extract"), cwd=b)
    ok("pull", "a", cwd=b)
    # b goes on working, on the run a is about to purge too
    ok("tag", big, "keep-me", cwd=b)
    log_run(b, "other", 64 << 10, seed=3)
    ok("commit", "-m", "b's work", cwd=b)

    ok("purge", big, "--yes", cwd=a)
    small_store = store_bytes(a)
    ok("remote", "add", "b", str(b / ".extract"), cwd=a)
    ok("pull", "b", cwd=a)  # b still has the run: it is not brought back
    assert runs(a) == {"small", "other"}
    assert models(a) == {"model-small@v1", "model-other@v1"}
    targets = json.loads(ok("sql", "SELECT target FROM events", "--json", cwd=a))
    assert f"run:{big}" not in {r["target"] for r in _rows(targets)}  # b's tag went with it
    ok("gc", "--grace", "0", cwd=a)
    assert store_bytes(a) - small_store < 1 * MiB  # nothing of the 4 MiB model came back
    fsck_clean(a, read_data=True)

    # The other direction: b learns of the purge when it merges, and frees the space.
    b_before = store_bytes(b)
    ok("pull", "a", cwd=b)
    assert runs(b) == {"small", "other"}
    ok("gc", "--grace", "0", cwd=b)
    assert b_before - store_bytes(b) >= 0.99 * 4 * MiB
    fsck_clean(b, read_data=True)

    # A store that never had the run takes the purged history (fetch, then a push into
    # an empty store), and is clean.
    c = project(tmp_path, "c")
    ok("remote", "add", "a", str(a / ".extract"), cwd=c)
    ok("pull", "a", cwd=c)
    assert runs(c) == {"small", "other"}
    fsck_clean(c)
    ok("init", "--bare", str(tmp_path / "bare"), cwd=c)
    ok("remote", "add", "bare", str(tmp_path / "bare"), cwd=c)
    ok("push", "bare", cwd=c)
    fsck_clean(c)
    assert " 0 errors" in ok("fsck", "--store", str(tmp_path / "bare"), cwd=c)


def test_bundle_after_purge(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    big = log_run(a, "big", 2 * MiB, seed=1)
    log_run(a, "small", 64 << 10, seed=2)
    ok("commit", "-m", "two runs", cwd=a)
    ok("purge", big, "--yes", cwd=a)
    bundle = tmp_path / "a.bundle"
    ok("export", str(bundle), cwd=a)
    assert bundle.stat().st_size < 1 * MiB  # the purged model is not in it
    d = project(tmp_path, "d")
    ok("import", str(bundle), cwd=d)
    ok("merge", "bundle", cwd=d)
    assert runs(d) == {"small"}
    fsck_clean(d, read_data=True)


def test_bad_purges_are_one_line_and_change_nothing(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    log_run(a, "big", 64 << 10, seed=1)
    ok("commit", "-m", "one", cwd=a)
    before = snapshot(a)
    assert "Run not found: 'nosuchrun'" in fails(3, "purge", "nosuchrun", "--yes", cwd=a)
    assert "model-big@VERSION" in fails(2, "purge", "model-big", "--yes", cwd=a)
    assert "nothing to purge" in fails(2, "purge", cwd=a)
    assert "Model not found: 'model-big@v9'" in fails(3, "purge", "model-big@v9", "--yes", cwd=a)
    # one bad target among good ones: nothing is purged
    fails(3, "purge", "big", "nosuchrun", "--yes", cwd=a)
    assert snapshot(a) == before


def test_sdk_purge(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    log_run(a, "big", 2 * MiB, seed=1)
    log_run(a, "small", 64 << 10, seed=2)
    ok("commit", "-m", "two runs", cwd=a)
    script = textwrap.dedent(
        f"""
        import json
        from extract.sdk import Store
        with Store({str(a / ".extract")!r}) as s:
            out = s.purge("big")
            try:  # a purged name@version is never registered again
                with s.experiment({{"project": "p"}}).run(name="again") as r:
                    r.register_model("model-big", "v1", {str(a / "small.bin")!r})
            except ValueError as e:
                out["again"] = str(e)
            print(json.dumps(out))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", script],
        cwd=a,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["models"] == ["model-big@v1"] and out["bytes_freed"] >= 2 * MiB
    assert "was purged from this store for good" in out["again"]
    assert runs(a) == {"small", "again"} and models(a) == {"model-small@v1"}
    fsck_clean(a)


def test_a_run_still_being_written_is_not_purged(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    live = textwrap.dedent(
        f"""
        import sys
        from extract.sdk import Store
        s = Store({str(a / ".extract")!r})
        r = s.experiment({{"project": "p"}}).run(name="live")
        r.log(loss=1.0)
        print(r.id, flush=True)
        sys.stdin.read()  # until the test closes our stdin
        r.finish()
        """
    )
    p = subprocess.Popen(
        [sys.executable, "-c", live],
        cwd=a,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert p.stdout is not None
        rid = p.stdout.readline().strip()
        assert "still being written" in fails(4, "purge", rid, "--yes", cwd=a)
    finally:
        assert p.stdin is not None
        p.stdin.close()
        p.wait(timeout=60)
    assert runs(a) == {"live"}
    ok("purge", rid, "--yes", cwd=a)  # finished: now it can go
    assert runs(a) == set()


def test_purge_while_a_writer_reuses_the_purged_chunks(tmp_path: Path) -> None:
    """A training process keeps registering checkpoints that share most of their chunks
    with the model being purged: the purge frees under gc's writer lock, so every chunk
    the writer reused is kept, whatever the timing."""
    a = project(tmp_path, "a")
    big = log_run(a, "big", 4 * MiB, seed=0)
    ok("commit", "-m", "one", cwd=a)
    writer = textwrap.dedent(
        f"""
        import random
        from extract.sdk import Store
        base = random.Random(0).randbytes({4 * MiB})
        with Store({str(a / ".extract")!r}) as s:
            for i in range(8):
                path = {str(tmp_path)!r} + f"/ck{{i}}.bin"
                with open(path, "wb") as f:
                    f.write(base + random.Random(100 + i).randbytes(300_000))
                with s.experiment({{"project": "p"}}).run(name=f"ck{{i}}") as r:
                    r.register_model("ck", f"v{{i}}", path)
                print(i, flush=True)
        """
    )
    p = subprocess.Popen(
        [sys.executable, "-c", writer],
        cwd=a,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "0"  # the writer is under way
    ok("purge", big, "--yes", cwd=a)
    p.communicate(timeout=300)
    assert p.returncode == 0
    ok("commit", "-m", "checkpoints", cwd=a)
    ok("gc", "--grace", "0", cwd=a)
    fsck_clean(a, read_data=True)
    for i in range(8):
        dest = tmp_path / f"out{i}.bin"
        ok("checkout", f"ck@v{i}", str(dest), cwd=a)
        assert dest.read_bytes() == (tmp_path / f"ck{i}.bin").read_bytes()


RESUMABLE = textwrap.dedent(
    """
    import random, sys
    import numpy as np
    from extract.sdk import Store
    root, mode, name = sys.argv[1], sys.argv[2], sys.argv[3]
    with Store(root) as s:
        exp = s.experiment({"project": "p"})
        try:
            if mode == "fail":
                with exp.run(name=name) as r:
                    r.curve(0, loss=1.0)
                    raise ValueError("diverged")
            with exp.run(resume=name) as r:  # a continuation, with a table of its own
                r.curve(loss=0.5)
                r.log(checkpoint=float(len(mode)))
                acts = random.Random(len(mode)).randbytes(1 << 20)
                r.log_table("acts", np.frombuffer(acts, dtype="u1"))
                if mode == "here":
                    raise ValueError("preempted again")  # another machine may resume it
        except ValueError:
            pass
    """
)


def resumable(d: Path, mode: str, name: str = "pre") -> None:
    subprocess.run(
        [sys.executable, "-c", RESUMABLE, str(d / ".extract"), mode, name],
        cwd=d,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
        timeout=120,
    )


def test_a_resumed_run_is_purged_with_every_continuation(tmp_path: Path) -> None:
    a = project(tmp_path, "a")
    resumable(a, "fail")
    resumable(a, "here")
    log_run(a, "small", 64 << 10, seed=2)
    ok("commit", "-m", "a preempted run, resumed", cwd=a)
    b = project(tmp_path, "b")
    ok("remote", "add", "a", str(a / ".extract"), cwd=b)
    ok("pull", "a", cwd=b)
    resumable(b, "on b")  # b continues it too, after a's purge below
    ok("commit", "-m", "continued on b", cwd=b)

    before = store_bytes(a)
    ok("purge", "pre", "--yes", cwd=a)
    assert before - store_bytes(a) >= 0.99 * MiB  # the continuation's table went too
    assert runs(a) == {"small"}
    ok("remote", "add", "b", str(b / ".extract"), cwd=a)
    ok("pull", "b", cwd=a)  # b's own continuation of the purged run does not bring it back
    assert runs(a) == {"small"}
    segments = json.loads(ok("sql", "SELECT id FROM segments", "--json", cwd=a))
    assert _rows(segments) == []
    ok("gc", "--grace", "0", cwd=a)
    assert store_bytes(a) < before - 0.99 * MiB  # nothing of b's continuation stays either
    fsck_clean(a, read_data=True)

    ok("pull", "a", cwd=b)  # and b, merging the purge, drops its continuation too
    assert runs(b) == {"small"}
    ok("gc", "--grace", "0", cwd=b)
    fsck_clean(b, read_data=True)


def test_a_run_purged_with_an_uncommitted_continuation_leaves_commits_working(
    tmp_path: Path,
) -> None:
    a = project(tmp_path, "a")
    resumable(a, "fail")
    ok("commit", "-m", "a preempted run", cwd=a)
    resumable(a, "here")  # its continuation is sealed and staged, not committed
    log_run(a, "small", 64 << 10, seed=2)
    ok("purge", "pre", "--yes", cwd=a)
    assert "1 runs" in ok("commit", "-m", "after the purge", cwd=a)  # the small run only
    assert runs(a) == {"small"}
    fsck_clean(a, read_data=True)
