"""``extract ui`` over HTTP, as a real subprocess: what it serves, what it refuses.

The pages themselves are driven in a real browser in ``test_ui_browser.py``.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from extract.index import read
from extract.index.access import open_index
from extract.store.repo import Repository
from tests.test_tui_fixture import Fixture
from tests.ui_server import REPO, Server, build_store, get, serve

pytest.importorskip("plotly", reason="the ui extra is not installed")
pytest.importorskip("uvicorn", reason="the ui extra is not installed")


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_store(tmp_path_factory.mktemp("ui-store"))


@pytest.fixture(scope="module")
def server(fx: Fixture) -> Iterator[Server]:
    with serve(fx.root) as s:
        yield s


def api(server: Server, path: str) -> object:
    status, body = get(server.base + path)
    assert status == 200, body[:500]
    return json.loads(body)


# --- layering: the UI reads only through the read layer -----------------------------------


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "extract.index":
                out += [f"extract.index.{a.name}" for a in node.names]
            else:
                out.append(node.module)
    return [m for m in out if m.startswith("extract")]


def test_ui_reads_only_through_the_read_layer_and_writes_no_sql() -> None:
    allowed = ("extract.index.read", "extract.index.models", "extract.index.access")
    for path in sorted((REPO / "extract" / "ui").rglob("*.py")):
        text = path.read_text()
        assert "SELECT " not in text and ".execute(" not in text, path
        for module in _imports(path):
            assert not module.startswith(("extract.tui", "extract.mcp", "extract.cli")), module
            if module.startswith("extract.index"):
                assert module.startswith(allowed), f"{path.name} imports {module}"


def test_assets_are_ours_and_plotly_comes_from_the_installed_package() -> None:
    assets = REPO / "extract" / "ui" / "assets"
    names = sorted(p.name for p in assets.iterdir())
    assert names == ["app.css", "app.js", "shell.html", "views.js"]  # none third-party
    for p in assets.iterdir():
        assert not re.search(r"https?://(?!www\.w3\.org)", p.read_text()), f"{p.name} names a URL"


# --- the API --------------------------------------------------------------------------------


def test_runs_api_sorts_filters_and_marks_the_best(server: Server, fx: Fixture) -> None:
    data = api(server, "/api/runs?cols=final_acc,config.bs&sort=final_acc")
    assert isinstance(data, dict)
    names = [r["run"]["name"] for r in data["rows"]]
    assert names[:3] == ["baseline", "vit-base", "lr1e-3"]  # final_acc is maximised
    assert data["best"]["final_acc"] == fx.runs["baseline"]
    narrowed = api(server, "/api/runs?cols=final_acc&f=final_acc%3E%3D0.85&f=final_acc%3C0.95")
    assert isinstance(narrowed, dict)
    assert sorted(r["run"]["name"] for r in narrowed["rows"]) == ["lr1e-2", "lr1e-3", "vit-base"]


def test_runs_api_scopes_to_a_subtree_and_shows_params(server: Server) -> None:
    data = api(server, "/api/runs?scope=imagenet/resnet50&cols=param.arch&sort=param.arch")
    assert isinstance(data, dict) and data["total"] == 4
    assert {r["run"]["experiment"] for r in data["rows"]} <= {
        "imagenet/resnet50/lr-sweep",
        "imagenet/resnet50/long",
    }
    assert [r["values"][0] for r in data["rows"]][:2] == ["resnet50", "resnet50"]
    status, body = get(server.base + "/api/runs?f=no%20operator")
    assert status == 400 and b"COLUMN OP VALUE" in body  # the read layer's own message
    status, _ = get(server.base + "/api/runs?scope=no/such/experiment")
    assert status == 404


def test_run_api_downsamples_like_the_read_layer_and_keeps_extremes(
    server: Server, fx: Fixture
) -> None:
    from tests.ui_server import DIP, LONG_POINTS, SPIKE

    data = api(server, f"/api/run/{fx.runs['long']}")
    assert isinstance(data, dict)
    (wave,) = [c for c in data["curves"] if c["name"] == "wave"]
    repo = Repository(fx.root)
    index = open_index(repo)
    try:
        expected = read.curves(index.reader(), fx.runs["long"], max_points=2000, mode="envelope")
    finally:
        index.close()
    steps, values, walls = (unpack(wave[k]) for k in ("steps", "values", "walls"))
    assert wave["total"] == LONG_POINTS
    assert wave["points"] == len(steps) == len(expected["wave"].steps) < LONG_POINTS
    assert (steps == expected["wave"].steps).all()
    assert values.max() == SPIKE and values.min() == DIP
    assert len(walls) == len(steps) and (walls >= 0).all()  # wall time for the x axis


def test_sealed_envelope_from_objects_equals_the_index_envelope(fx: Fixture) -> None:
    """The read layer's two envelope paths (grouped scans of the index; the sealed curve
    set reduced in numpy) keep the same points, NaN runs and ties included."""
    repo = Repository(fx.root)
    index = open_index(repo)
    try:
        conn = index.reader()
        for name in ("long", "lr1e-3", "vit-base"):
            for budget in (2, 3, 10, 2000, 100_000):
                sql = read.curves(conn, fx.runs[name], max_points=budget, mode="envelope")
                obj = read.curves(
                    conn, fx.runs[name], max_points=budget, mode="envelope", odb=repo.objects
                )
                assert sql.keys() == obj.keys()
                for metric, a in sql.items():
                    b = obj[metric]
                    assert a.total == b.total, (name, metric, budget)
                    assert a.steps.tolist() == b.steps.tolist(), (name, metric, budget)
                    np.testing.assert_array_equal(a.values, b.values)
                    np.testing.assert_array_equal(a.wall_times, b.wall_times)
    finally:
        index.close()


def unpack(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f8")


def test_sql_page_is_read_only(server: Server) -> None:
    status, body = get(server.base + "/api/sql?q=DELETE%20FROM%20runs")
    assert status == 400, body
    data = api(server, "/api/sql?q=SELECT%20COUNT(*)%20AS%20n%20FROM%20runs")
    assert isinstance(data, dict) and data["columns"] == ["n"]


TRAVERSALS = [
    "/artifact/{run}/../../config.toml",
    "/artifact/{run}/..%2F..%2Fconfig.toml",
    "/artifact/{run}/%2e%2e/%2e%2e/config.toml",
    "/artifact/../../config.toml",
    "/artifact/{run}/notes/../../../../etc/passwd",
    "/artifact/{run}//etc/passwd",
    "/api/text/{run}/../../config.toml",
    "/api/table/{run}/..%2f..%2fconfig.toml",
    "/assets/..%2Fserver.py",
    "/assets/../server.py",
    "/assets/%2e%2e%2f__init__.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_gets_404(server: Server, fx: Fixture, path: str) -> None:
    # http.client sends the path as written: no client-side normalisation of ".."
    status, body = get(server.base + path.format(run=fx.runs["lr1e-3"]))
    assert status == 404, (path, body[:200])
    assert b"[store]" not in body and b"root:" not in body


def test_artifacts_are_served_by_exact_name(server: Server, fx: Fixture) -> None:
    status, body = get(server.base + f"/artifact/{fx.runs['lr1e-3']}/notes")
    assert status == 200 and body.startswith(b"## lr1e-3")
    text = api(server, f"/api/text/{fx.runs['lr1e-3']}/notes")
    assert isinstance(text, dict) and "<h2>lr1e-3</h2>" in text["html"]


def _store_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the store but the index (a cache the server refreshes), with its
    size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("index.db")
    }


def test_no_route_writes_to_the_store(server: Server, fx: Fixture) -> None:
    before = _store_files(fx.root)
    run = fx.runs["lr1e-3"]
    for path in (
        "/",
        f"/run/{run}",
        "/api/columns",
        "/api/runs?cols=final_acc,config.lr,param.arch&sort=final_acc",
        f"/api/run/{run}",
        f"/api/curves/{run}",
        f"/api/table/{run}/confusion",
        f"/api/text/{run}/notes",
        f"/artifact/{run}/notes",
        f"/api/compare?runs={run},{fx.runs['lr1e-2']}",
        "/api/sweep?keys=config.lr&metric=final_acc",
        f"/api/lineage?type=run&id={run}",
        "/api/models",
        "/api/todos",
        "/api/overview",
        "/api/sql?q=SELECT%201",
    ):
        status, body = get(server.base + path)
        assert status == 200, (path, body[:300])
    assert _store_files(fx.root) == before


# --- binding off loopback -------------------------------------------------------------------


def test_off_loopback_every_request_needs_the_token(fx: Fixture) -> None:
    with serve(fx.root, "--host", "0.0.0.0") as s:
        token = s.url.split("?token=", 1)[1]
        assert len(token) >= 20
        base = s.base.replace("0.0.0.0", "127.0.0.1")
        for path in ("/", "/api/runs", "/assets/app.js", "/events", f"/run/{fx.runs['lr1e-3']}"):
            assert get(base + path)[0] == 401, path
            assert get(base + path + "?token=wrong")[0] == 401, path
        assert get(base + "/api/overview", {"Authorization": f"Bearer {token}"})[0] == 200
        assert get(base + "/api/overview", {"Cookie": f"extract_ui_token={token}"})[0] == 200
        status, _ = get(base + f"/api/overview?token={token}")
        assert status == 200


def test_a_given_token_is_required_on_loopback_too(fx: Fixture) -> None:
    with serve(fx.root, "--token", "s3cret-token") as s:
        assert get(s.base + "/api/overview")[0] == 401
        assert get(s.base + "/api/overview?token=s3cret-token")[0] == 200


def test_without_the_extra_it_says_how_to_install(tmp_path: Path, fx: Fixture) -> None:
    # a plotly that cannot be imported, as on a machine without the ui extra
    (tmp_path / "plotly").mkdir()
    (tmp_path / "plotly" / "__init__.py").write_text("raise ImportError('no plotly here')\n")
    r = subprocess.run(
        [sys.executable, "-m", "extract", "ui", "--store", str(fx.root)],
        env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert "pip install 'extract-tracker[ui]'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_without_a_token_only_loopback_names_are_answered(server: Server) -> None:
    # a page of another domain resolved to 127.0.0.1 (DNS rebinding) sends its own name
    status, body = get(server.base + "/api/sql?q=SELECT%201", {"Host": "attacker.example:8765"})
    assert status == 403 and b"not attacker.example" in body
    for host in ("localhost:1", "127.0.0.1", "[::1]:8765"):
        assert get(server.base + "/api/overview", {"Host": host})[0] == 200, host


def test_a_table_named_without_a_step_is_the_one_the_sdk_returns(tmp_path: Path) -> None:
    from extract.sdk import Store
    from extract.store.repo import Repository
    from extract.ui.source import Source

    root = tmp_path / ".extract"
    Repository.init(root, ("a",))
    with Store(root) as store:
        with store.experiment({"a": "x"}).run() as run:
            run.log_table("t", np.zeros((2, 2)))
            run.log_table("t", np.ones((2, 2)), step=3)
        sdk_values = store.load_run(run.id).table("t")[:].tolist()
    source = Source(root)
    try:
        assert source.table(run.id, "t")["values"] == sdk_values == [[0.0, 0.0], [0.0, 0.0]]
        assert source.table(run.id, "t", step=3)["values"] == [[1.0, 1.0], [1.0, 1.0]]
    finally:
        source.close()
