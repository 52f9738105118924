"""A full disk gives one line and a stable exit code, and loses nothing (issue 12, part 6).

A store on a 20 MiB tmpfs, filled to the last page by a file. Read commands still
answer from the index as it is (with at most one warning); commit, reindex and
import exit 6 with one line saying the disk is full and nothing was lost. After the
file is removed, ``fsck --read-data`` is clean and every command works again.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from extract import Store

from .cli import extract
from .stores import make_store

EXIT_DISK_FULL = 6


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        pytest.skip(f"mount -t tmpfs refused ({r.stderr.strip()}): run as root to test a full disk")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem has no room left at all."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    [line] = r.stderr.strip().splitlines()
    return line


def count_runs(project: Path) -> int:
    r = extract("sql", "-f", "json", "SELECT COUNT(*) AS n FROM runs", cwd=project)
    assert r.returncode == 0, r.stderr
    return int(json.loads(r.stdout)[0]["n"])


def test_a_full_disk_costs_nothing_and_says_so(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    project = disk / "p"
    root = make_store(project)
    with Store(root) as s:  # two sealed runs waiting for a commit
        exp = s.experiment({"bench": "b", "model": "late"})
        for name in ("late0", "late1"):
            with exp.run(name=name) as run:
                for step in range(200):
                    run.curve(step, loss=1.0 / (step + 1))
    other = make_store(tmp_path / "other", ("o1",))
    bundle = tmp_path / "o.bundle"
    assert extract("export", str(bundle), cwd=other.parent).returncode == 0
    assert count_runs(project) == 6
    filler = disk / "filler"
    fill(filler)

    # reads answer from the index as it is
    reads: list[tuple[str, ...]] = [
        ("status",),
        ("log",),
        ("show", "r1"),
        ("sql", "SELECT COUNT(*) FROM runs"),
    ]
    for args in reads:
        r = extract(*args, cwd=project)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) <= 1, r.stderr  # at most one warning
    assert count_runs(project) == 6
    assert "2 sealed but uncommitted" in extract("status", cwd=project).stdout

    # writes stop with one line and exit 6
    writes: list[tuple[str, ...]] = [
        ("commit", "-m", "late"),
        ("reindex",),
        ("import", str(bundle)),
    ]
    for args in writes:
        r = extract(*args, cwd=project)
        assert r.returncode == EXIT_DISK_FULL, (args, r.stdout, r.stderr)
        line = one_line(r)
        assert line.startswith("error: ") and "full" in line, line
        assert "nothing already stored was lost" in line
    assert count_runs(project) == 6  # the index survived the failed reindex

    # room again: nothing was lost, everything works
    filler.unlink()
    fs = extract("fsck", "--read-data", cwd=project)
    assert fs.returncode == 0 and fs.stdout.strip().endswith("ok"), fs.stdout + fs.stderr
    assert extract("commit", "-m", "late", cwd=project).returncode == 0
    assert extract("import", str(bundle), cwd=project).returncode == 0
    assert count_runs(project) == 7
    r = extract("reindex", cwd=project)
    assert r.returncode == 0 and "reindexed 7 runs" in r.stdout, r.stderr
    leftovers = [n for n in os.listdir(root) if ".new-" in n or ".seed-" in n]
    assert leftovers == []
    assert extract("fsck", "--read-data", cwd=project).returncode == 0
