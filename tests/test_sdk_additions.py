"""Config set after the start, curves without a step, framework scalars, and job groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from extract.sdk import Experiment, Store
from extract.sdk.jobs import group_params, job_group, job_rank, job_world_size
from extract.store.repo import Repository
from tests.test_sdk import rows, run_row, sealed_record

SPEC = {"benchmark": "b", "model": "m"}


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    Repository.init(tmp_path / ".extract", ("benchmark", "model"))
    return tmp_path / ".extract"


@pytest.fixture
def store(root: Path) -> Iterator[Store]:
    s = Store(root)
    yield s
    s.close()


@pytest.fixture
def exp(store: Store) -> Experiment:
    return store.experiment(SPEC)


def test_update_config_merges_into_the_live_row_and_the_sealed_record(
    root: Path, store: Store, exp: Experiment
) -> None:
    run = exp.run(config={"lr": 0.1, "opt": {"name": "sgd"}})
    run.update_config({"lr": 0.2}, hidden=16)
    run.update_config(opt={"name": "adam"})
    run.flush()
    live = store.load_run(run.id)  # the index folds the journal read so far
    assert live.detail.config == {"lr": 0.2, "hidden": 16, "opt": {"name": "adam"}}
    run.finish()
    assert sealed_record(root, run.id).config == {"lr": 0.2, "hidden": 16, "opt": {"name": "adam"}}
    assert json.loads(run_row(root, run.id)["config"]) == {
        "hidden": 16,
        "lr": 0.2,
        "opt": {"name": "adam"},
    }


def test_update_config_without_a_starting_config_and_its_refusals(
    root: Path, exp: Experiment
) -> None:
    run = exp.run()
    with pytest.raises(TypeError, match="values must be a dict"):
        run.update_config([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot store object"):
        run.update_config(bad=object())
    run.update_config(epochs=np.int64(3))  # numpy scalars are unwrapped
    run.update_config()  # nothing to set: nothing written
    run.finish()
    assert sealed_record(root, run.id).config == {"epochs": 3}
    run2 = exp.run()
    run2.finish()
    assert sealed_record(root, run2.id).config is None  # no record, no config


def test_curve_without_a_step_follows_the_last_step(store: Store, exp: Experiment) -> None:
    with exp.run() as run:
        run.curve(loss=1.0)
        run.curve(loss=0.9)
        run.curve(10, loss=0.5)
        run.curve(loss=0.4, acc=np.float32(0.5))  # numpy scalars where numbers go
        run.curve(loss=np.array(0.3))  # and 0-d arrays (torch and jax tensors alike)
    steps, values, _ = store.load_run(run.id).curve("loss")
    assert steps.tolist() == [0, 1, 10, 11, 12]
    assert values.tolist() == pytest.approx([1.0, 0.9, 0.5, 0.4, 0.3])
    assert store.load_run(run.id).curve("acc")[0].tolist() == [11]


def test_job_identity_from_launcher_environments() -> None:
    torchrun = {"RANK": "1", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "abc", "LOCAL_RANK": "1"}
    assert (job_rank(torchrun), job_world_size(torchrun), job_group(torchrun)) == (
        1,
        2,
        "torchrun:abc",
    )
    static = {"RANK": "0", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "none"}
    static |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert job_group(static) is not None and job_group(static).endswith(":127.0.0.1:29500")  # type: ignore[union-attr]
    slurm = {"SLURM_JOB_ID": "7", "SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_STEP_ID": "0"}
    assert (job_rank(slurm), job_world_size(slurm), job_group(slurm)) == (3, 4, "slurm::7.0")
    lightning = {"LOCAL_RANK": "1", "NODE_RANK": "1", "LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "4"}
    assert job_rank(lightning) == 3
    assert (job_rank({}), job_world_size({}), job_group({})) == (0, 1, None)
    assert job_group({"EXTRACT_GROUP": "mine", **torchrun}) == "mine"


def test_group_is_recorded_as_params_and_can_be_switched_off(
    root: Path, exp: Experiment, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "EXTRACT_GROUP"):
        monkeypatch.delenv(key, raising=False)
    with exp.run(group="sweep-7") as a:
        pass
    monkeypatch.setenv("EXTRACT_GROUP", "from-env")
    with exp.run() as b:
        pass
    with exp.run(group=False) as c:
        pass
    params = {
        (r["run_id"], r["name"]): r["value"]
        for r in rows(root, "SELECT run_id, name, value FROM run_params")
    }
    assert params[(a.id, "group")] == "sweep-7" and params[(a.id, "rank")] == "0"
    assert params[(a.id, "world_size")] == "1"
    assert params[(b.id, "group")] == "from-env"
    assert not any(run == c.id for run, _ in params)
    with pytest.raises(TypeError, match="group must be"):
        exp.run(group=" ")
    assert group_params(False) == {}


def test_log_image_stores_png_objects_and_reads_them_back(
    root: Path, store: Store, exp: Experiment
) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 7, 3), dtype=np.uint8)
    gray = np.linspace(0.0, 1.0, 30).reshape(5, 6)
    rgba = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    with exp.run() as run:
        run.log_image("sample", rgb, step=0)
        run.log_image("sample", rgb, step=1)  # the same pixels: one object, two artifacts
        run.log_image("ramp", gray)
        run.log_image("alpha", rgba)
        with pytest.raises(ValueError, match="H x W"):
            run.log_image("bad", np.zeros((2, 2, 5), np.uint8))
        with pytest.raises(TypeError, match="uint8"):
            run.log_image("bad", np.full((2, 2), 300, np.int32))
        with pytest.raises(TypeError, match="numpy array"):
            run.log_image("bad", [[1, 2]])
    data = store.load_run(run.id)
    assert np.array_equal(data.image("sample", step=1), rgb)
    assert np.array_equal(data.image("ramp")[:, :, 0], np.round(gray * 255).astype(np.uint8))
    assert np.array_equal(data.image("alpha"), rgba)
    assert [s for s, _ in data.images("sample")] == [0, 1]
    assert data.image_png("ramp").startswith(b"\x89PNG\r\n\x1a\n")
    arts = rows(
        root,
        "SELECT name, kind, step, shape, dtype, object_id FROM artifacts WHERE run_id=? ORDER BY name, step",
        run.id,
    )
    assert [(a["name"], a["kind"], a["step"]) for a in arts] == [
        ("alpha", "image", None),
        ("ramp", "image", None),
        ("sample", "image", 0),
        ("sample", "image", 1),
    ]
    assert json.loads(arts[1]["shape"]) == [5, 6, 1] and arts[1]["dtype"] == "uint8"
    assert arts[2]["object_id"] == arts[3]["object_id"]


def test_png_round_trips_through_pillow_both_ways() -> None:
    image_mod = pytest.importorskip("PIL.Image")
    import io

    from extract.sdk.images import decode, encode_png, to_pixels

    rng = np.random.default_rng(1)
    for shape in [(9, 5), (9, 5, 3), (9, 5, 4)]:
        pixels = to_pixels(rng.integers(0, 256, shape, dtype=np.uint8))
        with image_mod.open(io.BytesIO(encode_png(pixels))) as img:
            assert np.array_equal(np.asarray(img).reshape(pixels.shape), pixels)
        buf = io.BytesIO()
        image_mod.fromarray(pixels.squeeze()).save(buf, format="PNG")  # Pillow's own filters
        assert np.array_equal(decode(buf.getvalue()), pixels)
    palette = image_mod.new("P", (3, 2))
    assert to_pixels(palette).shape == (2, 3, 4)  # converted (to RGBA: a palette may hold alpha)


def test_capture_output_keeps_what_the_script_prints(
    root: Path, store: Store, exp: Experiment, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    with exp.run(capture_output=True) as run:
        print("epoch 1 loss 0.5")
        print("a warning", file=sys.stderr)
    print("after the run")
    with exp.run() as plain_run:
        print("not captured")
    seen = capsys.readouterr()
    assert "epoch 1 loss 0.5" in seen.out and "a warning" in seen.err  # still on the terminal
    data = store.load_run(run.id)
    assert data.text("stdout") == "epoch 1 loss 0.5\n"
    assert data.text("stderr") == "a warning\n"
    assert not [a for a in store.load_run(plain_run.id).detail.artifacts if a.kind == "text"]
    with pytest.raises(TypeError, match="capture_output"):
        exp.run(capture_output="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="system_metrics"):
        exp.run(system_metrics=1)  # type: ignore[arg-type]
    assert len(exp.list_runs()) == 2  # the refused calls started nothing


def test_capture_keeps_the_head_and_tail_of_a_long_output() -> None:
    import io

    from extract.sdk import console

    tee = console._Tee(io.StringIO())
    old = console.LIMIT
    console.LIMIT = 24  # 12 characters of head, 12 of tail: two lines each
    try:
        for i in range(10):
            tee.write(f"line{i}\n")
    finally:
        console.LIMIT = old
    text = tee.text()
    assert text.startswith("line0\nline1\n\n[...") and text.endswith("...]\nline8\nline9\n")
    assert "characters left out by extract" in text


def test_config_updates_survive_a_fold_taken_in_two_pieces() -> None:
    """Sealing may fold the journal the background indexer read plus the rest
    (RunState.extend): config updates in either piece end up in the sealed config."""
    from extract.tracking.fold import RunState
    from extract.tracking.records import Config, Record, Start, Tag

    start = Start(
        "01ARZ3NDEKTSV4RRFFQ69G5FAV", "e", "r", {"lr": 0.1}, None, "2026-01-01T00:00:00Z", "h", None
    )
    first: list[Record] = [Config({"lr": 0.2, "bs": 8}), Tag(("a",))]
    second: list[Record] = [Config({"bs": 16}), Tag(("b",))]
    whole = RunState(start=start)
    whole.apply_all(first + second)
    head, tail = RunState(start=start), RunState()
    head.apply_all(first)
    tail.apply_all(second)
    head.extend(tail)
    assert head.full_config() == whole.full_config() == {"lr": 0.2, "bs": 16}
    assert head.tags == whole.tags == ["a", "b"]
