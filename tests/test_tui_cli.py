"""``extract tui``'s command function: options, errors, and where it hands over to the app."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from extract.cli.tui_cmd import tui
from extract.store.repo import Repository

app = typer.Typer()
app.command()(tui)
runner = CliRunner()


def test_help_lists_the_options() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for option in ("--store", "--web", "--host", "--port"):
        assert option in r.output


def test_runs_the_app_on_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Repository.create(tmp_path / ".extract")
    seen: list[Path] = []
    monkeypatch.setattr("extract.tui.run", seen.append)
    r = runner.invoke(app, ["--store", str(tmp_path / ".extract")])
    assert r.exit_code == 0, r.output
    assert seen == [tmp_path / ".extract"]


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    r = runner.invoke(app, ["--store", str(tmp_path / "nowhere")])
    assert r.exit_code != 0
    assert "no extract store" in r.output


def test_bad_config_is_reported_before_the_screen_is_taken(tmp_path: Path) -> None:
    root = tmp_path / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text("[summary]\ncurve_width = 500\n")
    r = runner.invoke(app, ["--store", str(root)])
    assert r.exit_code == 2
    assert "curve_width must be an integer from 1 to 100" in r.output


@pytest.mark.skipif(
    importlib.util.find_spec("textual_serve") is not None, reason="textual-serve is installed"
)
def test_web_without_textual_serve_says_what_to_install(tmp_path: Path) -> None:
    Repository.create(tmp_path / ".extract")
    r = runner.invoke(app, ["--store", str(tmp_path / ".extract"), "--web"])
    assert r.exit_code == 2
    assert "pip install textual-serve" in r.output
