"""The remotes of the user's code repository, as git itself names them, so ``extract fetch
origin`` can mean the code's ``origin`` (the experiment history rides along with the code)."""

from __future__ import annotations

from pathlib import Path

import pygit2


def git_remote_url(project_dir: Path, name: str) -> str | None:
    """The URL of git remote ``name`` of the git repository at or above ``project_dir``.

    Read with pygit2 (``url.<base>.insteadOf`` applied, as ``git remote get-url``
    does). A relative local path is made absolute against the repository's top,
    where git itself resolves it. None when there is no repository or no such remote.
    """
    try:
        found = pygit2.discover_repository(str(project_dir))
        if found is None:
            return None
        repo = pygit2.Repository(found)
        try:
            url = repo.remotes[name].url
        except (KeyError, ValueError, pygit2.GitError):
            return None
        top = repo.workdir or repo.path
    except pygit2.GitError:
        return None
    if not url:
        return None
    if _is_relative_local(url):
        url = str((Path(top) / url).resolve())
    return str(url)


def code_remote_url(store_root: Path, name: str) -> str | None:
    """The URL of git remote ``name`` of the code repository that holds the store (the
    store's parent directory, else the current directory), or None."""
    for d in dict.fromkeys([Path(store_root).resolve().parent, Path.cwd()]):
        url = git_remote_url(d, name)
        if url is not None:
            return url
    return None


def _is_relative_local(url: str) -> bool:
    if "://" in url or url.startswith("/") or url.startswith("~"):
        return False
    head = url.split("/", 1)[0]
    return ":" not in head  # scp-style host:path is not a local path
