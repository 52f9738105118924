"""Values made safe for JSON and for MCP structured output.

JSON has no NaN or Infinity, and an MCP client validating structured output
against its schema rejects the ``null`` that serialisers put in their place.
Training produces NaN losses, so non-finite numbers travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (the spellings JavaScript and
Python's ``json`` use). Every other number stays a number.
"""

from __future__ import annotations

import math
from typing import Any

NAN, POS_INF, NEG_INF = "NaN", "Infinity", "-Infinity"

#: A number as the tools return it: a finite float, or one of the three strings.
Num = float | str


def num(value: float) -> Num:
    """A float, or its name if it is not finite."""
    if math.isnan(value):
        return NAN
    if math.isinf(value):
        return POS_INF if value > 0 else NEG_INF
    return value


def opt_num(value: float | None) -> Num | None:
    return None if value is None else num(value)


def jsonable(value: Any) -> Any:
    """Any value from the index as JSON-safe data: non-finite floats named, bytes as hex,
    tuples as lists, mapping keys as strings."""
    if isinstance(value, float):
        return num(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value
