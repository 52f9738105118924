"""Layers: nothing imports upward, and the core never loads the front ends."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Lowest first. A module may import its own layer and the ones before it.
LAYERS = [
    "errors",
    "objects",
    "store",
    "tracking",
    "index",
    "git",
    "sync",
    "sdk",
    "display",
    "mcp|tui|ui|integrations",
    "cli",
]


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "extract" or len(parts) < 2:
        return None
    for i, layer in enumerate(LAYERS):
        if parts[1] in layer.split("|"):
            return i
    return None


def test_no_upward_imports() -> None:
    """Our own reading of the contract; import-linter checks the same from pyproject.toml."""
    bad = []
    for path in sorted((REPO / "extract").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        own = layer_of(module)
        if own is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                target = layer_of(name)
                if target is not None and target > own:
                    bad.append(f"{module} imports {name}")
                siblings = target == own and name.split(".")[1] != module.split(".")[1]
                if siblings and "|" in LAYERS[own]:
                    bad.append(f"{module} imports its sibling {name}")
    assert bad == []


def test_objects_layer_does_no_file_io() -> None:
    forbidden = {"open", "os", "pathlib", "shutil", "io"}
    for path in sorted((REPO / "extract" / "objects").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name for a in node.names} & (forbidden - {"os"}), path
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", path


def test_import_linter_contract() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def loaded_by(imports: str, watch: tuple[str, ...]) -> set[str]:
    """Which of ``watch`` a fresh interpreter has loaded after running ``imports``."""
    code = f"import sys; {imports}; print(','.join(m for m in {watch!r} if m in sys.modules))"
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(filter(None, r.stdout.strip().split(",")))


def test_core_does_not_load_front_ends() -> None:
    imports = (
        "import extract, extract.objects, extract.store.repo, extract.store.fsck, extract.store.gc"
    )
    assert loaded_by(imports, ("textual", "mcp", "typer", "rich")) == set()


def test_serve_does_not_load_numpy() -> None:
    """`extract serve` runs on the far side of every ssh fetch and push: numpy's import (and
    the BLAS threads it starts) would cost every transfer CPU on both machines."""
    imports = "from extract.cli import serve; import extract.sync.ops"
    assert loaded_by(imports, ("numpy", "typer", "rich")) == set()
