"""Every exception extract raises, in one tree.

::

    ExtractError                      exit code 1 unless a subclass says otherwise
    ├── InvalidInput (ValueError)     2  a bad argument: id string, ref name, hierarchy ...
    │   ├── InvalidId
    │   ├── InvalidRefName
    │   └── InvalidHierarchy
    ├── ObjectFormatError             5  bytes that are not a valid object
    │   ├── DecodeError               malformed or non-canonical msgpack
    │   ├── SchemaError               well-formed value, wrong fields for its kind
    │   └── UnknownFormatVersion      an object or store version this build does not know
    ├── StoreError
    │   ├── StoreNotFound             3
    │   ├── StoreExists               2  ``init`` on a configured store
    │   ├── ConfigError               2  malformed config.toml
    │   ├── ObjectNotFound            3
    │   ├── AmbiguousId               2
    │   ├── CorruptObject             5  stored bytes do not hash to their id
    │   ├── CorruptPack               5  a pack file whose index cannot be trusted
    │   ├── ReadOnlyStore             2  a write to a store that cannot be written
    │   └── RefError
    │       ├── RefNotFound           3
    │       ├── RefConflict           4  compare-and-swap lost: the ref moved under us
    │       └── LockHeld              4  another process holds the lock (or it is stale)

Each class carries the exit code the CLI uses, so the CLI maps exceptions to
one-line messages and exit codes in a single place.
"""

from __future__ import annotations

from pathlib import Path


class ExtractError(Exception):
    """Base of every error extract raises on purpose."""

    exit_code = 1


class InvalidInput(ExtractError, ValueError):
    exit_code = 2


class InvalidId(InvalidInput):
    pass


class InvalidRefName(InvalidInput):
    pass


class InvalidHierarchy(InvalidInput):
    pass


class ObjectFormatError(ExtractError, ValueError):
    exit_code = 5


class DecodeError(ObjectFormatError):
    pass


class SchemaError(ObjectFormatError):
    pass


class UnknownFormatVersion(ObjectFormatError):
    pass


class StoreError(ExtractError):
    pass


class StoreNotFound(StoreError):
    exit_code = 3


class StoreExists(StoreError):
    exit_code = 2


class ConfigError(StoreError):
    exit_code = 2


class ObjectNotFound(StoreError, KeyError):
    exit_code = 3

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "object not found"


class AmbiguousId(StoreError):
    exit_code = 2


class CorruptObject(StoreError):
    """Stored bytes that do not hash to the id they are stored under."""

    exit_code = 5

    def __init__(self, expected: str, actual: str | None, path: Path | None, why: str) -> None:
        self.expected = expected
        self.actual = actual
        self.path = path
        where = f" at {path}" if path else ""
        got = f" (content hashes to {actual})" if actual else ""
        super().__init__(f"corrupt object {expected}{where}: {why}{got}")


class CorruptPack(StoreError):
    """A pack file whose header, index or trailer is damaged: none of its objects is used."""

    exit_code = 5

    def __init__(self, path: Path, why: str) -> None:
        self.path = path
        self.why = why
        super().__init__(f"damaged pack {path}: {why}")


class ReadOnlyStore(StoreError):
    """A command or SDK call that would write to a store on a read-only filesystem (or one
    this user may not write): refused before anything changed. Reading still works."""

    exit_code = 2


class RefError(StoreError):
    pass


class RefNotFound(RefError, KeyError):
    exit_code = 3

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "ref not found"


class RefConflict(RefError):
    exit_code = 4


class LockHeld(RefError):
    exit_code = 4
