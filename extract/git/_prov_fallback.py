"""The two cases provenance hands to the real ``git`` binary (rename detection, external
filter drivers such as git-lfs), run against a copy of the index so the user's is never
refreshed; when git is missing or fails, a reason is recorded and libgit2's result stands."""

from __future__ import annotations

import bisect
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
from pygit2.enums import DeltaStatus

from ._prov_format import _decode, _git_bool

if TYPE_CHECKING:  # the collector lives with capture(); annotations only, no cycle
    from .provenance import _State


_REGULAR_MODES = (0o100644, 0o100755)
#: git's rename detection scores out of MAX_SCORE and needs 50% by default.
_MAX_SCORE = 60000
_MIN_RENAME_SCORE = 30000
#: Seconds allowed to each fallback ``git`` process.
GIT_TIMEOUT = 60.0


#: Environment variables that choose a repository; cleared or set for fallback ``git``.
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIFF_OPTS",
)


def _rename_candidates(repo: pygit2.Repository, patches: list[pygit2.Patch]) -> bool:
    """Could ``git diff HEAD`` pair a deletion with an addition (rename or copy detection)?"""
    config = repo.config
    mode = (config["diff.renames"] or "true") if "diff.renames" in config else "true"
    mode = mode.strip().lower()
    copies = mode in ("copy", "copies")
    if not copies and _git_bool(mode) is False:
        return False
    sources = sorted(
        p.delta.old_file.size
        for p in patches
        if (
            p.delta.status == DeltaStatus.DELETED
            or (copies and p.delta.status == DeltaStatus.MODIFIED)
        )
        and int(p.delta.old_file.mode) in _REGULAR_MODES
    )
    for p in patches:
        dst = p.delta.new_file
        if p.delta.status != DeltaStatus.ADDED or int(dst.mode) not in _REGULAR_MODES:
            continue
        # git's estimate_similarity() gives up unless the smaller size is at least
        # MIN/MAX of the larger one (half, by default): look for a source in that range.
        low = -(-dst.size * _MIN_RENAME_SCORE // _MAX_SCORE)
        high = dst.size * _MAX_SCORE // _MIN_RENAME_SCORE
        i = bisect.bisect_left(sources, low)
        if i < len(sources) and sources[i] <= high:
            return True
    return False


def _externally_filtered(repo: pygit2.Repository, patches: list[pygit2.Patch]) -> set[bytes]:
    """Changed paths whose ``filter`` attribute names a configured external driver."""
    config = repo.config
    out: set[bytes] = set()
    for patch in patches:
        new = patch.delta.new_file
        if patch.delta.status == DeltaStatus.DELETED:
            continue
        driver = repo.get_attr(_decode(new.raw_path), "filter")
        if not isinstance(driver, str) or not driver:
            continue
        if f"filter.{driver}.clean" in config or f"filter.{driver}.process" in config:
            out.add(new.raw_path)
    return out


def _rehash_filtered(
    state: _State,
    repo: pygit2.Repository,
    filtered: set[bytes],
    patches: list[pygit2.Patch],
    sets: dict[bytes, tuple[int, bytes]],
) -> None:
    """Blob ids of externally filtered files from ``git hash-object`` (which writes nothing)."""
    paths = sorted(p for p in filtered if b"\n" not in p)
    out = _run_git(
        state, repo, ["hash-object", "--stdin-paths"], b"".join(p + b"\n" for p in paths)
    )
    if out is None:
        state.reason("filter drivers not applied: blob ids of filtered files are unfiltered")
        return
    ids = out.split()
    if len(ids) != len(paths):
        state.reason("git hash-object returned an unexpected answer; filtered files unfiltered")
        return
    old = {p.delta.new_file.raw_path: p.delta.old_file for p in patches}
    for path, hexid in zip(paths, ids, strict=True):
        mode, _ = sets[path]
        blob = bytes.fromhex(hexid.decode())
        before = old.get(path)
        if before is not None and before.id.raw == blob and int(before.mode) == mode:
            del sets[path]  # unchanged once filtered (e.g. a touched LFS file)
        else:
            sets[path] = (mode, blob)


def _git_diff(state: _State, repo: pygit2.Repository, binary: bool) -> bytes | None:
    args = ["diff", "--no-ext-diff", "--no-color", "--no-textconv"]
    if binary:
        args.append("--binary")
    out = _run_git(state, repo, [*args, "HEAD", "--"], None)
    if out is None:
        state.reason("diff from libgit2: renames and filter drivers may differ from git's")
    return out


def _run_git(
    state: _State, repo: pygit2.Repository, args: list[str], stdin: bytes | None
) -> bytes | None:
    """Run ``git`` on this repository against a copy of its index; None (and a reason) on failure."""
    git = shutil.which("git")
    if git is None:
        state.reason("git binary not found")
        return None
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env["GIT_DIR"] = repo.path
    env["GIT_WORK_TREE"] = repo.workdir
    env["GIT_OPTIONAL_LOCKS"] = "0"
    index = Path(os.environ.get("GIT_INDEX_FILE") or Path(repo.path) / "index")
    try:
        with tempfile.TemporaryDirectory(prefix="extract-git-") as tmp:
            if index.exists():
                copy = Path(tmp) / "index"
                shutil.copyfile(index, copy)
                env["GIT_INDEX_FILE"] = str(copy)
            r = subprocess.run(
                [git, "--no-optional-locks", *args],
                cwd=repo.workdir,
                env=env,
                input=stdin,
                capture_output=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        state.reason(f"git {args[0]} failed: {exc}")
        return None
    if r.returncode != 0:
        msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
        state.reason(f"git {args[0]} failed: {msg[-1] if msg else r.returncode}")
        return None
    return r.stdout
