"""Bad inputs found in review: each gets a clear error, not a traceback, and changes nothing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import msgpack
import pytest

from extract import Store
from extract.errors import ExtractError, InvalidInput, SchemaError
from extract.store.history import split_model_key
from extract.store.repo import MAIN, Repository
from extract.sync.bundle import MAGIC, BundleError, import_bundle


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
