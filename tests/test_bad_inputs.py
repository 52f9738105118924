"""Bad inputs found in review: each gets a clear error, not a traceback, and changes nothing."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest

from extract import Store
from extract.errors import BundleError, ExtractError, InvalidInput, SchemaError
from extract.store.fsck import fsck
from extract.store.history import commit_staged, split_model_key
from extract.store.repo import MAIN, Repository
from extract.sync.bundle import MAGIC, import_bundle


def test_model_directory_linking_to_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Repository.init(tmp_path / ".extract", ("exp",))
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "w.bin").write_bytes(b"weights")
    os.symlink(ckpt, ckpt / "loop")
    with (
        Store(tmp_path / ".extract") as s,
        s.experiment({"exp": "e"}).run() as run,
        pytest.raises(InvalidInput, match="links back"),
    ):
        run.register_model("m", "v1", ckpt)


def test_run_id_must_be_a_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Repository.init(tmp_path / ".extract", ("exp",))
    with (
        Store(tmp_path / ".extract") as s,
        pytest.raises(InvalidInput, match="a run id is a string"),
    ):
        s.load_run(123)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["noversion", "@v1", "name@"])
def test_bad_model_keys(key: str) -> None:
    with pytest.raises(SchemaError, match="not name@version"):
        split_model_key(key)


def frame(value: object) -> bytes:
    payload: bytes = msgpack.packb(value, use_bin_type=True)
    return len(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize(
    "records",
    [
        [["refs"]],
        [["refs", {}], ["end"]],
        [["refs", {}], ["obj", b"x" * 32]],
    ],
    ids=["refs-without-map", "end-without-count", "obj-without-bytes"],
)
def test_short_bundle_records(tmp_path: Path, records: list[object]) -> None:
    repo = Repository.create(tmp_path / "store")
    bundle = tmp_path / "b.bundle"
    buf = io.BytesIO(MAGIC + b"".join(frame(r) for r in records))
    bundle.write_bytes(buf.getvalue())
    with pytest.raises(BundleError) as info:
        import_bundle(repo, bundle)
    assert isinstance(info.value, ExtractError)
    assert repo.refs.names() == [] and repo.refs.read(MAIN) is None


# values the store cannot keep are refused when they are given (review F5, F8) --------------


def nested(levels: int) -> dict[str, Any]:
    top: dict[str, Any] = {}
    d = top
    for _ in range(levels - 1):
        d["k"] = {}
        d = d["k"]
    return top


def self_referencing() -> dict[str, Any]:
    d: dict[str, Any] = {"lr": 0.1}
    d["me"] = d
    return d


@pytest.fixture
def sdk_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.chdir(tmp_path)
    Repository.init(tmp_path / ".extract", ("exp",))
    with Store(tmp_path / ".extract") as s:
        yield s


def journal_files(store: Store) -> list[str]:
    return sorted(p.name for p in (store.root / "journal").iterdir())


@pytest.mark.parametrize(
    ("config", "where", "message"),
    [
        (nested(70), "run(): config['k']", "nests deeper than 64 levels"),
        ({"big": 2**100}, "run(): config['big']", "integer 2**100 is outside"),
        ({"a": [1, {"b": -(2**64)}]}, "run(): config['a'][1]['b']", "is outside"),
        (self_referencing(), "run(): config['me']", "refers back to run(): config"),
        ({"s": "caf\udce9"}, "run(): config['s']", "not valid Unicode"),
        ({"caf\udce9": 1}, "run(): config['caf\\udce9']", "key 'caf\\udce9' is not valid"),
    ],
    ids=["70-levels", "2**100", "below-int64", "self-reference", "surrogate", "surrogate-key"],
)
def test_a_config_the_store_cannot_keep_is_refused_at_run(
    sdk_store: Store, config: dict[str, Any], where: str, message: str
) -> None:
    """Refused by run(), with an error naming the argument, where in it, and what is
    allowed; no journal (not even an empty .tmp), no live run. The 70-level config used to
    be accepted and fail at finish(), leaving the run live for ever."""
    exp = sdk_store.experiment({"exp": "e"})
    with pytest.raises(InvalidInput) as e:
        exp.run(config=config)
    text = str(e.value)
    assert text.startswith(where) and message in text and "allowed:" in text, text
    assert len(text) < 600
    assert journal_files(sdk_store) == []
    assert exp.list_runs() == []
    with exp.run(config={"ok": 2**64 - 1, "small": -(2**63)}) as run:  # the codec's range
        run.log(x=1.0)
    [row] = exp.list_runs()
    assert row["status"] == "completed"


def test_a_config_of_the_wrong_type_names_where(sdk_store: Store) -> None:
    exp = sdk_store.experiment({"exp": "e"})
    with pytest.raises(TypeError, match=r"run\(\): config\['opt'\]\[0\]: cannot store set"):
        exp.run(config={"opt": [{1, 2}]})
    with pytest.raises(TypeError, match=r"key 3 is a int; keys must be strings"):
        exp.run(config={"a": {3: "x"}})
    assert journal_files(sdk_store) == []


def test_run_arguments_beyond_what_the_index_holds_are_refused(sdk_store: Store) -> None:
    exp = sdk_store.experiment({"exp": "e"})
    with pytest.raises(InvalidInput, match=r"total_steps=2\*\*70 does not fit in 64 bits"):
        exp.run(total_steps=2**70)
    with pytest.raises(InvalidInput, match=r"run\(\): name .* is not valid Unicode"):
        exp.run(name="bad\udc80")
    with pytest.raises(InvalidInput, match=r"experiment\(\): exp .* is not valid Unicode"):
        sdk_store.experiment({"exp": "\ud800"})
    assert journal_files(sdk_store) == []


def test_calls_on_a_live_run_refuse_what_cannot_be_kept_and_the_run_goes_on(
    sdk_store: Store, tmp_path: Path
) -> None:
    """Every logging call refuses a value the store cannot keep before it writes anything;
    the run keeps logging and finishes, and nothing of the refused calls is stored."""
    exp = sdk_store.experiment({"exp": "e"})
    model = tmp_path / "w.bin"
    model.write_bytes(b"weights")
    run = exp.run(name="survivor")
    objects = Repository(sdk_store.root).objects
    before = set(objects.iter_ids())
    u64: Any = np.uint64(2**63)
    deep_axes: Any = {"rows": nested(70)}
    big_axes: Any = {"rows": 2**100}
    refused: list[tuple[Callable[[], object], str]] = [
        (lambda: run.log(big=2**100), "log(): big=2**100 does not fit in 64 bits"),
        (lambda: run.log(big=u64), "log(): big=2**63 does not fit"),
        (lambda: run.log(p="x\ud800"), "log(): p 'x\\ud800' is not valid Unicode"),
        (lambda: run.log(**{"m\ud800": 1.0}), "log(): a name"),
        (lambda: run.curve(0, loss=10**400), "curve(): loss=<an int of 1329 bits> is too large"),
        (lambda: run.curve(0, **{"l\ud800": 1.0}), "curve(): a metric name"),
        (lambda: run.tag("ok", "t\ud800"), "tag(): a tag"),
        (lambda: run.note("n\ud800"), "note(): content"),
        (lambda: run.todo("do\ud800"), "todo(): content"),
        (lambda: run.log_text("t", "c\ud800"), "log_text(): content"),
        (lambda: run.log_text("t\ud800", "c"), "log_text(): name"),
        (
            lambda: run.log_table("m", np.zeros((2, 2)), axes=deep_axes),
            "log_table(): axes['rows']['k']",
        ),
        (
            lambda: run.log_table("m", np.zeros((2, 2)), axes=big_axes),
            "log_table(): axes['rows']: integer 2**100",
        ),
        (
            lambda: run.register_model("m", "v1", model, metadata={"epochs": 2**100}),
            "register_model(): metadata['epochs']: integer 2**100",
        ),
        (
            lambda: run.register_model("m", "v1", model, metadata=self_referencing()),
            "register_model(): metadata['me']: refers back",
        ),
        (
            lambda: run.register_model("m", "v1", model, metadata={"d": nested(70)}),
            "register_model(): metadata['d']",
        ),
        (lambda: run.register_model("m\ud800", "v1", model), "register_model(): name"),
        (lambda: run.register_model("m", "v1", model, framework="f\ud800"), "framework"),
        (lambda: run.derived_from(run="r\ud800"), "derived_from(): run"),
        (lambda: run.branched_from(experiment="e\ud800"), "branched_from(): experiment"),
    ]
    for i, (call, message) in enumerate(refused):
        with pytest.raises((InvalidInput, TypeError)) as e:
            call()
        assert message in str(e.value), (i, str(e.value))
        assert "Traceback" not in str(e.value)
        run.curve(i, loss=float(i))  # still live
    run.flush()
    assert set(objects.iter_ids()) == before, "a refused call stored something"
    run.log(best=1.0)
    run.register_model("m", "v1", model, metadata={"epochs": 3})
    run.finish()
    assert journal_files(sdk_store) == []
    [row] = exp.list_runs()
    assert row["status"] == "completed" and row["tags"] == "[]"
    data = sdk_store.load_run(run.id)
    steps, _, _ = data.curve("loss")
    assert list(steps) == list(range(len(refused)))
    repo = Repository(sdk_store.root)
    commit_staged(repo, "all")
    assert fsck(repo).ok
