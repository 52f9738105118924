"""Glob patterns over dotted config keys: the ``[info] fields`` filter.

A nested run config is flattened to dotted keys (``method.lora_r``) and the
dots act as path separators, so each wildcard works on one segment at a time:

==============  =====================================================
``*``           any run of characters inside one segment (also none)
``?``           exactly one character inside one segment
``**``          as a whole segment: any number of whole segments.
                Leading (``**.name``) or in the middle (``a.**.b``) it
                may stand for none; trailing (``method.**``) it needs at
                least one, so it means "everything under method".
                Inside a segment (``a**``) it is the same as ``*``.
``{a,b}``       alternation; alternatives may hold dots and nest
``\\x``         the character ``x`` literally (``\\*``, ``\\{``, ``\\!`` ...)
``!pattern``    (at the start) exclude the keys ``pattern`` matches
==============  =====================================================

Every other character, ``[`` and ``]`` included, matches itself, and
matching is case-sensitive. See docs/configuration.md for the rules on
combining patterns.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from extract.errors import InvalidInput

__all__ = [
    "FieldFilter",
    "Glob",
    "compile_glob",
    "flatten_config",
    "glob_match",
    "match_fields",
]

#: Most alternatives one pattern may expand to (``{a,b}{c,d}`` is 4).
MAX_EXPANSIONS = 1024

_LIT, _STAR, _QMARK, _SEP = "lit", "star", "qmark", "sep"
_Token = tuple[str, str]


@dataclass(frozen=True)
class _Alt:
    options: tuple[tuple[_Token | _Alt, ...], ...]


_Item = _Token | _Alt


class _GlobStar:
    """A whole-segment ``**``."""

    def __repr__(self) -> str:
        return "**"


_GLOBSTAR = _GlobStar()
_Segment = str | re.Pattern[str] | _GlobStar  # literal text, wildcard regex, or **


def _bad(pattern: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"invalid field pattern {pattern!r}: {why}. Patterns use '.' between segments, "
        "'*' and '?' within a segment, '**' for any number of segments, '{a,b}' for "
        "alternatives, a leading '!' to exclude, and '\\' to match a special character literally"
    )


def _parse(pattern: str, i: int, in_alt: bool) -> tuple[tuple[_Item, ...], int]:
    seq: list[_Item] = []
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise _bad(pattern, "it ends with a lone '\\'")
            seq.append((_LIT, pattern[i + 1]))
            i += 2
            continue
        if c == "{":
            start = i
            options: list[tuple[_Item, ...]] = []
            i += 1
            while True:
                sub, i = _parse(pattern, i, True)
                options.append(sub)
                if i >= len(pattern):
                    raise _bad(pattern, f"the '{{' at position {start + 1} is never closed")
                i += 1
                if pattern[i - 1] == "}":
                    break
            seq.append(_Alt(tuple(options)))
            continue
        if in_alt and c in ",}":
            return tuple(seq), i
        if c == "}":
            raise _bad(pattern, f"the '}}' at position {i + 1} has no matching '{{'")
        kind = {"*": _STAR, "?": _QMARK, ".": _SEP}.get(c, _LIT)
        seq.append((kind, c))
        i += 1
    return tuple(seq), i


def _expand(seq: tuple[_Item, ...], pattern: str) -> list[list[_Token]]:
    results: list[list[_Token]] = [[]]
    for item in seq:
        if isinstance(item, _Alt):
            options = [e for opt in item.options for e in _expand(opt, pattern)]
            results = [r + o for r in results for o in options]
        else:
            results = [[*r, item] for r in results]
        if len(results) > MAX_EXPANSIONS:
            raise _bad(pattern, f"its '{{...}}' alternatives expand to more than {MAX_EXPANSIONS}")
    return results


def _segment(tokens: list[_Token]) -> _Segment:
    if [k for k, _ in tokens] == [_STAR, _STAR]:
        return _GLOBSTAR
    if all(k == _LIT for k, _ in tokens):
        return "".join(c for _, c in tokens)
    parts: list[str] = []
    for kind, c in tokens:
        if kind == _STAR:
            if not parts or parts[-1] != ".*":
                parts.append(".*")
        elif kind == _QMARK:
            parts.append(".")
        else:
            parts.append(re.escape(c))
    return re.compile("".join(parts), re.DOTALL)


def _split(tokens: list[_Token]) -> list[list[_Token]]:
    segments: list[list[_Token]] = [[]]
    for tok in tokens:
        if tok[0] == _SEP:
            segments.append([])
        else:
            segments[-1].append(tok)
    return segments


@dataclass(frozen=True)
class Glob:
    """One compiled positive pattern (no leading ``!``); build it with :func:`compile_glob`."""

    pattern: str
    paths: tuple[tuple[_Segment, ...], ...]

    def matches(self, key: str) -> bool:
        parts = key.split(".")
        return any(_match_path(path, parts) for path in self.paths)


def _match_segment(seg: str | re.Pattern[str], part: str) -> bool:
    if isinstance(seg, str):
        return seg == part
    return seg.fullmatch(part) is not None


def _match_path(path: tuple[_Segment, ...], parts: list[str]) -> bool:
    # The set of key positions reachable after each pattern segment: no backtracking blow-up.
    m = len(parts)
    last = len(path) - 1
    states = {0}
    for i, seg in enumerate(path):
        nxt: set[int] = set()
        if isinstance(seg, _GlobStar):
            least = 1 if (i == last and i > 0) else 0
            for j in states:
                nxt.update(range(j + least, m + 1))
        else:
            for j in states:
                if j < m and _match_segment(seg, parts[j]):
                    nxt.add(j + 1)
        if not nxt:
            return False
        states = nxt
    return m in states


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    """Compile a positive field pattern, or raise :class:`InvalidInput` saying what is wrong."""
    if not isinstance(pattern, str):
        raise InvalidInput(f"a field pattern must be a string, got {pattern!r}")
    if not pattern:
        raise _bad(pattern, "it is empty")
    seq, _ = _parse(pattern, 0, False)
    paths: list[tuple[_Segment, ...]] = []
    for tokens in _expand(seq, pattern):
        segments = _split(tokens)
        if any(not s for s in segments):
            raise _bad(
                pattern,
                "it has an empty segment (two dots in a row, or a dot at the start or end)",
            )
        paths.append(tuple(_segment(s) for s in segments))
    return Glob(pattern, tuple(paths))


def glob_match(pattern: str, key: str) -> bool:
    """Whether the dotted ``key`` matches the positive ``pattern``."""
    return compile_glob(pattern).matches(key)


class FieldFilter:
    """A list of ``[info] fields`` patterns as one predicate on dotted keys.

    No patterns: every key passes. Otherwise a key passes if it matches at least
    one positive pattern (or there are none) and no ``!`` pattern. Exclusions win
    whatever their position in the list.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        if isinstance(patterns, str):
            raise InvalidInput(
                f"field patterns must be a list of strings, not the single string {patterns!r}"
            )
        self.patterns = tuple(patterns)
        include: list[Glob] = []
        exclude: list[Glob] = []
        for p in self.patterns:
            if not isinstance(p, str):
                raise InvalidInput(f"a field pattern must be a string, got {p!r}")
            if p.startswith("!"):
                if p == "!":
                    raise _bad(p, "'!' must be followed by the pattern to exclude")
                exclude.append(compile_glob(p[1:]))
            else:
                include.append(compile_glob(p))
        self.include: tuple[Glob, ...] = tuple(include)
        self.exclude: tuple[Glob, ...] = tuple(exclude)

    def __call__(self, key: str) -> bool:
        if any(g.matches(key) for g in self.exclude):
            return False
        return not self.include or any(g.matches(key) for g in self.include)

    def select(self, keys: Iterable[str]) -> list[str]:
        return [k for k in keys if self(k)]


def match_fields(keys: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """The ``keys`` that ``patterns`` selects, in the order of ``keys``."""
    return FieldFilter(patterns).select(keys)


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
