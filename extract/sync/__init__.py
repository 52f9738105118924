"""Moving history between stores, and the reference API's ``sync`` functions.

``push``, ``pull``, ``export_archive``, ``import_archive`` and ``merge_db`` keep
the names and return values of the reference API; underneath they are fetch,
merge, push and bundles (see ``ops`` and ``bundle``), never rsync or a copied
database.
"""

from __future__ import annotations

from pathlib import Path

from extract.store.history import commit_staged
from extract.store.repo import FORMAT_FILE, Repository
from extract.sync import bundle, ops
from extract.sync.remotes import resolve_remote
from extract.sync.transport import open_transport

__all__ = [
    "commit_pending",
    "export_archive",
    "import_archive",
    "merge_db",
    "pull",
    "push",
    "table_counts",
]


def _store(root: str | Path) -> Repository:
    path = Path(root)
    if path.name in ("index.db", "extract.db") and path.is_file():
        path = path.parent  # the reference API's merge_db names database files
    if not (path / FORMAT_FILE).exists() and (path / ".extract" / FORMAT_FILE).exists():
        path = path / ".extract"
    return Repository(path)


def table_counts(repo: Repository) -> dict[str, int]:
    """Rows per reference table, with the index brought up to date."""
    # Imported here: the indexer loads numpy (and its BLAS threads), which `extract serve`
    # and a plain fetch never need.
    from extract.index.access import open_index
    from extract.index.schema import TABLES

    with open_index(repo) as index:
        conn = index.reader()
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}


def commit_pending(repo: Repository, action: str) -> int:
    """Commit what is sealed and not yet committed (runs whose process died are sealed
    first), with a message that says the sync function made it: the reference API has
    no commit step, so its ``push`` and ``export_archive`` must send what a script logged.
    Returns how many entries the commit recorded (0: nothing was waiting)."""
    from extract.index.access import seal_crashed  # (numpy: see table_counts)

    seal_crashed(repo)
    result = commit_staged(repo, f"{action}: commit what was sealed, before sending it")
    return sum(result.added.values()) if result.commit is not None else 0


def _added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {t: after[t] - before.get(t, 0) for t in after}


def push(root: str | Path, remote: str) -> None:
    """Send main to ``remote`` (a configured name, a path or an ssh URL)."""
    repo = _store(root)
    name, url = resolve_remote(repo, remote)
    commit_pending(repo, "sync.push")
    with open_transport(url, create=True, store=repo.root) as t:
        ops.push(repo, t, name)


def pull(root: str | Path, remote: str) -> dict[str, int]:
    """Fetch ``remote`` and merge it into main; returns rows added per table."""
    repo = _store(root)
    name, url = resolve_remote(repo, remote)
    commit_pending(repo, "sync.pull")
    before = table_counts(repo)
    with open_transport(url, store=repo.root) as t:
        result = ops.fetch(repo, t, name)
    if result.head is not None:
        ops.merge(repo, result.head)
    return _added(before, table_counts(repo))


def export_archive(root: str | Path, output: str | Path) -> None:
    """Write main's whole history to one bundle file."""
    repo = _store(root)
    commit_pending(repo, "sync.export_archive")
    bundle.export_bundle(repo, Path(output))


def import_archive(archive: str | Path, root: str | Path) -> dict[str, int]:
    """Verify a bundle, merge it into main; returns rows added per table."""
    repo = _store(root)
    commit_pending(repo, "sync.import_archive")
    before = table_counts(repo)
    info = bundle.import_bundle(repo, Path(archive))
    ops.merge(repo, info.refs["refs/heads/main"])
    return _added(before, table_counts(repo))


def merge_db(src_path: str | Path, dst_path: str | Path) -> dict[str, int]:
    """Bring everything of the store at ``src_path`` into ``dst_path``; rows added per table."""
    src = _store(src_path)
    commit_pending(src, "sync.merge_db")
    return pull(dst_path, str(src.root.resolve()))
