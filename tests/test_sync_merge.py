"""merge: a union over state trees, commutative and idempotent, with real conflicts named.

DESIGN.md, "Sync": runs, events and todos are keyed by ULID, so the union never
conflicts and stores that exchange history in any order converge; a true conflict
(the same model name@version with different content, different hierarchies) is
reported by name with nothing half-applied, and ``--ours``/``--theirs`` choose.

Property tests: ``merge_states`` on random states (pure, many examples), and two or
three real stores making random runs and tag events, committing, and exchanging
history in random orders (fetch and merge over LocalTransport).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extract.errors import MergeConflict
from extract.index.build import Indexer
from extract.objects import Commit, ObjectId, to_hex
from extract.objects.kinds import cast
from extract.sdk import Store
from extract.store.history import (
    PURGED,
    SECTIONS,
    State,
    head_state,
    model_key,
    purged_section,
)
from extract.store.repo import MAIN, Repository
from extract.sync import ops
from extract.sync.ops import merge_states
from extract.sync.remotes import _name_for_url
from extract.sync.transport import LocalTransport
from tests.cli import extract
from tests.sshd import add_runs, commit, make_store, run_cli

COMPARED = ("runs", "curve_points", "scalar_metrics", "run_params", "todos", "models")
#: Surrogate counters, and the commit that brought a row (each store has its own commits).
SKIPPED = {"key", "id_", "commit_id"}
SURROGATE = {"scalar_metrics": {"id"}, "run_params": {"id"}}


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # git provenance capture reads the tmp dir, not this checkout


# helpers ---------------------------------------------------------------------------------


def exchange(dst: Repository, src: Repository, name: str, strategy: str | None = None) -> str:
    """``dst`` fetches ``src`` and merges it; the merge kind ('none' if src has no commits)."""
    with LocalTransport(src.root) as t:
        r = ops.fetch(dst, t, name)
    if r.head is None:
        return "none"
    return ops.merge(dst, r.head, strategy=strategy).kind


def state_of(repo: Repository) -> State:
    return head_state(repo)[1]


def index_rows(repo: Repository) -> dict[str, list[tuple[Any, ...]]]:
    """The compared index tables, caught up with refresh(), without store-specific columns."""
    idx = Indexer(repo)
    try:
        idx.refresh()
        out = {}
        for table in COMPARED:
            cur = idx.conn.execute(f"SELECT * FROM {table}")
            cols = [d[0] for d in cur.description]
            skip = SKIPPED | SURROGATE.get(table, set())
            keep = [i for i, c in enumerate(cols) if c not in skip]
            out[table] = sorted((tuple(row[i] for i in keep) for row in cur), key=repr)
        return out
    finally:
        idx.close()


def run_tags(repo: Repository) -> dict[str, set[str]]:
    idx = Indexer(repo)
    try:
        idx.refresh()
        return {
            rid: set(json.loads(tags or "[]"))
            for rid, tags in idx.conn.execute("SELECT id, tags FROM runs")
        }
    finally:
        idx.close()


def tag_event(repo: Repository, run_id: str, *tags: str) -> None:
    with Store(repo.root) as s:
        s._event("tag", f"run:{run_id}", {"tags": list(tags)})


def parents(repo: Repository, oid: ObjectId) -> tuple[ObjectId, ...]:
    return cast(repo.objects.get(oid), Commit).parents


# merge_states, pure ------------------------------------------------------------------------

OIDS = [ObjectId(bytes([i]) * 32) for i in range(6)]
KEYS = ["a@1", "a@2", "b@1", "enc%2Fdec@1", "c@v%201"]  # model-key shaped
entries = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(OIDS), max_size=5)
hierarchies = st.sampled_from([None, "a > b", "c"])


@st.composite
def three_states(draw: st.DrawFn, models: bool) -> tuple[State, State, State]:
    """A base and two descendants that each add (and may re-point) entries."""
    base = State()
    ours = State()
    theirs = State()
    for section in SECTIONS:
        if section == "models" and not models:
            continue
        b = draw(entries)
        base.sections[section] = b
        ours.sections[section] = {**b, **draw(entries)}
        theirs.sections[section] = {**b, **draw(entries)}
    base.hierarchy = draw(hierarchies)
    # a commit keeps its parent's hierarchy or sets one; it never drops it (apply_staged)
    later = hierarchies if base.hierarchy is None else st.sampled_from(["a > b", "c"])
    ours.hierarchy = draw(st.one_of(st.just(base.hierarchy), later))
    theirs.hierarchy = draw(st.one_of(st.just(base.hierarchy), later))
    return base, ours, theirs


def same(a: State, b: State) -> bool:
    return a.sections == b.sections and a.hierarchy == b.hierarchy


@settings(max_examples=300)
@given(three_states(models=True))
def test_merge_states_commutes_and_is_idempotent(sts: tuple[State, State, State]) -> None:
    base, ours, theirs = sts
    m1, c1 = merge_states(base, ours, theirs, None)
    m2, c2 = merge_states(base, theirs, ours, None)
    assert bool(c1) == bool(c2)  # a conflict is found from either side
    assert sorted(c for c in c1 if c.startswith("model")) == sorted(
        c for c in c2 if c.startswith("model")
    )
    if not c1:
        assert same(m1, m2)
        # the merge holds every key of both sides, each at one side's value, except runs
        # and models a purge on either side removed: a purge is final
        purged = set(ours.sections[PURGED]) | set(theirs.sections[PURGED])
        for s in SECTIONS:
            union = set(ours.sections[s]) | set(theirs.sections[s])
            gone = {k for k in purged if purged_section(k) == s and s != PURGED}
            assert set(m1.sections[s]) == union - gone
            for k, v in m1.sections[s].items():
                assert v in (ours.sections[s].get(k), theirs.sections[s].get(k))
        # idempotent: merging either side again changes nothing
        assert same(merge_states(base, m1, theirs, None)[0], m1)
        assert same(merge_states(base, m1, ours, None)[0], m1)
        assert same(merge_states(base, m1, m1, None)[0], m1)
    # a strategy always resolves, and --ours from one side is --theirs from the other
    o1, oc = merge_states(base, ours, theirs, "ours")
    t2, tc = merge_states(base, theirs, ours, "theirs")
    assert oc == [] and tc == []
    assert same(o1, t2)
    if not c1:
        assert same(o1, m1)


@settings(max_examples=200)
@given(three_states(models=False))
def test_runs_and_events_never_conflict(sts: tuple[State, State, State]) -> None:
    base, ours, theirs = sts
    theirs.hierarchy = ours.hierarchy
    merged, conflicts = merge_states(base, ours, theirs, None)
    assert conflicts == []
    assert same(merged, merge_states(base, theirs, ours, None)[0])


@pytest.mark.parametrize(
    ("base", "a", "b", "merged"),
    [
        ("sweep > trial", "sweep > trial", None, "sweep > trial"),
        (None, "sweep > trial", None, "sweep > trial"),
        (None, None, None, None),
        ("x", "x", "y", "y"),  # only one side changed it
        ("x", None, "y", "y"),
    ],
)
def test_a_missing_hierarchy_merges_the_same_from_either_side(
    base: str | None, a: str | None, b: str | None, merged: str | None
) -> None:
    """A side without a hierarchy has no opinion, whichever side it is."""
    sb, sa, sc = State(), State(), State()
    sb.hierarchy, sa.hierarchy, sc.hierarchy = base, a, b
    one, c1 = merge_states(sb, sa, sc, None)
    other, c2 = merge_states(sb, sc, sa, None)
    assert one.hierarchy == other.hierarchy == merged
    assert c1 == c2 == []


def test_two_new_hierarchies_conflict_from_either_side() -> None:
    sb, sa, sc = State(), State(), State()
    sb.hierarchy, sa.hierarchy, sc.hierarchy = "x", "y", "z"
    assert merge_states(sb, sa, sc, None)[1] == ["hierarchy differs: ours 'y', theirs 'z'"]
    assert merge_states(sb, sc, sa, None)[1] == ["hierarchy differs: ours 'z', theirs 'y'"]


def test_merge_states_names_a_model_conflict() -> None:
    key = model_key("enc/dec", "v 1")
    base = State()
    ours, theirs = State(), State()
    ours.sections["models"][key] = OIDS[1]
    theirs.sections["models"][key] = OIDS[2]
    _merged, conflicts = merge_states(base, ours, theirs, None)
    assert conflicts == ["model enc/dec@v 1 has different content on each side"]
    assert merge_states(base, ours, theirs, "ours")[0].sections["models"][key] == OIDS[1]
    assert merge_states(base, ours, theirs, "theirs")[0].sections["models"][key] == OIDS[2]


# real stores, random histories --------------------------------------------------------------


@dataclass
class Op:
    kind: str  # "runs", "tag", "exchange"
    a: int
    b: int = 0
    n: int = 1
    tags: tuple[str, ...] = ()
    todo: bool = False


TAGS = ("a", "b", "c")


def ops_for(n_stores: int) -> st.SearchStrategy[list[Op]]:
    store = st.integers(0, n_stores - 1)
    runs = st.builds(
        Op,
        st.just("runs"),
        store,
        st.just(0),
        st.integers(1, 2),
        st.lists(st.sampled_from(TAGS), max_size=2, unique=True).map(tuple),
        st.booleans(),
    )
    tag = st.builds(
        Op,
        st.just("tag"),
        store,
        st.integers(0, 9),
        st.just(1),
        st.sampled_from(TAGS).map(lambda t: (t,)),
    )
    exch = (
        st.tuples(store, store)
        .filter(lambda p: p[0] != p[1])
        .map(lambda p: Op("exchange", p[0], p[1]))
    )
    return st.lists(st.one_of(runs, tag, exch), min_size=1, max_size=7)


@dataclass
class World:
    top: Path
    repos: list[Repository]
    expected_tags: dict[str, set[str]] = field(default_factory=dict)
    steps: int = 0

    def apply(self, op: Op) -> None:
        repo = self.repos[op.a]
        if op.kind == "runs":
            self.steps += 1
            ids = add_runs(
                repo, op.n, sweep=f"s{op.a}", tags=op.tags, prefix=f"x{self.steps}-", todo=op.todo
            )
            for rid in ids:
                self.expected_tags[rid] = set(op.tags)
            commit(repo, f"runs {op.a}")
        elif op.kind == "tag":
            known = sorted(state_of(repo).sections["runs"])
            if not known:
                return
            rid = known[op.b % len(known)]
            tag_event(repo, rid, *op.tags)
            self.expected_tags[rid] |= set(op.tags)
            commit(repo, f"tag {rid}")
        else:
            exchange(self.repos[op.b], repo, f"s{op.a}")

    def converge(self) -> None:
        for i, src in enumerate(self.repos):
            for j, dst in enumerate(self.repos):
                if i != j:
                    exchange(dst, src, f"s{i}")


@contextmanager
def world(n: int) -> Iterator[World]:
    with tempfile.TemporaryDirectory(prefix="merge-") as d:
        top = Path(d)
        yield World(top, [make_store(top / f"s{i}" / ".extract") for i in range(n)])


def check_commutes(w: World) -> None:
    """Stores 0 and 1 as they are now: 0 merging 1 gives the state 1 merging 0 gives."""
    x = Repository(Path(shutil.copytree(w.repos[0].root, w.top / "x")))
    y = Repository(Path(shutil.copytree(w.repos[1].root, w.top / "y")))
    try:
        exchange(x, w.repos[1], "s1")
        exchange(y, w.repos[0], "s0")
        assert same(state_of(x), state_of(y))
    finally:
        shutil.rmtree(x.root)
        shutil.rmtree(y.root)


def check_converged(w: World) -> None:
    states = [state_of(r) for r in w.repos]
    for s in states[1:]:
        assert same(s, states[0])
    assert set(states[0].sections["runs"]) == set(w.expected_tags)
    rows = [index_rows(r) for r in w.repos]
    for r in rows[1:]:
        assert r == rows[0]
    for repo in w.repos:
        assert run_tags(repo) == w.expected_tags
        head = repo.refs.read(MAIN)
        idx = Indexer(repo)
        try:
            assert idx._meta("head") == (to_hex(head) if head else None)
        finally:
            idx.close()
    # idempotent: exchanging again changes nothing
    heads = [r.refs.read(MAIN) for r in w.repos]
    for i, src in enumerate(w.repos):
        for j, dst in enumerate(w.repos):
            if i != j:
                assert exchange(dst, src, f"s{i}") in ("up-to-date", "none")
    assert [r.refs.read(MAIN) for r in w.repos] == heads
    # the incrementally kept index equals one rebuilt from the objects
    idx = Indexer(w.repos[0])
    try:
        idx.rebuild()
    finally:
        idx.close()
    assert index_rows(w.repos[0]) == rows[0]


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops_for(2))
def test_two_stores_converge(steps: list[Op]) -> None:
    with world(2) as w:
        for op in steps:
            w.apply(op)
        check_commutes(w)
        w.converge()
        check_converged(w)


@pytest.mark.slow
@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops_for(3))
def test_three_stores_converge(steps: list[Op]) -> None:
    with world(3) as w:
        for op in steps:
            w.apply(op)
        check_commutes(w)
        w.converge()
        check_converged(w)


# deterministic cases ----------------------------------------------------------------------


def two_stores(tmp_path: Path) -> tuple[Repository, Repository]:
    a = make_store(tmp_path / "a" / ".extract")
    b = make_store(tmp_path / "b" / ".extract")
    return a, b


def test_fast_forward_then_a_merge_commit(tmp_path: Path) -> None:
    a, b = two_stores(tmp_path)
    add_runs(a, 2)
    first = commit(a, "first")
    assert exchange(b, a, "a") == "fast-forward"
    assert b.refs.read(MAIN) == first  # no merge commit: b's main is a's
    assert exchange(b, a, "a") == "up-to-date"

    add_runs(a, 1, prefix="a")
    a2 = commit(a, "a2")
    add_runs(b, 1, prefix="b")
    b2 = commit(b, "b2")
    runs_a, runs_b = set(state_of(a).sections["runs"]), set(state_of(b).sections["runs"])
    assert exchange(a, b, "b") == "merge"
    merged = a.refs.get(MAIN)
    assert parents(a, merged) == (a2, b2)
    assert set(state_of(a).sections["runs"]) == runs_a | runs_b
    assert len(runs_a | runs_b) == 4
    # b takes a's merge as a fast-forward: the two stores now share main
    assert exchange(b, a, "a") == "fast-forward"
    assert b.refs.read(MAIN) == merged
    # merging an ancestor, or the same commit, is up to date
    assert ops.merge(a, a2).kind == "up-to-date"
    assert ops.merge(a, b2).kind == "up-to-date"
    assert a.refs.read(MAIN) == merged


def test_merge_commit_is_indexed_incrementally(tmp_path: Path) -> None:
    a, b = two_stores(tmp_path)
    old = add_runs(a, 3, prefix="old")
    commit(a, "a")
    exchange(b, a, "a")
    new = add_runs(b, 2, prefix="new", todo=True)
    commit(b, "b")
    add_runs(a, 1, prefix="mine")
    commit(a, "a2")

    idx = Indexer(a)
    try:
        idx.refresh()
        keys_before = dict(idx.conn.execute("SELECT id, key FROM runs").fetchall())
        points_before = idx.conn.execute(
            "SELECT COUNT(*) FROM curve_points WHERE run_id IN (?, ?, ?)", old
        ).fetchone()[0]
    finally:
        idx.close()
    assert exchange(a, b, "b") == "merge"
    head = a.refs.get(MAIN)
    idx = Indexer(a)
    try:
        idx.refresh()
        assert idx._meta("head") == to_hex(head)
        keys_after = dict(idx.conn.execute("SELECT id, key FROM runs").fetchall())
        # old rows were not rewritten: same surrogate keys; new runs got new ones
        for rid, key in keys_before.items():
            assert keys_after[rid] == key
        assert set(keys_after) == set(keys_before) | set(new)
        assert min(keys_after[r] for r in new) > max(keys_before.values())
        assert (
            idx.conn.execute(
                "SELECT COUNT(*) FROM curve_points WHERE run_id IN (?, ?, ?)", old
            ).fetchone()[0]
            == points_before
        )
        assert idx.conn.execute(
            "SELECT parents FROM commits WHERE id=?", (to_hex(head),)
        ).fetchone()
        assert {
            r[0] for r in idx.conn.execute("SELECT scope_id FROM todos WHERE scope_type='run'")
        } == set(new)
    finally:
        idx.close()


def test_divergent_tag_events_on_one_run_keep_both(tmp_path: Path) -> None:
    a, b = two_stores(tmp_path)
    [rid] = add_runs(a, 1, tags=("base",))
    commit(a, "run")
    assert exchange(b, a, "a") == "fast-forward"
    tag_event(a, rid, "x")
    commit(a, "tag x")
    tag_event(b, rid, "y")
    commit(b, "tag y")

    assert exchange(a, b, "b") == "merge"
    assert exchange(b, a, "a") == "fast-forward"
    assert run_tags(a)[rid] == {"base", "x", "y"}
    assert run_tags(b)[rid] == {"base", "x", "y"}
    assert same(state_of(a), state_of(b))
    assert len(state_of(a).sections["events"]) == len(state_of(b).sections["events"])


def register(repo: Repository, name: str, version: str, payload: bytes, where: Path) -> str:
    where.write_bytes(payload)
    with Store(repo.root) as s, s.experiment({"sweep": "m", "trial": "t"}).run(name="m") as r:
        r.register_model(name, version, where)
        rid = r.id
    commit(repo, f"model {name}@{version}")
    return rid


def model_content(repo: Repository, name: str, version: str) -> str | None:
    idx = Indexer(repo)
    try:
        idx.refresh()
        row = idx.conn.execute(
            "SELECT object_id FROM models WHERE name=? AND version=?", (name, version)
        ).fetchone()
        return None if row is None else str(row[0])
    finally:
        idx.close()


def conflicted(tmp_path: Path) -> tuple[Repository, Repository]:
    """a and b share a first commit, then each registers enc/dec@1 with its own bytes."""
    a, b = two_stores(tmp_path)
    add_runs(a, 1)
    commit(a, "base")
    exchange(b, a, "origin")
    register(a, "enc/dec", "1", b"weights of a", tmp_path / "a.bin")
    add_runs(a, 1, prefix="extra")
    commit(a, "more")
    register(b, "enc/dec", "1", b"weights of b", tmp_path / "b.bin")
    return a, b


def test_model_conflict_changes_nothing(tmp_path: Path) -> None:
    a, b = conflicted(tmp_path)
    head_a = a.refs.get(MAIN)
    rows_a = index_rows(a)
    with LocalTransport(b.root) as t:
        theirs = ops.fetch(a, t, "b").head
    assert theirs is not None
    refs_before = {n: a.refs.read(n) for n in a.refs.names()}
    with pytest.raises(MergeConflict) as e:
        ops.merge(a, theirs)
    assert "model enc/dec@1" in str(e.value)
    assert "--ours or --theirs" in str(e.value)
    assert e.value.conflicts == ["model enc/dec@1 has different content on each side"]
    assert a.refs.read(MAIN) == head_a
    assert {n: a.refs.read(n) for n in a.refs.names()} == refs_before
    assert index_rows(a) == rows_a
    assert not list(a.staged_dir.iterdir())


def committed_model(repo: Repository, name: str, version: str) -> ObjectId:
    return state_of(repo).sections["models"][model_key(name, version)]


def test_model_conflict_resolved_with_ours_or_theirs_cli(tmp_path: Path) -> None:
    a, b = conflicted(tmp_path)
    mine = committed_model(a, "enc/dec", "1")
    other = committed_model(b, "enc/dec", "1")
    assert mine != other
    a_copy = Repository(Path(shutil.copytree(a.root, tmp_path / "a2" / ".extract")))

    r = extract("pull", "--store", str(a.root), str(b.root), cwd=tmp_path)
    assert r.returncode == MergeConflict.exit_code
    assert "model enc/dec@1" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    head = a.refs.get(MAIN)

    r = run_cli("merge", "--store", str(a.root), "--ours", "--theirs", "main", cwd=tmp_path)
    assert r.returncode == 2 and "exclude each other" in r.stderr

    ref = f"refs/remotes/{_name_for_url(str(b.root))}/main"
    assert a.refs.read(ref) is not None  # the failed pull fetched
    r = run_cli("merge", "--store", str(a.root), ref, "--ours", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "merge"
    assert parents(a, a.refs.get(MAIN)) == (head, a.refs.get(ref))
    assert committed_model(a, "enc/dec", "1") == mine

    r = run_cli("pull", "--store", str(a_copy.root), str(b.root), "--theirs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert committed_model(a_copy, "enc/dec", "1") == other
    assert model_content(a_copy, "enc/dec", "1") == to_hex(other)
    # runs of both sides are there either way
    assert set(state_of(a).sections["runs"]) == set(state_of(a_copy).sections["runs"])


def test_index_follows_an_ours_resolution(tmp_path: Path) -> None:
    a, b = conflicted(tmp_path)
    mine = committed_model(a, "enc/dec", "1")
    assert model_content(a, "enc/dec", "1") == to_hex(mine)
    assert exchange(a, b, "b", strategy="ours") == "merge"
    assert committed_model(a, "enc/dec", "1") == mine
    assert model_content(a, "enc/dec", "1") == to_hex(mine)
    idx = Indexer(a)
    try:
        idx.rebuild()
    finally:
        idx.close()
    assert model_content(a, "enc/dec", "1") == to_hex(mine)


def test_different_hierarchies_conflict(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a" / ".extract", ("sweep", "trial"))
    b = make_store(tmp_path / "b" / ".extract", ("sweep", "seed"))
    add_runs(a, 1)
    commit(a, "a")
    with Store(b.root) as s, s.experiment({"sweep": "x", "seed": "1"}).run(name="r") as r:
        r.curve(0, loss=1.0)
    commit(b, "b")
    head = a.refs.get(MAIN)
    with pytest.raises(
        MergeConflict, match="hierarchy differs: ours 'sweep > trial', theirs 'sweep > seed'"
    ):
        exchange(a, b, "b")
    assert a.refs.read(MAIN) == head
    assert exchange(a, b, "b", strategy="ours") == "merge"
    assert state_of(a).hierarchy == "sweep > trial"
    assert len(state_of(a).sections["runs"]) == 2
    # a's merge has b's commit as a parent: b takes it as a fast-forward
    assert exchange(b, a, "a") == "fast-forward"
