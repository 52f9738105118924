"""Tying runs to the commits that captured their code.

A run started from a dirty working tree records the tree id git would write for
that exact state. When a later commit has exactly that tree, the run's code is
that commit: the post-commit hook records it as a ``stamp`` event (append-only,
so it syncs and merges like every other annotation).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pygit2

from extract.errors import InvalidInput
from extract.git.hooks import WANTED_FILE
from extract.index.access import open_index
from extract.index.build import Indexer
from extract.store.repo import Repository
from extract.tracking.events import record_event


@dataclass(frozen=True)
class CodeRev:
    sha: str
    tree: str


def resolve_rev(project: Path, rev: str = "HEAD") -> CodeRev:
    """A commit of the code repository around ``project``, by any name git accepts."""
    path = pygit2.discover_repository(str(project))
    if path is None:
        raise InvalidInput(f"{project} is not inside a git repository")
    repo = pygit2.Repository(path)
    try:
        commit = repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as e:
        raise InvalidInput(f"{rev!r} is not a commit of {repo.workdir or path}: {e}") from None
    return CodeRev(str(commit.id), str(commit.tree_id))


def want_stamp(store_root: Path, tree: str) -> None:
    """Note that a run waits for a commit with exactly ``tree`` (see ``hooks.WANTED_FILE``).
    Durable before the run's start record is, so the hook never skips a run it owes a
    stamp; a line for a tree already stamped only costs that commit an interpreter."""
    fd = os.open(store_root / WANTED_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{tree}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def write_wanted(store: Repository) -> int:
    """Rewrite the wanted list from the index (``extract hooks install``: runs started
    before the list existed are owed stamps too). Returns how many trees it lists."""
    with open_index(store) as index:
        trees = sorted(
            {
                t
                for (t,) in index.writer().conn.execute(
                    "SELECT DISTINCT git_tree FROM runs WHERE git_dirty = 1 AND git_stamp IS NULL "
                    "AND git_tree IS NOT NULL"
                )
            }
        )
    path = store.root / WANTED_FILE
    tmp = path.with_name(f".{WANTED_FILE}.tmp")
    tmp.write_text("".join(f"{t}\n" for t in trees), "utf-8")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(trees)


def runs_with_tree(indexer: Indexer, tree: str, unstamped: bool = False) -> list[str]:
    """Runs started from a dirty working tree whose exact state is ``tree``."""
    extra = " AND git_stamp IS NULL" if unstamped else ""
    return [
        r[0]
        for r in indexer.conn.execute(
            f"SELECT id FROM runs WHERE git_tree = ? AND git_dirty = 1{extra} ORDER BY id", (tree,)
        )
    ]


def stamp(store: Repository, rev: CodeRev) -> list[str]:
    """Stamp ``rev`` onto every dirty-tree run it captured exactly and not yet stamped."""
    with open_index(store, refresh=False) as index:
        indexer = index.writer()
        indexer.refresh()
        stamped = []
        # an earlier commit with the same tree already claimed the stamped ones
        for run_id in runs_with_tree(indexer, rev.tree, unstamped=True):
            record_event(indexer, "stamp", f"run:{run_id}", {"sha": rev.sha, "tree": rev.tree})
            stamped.append(run_id)
        return stamped


def runs_of_commit(conn: sqlite3.Connection, rev: CodeRev) -> list[str]:
    """Runs that ran exactly ``rev``'s code: clean at that HEAD, or stamped with it."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM runs WHERE (git_sha = ? AND git_dirty = 0) OR git_stamp = ? ORDER BY id",
            (rev.sha, rev.sha),
        )
    ]


def staged_tree(project: Path) -> str:
    """The tree the commit being made will have (what is staged), as git writes it."""
    out = subprocess.run(
        ["git", "write-tree"], cwd=project, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def add_trailer(project: Path, message_file: Path, run_ids: list[str]) -> None:
    subprocess.run(
        [
            "git",
            "interpret-trailers",
            "--in-place",
            "--if-exists",
            "replace",
            "--trailer",
            f"Extract-Runs: {', '.join(run_ids)}",
            str(message_file),
        ],
        cwd=project,
        check=True,
        capture_output=True,
    )


def git_config_bool(project: Path, key: str) -> bool:
    r = subprocess.run(
        ["git", "config", "--bool", key], cwd=project, capture_output=True, text=True
    )
    return r.stdout.strip() == "true"
