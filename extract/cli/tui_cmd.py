"""``extract tui``: the terminal UI, or the same app served to a browser with ``--web``."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from extract.errors import InvalidInput

from ._common import StoreOpt, handle_errors, open_store

WebOpt = Annotated[
    bool,
    typer.Option(
        "--web",
        help="Serve the same app to a web browser (needs the textual-serve package).",
    ),
]
HostOpt = Annotated[str, typer.Option("--host", help="With --web: the address to listen on.")]
PortOpt = Annotated[int, typer.Option("--port", help="With --web: the port to listen on.")]


@handle_errors
def tui(
    store: StoreOpt = None,
    web: WebOpt = False,
    host: HostOpt = "localhost",
    port: PortOpt = 8000,
) -> None:
    """Browse experiments, runs, curves, tables, models, lineage and TODOs; live while runs run.

    Examples:
      extract tui
      extract tui --store /data/project/.extract
      extract tui --web --port 8000     (then open http://localhost:8000)
    """
    from extract.display.settings import tui_config  # (no textual: that loads with the app)

    repo = open_store(store)
    tui_config(repo.config)  # a malformed config.toml is reported here, before the screen is taken
    if not web:
        from extract.tui import run

        run(repo.root)
        return
    try:
        from textual_serve.server import Server  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise InvalidInput(
            "--web needs the textual-serve package: pip install textual-serve "
            "(it serves the app's own files; nothing is fetched at run time)"
        ) from None
    command = shlex.join([sys.executable, "-m", "extract.tui", "--store", str(repo.root.resolve())])
    typer.echo(f"serving extract tui on http://{host}:{port}  (ctrl+c stops)", err=True)
    Server(command, host=host, port=port, title="extract").serve()
