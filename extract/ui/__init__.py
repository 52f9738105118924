"""``extract ui``: a local, read-only web UI over the one read layer (``extract.index.read``).

``source`` asks the read layer and returns JSON-ready data; ``server`` serves it, the
pages and the live event stream; ``assets/`` holds our own page shell, script and style.
Charts are drawn by plotly.js from the installed ``plotly`` package. See docs/ui.md.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

MISSING_HINT = (
    "extract ui needs its extra: pip install 'extract-tracker[ui]' "
    "(plotly, starlette, uvicorn; everything is served from the installed packages)"
)


def missing() -> str | None:
    """Which package the UI needs but cannot import, or None."""
    for module in ("plotly", "starlette", "uvicorn", "markdown_it"):
        try:
            __import__(module)
        except ImportError:
            return module
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one), so the address printed is the real one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    root: Path,
    sock: socket.socket,
    *,
    token: str | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve the store at ``root`` on ``sock`` until interrupted."""
    import uvicorn

    from extract.index.access import warn_stderr
    from extract.ui.server import build_app
    from extract.ui.source import Source

    source = Source(root, warn=warn_stderr)  # a healed or unwritable index is said once
    app = build_app(source, token=token)
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=1,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready()
    try:
        server.run(sockets=[sock])
    finally:
        source.close()
