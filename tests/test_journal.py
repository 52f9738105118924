"""Journal framing: every intact record back, in order, across read blocks; torn tails stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.store import journal


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "run.journal"


def big_records(n: int) -> list[list[object]]:
    return [["c", i, "x" * (i % 5000)] for i in range(n)]


def test_records_span_read_blocks(path: Path) -> None:
    recs = big_records(3000)  # ~7.5 MB: several 4 MiB blocks, frames straddling their edges
    journal.append(path, recs, durable=False)
    got = journal.read(path)
    assert got.records == recs and not got.torn and got.valid_bytes == path.stat().st_size


def test_offset_resumes(path: Path) -> None:
    recs = big_records(100)
    journal.append(path, recs[:60], durable=False)
    first = journal.read(path)
    journal.append(path, recs[60:], durable=False)
    rest = journal.read(path, first.valid_bytes)
    assert first.records + rest.records == recs


@pytest.mark.parametrize("cut", [1, 4, 8, 9, 100])
def test_torn_tail_keeps_everything_before(path: Path, cut: int) -> None:
    recs = big_records(50)
    journal.append(path, recs, durable=False)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - cut)
    got = journal.read(path)
    last_frame = len(journal.frame(recs[-1]))
    assert got.torn and got.records == recs[: len(got.records)]
    assert len(got.records) == (49 if cut <= last_frame else 48)


def test_flipped_byte_stops_at_the_damage(path: Path) -> None:
    journal.append(path, big_records(10), durable=False)
    journal.append(path, [["mark"]], durable=False)
    mark = path.stat().st_size
    journal.append(path, big_records(10), durable=False)
    data = bytearray(path.read_bytes())
    data[mark + 12] ^= 0xFF  # inside the first record after the mark
    path.write_bytes(bytes(data))
    got = journal.read(path)
    assert got.torn and got.records[-1] == ["mark"] and got.valid_bytes == mark
