"""Where the MCP server sits: it imports only the layers below it, and nothing below
it (the core, the index, the one read layer) loads the MCP SDK."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: What extract.mcp may import from extract (besides itself and the package root).
MCP_MAY_IMPORT = {"errors", "objects", "store", "index", "git", "mcp"}
#: What the one read layer may import from extract.
READ_MAY_IMPORT = {"errors", "objects", "store", "tracking", "index"}


def _extract_imports(path: Path) -> set[str]:
    """Second components of every ``extract.*`` module a file imports ('' for the root)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names = ["extract.cli" if path.parent.name == "cli" else "extract.mcp"]
        for name in names:
            parts = name.split(".")
            if parts[0] == "extract":
                out.add(parts[1] if len(parts) > 1 else "")
    return out


def test_mcp_package_imports_only_lower_layers() -> None:
    files = sorted((REPO / "extract" / "mcp").glob("*.py"))
    assert files
    for path in files:
        used = _extract_imports(path) - {""}
        assert used <= MCP_MAY_IMPORT, f"{path.name} imports extract.{used - MCP_MAY_IMPORT}"


def test_the_read_layer_imports_only_lower_layers() -> None:
    index = REPO / "extract" / "index"
    files = [index / "models.py", *sorted((index / "read").glob("*.py"))]
    assert len(files) > 5
    for path in files:
        used = _extract_imports(path) - {""}
        assert used <= READ_MAY_IMPORT, f"{path.name} imports extract.{used - READ_MAY_IMPORT}"


def test_cli_command_loads_the_server_lazily() -> None:
    tree = ast.parse((REPO / "extract" / "cli" / "mcp_cmd.py").read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert all("mcp" not in (getattr(n, "module", "") or "") for n in top)


def _loaded(code: str) -> str:
    probe = (
        f"import sys; {code}; "
        "print(','.join(m for m in ('mcp', 'textual', 'pydantic') if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return r.stdout.strip()


def test_core_and_index_do_not_load_mcp() -> None:
    assert _loaded("import extract, extract.index, extract.index.read") == ""


def test_mcp_package_and_tools_do_not_load_the_sdk() -> None:
    assert "mcp" not in _loaded("import extract.mcp").split(",")
    assert "mcp" not in _loaded("import extract.mcp.tools").split(",")
    assert "mcp" in _loaded("import extract.mcp.server").split(",")
