"""The ``extract`` command: thin commands that parse, call the library and format.

The commands live in ``extract.cli.commands``. This module stays light so that
``extract serve``, which an ssh remote starts for every fetch and push, runs
without loading typer and every command (about a third of the start-up time).
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["serve"]:
        from extract.cli import serve

        request = serve.parse(args[1:])
        if request is not None:
            sys.exit(serve.run(*request))
    from extract.cli.commands import app

    app()


def __getattr__(name: str) -> Any:
    if name == "app":  # `from extract.cli import app`, loaded on first use
        from extract.cli.commands import app

        return app
    raise AttributeError(name)
