"""The store the integration examples log to: examples-store/.extract, made if absent."""

from __future__ import annotations

from pathlib import Path

from extract.sdk import Store
from extract.store.repo import Repository

ROOT = Path("examples-store") / ".extract"


def example_store() -> Store:
    if not ROOT.exists():
        Repository.init(ROOT, ("benchmark", "model"))
    return Store(ROOT)
