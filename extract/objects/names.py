"""Validation of names that end up as paths: tree entries and refs.

Both are checked where they are made and again where they are read, so a
hostile object or remote cannot steer a write outside the store.
"""

from __future__ import annotations

import re

from extract.errors import InvalidRefName, SchemaError

_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
MAX_NAME_BYTES = 255


def check_entry_name(name: str) -> str:
    """A tree entry name: one path component, never '.', '..', empty, or holding '/' or NUL."""
    if type(name) is not str or not name:
        raise SchemaError("tree entry names must be non-empty strings")
    if name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise SchemaError(
            f"tree entry name {name!r} is not allowed: no '/', '\\', NUL, '.' or '..'"
        )
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise SchemaError(f"tree entry name is longer than {MAX_NAME_BYTES} bytes")
    return name


def check_ref_name(name: str) -> str:
    """A ref name as git's check-ref-format has it, starting with 'refs/' or equal to 'HEAD'."""
    why = _ref_problem(name)
    if why:
        raise InvalidRefName(
            f"invalid ref name {name!r}: {why}. A ref looks like 'refs/heads/main' or "
            "'refs/remotes/<remote>/main': components of letters, digits, '-', '_', '.', '/'"
        )
    return name


def _ref_problem(name: str) -> str | None:
    if type(name) is not str or not name:
        return "it is empty"
    if name == "HEAD":
        return None
    if not name.startswith("refs/"):
        return "it must start with 'refs/'"
    if name.startswith("-") or "/-" in name:
        return "a component starts with '-'"
    if _BAD_REF_CHARS.search(name):
        return "it holds a space, control character or one of ~ ^ : ? * [ \\"
    if ".." in name or "@{" in name:
        return "it holds '..' or '@{'"
    if name.endswith("/") or "//" in name:
        return "it has an empty component"
    for comp in name.split("/"):
        if comp.startswith("."):
            return "a component starts with '.'"
        if comp.endswith(".lock"):
            return "a component ends with '.lock'"
    if name.endswith("."):
        return "it ends with '.'"
    return None
