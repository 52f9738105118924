"""The ``extract`` command: thin commands that parse, call the library and format.

The commands are listed in ``extract.cli.registry`` and loaded one at a time by
``extract.cli.lazy``. This module stays light so that ``extract serve``, which an ssh
remote starts for every fetch and push, runs without even click and typer.
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
    from extract.cli.lazy import app

    app(prog_name="extract")


def __getattr__(name: str) -> Any:
    if name == "app":  # `from extract.cli import app`, loaded on first use
        from extract.cli.commands import app

        return app
    raise AttributeError(name)
