"""Every exception extract raises on purpose, in one tree.

::

    ExtractError                          exit code 1 unless a class below says otherwise
    ├── InvalidInput (ValueError)         2  a bad argument: what was wrong, what is allowed
    │   ├── WrongType (TypeError)         2  an argument of the wrong type (the SDK's TypeError)
    │   ├── InvalidId
    │   ├── InvalidRefName
    │   ├── InvalidHierarchy
    │   ├── AmbiguousId                   2  a prefix or name that matches more than one thing
    │   ├── QueryTimeout                  2  an SQL query stopped by its time limit
    │   └── GitObjectTooLarge             2  an object too big for a git host
    ├── NotFound (LookupError)            3  the one "not found" family
    │   ├── StoreNotFound
    │   ├── ObjectNotFound (KeyError)
    │   ├── RefNotFound (KeyError)
    │   ├── RunNotFound (ValueError)      ``Run not found: 'X'``
    │   ├── ExperimentNotFound (ValueError)
    │   ├── ModelNotFound (ValueError)
    │   ├── GroupNotFound (ValueError)    a job's group (``Group not found: 'X'``)
    │   ├── RemoteNotFound (ValueError)
    │   ├── ArtifactNotFound (KeyError)   a run's curve, table or text of that name
    │   ├── TodoNotFound                  ``TODO not found: 'X'``
    │   └── PathNotFound (FileNotFoundError)  a file or directory given to the SDK
    ├── Closed (RuntimeError)             2  a finished run or a closed store used again
    ├── MissingExtra (ImportError)        2  an optional dependency is not installed: which extra
    ├── ObjectFormatError (ValueError)    5  bytes that are not a valid object
    │   ├── DecodeError                   malformed or non-canonical msgpack
    │   ├── SchemaError                   well-formed value, wrong fields for its kind
    │   └── UnknownFormatVersion          an object or store version this build does not know
    ├── StoreError                        1
    │   ├── StoreExists                   2  ``init`` on a configured store
    │   ├── ConfigError                   2  malformed config.toml
    │   ├── ReadOnlyStore                 2  a write to a store that cannot be written
    │   ├── CorruptObject                 5  stored bytes do not hash to their id
    │   ├── CorruptPack                   5  a pack file whose index cannot be trusted
    │   ├── BundleError                   5  a bundle that is damaged or not a bundle
    │   ├── IndexHealed                   5  the index was found damaged mid-query and rebuilt
    │   └── Conflict                      4  two writers disagree; nothing was changed
    │       ├── RefConflict               compare-and-swap lost: the ref moved under us
    │       ├── LockHeld                  another process holds the lock (or it is stale)
    │       ├── MergeConflict             the same name holds different content on each side
    │       └── ModelConflict             name@version already holds other content
    └── RemoteError                       6  the other side of a transfer failed us
        └── ProtocolError                 it broke the protocol, went away, or refused
            ├── ConnectionClosed          the stream ended: the other side hung up
            └── StreamLost                the byte stream can no longer be followed

Each class carries the exit code the CLI uses (``cli/_common.handle_errors`` is the one
place that turns an error into a one-line message and that code), and the MCP server
hands an error's message to the agent as written (``mcp/server._agent_errors``). The
second bases keep the built-in exceptions callers catch: a missing run is still a
``ValueError``, a missing object a ``KeyError``.

One deliberate exception: the tracking SDK's argument checks (``Run.log``, ``curve``,
``register_model`` ...) raise exactly the built-ins the reference API documents
(``TypeError`` for a value of the wrong type, ``ValueError`` for a bad value or a taken
model version, ``RuntimeError`` for a finished run), so a script written against the
reference reads the same tracebacks. They never reach the CLI or MCP.
"""

from __future__ import annotations

from pathlib import Path


class ExtractError(Exception):
    """Base of every error extract raises on purpose."""

    exit_code = 1


class InvalidInput(ExtractError, ValueError):
    exit_code = 2


class WrongType(InvalidInput, TypeError):
    """An argument of a type the call does not take."""


class InvalidId(InvalidInput):
    pass


class InvalidRefName(InvalidInput):
    pass


class InvalidHierarchy(InvalidInput):
    pass


class AmbiguousId(InvalidInput):
    pass


class QueryTimeout(InvalidInput):
    pass


class GitObjectTooLarge(InvalidInput):
    """An extract object too big to be one git object on a git host."""


class NotFound(ExtractError, LookupError):
    """Something named does not exist: a store, object, ref, run, experiment, model, remote."""

    exit_code = 3

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "not found"


class StoreNotFound(NotFound):
    pass


class TodoNotFound(NotFound):
    pass


class ObjectNotFound(NotFound, KeyError):
    pass


class RefNotFound(NotFound, KeyError):
    pass


class RunNotFound(NotFound, ValueError):
    pass


class ExperimentNotFound(NotFound, ValueError):
    pass


class ModelNotFound(NotFound, ValueError):
    pass


class GroupNotFound(NotFound, ValueError):
    pass


class RemoteNotFound(NotFound, ValueError):
    pass


class ArtifactNotFound(NotFound, KeyError):
    pass


class PathNotFound(NotFound, FileNotFoundError):
    pass


class Closed(ExtractError, RuntimeError):
    """A finished run or a closed store used again."""

    exit_code = 2


class MissingExtra(ExtractError, ImportError):
    """A feature needs an optional dependency that is not installed; the message says
    which ``pip install 'extract-tracker[...]'`` brings it."""

    exit_code = 2


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


class StoreExists(StoreError):
    exit_code = 2


class ConfigError(StoreError):
    exit_code = 2


class ReadOnlyStore(StoreError):
    """A write to a store this process cannot write: a read-only mount, a store owned by
    another user. Nothing was changed."""

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

    def __init__(self, path: Path | str, why: str) -> None:
        self.path = path  # a file, or the URL of a pack in a bucket
        self.why = why
        super().__init__(f"damaged pack {path}: {why}")


class BundleError(StoreError):
    exit_code = 5


class IndexHealed(StoreError):
    """The index turned out damaged in the middle of a query; it was moved aside and
    rebuilt, and the command should be run again."""

    exit_code = 5


class Conflict(StoreError):
    exit_code = 4


class RefConflict(Conflict):
    pass


class LockHeld(Conflict):
    pass


class MergeConflict(Conflict):
    def __init__(self, conflicts: list[str]) -> None:
        self.conflicts = conflicts
        super().__init__(
            "merge stopped, nothing changed: "
            + "; ".join(conflicts)
            + ". Choose a side with --ours or --theirs"
        )


class ModelConflict(Conflict):
    pass


class RemoteError(ExtractError):
    exit_code = 6


class ProtocolError(RemoteError):
    """The other side broke the protocol, went away, or sent something we refuse."""


class ConnectionClosed(ProtocolError):
    """The stream ended where a frame or object bytes were due: the other side hung up
    (or its process died). A client asks its ssh process why; a server just stops."""


class StreamLost(ProtocolError):
    """The byte stream can no longer be followed (an object batch went wrong halfway):
    the only safe thing left is to hang up."""
