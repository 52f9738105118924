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
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from extract.errors import (
    InvalidId,
    LockHeld,
    RefConflict,
    RefNotFound,
    StoreError,
)
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


def author() -> str:
    """``user@host``: who made a commit or moved a ref (in commits and reflog lines)."""
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
            f"{_hex_or_zero(old)} {_hex_or_zero(new)} {int(time.time() * 1000)} {author()}\t{msg}\n"
        ).encode()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # A power cut tore the last line: end it, so ours stays a line of its own
                # (the torn one is then a complete line that fsck reports as torn).
                line = b"\n" + line
            write_all(fd, [line])
            os.fsync(fd)
        finally:
            os.close(fd)
        if new_file:
            fsync_dir(path.parent)

    def reflog(self, name: str) -> list[ReflogEntry]:
        """Entries oldest first. Lines a crash tore are skipped (an entry written after a
        torn line on the same line is recovered); so are damaged ones, which
        ``check_reflog`` reports. A reflog that cannot be read at all is a StoreError:
        what it protects is unknown."""
        check = self.check_reflog(name)
        if check.unreadable:
            raise StoreError(f"reflog of {name} {check.unreadable}")
        return check.entries

    def check_reflog(self, name: str) -> ReflogCheck:
        """Read a reflog and sort its lines: entries, lines a crash tore (harmless: the move
        they recorded either happened, and the ref or a later line holds its id, or did
        not), and damage: anything else, such as a file overwritten with other bytes. A
        reflog with damage may have lost ids it protected, so gc must not trust it."""
        path = self.logs / self.path_of(name).relative_to(self.root)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return ReflogCheck([], [], [])
        except OSError as e:  # a directory in its place, unreadable: nothing can be trusted
            return ReflogCheck([], [], [0], f"cannot be read ({e.strerror or e})")
        return check_reflog_bytes(data)

    def reflog_damage(self, name: str) -> list[int]:
        """1-based numbers of the reflog's damaged lines (0: the file cannot be read at
        all); empty if the reflog is sound or only torn by a crash (see ``check_reflog``)."""
        return self.check_reflog(name).damaged

    def reflog_names(self) -> list[str]:
        out = []
        for dirpath, _dirs, files in os.walk(self.logs):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), self.logs)
                out.append(rel.replace(os.sep, "/"))
        return sorted(out)

    def locks(self) -> list[Path]:
        return sorted(p for p in (self.root / "refs").rglob("*.lock"))


@dataclass(frozen=True)
class ReflogCheck:
    entries: list[ReflogEntry]
    torn: list[int]  # 1-based numbers of lines a crash cut short (the last may lack its LF)
    damaged: list[int]  # 1-based numbers of lines that are neither entries nor torn
    unreadable: str | None = None  # why the file could not be read (``damaged`` is [0])


#: A reflog line's fixed start: old id, new id, milliseconds, then who and a tab.
_ENTRY_START = re.compile(rb"[0-9a-f]{64} [0-9a-f]{64} [0-9]+ [^\t\n]*\t")
_HEX = frozenset(b"0123456789abcdef")


def check_reflog_bytes(data: bytes) -> ReflogCheck:
    """Sort a reflog's bytes into entries, torn lines and damage (``RefStore.check_reflog``).

    A crash (power loss; SIGKILL cannot tear a write) can leave the last line cut short,
    possibly followed by zero bytes where the file grew but its data did not reach the
    disk. A later append then starts on a line of its own (``RefStore._log`` ends a torn
    line first), or, written by an extract that did not, right after the torn bytes on
    the same line: that entry is recovered. Anything else is damage."""
    entries: list[ReflogEntry] = []
    torn: list[int] = []
    damaged: list[int] = []
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, 1):
        last = number == len(lines)  # bytes after the last LF: only a torn write, or nothing
        if last and not raw:
            break
        entry = None if last else parse_reflog_line(raw)
        if entry is not None:
            entries.append(entry)
            continue
        if _could_be_torn(raw):
            torn.append(number)
            continue
        recovered = None if last else _after_torn_prefix(raw)
        if recovered is not None:
            entries.append(recovered)
            torn.append(number)
            continue
        damaged.append(number)
    return ReflogCheck(entries, torn, damaged)


def _after_torn_prefix(raw: bytes) -> ReflogEntry | None:
    """The entry at the end of a line that starts with a torn write, if there is one."""
    at = 1
    while (m := _ENTRY_START.search(raw, at)) is not None:
        entry = parse_reflog_line(raw[m.start() :])
        if entry is not None and _could_be_torn(raw[: m.start()]):
            return entry
        at = m.start() + 1
    return None


def _could_be_torn(raw: bytes) -> bool:
    """Whether bytes are the start of a reflog line (possibly followed by zero bytes), as
    a write cut short by a power cut leaves it. Random bytes almost never are: the first
    130 must be hex digits with two spaces in their places."""
    data = raw.rstrip(b"\0")
    head = data[:130]
    for i, byte in enumerate(head):
        if (byte != 0x20) if i in (64, 129) else (byte not in _HEX):
            return False
    rest = data[130:]
    digits = len(rest) - len(rest.lstrip(b"0123456789"))
    if digits == len(rest):
        return True
    if digits == 0 or rest[digits] != 0x20:
        return False
    tail = rest[digits + 1 :]  # who, a tab, the message: any text
    try:
        tail.decode("utf-8")
    except UnicodeDecodeError as e:  # only a character cut at the very end is a torn write
        return e.reason == "unexpected end of data" and e.end == len(tail)
    return True


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
