"""Tool arguments checked strictly, before the SDK's lax validation sees them.

pydantic's default (lax) mode turns ``limit=true`` into 1 and ``"5"`` into 5, and the
SDK ignores arguments a tool does not have, so an agent's mistake would be answered as
if it were something else. Here every argument is checked against the tool's published
input schema: an unknown name, or a value of the wrong JSON type, is refused with a
message in the reference's style, naming the argument and what it takes.

One allowance: a client that cannot tell which member of an ``anyOf`` (an optional
list or object) to send may send it as a JSON string (the MCP Inspector does); such a
string is accepted where it parses to the expected list or object, as the SDK then
parses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extract.errors import InvalidInput
from extract.index.read import shown

_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}

_PLURAL = {"string": "strings", "integer": "integers", "number": "numbers"}


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return kind == "null" and value is None


def _kinds(schema: Mapping[str, Any]) -> list[str]:
    if "anyOf" in schema:
        return [k for s in schema["anyOf"] for k in _kinds(s)]
    kind = schema.get("type")
    return list(kind) if isinstance(kind, list) else [kind] if isinstance(kind, str) else []


def _accepts(value: Any, kinds: list[str]) -> bool:
    if any(_is(value, k) for k in kinds):
        return True
    if isinstance(value, str) and len(kinds) > 1 and {"array", "object"} & set(kinds):
        try:
            parsed = json.loads(value)
        except ValueError:
            return False
        return any(_is(parsed, k) for k in kinds if k in ("array", "object"))
    return False


def check_arguments(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> None:
    """Refuse unknown arguments and values of the wrong type (``InvalidInput``)."""
    props: Mapping[str, Any] = schema.get("properties", {})
    for name, value in arguments.items():
        if name not in props:
            raise InvalidInput(
                f"Unknown argument: {shown(name)}. Valid arguments: {', '.join(props) or 'none'}"
            )
        kinds = _kinds(props[name])
        if kinds and not _accepts(value, kinds):
            wanted = " or ".join(_NAMES.get(k, k) for k in kinds)
            raise InvalidInput(f"{name} must be {wanted} (got {shown(value)})")
        items = props[name].get("items") or next(
            (s.get("items") for s in props[name].get("anyOf", []) if "items" in s), None
        )
        if isinstance(value, list) and items:
            item_kinds = _kinds(items)
            for v in value:
                if item_kinds and not any(_is(v, k) for k in item_kinds):
                    wanted = " or ".join(_NAMES.get(k, k) for k in item_kinds)
                    raise InvalidInput(
                        f"{name} must hold only {_PLURAL.get(item_kinds[0], wanted)} (got {shown(v)})"
                    )
