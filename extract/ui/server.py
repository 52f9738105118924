"""The HTTP side of ``extract ui``: pages, a JSON API over :class:`Source`, live events, assets.

Starlette on uvicorn (both already installed with the MCP server's dependencies). Every
route reads; none writes to the store. Pages are one HTML shell and our own small
script, which fetches JSON from ``/api/...``; charts are drawn by plotly.js, served
from the ``plotly`` Python package installed on this machine (never a CDN, never a
copy in this repository). ``/events`` is a server-sent event stream that says when the
index changed; a background task refreshes the index from live journals twice a second.

Artifacts are looked up by run and exact name in the index and read from their object:
no route maps a request path onto a file, so ``..`` cannot reach anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import importlib.metadata
import importlib.resources
import json
import mimetypes
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import blake3
from markdown_it import MarkdownIt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from extract.errors import ExtractError, NotFound
from extract.ui.source import CHART_POINTS, Source

ASSETS = Path(__file__).parent / "assets"
PAGES = ("runs", "run", "compare", "sweep", "lineage", "models", "todos", "sql")
#: How often the index is brought up to date with live journals, and how often an event
#: stream looks for a change: together well inside the 2 s a live chart may lag.
REFRESH_SECONDS = 0.5
EVENT_POLL_SECONDS = 0.25
HEARTBEAT_SECONDS = 15.0
COOKIE = "extract_ui_token"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def plotly_js() -> bytes:
    """plotly.min.js as the installed ``plotly`` package ships it."""
    path = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    return path.read_bytes()


class LoopbackHosts:
    """Without a token the server listens on loopback only; it then also answers only
    requests addressed to a loopback name. A web page on another domain that points its
    name at 127.0.0.1 (DNS rebinding) sends its own name as Host, and is refused."""

    NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            name = host[1 : host.find("]")] if host.startswith("[") else host.split(":")[0]
            if host and name not in self.NAMES:
                response = PlainTextResponse(
                    f"403: this server answers requests for 127.0.0.1 or localhost, not {name}",
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class TokenGate:
    """Every request must carry the token: ``?token=`` (then remembered in a cookie, so the
    page's own requests carry it), the cookie, or ``Authorization: Bearer``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    def _ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = (query.get("token") or [None])[0]
        cookie = SimpleCookie(headers.get("cookie", ""))
        from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
        auth = headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        if not any(self._ok(t) for t in (from_query, from_cookie, bearer)):
            response = PlainTextResponse(
                "401: this server needs its token: open the address `extract ui` printed "
                "(it ends in ?token=...)",
                status_code=401,
            )
            await response(scope, receive, send)
            return
        if not self._ok(from_query):
            await self.app(scope, receive, send)
            return

        async def remember(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                value = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                message.setdefault("headers", []).append((b"set-cookie", value.encode()))
            await send(message)

        await self.app(scope, receive, remember)


def _error(e: ExtractError) -> JSONResponse:
    status = 404 if isinstance(e, NotFound) else 400
    return JSONResponse({"error": str(e)}, status_code=status)


def _json(data: Any) -> Response:
    body = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return Response(body, media_type="application/json")


def _int(value: str | None, default: int) -> int:
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        return default


#: The most points a chart request may ask of one curve: a screen shows no more, and
#: ``?points=`` of 10M would send every point of the longest curve.
MAX_CHART_POINTS = 20_000


def _points(n: int) -> int:
    return min(max(2, n), MAX_CHART_POINTS)


def _list(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def build_app(source: Source, *, token: str | None = None) -> ASGIApp:
    """The ASGI app serving ``source``; with ``token``, every request must carry it."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    own = {p.name: p.read_bytes() for p in ASSETS.iterdir() if p.suffix in (".js", ".css")}
    # Asset URLs carry a version (ours: a hash of our files; plotly: its package version),
    # so a browser keeps them for a year and parses plotly.js's 4.8 MB again only when
    # either changes.
    version = blake3.blake3(b"".join(own[k] for k in sorted(own))).hexdigest()[:12]
    version += "-" + importlib.metadata.version("plotly")
    shell = (ASSETS / "shell.html").read_text().replace("{{v}}", version)
    store = html.escape(str(source.repo.root))
    vendor: dict[str, bytes] = {}

    async def api(call: Callable[[], Any], *, artifact: bool = False) -> Response:
        """``call``'s answer as JSON. On an artifact route any refusal is a plain 404, so
        a probe (``..``, an encoded path) learns nothing about what exists."""
        try:
            return _json(await run_in_threadpool(call))
        except ExtractError as e:
            if artifact:
                return JSONResponse({"error": "not found"}, status_code=404)
            return _error(e)

    async def page(request: Request) -> Response:
        name = request.path_params.get("page", "runs") or "runs"
        if name not in PAGES:
            return PlainTextResponse("404: no such page", status_code=404)
        body = shell.replace("{{page}}", name).replace("{{store}}", store)
        return HTMLResponse(body)

    async def run_page(request: Request) -> Response:
        body = shell.replace("{{page}}", "run").replace("{{store}}", store)
        return HTMLResponse(body)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            if not vendor:
                vendor[name] = await run_in_threadpool(plotly_js)
            body = vendor[name]
        elif name in own:
            body = own[name]
        else:
            return PlainTextResponse("404: no such asset", status_code=404)
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        versioned = request.query_params.get("v") == version
        cache = "max-age=31536000, immutable" if versioned else "no-cache"
        return Response(body, media_type=kind, headers={"cache-control": cache})

    async def columns(request: Request) -> Response:
        return await api(lambda: source.columns(request.query_params.get("scope", "")))

    async def runs(request: Request) -> Response:
        q = request.query_params
        desc = q.get("desc")
        return await api(
            lambda: source.runs(
                q.get("scope", ""),
                _list(q.get("cols")),
                sort=q.get("sort") or None,
                descending=None if desc in (None, "") else desc == "1",
                filters=q.getlist("f"),
                query=q.get("q", ""),
                limit=_int(q.get("limit"), 50),
                offset=_int(q.get("offset"), 0),
            )
        )

    async def run(request: Request) -> Response:
        points = _int(request.query_params.get("points"), CHART_POINTS)
        return await api(lambda: source.run(request.path_params["run"], _points(points)))

    async def curves(request: Request) -> Response:
        points = _int(request.query_params.get("points"), CHART_POINTS)
        return await api(lambda: source.curves(request.path_params["run"], _points(points)))

    def _step(request: Request) -> int | None:
        s = request.query_params.get("step")
        return None if s in (None, "") else _int(s, -1)

    async def table(request: Request) -> Response:
        p = request.path_params
        return await api(lambda: source.table(p["run"], p["name"], _step(request)), artifact=True)

    async def text(request: Request) -> Response:
        p = request.path_params

        def render() -> dict[str, Any]:
            a, data = source.artifact(p["run"], p["name"], _step(request))
            return {"name": a.name, "html": md.render(data.decode("utf-8", "replace"))}

        return await api(render, artifact=True)

    async def artifact(request: Request) -> Response:
        p = request.path_params
        try:
            a, data = await run_in_threadpool(source.artifact, p["run"], p["name"], _step(request))
        except ExtractError:
            return PlainTextResponse("404: not found", status_code=404)
        meta = a.metadata if isinstance(a.metadata, dict) else {}
        kind = meta.get("mime") or mimetypes.guess_type(a.name)[0] or "application/octet-stream"
        if a.kind == "text":
            kind = "text/plain; charset=utf-8"
        # nosniff: a stored artifact is shown as what it is, never run as a page of ours
        headers = {"x-content-type-options": "nosniff", "content-security-policy": "sandbox"}
        return Response(data, media_type=str(kind), headers=headers)

    async def compare(request: Request) -> Response:
        return await api(lambda: source.compare(_list(request.query_params.get("runs"))))

    async def sweep(request: Request) -> Response:
        q = request.query_params
        return await api(
            lambda: source.sweep(q.get("scope", ""), _list(q.get("keys")), q.get("metric") or None)
        )

    async def lineage(request: Request) -> Response:
        q = request.query_params
        return await api(
            lambda: source.lineage(q.get("type", "run"), q.get("id", ""), _int(q.get("depth"), 2))
        )

    async def models(request: Request) -> Response:
        return await api(source.models)

    async def todos(request: Request) -> Response:
        return await api(source.todos)

    async def overview(request: Request) -> Response:
        return await api(source.overview)

    async def sql(request: Request) -> Response:
        return await api(lambda: source.sql(request.query_params.get("q", "")))

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            seen = source.version
            quiet = 0.0
            yield f"event: hello\ndata: {seen}\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(EVENT_POLL_SECONDS)
                quiet += EVENT_POLL_SECONDS
                if source.version != seen:
                    seen = source.version
                    quiet = 0.0
                    yield f"event: change\ndata: {seen}\n\n"
                elif quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield ": still here\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

    async def refresher() -> None:
        said: set[str] = set()
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await run_in_threadpool(source.refresh)
            except Exception as e:  # retried on the next tick; each new failure said once
                text = f"{type(e).__name__}: {e}"
                if text not in said:
                    said.add(text)
                    print(
                        f"warning: refreshing the index failed ({text}); retrying", file=sys.stderr
                    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(refresher())
        # the runs page's first question, answered before anyone asks it
        warm = asyncio.create_task(run_in_threadpool(source.columns, ""))
        try:
            yield
        finally:
            for t in (task, warm):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, ExtractError):
                    await t

    routes = [
        Route("/", page),
        Route("/run/{run}", run_page),
        Route("/assets/{name}", asset),
        Route("/api/columns", columns),
        Route("/api/runs", runs),
        Route("/api/run/{run}", run),
        Route("/api/curves/{run}", curves),
        Route("/api/table/{run}/{name:path}", table),
        Route("/api/text/{run}/{name:path}", text),
        Route("/artifact/{run}/{name:path}", artifact),
        Route("/api/compare", compare),
        Route("/api/sweep", sweep),
        Route("/api/lineage", lineage),
        Route("/api/models", models),
        Route("/api/todos", todos),
        Route("/api/overview", overview),
        Route("/api/sql", sql),
        Route("/events", events),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/{page}", page),
    ]
    app: ASGIApp = Starlette(routes=routes, lifespan=lifespan)
    return TokenGate(app, token) if token else LoopbackHosts(app)
