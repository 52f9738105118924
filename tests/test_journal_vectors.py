"""The journal-record vectors (objects_spec/vectors/journal.json), checked against the code.

Every record vector is checked both ways: extract frames the record to exactly the
recorded bytes, and the bytes read back (through the journal reader) to the recorded
value and to the same record. Version 1 records must decode to the record of the
vector they name; every reject must fail with DecodeError; the whole-journal vectors
read back to their records and end offset, a torn tail included. The last test keeps
the file and the code from drifting apart.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from extract.errors import DecodeError
from extract.sdk import Store
from extract.store import journal
from extract.store.repo import Repository
from extract.tracking import records
from extract.tracking.fold import fold_journal
from tests.test_vectors import from_json, to_json

VECTORS = Path(__file__).resolve().parent.parent / "objects_spec" / "vectors"
DOC: dict[str, Any] = json.loads((VECTORS / "journal.json").read_text("ascii"))
BY_NAME = {v["name"]: v for v in DOC["records"]}
RUN_ID = "01JGXK5W7E3Q0M8Z9N4R2T6Y1B"


def _params(group: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in group]


def read_frames(data: bytes, tmp_path: Path) -> tuple[list[Any], int, bool]:
    path = tmp_path / "j.journal"
    path.write_bytes(data)
    got = journal.read(path)
    return got.records, got.valid_bytes, got.torn


def test_version_is_the_code_s() -> None:
    assert DOC["version"] == records.VERSION


@pytest.mark.parametrize("vec", _params(DOC["records"]))
def test_record_vector(vec: dict[str, Any], tmp_path: Path) -> None:
    frame = bytes.fromhex(vec["frame"])
    values, end, torn = read_frames(frame, tmp_path)
    assert (end, torn) == (len(frame), False)
    assert [to_json(v) for v in values] == [vec["value"]]
    rec = records.decode(values[0])
    assert records.frame(rec) == frame
    assert to_json(records.encode(rec)) == vec["value"]
    assert records.decode(from_json(vec["value"])) == rec


@pytest.mark.parametrize("vec", _params(DOC["legacy"]))
def test_version_1_record_reads_as_its_version_2_twin(vec: dict[str, Any], tmp_path: Path) -> None:
    values, _, _ = read_frames(bytes.fromhex(vec["frame"]), tmp_path)
    assert [to_json(v) for v in values] == [vec["value"]]
    twin = bytes.fromhex(BY_NAME[vec["same_as"]]["frame"])
    assert records.frame(records.decode(values[0])) == twin


@pytest.mark.parametrize("vec", _params(DOC["reject"]))
def test_reject_vector(vec: dict[str, Any], tmp_path: Path) -> None:
    assert vec["error"] == "DecodeError"
    values, _, torn = read_frames(bytes.fromhex(vec["frame"]), tmp_path)
    assert not torn, "a reject is an intact frame: malformed, not torn"
    with pytest.raises(DecodeError):
        records.decode(values[0])


@pytest.mark.parametrize("vec", _params(DOC["journals"]))
def test_journal_vector(vec: dict[str, Any], tmp_path: Path) -> None:
    values, end, torn = read_frames(bytes.fromhex(vec["hex"]), tmp_path)
    assert (end, torn) == (vec["end"], vec["torn"])
    assert [to_json(v) for v in values] == [BY_NAME[n]["value"] for n in vec["records"]]
    state, folded = fold_journal(tmp_path / "j.journal")
    assert folded == vec["end"] and state.start is not None


def test_points_vector_folds_latest_wins(tmp_path: Path) -> None:
    """The ``points`` vector logs step 1 twice: folded, the later point is kept."""
    (tmp_path / "j.journal").write_bytes(
        bytes.fromhex(BY_NAME["run"]["frame"]) + bytes.fromhex(BY_NAME["points"]["frame"])
    )
    state, _ = fold_journal(tmp_path / "j.journal")
    steps, values, walls = state.curves()["loss"]
    assert steps.tolist() == [0, 1] and values.tolist() == [2.5, 1.0]
    assert walls.tolist() == [0.25, 0.75]


def test_regenerating_reproduces_the_committed_file() -> None:
    path = VECTORS / "make_journal_vectors.py"
    spec = importlib.util.spec_from_file_location("_extract_make_journal_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (VECTORS / "journal.json").read_text("ascii"), (
        "objects_spec/vectors/journal.json is out of date: the journal encoding changed. "
        "If that is intended, record it in objects_spec/changes.md and run "
        ".venv/bin/python objects_spec/vectors/make_journal_vectors.py"
    )


def test_a_version_1_journal_left_by_an_older_extract_is_sealed(tmp_path: Path) -> None:
    """A run that died under an extract of journal version 1 is recovered with its points."""
    root = tmp_path / ".extract"
    Repository.init(root, ("sweep",))
    start = dict(from_json(DOC["legacy"][0]["value"])[1])
    start.update(id=RUN_ID, experiment="a")
    journal.append(
        root / "journal" / f"{RUN_ID}.journal",
        [
            ["start", start],
            from_json(DOC["legacy"][1]["value"]),  # C: step 1 twice, NaN, -Inf
            ["c", [[5, 1.0, {"loss": 0.5}]]],
            ["l", [["best", 0.5, 1.0]]],
        ],
    )
    with Store(root) as store:
        assert store.recovered == [RUN_ID]
        data = store.load_run(RUN_ID)
        assert data.status == "failed"
        steps, values, _ = data.curve("loss")
        assert steps.tolist() == [0, 1, 5] and values.tolist() == [2.5, 1.0, 0.5]
        assert data.curve("acc")[1].tolist() == [0.5, 0.625]  # the NaN at step 1 was replaced
