"""``extract ui``: the local web UI, as a command."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from extract.errors import InvalidInput

from ._common import StoreOpt, handle_errors, open_store

HostOpt = Annotated[
    str,
    typer.Option(
        "--host", help="Address to listen on; any but loopback needs a token on every request."
    ),
]
PortOpt = Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")]
OpenOpt = Annotated[bool, typer.Option("--open", help="Open the address in a web browser.")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Token every request must carry (generated when bound off loopback without one).",
        show_default=False,
    ),
]


@handle_errors
def ui(
    store: StoreOpt = None,
    port: PortOpt = 8765,
    host: HostOpt = "127.0.0.1",
    open_: OpenOpt = False,
    token: TokenOpt = None,
) -> None:
    """Serve a read-only web UI of the store: runs, curves, compare, sweep, lineage, models, TODOs and SQL.

    The runs table, run pages with interactive curves, and every other page are live
    while runs train.

    Examples:
      extract ui                       (then open http://127.0.0.1:8765)
      extract ui --port 0 --open
      extract ui --host 0.0.0.0        (prints an address with a generated token)
    """
    import extract.ui as web  # light: the web packages load in serve()

    absent = web.missing()
    if absent is not None:
        raise InvalidInput(f"{web.MISSING_HINT} ({absent} is not installed)")
    if token == "":
        raise InvalidInput("--token must not be empty")
    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port must be 0 (any free port) to 65535, got {port}")
    repo = open_store(store)
    _ = repo.config  # a malformed config.toml is reported here, before serving
    if token is None and not web.is_loopback(host):
        token = web.new_token()
    try:
        sock = web.bind(host, port)
    except OSError as e:
        raise InvalidInput(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}/" + (f"?token={token}" if token else "")

    def ready() -> None:
        typer.echo(f"extract ui: {url}  (ctrl+c stops)", err=True)
        if open_:
            webbrowser.open(url)

    web.serve(repo.root, sock, token=token, on_ready=ready)
