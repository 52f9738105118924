"""A run's nested config as one level of dotted keys, as the CLI, the TUI and the query
layer show and compare it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from extract.errors import InvalidInput

__all__ = ["flatten_config"]


def flatten_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Nested dicts as one level of dotted keys: ``{"method": {"lora_r": 8}}`` -> ``{"method.lora_r": 8}``.

    Lists are values, not paths. An empty nested dict stays as a value, so its
    key is still shown. Keys keep their order (depth first). A key that itself
    holds a dot can collide with a nested path; the later one in order wins.
    """
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidInput(f"a config to flatten must be a dict, got {type(config).__name__}")
    out: dict[str, Any] = {}
    stack: list[tuple[str, Iterator[tuple[Any, Any]]]] = [("", iter(config.items()))]
    while stack:
        prefix, items = stack[-1]
        for k, v in items:
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping) and v:
                stack.append((key, iter(v.items())))
                break
            out[key] = v
        else:
            stack.pop()
    return out
