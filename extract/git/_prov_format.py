"""Writing and reading things the way git does, so a stored patch is byte-identical to
``git diff HEAD``: abbreviated object ids in ``index`` lines (``find_unique_abbrev``),
``---``/``+++`` names, config booleans and raw paths."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pygit2


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _git_header(abbrev: _Abbrev, patch: pygit2.Patch) -> bytes:
    """The patch text with its header written as git writes it.

    Two differences from libgit2: the ``index`` line is abbreviated like git's
    (see :class:`_Abbrev`), and a ``---``/``+++`` name containing a space ends
    with a tab (git does this for GNU patch).
    """
    data = patch.data
    if not data.startswith(b"diff --git "):
        return data
    lines = data.split(b"\n", 12)
    changed = False
    for i, line in enumerate(lines[1:12], start=1):
        if line.startswith((b"@@", b"Binary files ", b"GIT binary patch")):
            break
        if line.startswith((b"--- ", b"+++ ")):
            if b" " in line[4:] and not line.endswith(b"\t"):
                lines[i] = line + b"\t"
                changed = True
        elif line.startswith(b"index "):
            fixed = _index_line(abbrev, patch.delta, line)
            if fixed is not None:
                lines[i] = fixed
                changed = True
    return b"\n".join(lines) if changed else data


def _index_line(abbrev: _Abbrev, delta: pygit2.DiffDelta, line: bytes) -> bytes | None:
    ids, _, rest = line[6:].partition(b" ")
    old, sep, new = ids.partition(b"..")
    old_hex, new_hex = str(delta.old_file.id), str(delta.new_file.id)
    if not sep or not old_hex.startswith(old.decode()) or not new_hex.startswith(new.decode()):
        return None
    if len(old) == len(old_hex) and len(new) == len(new_hex):
        return None  # full ids (binary patches): git prints them in full too
    fixed = b"index %s..%s" % (abbrev(old_hex).encode(), abbrev(new_hex).encode())
    return fixed + (b" " + rest if rest else b"")


class _Abbrev:
    """git's ``find_unique_abbrev``: ``core.abbrev`` or auto length, then longer until unique."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self._length: int | None = None

    def __call__(self, hexid: str) -> str:
        if self._length is None:
            self._length = _abbrev_length(self.repo)
        length = self._length
        if length >= len(hexid):
            return hexid
        while length < len(hexid):
            prefix = hexid[:length]
            try:
                found = self.repo.expand_id(prefix)
            except KeyError:
                return prefix  # no object has this prefix
            except ValueError:
                length += 1  # ambiguous
                continue
            except pygit2.GitError:
                return prefix
            if str(found) == hexid:
                return prefix
            length += 1
        return hexid


def _abbrev_length(repo: pygit2.Repository) -> int:
    hexsz = 40
    config = repo.config
    if "core.abbrev" in config:
        value = (config["core.abbrev"] or "").strip().lower()
        if value != "auto":
            if value in ("false", "no", "off", ""):
                return hexsz
            try:
                n = int(value)
            except ValueError:
                n = -1
            if 4 <= n <= hexsz:
                return n  # (git refuses other values; auto is the closest behaviour)
    count = _packed_object_count(_objects_dir(repo))
    bits = count.bit_length() - 1 if count > 0 else 0  # git's msb()
    return max(7, (bits + 2) // 2)


def _objects_dir(repo: pygit2.Repository) -> Path:
    gitdir = Path(repo.path)
    commondir = gitdir / "commondir"
    if commondir.is_file():
        with contextlib.suppress(OSError):
            gitdir = (gitdir / commondir.read_text().strip()).resolve()
    return gitdir / "objects"


def _packed_object_count(objects: Path) -> int:
    """Objects in packs (git's ``approximate_object_count``: loose objects do not count)."""
    dirs = [objects]
    try:
        for line in (objects / "info" / "alternates").read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                dirs.append(objects / line)
    except OSError:
        pass
    total = 0
    for d in dirs:
        pack = d / "pack"
        try:
            names = os.listdir(pack)
        except OSError:
            continue
        for name in names:
            if not name.endswith(".idx") or not (pack / (name[:-4] + ".pack")).exists():
                continue
            try:
                with open(pack / name, "rb") as f:
                    head = f.read(8 + 1024)
            except OSError:
                continue
            fanout = head[8:] if head[:4] == b"\xfftOc" else head[:1024]
            if len(fanout) == 1024:
                total += int.from_bytes(fanout[1020:1024], "big")
    return total


def _git_bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in ("true", "yes", "on", "1"):
        return True
    if v in ("false", "no", "off", "0", ""):
        return False
    return None
