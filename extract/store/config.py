"""config.toml: parsed once, checked section by section, with errors that name the key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extract.errors import ConfigError, InvalidHierarchy

_LEVEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def parse_hierarchy(text: str) -> tuple[str, ...]:
    """'benchmark > model > variant' -> ('benchmark', 'model', 'variant'), or a clear error."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidHierarchy(
            "hierarchy is empty: give levels separated by '>', e.g. \"benchmark > model > variant\""
        )
    levels = tuple(part.strip() for part in text.split(">"))
    for i, level in enumerate(levels):
        if not level:
            raise InvalidHierarchy(
                f"hierarchy {text!r} has an empty level at position {i + 1}: "
                "write levels separated by single '>', e.g. \"benchmark > model\""
            )
        if not _LEVEL.match(level):
            raise InvalidHierarchy(
                f"hierarchy level {level!r} is not allowed: use letters, digits, '_' and '-', "
                "starting with a letter or '_'"
            )
    dupes = sorted({lv for lv in levels if levels.count(lv) > 1})
    if dupes:
        raise InvalidHierarchy(f"hierarchy {text!r} repeats the level {dupes[0]!r}")
    return levels


def format_hierarchy(levels: tuple[str, ...]) -> str:
    return " > ".join(levels)


@dataclass
class Config:
    hierarchy: tuple[str, ...] | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def load(path: Path) -> Config:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return Config(path=path)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason})") from None
    return parse(text, path)


def parse(text: str, path: Path | None = None) -> Config:
    where = str(path) if path else "config.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: malformed TOML: {e}") from None
    store = raw.get("store", {})
    if not isinstance(store, dict):
        raise ConfigError(f"{where}: [store] must be a table")
    hierarchy = None
    if "hierarchy" in store:
        if not isinstance(store["hierarchy"], str):
            raise ConfigError(f'{where}: [store] hierarchy must be a string like "a > b > c"')
        try:
            hierarchy = parse_hierarchy(store["hierarchy"])
        except InvalidHierarchy as e:
            raise ConfigError(f"{where}: [store] {e}") from None
    return Config(hierarchy=hierarchy, raw=raw, path=path)


def toml_string(value: str) -> str:
    """A TOML basic string for ``value``."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def with_hierarchy(text: str, hierarchy: tuple[str, ...]) -> str:
    """``text`` (a config without a hierarchy) with ``[store] hierarchy`` set."""
    line = f"hierarchy = {toml_string(format_hierarchy(hierarchy))}\n"
    if not text.strip():
        return "# extract store configuration; see docs/configuration.md\n[store]\n" + line
    lines = text.splitlines(keepends=True)
    for i, existing in enumerate(lines):
        if existing.strip() == "[store]":
            return "".join([*lines[: i + 1], line, *lines[i + 1 :]])
    return "[store]\n" + line + "\n" + text
