"""docs/cli.md, generated from the commands themselves: `python -m extract.cli.reference`."""

from __future__ import annotations

import inspect
from typing import Any

import typer.main

from extract.cli.commands import app


def _option_row(param: Any) -> str:
    names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    help_text = (getattr(param, "help", None) or "").replace("|", "\\|")
    default = getattr(param, "default", None)
    show = getattr(param, "show_default", True)
    if default not in (None, False, "", ()) and show is not False:
        help_text += f" Default: `{default}`."
    return f"| {names} | {help_text.strip()} |"


def _arg_name(param: Any) -> str:
    name = str(param.name).upper()
    return name if param.required else f"[{name}]"


def markdown() -> str:
    group = typer.main.get_command(app)
    out = [
        "# Command reference",
        "",
        "Generated from the commands' own help by `python -m extract.cli.reference > docs/cli.md`;",
        "a test fails when this file and the code disagree.",
        "",
    ]
    commands: dict[str, Any] = getattr(group, "commands", {})
    for name in commands:
        cmd = commands[name]
        usage = [_arg_name(p) for p in cmd.params if p.param_type_name == "argument"]
        out += [
            f"## extract {name}",
            "",
            "```",
            f"extract {name} [OPTIONS] {' '.join(usage)}".rstrip(),
            "```",
            "",
        ]
        out += [inspect.cleandoc(cmd.help or ""), ""]
        args = [p for p in cmd.params if p.param_type_name == "argument"]
        opts = [p for p in cmd.params if p.param_type_name == "option"]
        if args:
            out += ["| argument | meaning |", "| --- | --- |"]
            out += [f"| `{_arg_name(p)}` | {getattr(p, 'help', '') or ''} |" for p in args]
            out.append("")
        if opts:
            out += ["| option | meaning |", "| --- | --- |"]
            out += [_option_row(p) for p in opts]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
