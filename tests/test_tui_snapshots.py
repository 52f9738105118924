"""Snapshots of the main screens drawn from the fixture store, compared as text.

Set ``EXTRACT_UPDATE_SNAPSHOTS=1`` to rewrite the files under tests/snapshots/tui/
after a deliberate change to what a screen shows; review the diff before committing.
Object ids that hash a temporary path, and the path itself, are masked.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from extract.tui.app import ExtractApp
from extract.tui.screens.common import goto_run
from tests.test_tui_fixture import Fixture, build, fixed_clock, press, screen_text, settle

SNAPSHOTS = Path(__file__).parent / "snapshots" / "tui"
UPDATE = os.environ.get("EXTRACT_UPDATE_SNAPSHOTS") == "1"
SIZE = (120, 40)
_HEX = re.compile(r"\b[0-9a-f]{12,64}\b")


def normalise(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp), "<tmp>")
    # The padding after a temp path depends on its length (pytest-7 or pytest-12): drop it.
    text = re.sub(r"(<tmp>\S*) +│", r"\1 │", text)
    return _HEX.sub(lambda m: "#" * len(m.group(0)), text)


def check(name: str, text: str, tmp: Path) -> None:
    got = normalise(text, tmp) + "\n"
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
        if not UPDATE:
            pytest.fail(f"wrote a new snapshot {path.name}: check it and run again")
    assert got == path.read_text(), (
        f"{name} differs from {path}; set EXTRACT_UPDATE_SNAPSHOTS=1 to accept"
    )


@pytest.fixture
def fx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fixture:
    monkeypatch.chdir(tmp_path)
    return build(tmp_path)


SCREENS: list[tuple[str, list[str]]] = [
    ("01_runs_root", []),
    ("02_run_summary", ["goto:lr1e-3"]),
    ("03_run_info", ["goto:lr1e-3", "I"]),
    ("04_experiment_summary", ["goto:lr1e-3", "left"]),
    ("05_compare", ["goto:lr1e-3", "space", "goto:lr1e-2", "space", "goto:vit-base", "space", "c"]),
    ("06_diff", ["goto:lr1e-3", "space", "goto:lr1e-2", "space", "d"]),
    ("07_dashboard", ["2"]),
    ("08_models", ["3"]),
    ("09_lineage", ["goto:vit-base", "L"]),
    ("10_todo", ["5"]),
    ("11_help", ["question_mark"]),
    ("12_table_heatmap", ["goto:lr1e-3", "t"]),
    ("13_table_rules", ["goto:lr1e-3", "t", "H"]),
    ("14_run_browser", ["b"]),
    ("15_search", ["slash", *"lr1e"]),
    ("16_delete_confirm", ["goto:lr1e-1", "x"]),
]


@pytest.mark.parametrize("name,steps", SCREENS, ids=[s[0] for s in SCREENS])
def test_screen_snapshot(fx: Fixture, tmp_path: Path, name: str, steps: list[str]) -> None:
    async def go() -> str:
        app = ExtractApp(fx.root, clock=fixed_clock, refresh_interval=0)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            for step in steps:
                if step.startswith("goto:"):
                    goto_run(app, fx.runs[step[5:]])
                    await settle(app, pilot)
                else:
                    await press(app, pilot, step)
            await settle(app, pilot)
            text: str = screen_text(app)
            return text

    text = asyncio.run(go())
    # Known race in driving the compare scenario: three GoToRun hops across two experiments
    # can leave focus on the tree, so a mark or the "c" lands elsewhere (about 1 run in 4 on
    # a loaded 2-core machine). Drive it again rather than flake; the screen is still checked.
    for _ in range(2):
        if name != "05_compare" or "Compare" in text.splitlines()[0]:
            break
        text = asyncio.run(go())
    check(name, text, tmp_path)


def test_snapshots_have_no_strays() -> None:
    names = {f"{n}.txt" for n, _ in SCREENS}
    assert {p.name for p in SNAPSHOTS.glob("*.txt")} <= names


def test_normalise_masks_ids_and_paths(tmp_path: Path) -> None:
    raw = f"{tmp_path}/x  record {'ab' * 32} run 01KZ0000000000000000000002"
    assert (
        normalise(raw, tmp_path)
        == "<tmp>/x  record " + "#" * 64 + " run 01KZ0000000000000000000002"
    )
