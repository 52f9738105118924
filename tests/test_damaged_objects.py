"""One missing or damaged object costs what needs it and nothing else, and comes back
from a store that has it (issue 12, part 2).

Real stores on disk and the real ``extract`` in subprocesses: a run's object removed,
a byte flipped inside a pack, a loose object truncated; commits and state trees lost.
After each: ``reindex`` indexes every other run, ``sql`` answers, ``status`` says what
was skipped, ``fsck`` names the bad object with what needs it and how to recover, and
``fsck --repair --from`` a second store puts it back, after which fsck is clean and the
index has the run again. gc never copies a damaged packed entry into a new pack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from extract.index.build import Indexer
from extract.index.skips import listed
from extract.objects import ModelVersion, ObjectId, RunRecord, Tree, to_hex
from extract.objects.kinds import Commit, cast
from extract.store.history import bucket_of, head_state
from extract.store.repo import MAIN, Repository

from .cli import extract
from .sshd import SshServer, sshd
from .stores import (
    copy_store,
    flip_packed_byte,
    make_store,
    packed_copy,
    remove_loose,
    run_objects,
    the_pack,
    truncate_loose,
)

SSH_FIXTURES = (sshd,)  # imported for pytest (a real sshd: tests/sshd.py)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A pristine store with runs r0..r3 (r0 registered model net@v1): the remote."""
    base = tmp_path_factory.mktemp("damage-template")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # provenance capture must not read this repository
        yield make_store(base / "origin")


def names(project: Path) -> list[str]:
    r = extract("sql", "-f", "json", "SELECT name FROM runs ORDER BY name", cwd=project)
    assert r.returncode == 0, r.stderr
    return [row["name"] for row in json.loads(r.stdout)]


