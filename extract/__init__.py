"""extract: local-first experiment tracking on a content-addressed store.

``from extract import Store`` is the tracking SDK. The SDK loads on first use,
so ``import extract`` (and the CLI) stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Experiment", "Run", "Store", "__version__", "sync"]

if TYPE_CHECKING:
    from extract import sync
    from extract.sdk import Experiment, Run, Store


def __getattr__(name: str) -> Any:
    if name in ("Store", "Experiment", "Run"):
        from extract import sdk

        return getattr(sdk, name)
    if name == "sync":
        import importlib

        return importlib.import_module("extract.sync")
    raise AttributeError(f"module 'extract' has no attribute {name!r}")
