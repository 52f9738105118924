"""Every ``extract`` command (extract/cli/registry.py) registered on one typer app, all
modules imported: what the command reference and in-process tests use. The entry point
runs the same commands through extract/cli/lazy.py, which imports only the one called."""

from __future__ import annotations

import importlib

import typer

from .lazy import new_app, prepare
from .registry import COMMANDS

app = new_app()

for _e in COMMANDS:
    _target = prepare(getattr(importlib.import_module(f"extract.cli.{_e.module}"), _e.attr))
    if isinstance(_target, typer.Typer):
        app.add_typer(_target, name=_e.name, rich_help_panel=_e.panel)
    else:
        app.command(_e.name, rich_help_panel=_e.panel)(_target)
