"""Write objects_spec/vectors/journal.json: the journal-record vectors (store.md, "Journal records").

Run from the repository root::

    .venv/bin/python objects_spec/vectors/make_journal_vectors.py          # rewrite journal.json
    .venv/bin/python objects_spec/vectors/make_journal_vectors.py --check  # exit 1 if it would change

How the vectors are made:

* every record is written twice: by extract (``tracking.records.frame``) and by hand,
  framing (length, CRC-32, payload) with ``struct`` and ``zlib`` and encoding the
  payload with ``make_vectors.hand_encode``, the independent msgpack encoder of the
  object vectors (a record's maps are written in canonical key order, so its payload is
  the canonical encoding of its value); the script stops if the two disagree;
* the version 1 records (``start``, ``C``), which extract reads and no longer writes,
  are written by hand only, and each must decode to the same record as a version 2
  vector;
* every reject is written by hand and must fail to decode with ``DecodeError``;
* the whole-journal vectors are concatenated frames, one with a torn tail.

The output is deterministic, so tests/test_journal_vectors.py checks that running this
script reproduces the committed file.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_vectors import hand_encode, to_json

from extract.errors import DecodeError
from extract.objects import ObjectId, Value
from extract.tracking import records
from extract.tracking.records import (
    VERSION,
    Artifact,
    End,
    Lineage,
    Logged,
    Model,
    Note,
    PointRows,
    Record,
    Resume,
    Start,
    Tag,
    Todo,
)

OUT = Path(__file__).with_name("journal.json")
RUN_ID = "01JGXK5W7E3Q0M8Z9N4R2T6Y1B"
TODO_ID = "01JGXK7M3N4P5Q6R7S8T9V0W1X"
ARTIFACT_ID = "01JGXK9A2B3C4D5E6F7G8H9J0K"
TIME = "2025-01-02T03:04:05.678Z"
TIME2 = "2025-01-02T04:05:06.789Z"
SHA = "0123456789abcdef0123456789abcdef01234567"
TREE = "89abcdef0123456789abcdef0123456789abcdef"
#: Ids of objects the records link to (the vectors are records, not a store: any 32 bytes).
ARRAY_ID = ObjectId(bytes(range(32)))
MODEL_ID = ObjectId(bytes(range(32, 64)))

Json = Any


def hand_frame(value: Value) -> bytes:
    payload = hand_encode(value)
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def _le(code: str, xs: list[Any]) -> bytes:
    return struct.pack(f"<{len(xs)}{code}", *xs)


START = Start(
    id=RUN_ID,
    experiment="imagenet/resnet50",
    name="lr-sweep",
    config={"bs": 32, "lr": 0.001, "opt": "adam"},
    total_steps=1000,
    started_at=TIME,
    host="node1",
    code={
        "branch": "main",
        "diff": None,
        "dirty": False,
        "head_tree": TREE,
        "reasons": [],
        "remote": None,
        "sha": SHA,
        "tree": TREE,
        "untracked": 0,
    },
)
POINTS = records.columns(
    ["acc", "loss"], [0, 1, 1], [0.25, 0.5, 0.75], [[0.5, math.nan, 0.625], [2.5, -math.inf, 1.0]]
)

END = End("completed", TIME2)

#: (name, record, what it shows)
RECORDS: list[tuple[str, Record, str]] = [
    ("run", START, "the first record: the run's header and the journal version v"),
    (
        "run.bare",
        Start(RUN_ID, "a", None, None, None, TIME, "h", None),
        "a run with no name, config, total_steps or code",
    ),
    (
        "points",
        POINTS,
        "3 steps of 2 metrics: step 1 twice (the later point wins when folded), NaN and -Inf",
    ),
    ("points.one", records.columns(["loss"], [7], [1.5], [[0.125]]), "one step, one metric: n = 1"),
    (
        "rows",
        PointRows(((3, 2.0, {"loss": 0.5}), (4, 2.5, {"acc": 0.75, "loss": 0.25}))),
        "steps that did not log the same metrics",
    ),
    (
        "logged",
        Logged((("final_acc", 0.91, 12.5), ("epochs", 3, 12.5), ("arch", "resnet50", 12.75))),
        "a float and an int metric, and a str param",
    ),
    (
        "config",
        records.Config({"batch_size": 64, "optimizer": {"beta1": 0.9, "name": "adam"}}),
        "config keys set after the start: batch_size replaced, optimizer added",
    ),
    ("tag", Tag(("baseline", "sweep")), "two tags"),
    ("note", Note("## Observations\nloss plateaus"), "a note"),
    ("todo", Todo(TODO_ID, "check the lr", 2, TIME), "a run TODO, priority 2 (high)"),
    (
        "artifact",
        Artifact(
            ARTIFACT_ID,
            "confusion",
            "matrix",
            10,
            ARRAY_ID,
            (2, 3),
            "<f8",
            {"axes": {"cols": "predicted", "rows": "true"}},
            TIME,
        ),
        "a table (log_table): a link to an array object",
    ),
    ("model", Model("resnet50@v1", MODEL_ID), "a registered model version"),
    (
        "lineage",
        Lineage("derived_from", "run", "01JGXK6A2B3C4D5E6F7G8H9J0K", None, TIME),
        "a parent edge to another run",
    ),
    (
        "resume",
        Resume("01JGXKAB2C3D4E5F6G7H8J9K0M"),
        "second record of a continuation (resume=): sealed as this segment of the run",
    ),
    ("end", END, "the last record, written by finish()"),
]

#: Version 1 records, read and never written: (name, frame value, the record it means)
LEGACY: list[tuple[str, Value, str]] = [
    (
        "v1.start",
        ["start", {k: v for k, v in records.encode(START)[1].items() if k != "v"}],
        "run",
    ),
    (
        "v1.columns",
        [
            "C",
            [0, 1, 1],
            [0.25, 0.5, 0.75],
            {"acc": [0.5, math.nan, 0.625], "loss": [2.5, -math.inf, 1.0]},
        ],
        "points",
    ),
]

S8 = _le("q", [0])
D8 = _le("d", [0.0])
ONE_STEP = S8 + D8 + D8  # n = 1 of one metric: step, wall time, value
#: (name, frame value, why a reader refuses it)
REJECTS: list[tuple[str, Value, str]] = [
    ("not-an-array", {"tag": "end"}, "a record is an array that starts with its tag"),
    ("unknown-tag", ["mark", {}], "an unknown tag (a newer writer's record)"),
    ("run.version-3", ["run", {**records.encode(START)[1], "v": 3}], "an unknown journal version"),
    ("run.no-version", ["run", {k: v for k, v in records.encode(START)[1].items() if k != "v"}],
     "a run record without v"),
    ("start.extra-key", ["start", {**records.encode(START)[1]}], "v is not a key of a v1 start"),
    ("points.ragged", ["P", ["loss"], ONE_STEP[:-1]], "23 bytes: not n x 24"),
    ("points.no-steps", ["P", ["loss"], b""], "n = 0"),
    ("points.no-metric", ["P", [], S8 + D8], "no metric"),
    ("points.same-name", ["P", ["a", "a"], ONE_STEP + D8], "a name twice"),
    ("points.four-elements", ["P", S8, D8, {"loss": D8}], "[P, names, columns]"),
    ("points.list-columns", ["P", ["loss"], [0, 0.0, 0.5]], "columns are one bin"),
    ("end.missing-key", ["end", {"status": "completed"}], "end without ended_at"),
    ("todo.priority-str", ["todo", {"content": "x", "created_at": TIME, "id": TODO_ID,
                                    "priority": "high"}], "priority must be an int"),
    ("model.not-a-link", ["model", {"key": "m@v1", "object": bytes(32)}], "object must be a link"),
    ("tag.not-strings", ["tag", ["a", 1]], "tags are strings"),
    ("end.three-elements", ["end", {"ended_at": TIME, "status": "failed"}, 1], "[tag, payload]"),
    ("resume.missing-key", ["resume", {}], "resume without its segment id"),
]  # fmt: skip


def record_vectors() -> list[dict[str, Json]]:
    out = []
    for name, rec, what in RECORDS:
        value = records.encode(rec)
        frame = records.frame(rec)
        if hand_frame(value) != frame:
            raise SystemExit(
                f"{name}: extract's frame {frame.hex()} != hand {hand_frame(value).hex()}"
            )
        if records.frame(records.decode(value)) != frame:
            raise SystemExit(f"{name}: does not decode back to itself")
        out.append({"name": name, "value": to_json(value), "frame": frame.hex(), "what": what})
    return out


def legacy_vectors() -> list[dict[str, Json]]:
    by_name = {name: rec for name, rec, _ in RECORDS}
    out = []
    for name, value, same_as in LEGACY:
        frame = hand_frame(value)
        if records.frame(records.decode(value)) != records.frame(by_name[same_as]):
            raise SystemExit(f"{name}: does not decode to the record of {same_as}")
        out.append(
            {"name": name, "value": to_json(value), "frame": frame.hex(), "same_as": same_as}
        )
    return out


def reject_vectors() -> list[dict[str, Json]]:
    out = []
    for name, value, reason in REJECTS:
        try:
            records.decode(value)
        except DecodeError:
            pass
        else:
            raise SystemExit(f"reject {name} decodes")
        out.append(
            {
                "name": name,
                "frame": hand_frame(value).hex(),
                "error": "DecodeError",
                "reason": reason,
            }
        )
    return out


def journal_vectors() -> list[dict[str, Json]]:
    whole = [records.frame(r) for r in (START, POINTS, END)]
    data = b"".join(whole)
    return [
        {
            "name": "journal.whole",
            "hex": data.hex(),
            "records": ["run", "points", "end"],
            "end": len(data),
            "torn": False,
            "what": "a run's whole journal: intact records to the end of the file",
        },
        {
            "name": "journal.torn",
            "hex": (whole[0] + whole[1][:-3]).hex(),
            "records": ["run"],
            "end": len(whole[0]),
            "torn": True,
            "what": "the points record cut short by a crash: the reader stops before it",
        },
    ]


def build() -> dict[str, Json]:
    return {
        "about": (
            "Journal-record vectors of extract (objects_spec/store.md, 'Journal records'), "
            "journal version 2. Made by objects_spec/vectors/make_journal_vectors.py; every "
            "frame extract writes was also written by an independent encoder. Values are "
            "typed JSON (objects_spec/vectors/README.md); frames are hex: u32 length, u32 "
            "CRC-32, payload, little-endian."
        ),
        "version": VERSION,
        "records": record_vectors(),
        "legacy": legacy_vectors(),
        "reject": reject_vectors(),
        "journals": journal_vectors(),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        same = OUT.exists() and OUT.read_text("ascii") == text
        print(f"{OUT}: {'up to date' if same else 'OUT OF DATE'}")
        return 0 if same else 1
    OUT.write_text(text, "ascii")
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
