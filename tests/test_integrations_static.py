"""Each integration module imports its own framework and nothing of the others, so it
works with only that framework installed (checked on the source: the [dev] venv has
none of them, the [integrations] venv all of them)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FRAMEWORKS = {
    "lightning",
    "pytorch_lightning",
    "transformers",
    "keras",
    "torch",
    "tensorflow",
    "jax",
}
OWN = {
    "lightning.py": {"lightning"},
    "transformers.py": {"transformers"},
    "keras.py": {"keras"},
    "_common.py": set(),
    "__init__.py": set(),
}


def test_each_integration_imports_only_its_own_framework() -> None:
    found = {}
    for path in sorted((REPO / "extract" / "integrations").glob("*.py")):
        tops = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                tops.add(node.module.split(".")[0])
        found[path.name] = tops & FRAMEWORKS
    assert found == OWN


def test_the_sdk_never_imports_a_framework() -> None:
    """Tensors are taken by duck typing (``.item()``, ``float()``), not by importing torch."""
    for path in sorted((REPO / "extract").rglob("*.py")):
        if "integrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & FRAMEWORKS, path
