"""Logged images in the TUI's run detail: listed, with a half-block preview."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from extract.sdk import Store
from extract.store.repo import Repository
from extract.tui import sections
from extract.tui.core import Browser


def test_run_detail_lists_images_with_a_thumbnail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Repository.init(tmp_path / ".extract", ("benchmark", "model"))
    red = np.zeros((40, 100, 3), np.uint8)
    red[..., 0] = 255
    with (
        Store(tmp_path / ".extract") as store,
        store.experiment({"benchmark": "b", "model": "m"}).run() as run,
    ):
        run.log_image("samples", np.zeros((4, 4), np.uint8), step=0)
        run.log_image("samples", red, step=1)
    browser = Browser(tmp_path / ".extract")
    detail = browser.run_detail(run.id)
    (img,) = detail.images
    assert (img.name, img.step, img.shape) == ("samples", 1, (40, 100, 3))
    assert img.thumbnail is not None
    assert img.thumbnail.shape == (12, 32, 3)  # 100 wide -> 32 cells; 40 high -> 12 pixel rows
    assert (img.thumbnail[..., 0] == 255).all() and (img.thumbnail[..., 1:] == 0).all()
    console = Console(width=120, record=True, color_system="truecolor")
    console.print(sections.run_section(detail, browser.config, marked=False))
    text = console.export_text(clear=False)
    assert "samples @ step 1  40x100x3" in text
    assert text.count("\u2580" * 32) == 6  # 6 cell rows of 32 half blocks
    assert "255;0;0" in console.export_text(styles=True)  # drawn in the image's red


def test_mcp_get_run_lists_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from extract.mcp import tools
    from extract.mcp.view import StoreView

    monkeypatch.chdir(tmp_path)
    Repository.init(tmp_path / ".extract", ("benchmark", "model"))
    with (
        Store(tmp_path / ".extract") as store,
        store.experiment({"benchmark": "b", "model": "m"}).run() as run,
    ):
        run.log_image("grid", np.ones((3, 5, 4)), step=7)
    view = StoreView(tmp_path / ".extract")
    try:
        got = tools.get_run(view, run.id)
    finally:
        view.close()
    (art,) = got.artifacts
    assert (art.name, art.kind, art.step, art.shape, art.dtype) == (
        "grid",
        "image",
        7,
        [3, 5, 4],
        "uint8",
    )
    assert art.metadata == {"format": "png"}