def one_line(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


def damaged_copy(case: str, template: Path, project: Path) -> tuple[Path, ObjectId]:
    """A store like ``template`` whose run r1 has its run record hurt as ``case`` says."""
    if case == "flipped-in-pack":
        root = packed_copy(template, project)
        victim = run_objects(root)["r1"]
        flip_packed_byte(root, victim)
    else:
        root = copy_store(template, project)
        victim = run_objects(root)["r1"]
        (remove_loose if case == "missing-loose" else truncate_loose)(root, victim)
    return root, victim


@pytest.mark.parametrize("case", ["missing-loose", "flipped-in-pack", "truncated-loose"])
def test_a_bad_run_object_costs_that_run_only_and_comes_back(
    case: str, template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    root, victim = damaged_copy(case, template, project)
    run_id = cast(Repository(template).objects.get(victim), RunRecord).id
    hexid = to_hex(victim)

    r = extract("reindex", cwd=project)
    assert r.returncode == 0, r.stderr
    one_line(r.stderr)
    assert f"skipped run {run_id}" in r.stderr and hexid in r.stderr
    assert "reindexed 3 runs" in r.stdout
    assert names(project) == ["r0", "r2", "r3"]  # everything else is there

    st = extract("status", cwd=project)
    assert st.returncode == 0, st.stderr
    assert "index: 1 entries skipped" in st.stdout and "extract fsck" in st.stdout
    assert extract("log", cwd=project).returncode == 0
    assert extract("show", "r0", cwd=project).returncode == 0

    fs = extract("fsck", cwd=project)
    assert fs.returncode == 1
    one_line(fs.stderr)
    [line] = [x for x in fs.stderr.splitlines() if x.startswith(f"error: {hexid}")]
    assert f"needed by run {run_id}" in line
    if case == "flipped-in-pack":
        assert the_pack(root).path.name in line
    assert "extract fsck --repair --from REMOTE" in fs.stderr

    # the recovery path: a second store acting as remote
    rep = extract("fsck", "--repair", "--from", str(template), cwd=project)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert "restored 1 object(s)" in rep.stdout
    kept = list((root / "damaged").glob("*")) if (root / "damaged").is_dir() else []
    if case == "truncated-loose":
        assert [p.name.split(".")[0] for p in kept] == [hexid]  # evidence kept, not deleted
    else:
        assert kept == []
    ok = extract("fsck", "--read-data", cwd=project)
    assert ok.returncode == 0 and ok.stdout.strip().endswith("ok"), ok.stdout + ok.stderr
    assert names(project) == ["r0", "r1", "r2", "r3"]
    st = extract("status", "--json", cwd=project)
    assert json.loads(st.stdout)["skipped_entries"] == 0
    # and a rebuild from scratch agrees
    assert "reindexed 4 runs" in extract("reindex", cwd=project).stdout


def test_fsck_names_runs_and_models_by_name(template: Path, tmp_path: Path) -> None:
    """A lost piece below a run or model is named by what owns it, not just its id."""
    project = tmp_path / "p"
    root = copy_store(template, project)
    repo = Repository(root)
    _, state = head_state(repo)
    [mv_oid] = state.sections["models"].values()
    content = cast(repo.objects.get(mv_oid), ModelVersion).content
    record = cast(repo.objects.get(run_objects(root)["r2"]), RunRecord)
    assert record.curves is not None
    remove_loose(root, content)
    remove_loose(root, record.curves)
    fs = extract("fsck", "--json", cwd=project)
    bad = {b["id"]: b for b in json.loads(fs.stdout)["bad_objects"]}
    assert bad[to_hex(content)]["needed_by"] == ["model net@v1"]
    assert bad[to_hex(record.curves)]["needed_by"] == [f"run {record.id} (b/m0#r2)"]


def test_a_restored_object_heals_the_index_on_the_next_refresh(
    template: Path, tmp_path: Path
) -> None:
    """The skip list is retried by every refresh: no reindex needed once the object is back."""
    root = copy_store(template, tmp_path / "p")
    victim = run_objects(root)["r3"]
    path = Repository(root).objects.path_of(victim)
    saved = path.read_bytes()
    path.unlink()
    repo = Repository(root)
    idx = Indexer(repo)
    try:
        idx.rebuild()
        assert [s.key for s in listed(idx.conn)] == [
            cast(Repository(template).objects.get(victim), RunRecord).id
        ]
        assert idx.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 3
        path.write_bytes(saved)
        idx.refresh()
        assert listed(idx.conn) == []
        assert idx.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 4
    finally:
        idx.close()


def two_commits(project: Path) -> Path:
    root = make_store(project, ("r0", "r1"), "first")
    make_store(project, ("r2", "r3"), "second")
    return root


def commit_of(project: Path) -> dict[str, str | None]:
    r = extract("sql", "-f", "json", "SELECT name, commit_id FROM runs", cwd=project)
    return {row["name"]: row["commit_id"] for row in json.loads(r.stdout)}


def test_a_lost_commit_costs_its_history_not_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pristine = two_commits(tmp_path / "a")
    project = tmp_path / "b"
    root = copy_store(pristine, project)
    repo = Repository(root)
    head = repo.refs.read(MAIN)
    assert head is not None
    [first] = cast(repo.objects.get(head), Commit).parents
    credited = commit_of(project)
    remove_loose(root, first)

    r = extract("reindex", cwd=project)
    assert r.returncode == 0, r.stderr
    assert f"skipped part of history {to_hex(first)[:12]}" in r.stderr
    assert names(project) == ["r0", "r1", "r2", "r3"]  # the head's state names them all
    lg = extract("log", cwd=project)
    assert lg.returncode == 0 and "second" in lg.stdout
    assert f"commit {to_hex(first)} cannot be read" in lg.stderr
    fs = extract("fsck", cwd=project)
    assert fs.returncode == 1
    [line] = [x for x in fs.stderr.splitlines() if x.startswith(f"error: {to_hex(first)}")]
    assert "needed by" in line and f'commit {to_hex(head)[:12]} "second"' in line

    assert extract("fsck", "--repair", "--from", str(pristine), cwd=project).returncode == 0
    # history came back: each run is credited to the commit that added it, as before
    assert commit_of(project) == credited
    assert credited["r0"] == to_hex(first)


def test_a_lost_state_bucket_costs_the_runs_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pristine = make_store(tmp_path / "a")
    project = tmp_path / "b"
    root = copy_store(pristine, project)
    repo = Repository(root)
    head = repo.refs.read(MAIN)
    assert head is not None
    state = cast(repo.objects.get(cast(repo.objects.get(head), Commit).state), Tree)
    buckets = cast(repo.objects.get(state.entries["runs"]), Tree).entries
    r1 = cast(repo.objects.get(run_objects(root)["r1"]), RunRecord).id
    lost = buckets[bucket_of(r1)]
    in_it = set(cast(repo.objects.get(lost), Tree).entries)
    remove_loose(root, lost)

    assert extract("reindex", cwd=project).returncode == 0
    by_id = {
        row["id"]
        for row in json.loads(
            extract("sql", "-f", "json", "SELECT id FROM runs", cwd=project).stdout
        )
    }
    assert r1 not in by_id and len(by_id) == 4 - len(in_it)
    fs = extract("fsck", cwd=project)
    [line] = [x for x in fs.stderr.splitlines() if x.startswith(f"error: {to_hex(lost)}")]
    assert f'needed by commit {to_hex(head)[:12]} "runs"' in line
    assert extract("fsck", "--repair", "--from", str(pristine), cwd=project).returncode == 0
    assert names(project) == ["r0", "r1", "r2", "r3"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_gc_never_copies_a_damaged_packed_entry(template: Path, tmp_path: Path) -> None:
    """A repack keeps a pack whose damaged object has no sound copy anywhere as it is;
    once a sound copy is back (loose, shadowing it), the repack drops the damaged entry."""
    project = tmp_path / "p"
    root = packed_copy(template, project, extra_garbage=True)
    repo = Repository(root)
    _, state = head_state(repo)
    [mv_oid] = state.sections["models"].values()
    blob = cast(repo.objects.get(mv_oid), ModelVersion).content
    flip_packed_byte(root, blob)  # a blob: gc's mark reads only its head, and passes
    pack = the_pack(root)
    before = _digest(pack.path)

    g = extract("gc", "--grace", "0", cwd=project)
    assert g.returncode == 0, g.stderr
    assert f"pack {pack.path.name} not rewritten" in g.stderr
    assert _digest(pack.path) == before  # left exactly as it was

    fs = extract("fsck", "--read-data", cwd=project)
    assert fs.returncode == 1 and "needed by model net@v1" in fs.stderr
    assert (
        extract("fsck", "--repair", "--read-data", "--from", str(template), cwd=project).returncode
        == 0
    )
    assert repo.objects.path_of(blob).exists()  # the sound copy, loose, shadows the packed one

    g = extract("gc", "--grace", "0", cwd=project)
    assert g.returncode == 0 and "not rewritten" not in g.stderr, g.stderr
    [new] = Repository(root).objects.packs()
    assert new.find(blob) is None  # the damaged entry was not copied
    assert [p.name.split(".")[0] for p in (root / "damaged").iterdir()] == [to_hex(blob)]
    ok = extract("fsck", "--read-data", cwd=project)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_damaged_loose_object_with_a_sound_packed_copy_needs_no_remote(
    template: Path, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    root = packed_copy(template, project)
    victim = run_objects(root)["r2"]
    odb = Repository(root).objects
    stored = odb.read_file(victim)
    odb.path_of(victim).parent.mkdir(exist_ok=True)
    odb.path_of(victim).write_bytes(stored[: len(stored) // 2])  # a torn loose duplicate
    assert extract("fsck", cwd=project).returncode == 1
    r = extract("fsck", "--repair", cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "its packed copy is sound" in r.stdout
    assert not odb.path_of(victim).exists()
    assert names(project) == ["r0", "r1", "r2", "r3"]


def test_repair_fetches_by_id_over_ssh(template: Path, tmp_path: Path, sshd: SshServer) -> None:
    """The same repair through ``extract serve`` on the far side of a real ssh connection
    (the protocol's ``has`` and ``get`` verbs), for a damaged object and one lost with it."""
    project = tmp_path / "p"
    root, victim = damaged_copy("truncated-loose", template, project)
    record = cast(Repository(template).objects.get(run_objects(template)["r2"]), RunRecord)
    assert record.curves is not None
    remove_loose(root, record.curves)
    r = extract("fsck", "--repair", "--from", sshd.url(template), cwd=project, env=sshd.env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restored 2 object(s)" in r.stdout
    assert r.stdout.strip().endswith("ok")
    assert names(project) == ["r0", "r1", "r2", "r3"]
    assert to_hex(victim) in {p.name.split(".")[0] for p in (root / "damaged").iterdir()}
