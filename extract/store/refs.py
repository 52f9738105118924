"""Refs: names for commits, moved only by compare-and-swap under a lock file.

The update protocol (objects_spec/store.md, "Moving a ref"):

1. check the name; 2. create ``<ref>.lock`` with O_EXCL (waiting a bounded time
if another process holds it); 3. read the current value and compare it with the
expected one; 4. write the new value into the lock file and fsync it; 5. append
and fsync a reflog line; 6. rename the lock file over the ref; 7. fsync the
directory. A crash at any point leaves the ref at its old or its new value; a
lock file left by a crash is reported with how to remove it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from extract.errors import InvalidId, LockHeld, RefConflict, RefNotFound, StoreError
from extract.objects import ObjectId, check_ref_name, from_hex, to_hex
from extract.store.fsutil import fsync_dir, makedirs_durable, write_all

ZERO_HEX: Final = "0" * 64


class _Any:
    def __repr__(self) -> str:
        return "ANY"


#: Pass as ``expected`` to move a ref whatever it points at now.
ANY: Final = _Any()
Expected = ObjectId | None | _Any


@dataclass(frozen=True)
class ReflogEntry:
    old: ObjectId | None
    new: ObjectId | None
    time_ms: int
    who: str
    message: str


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class RefStore:
    """Refs and their reflogs under a store directory."""

    def __init__(self, root: Path, lock_timeout: float = 10.0) -> None:
        self.root = root
        self.logs = root / "logs"
        self.lock_timeout = lock_timeout

    def path_of(self, name: str) -> Path:
        check_ref_name(name)
        return self.root / name

    def read(self, name: str) -> ObjectId | None:
        path = self.path_of(name)
        try:
            text = path.read_text("ascii")
        except (FileNotFoundError, IsADirectoryError):  # a directory is a namespace, not a ref
            return None
        except UnicodeDecodeError:
            raise StoreError(f"ref {name} at {path} is damaged: not a 64-digit hex id") from None
        try:
            return from_hex(text.strip())
        except InvalidId:
            raise StoreError(f"ref {name} at {path} is damaged: {text[:80]!r}") from None

    def get(self, name: str) -> ObjectId:
        oid = self.read(name)
        if oid is None:
            raise RefNotFound(f"no ref {name}")
        return oid

    def names(self, prefix: str = "refs/") -> list[str]:
        base = self.root / "refs"
        out = []
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                if f.endswith(".lock") or f.startswith("."):
                    continue
                name = os.path.relpath(os.path.join(dirpath, f), self.root).replace(os.sep, "/")
                if name.startswith(prefix):
                    out.append(name)
        return sorted(out)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[tuple[int, Path, dict[str, bool]]]:
        """Hold the ref's lock file. Callers set ``released`` once they renamed or removed
        it, so a later failure never deletes a lock another process has taken since."""
        path = self.path_of(name)
        makedirs_durable(path.parent)
        lock = path.with_name(path.name + ".lock")
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.001
        while True:
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                if time.monotonic() >= deadline:
                    raise LockHeld(_stale_message(name, lock)) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        state = {"released": False}
        try:
            yield fd, lock, state
        finally:
            os.close(fd)
            if not state["released"]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock)

    def set(
        self,
        name: str,
        new: ObjectId | None,
        expected: Expected = ANY,
        message: str = "",
    ) -> None:
        """Move ``name`` to ``new`` (None deletes it) if it still holds ``expected``.

        ``expected`` None means the ref must not exist yet; ``ANY`` skips the check.
        Raises RefConflict, naming both values, when the ref moved under us.
        """
        path = self.path_of(name)
        with self._locked(name) as (fd, lock, state):
            current = self.read(name)
            if not isinstance(expected, _Any) and current != expected:
                raise RefConflict(
                    f"ref {name} moved: expected {_show(expected)}, found {_show(current)}; "
                    "fetch and merge, then try again"
                )
            if new is None:
                self._log(name, current, None, message)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                os.unlink(lock)
                state["released"] = True
            else:
                write_all(fd, [(to_hex(new) + "\n").encode("ascii")])
                os.fsync(fd)
                self._log(name, current, new, message)
                os.replace(lock, path)
                state["released"] = True
            fsync_dir(path.parent)

    def _log(self, name: str, old: ObjectId | None, new: ObjectId | None, message: str) -> None:
        path = self.logs / name
        makedirs_durable(path.parent)
        new_file = not path.exists()
        msg = " ".join(message.split())  # one line, whatever the caller passed
        line = (
            f"{_hex_or_zero(old)} {_hex_or_zero(new)} {int(time.time() * 1000)} {_who()}\t{msg}\n"
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            write_all(fd, [line.encode("utf-8")])
            os.fsync(fd)
        finally:
            os.close(fd)
        if new_file:
            fsync_dir(path.parent)

    def reflog(self, name: str) -> list[ReflogEntry]:
        """Entries oldest first; a torn last line (power loss) is skipped."""
        path = self.logs / self.path_of(name).relative_to(self.root)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        # Only newline-terminated lines count: what follows the last newline is a
        # line a power cut stopped halfway.
        out = []
        for raw in data.split(b"\n")[:-1]:
            entry = parse_reflog_line(raw)
            if entry is not None:
                out.append(entry)
        return out

    def reflog_damage(self, name: str) -> list[int]:
        """1-based numbers of complete reflog lines that do not parse."""
        path = self.logs / self.path_of(name).relative_to(self.root)
        try:
            lines = path.read_bytes().split(b"\n")[:-1]
        except FileNotFoundError:
            return []
        return [i for i, raw in enumerate(lines, 1) if parse_reflog_line(raw) is None]

    def reflog_names(self) -> list[str]:
        out = []
        for dirpath, _dirs, files in os.walk(self.logs):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), self.logs)
                out.append(rel.replace(os.sep, "/"))
        return sorted(out)

    def locks(self) -> list[Path]:
        return sorted(p for p in (self.root / "refs").rglob("*.lock"))


def parse_reflog_line(raw: bytes) -> ReflogEntry | None:
    try:
        head, message = raw.decode("utf-8").split("\t", 1)
        old, new, ms, who = head.split(" ", 3)
        return ReflogEntry(_parse_or_none(old), _parse_or_none(new), int(ms), who, message)
    except (ValueError, UnicodeDecodeError):
        return None


def _parse_or_none(text: str) -> ObjectId | None:
    return None if text == ZERO_HEX else from_hex(text)


def _hex_or_zero(oid: ObjectId | None) -> str:
    return ZERO_HEX if oid is None else to_hex(oid)


def _show(v: Expected) -> str:
    if v is None:
        return "no ref"
    if isinstance(v, _Any):
        return "any value"
    return to_hex(v)[:12]


def _stale_message(name: str, lock: Path) -> str:
    try:
        age = time.time() - lock.stat().st_mtime
        when = f"{age:.0f} s ago"
    except FileNotFoundError:
        when = "moments ago"
    return (
        f"ref {name} is locked by {lock} (created {when}). Another extract process may be "
        f"updating it; if none is running, the lock was left by a crash and is safe to remove: "
        f"rm '{lock}'"
    )
