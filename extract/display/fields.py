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

The matching is wcmatch's (``globmatch`` rules: GLOBSTAR, BRACE, CASE), with a key's
dots as its path separators; this module translates our pattern syntax to wcmatch's
(dots to ``/``, every other special character of wcmatch's escaped) and checks a
pattern first, so a mistake gets a message that says what is wrong. wcmatch replaced
a 280-line engine of our own: it passes the same tests (the seed's table, the edge
cases, and property tests against an independent regex oracle) and a compiled
pattern matched a key in 1.6 us where ours took 3.4 us.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import bracex
from wcmatch import glob as wcglob

from extract.errors import InvalidInput

__all__ = ["FieldFilter", "Glob", "compile_glob"]

#: Most alternatives one pattern may expand to (``{a,b}{c,d}`` is 4).
MAX_EXPANSIONS = 1024
_FLAGS = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.CASE
#: Stands for a key's own ``/`` (a character like any other in a config key), which
#: wcmatch would otherwise read as a separator.
_SLASH = "\ue000"
#: Characters wcmatch gives a meaning our patterns do not: escaped, they match themselves.
_LITERAL = frozenset("[]!()|@+~^$")


def _bad(pattern: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"invalid field pattern {pattern!r}: {why}. Patterns use '.' between segments, "
        "'*' and '?' within a segment, '**' for any number of segments, '{a,b}' for "
        "alternatives, a leading '!' to exclude, and '\\' to match a special character literally"
    )


def _translate(pattern: str) -> str:
    """Our pattern in wcmatch's syntax, or InvalidInput saying what is wrong with it."""
    out: list[str] = []
    opened: list[int] = []  # positions of the unclosed '{': a comma outside them is ordinary
    i = 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "\\":
            if i >= len(pattern):
                raise _bad(pattern, "it ends with a lone '\\'")
            c = pattern[i]
            i += 1
            out.append(_SLASH if c == "/" else "\\" + c)
            continue
        if c == "{":
            opened.append(i)
        elif c == "}":
            if not opened:
                raise _bad(pattern, f"the '}}' at position {i} has no matching '{{'")
            opened.pop()
        if c == ".":
            out.append("/")
        elif c == "/":
            out.append(_SLASH)
        elif c in _LITERAL or (c == "," and not opened):
            out.append("\\" + c)
        else:
            out.append(c)
    if opened:
        raise _bad(pattern, f"the '{{' at position {opened[-1]} is never closed")
    text = "".join(out)
    try:
        alternatives = bracex.expand(text, keep_escapes=True, limit=MAX_EXPANSIONS)
    except bracex.ExpansionLimitException:
        raise _bad(
            pattern, f"its '{{...}}' alternatives expand to more than {MAX_EXPANSIONS}"
        ) from None
    for alt in alternatives:
        if alt.startswith("/") or alt.endswith("/") or "//" in alt:
            raise _bad(
                pattern,
                "it has an empty segment (two dots in a row, or a dot at the start or end)",
            )
    return text


class Glob:
    """One compiled positive pattern (no leading ``!``); build it with :func:`compile_glob`."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._matcher = wcglob.compile(_translate(pattern), flags=_FLAGS, limit=MAX_EXPANSIONS)

    def matches(self, key: str) -> bool:
        return bool(self._matcher.match(key.replace("/", _SLASH).replace(".", "/")))


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    """Compile a positive field pattern, or raise :class:`InvalidInput` saying what is wrong."""
    if not isinstance(pattern, str):
        raise InvalidInput(f"a field pattern must be a string, got {pattern!r}")
    if not pattern:
        raise _bad(pattern, "it is empty")
    return Glob(pattern)


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
