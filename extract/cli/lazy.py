"""The ``extract`` command group as the entry point runs it: a typer group that builds a
command from its function only when that command is called.

Importing every command module costs the sync transports, pygit2, numpy, the TUI and
the web UI: about 0.7 s before the first line of output, for ``extract --help`` as for
``extract status``. Scripts and git hooks call extract in loops, so only the command
that runs is loaded, and ``extract --help`` lists the commands from the registry alone,
formatted without rich. ``extract.cli.commands.app`` holds the same commands as one
eager typer app, for the command reference and in-process tests.
"""

from __future__ import annotations

import importlib
import inspect
from difflib import get_close_matches
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from extract import __version__

from .registry import BY_NAME, COMMANDS

HELP = "Local-first experiment tracking on a content-addressed store with git-like history."
CONTEXT = {"help_option_names": ["-h", "--help"]}


def reflow(doc: str | None) -> str | None:
    """A command's docstring with each prose paragraph on one line, so help fills the
    terminal's width instead of breaking where the source did (typer's rich help keeps
    single line breaks). Paragraphs with indented lines (examples) are kept as written."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    out = []
    for par in paragraphs:
        lines = par.split("\n")
        if any(line.startswith(" ") for line in lines[1:]) or par.startswith("\b"):
            out.append(par)
        else:
            out.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(out)


def prepare(target: Any) -> Any:
    """A registered command function, or every command of a sub-app, with its help
    reflowed (once: reflowing is idempotent)."""
    funcs = (
        [c.callback for c in target.registered_commands]
        + [target.registered_callback.callback if target.registered_callback else None]
        if isinstance(target, typer.Typer)
        else [target]
    )
    for fn in funcs:
        if fn is not None:
            fn.__doc__ = reflow(fn.__doc__)
    return target


def build(name: str) -> Any:
    """The (typer-click) command of one registered command, its module imported now."""
    entry = BY_NAME[name]
    target = getattr(importlib.import_module(f"extract.cli.{entry.module}"), entry.attr)
    prepare(target)
    if isinstance(target, typer.Typer):
        cmd: Any = typer.main.get_group(target)
    else:
        one = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        one.command(name, rich_help_panel=entry.panel)(target)
        cmd = typer.main.get_command(one)
    cmd.name = name
    return cmd


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return [e.name for e in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return build(cmd_name) if cmd_name in BY_NAME else None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer.BadParameter:
            raise
        except Exception as e:  # a UsageError of typer's click: suggest a near name
            matches = get_close_matches(args[0], list(BY_NAME)) if args else []
            message = getattr(e, "message", None)
            if matches and isinstance(message, str) and "Did you mean" not in message:
                e.message = f"{message.rstrip('.')}. Did you mean {matches[0]!r}?"  # type: ignore[attr-defined]
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for e in COMMANDS:
            panels.setdefault(e.panel, []).append((e.name, e.summary))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"extract {__version__}")
        raise typer.Exit()


def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Local-first experiment tracking on a content-addressed store with git-like history."""


def new_app(**settings: Any) -> typer.Typer:
    """The top-level typer app (commands are added by the caller, or loaded lazily)."""
    app = typer.Typer(
        name="extract",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings=CONTEXT,
        **settings,
    )
    app.callback()(root)
    return app


#: What ``extract`` runs: no command module is imported until one is called.
app = new_app(cls=LazyGroup, rich_markup_mode=None)
