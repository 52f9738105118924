"""Named remotes in config.toml: ``[remotes.<name>] url = "..."``."""

from __future__ import annotations

import re
from pathlib import Path

from extract.errors import InvalidInput, RemoteNotFound
from extract.store import config as configmod
from extract.store.fsutil import atomic_write
from extract.store.repo import Repository
from extract.sync.transport.url import GIT_PREFIX

_HEADER = re.compile(r"^\s*\[\s*remotes\.(?P<name>[^\]\s]+)\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


def list_remotes(repo: Repository) -> dict[str, str]:
    return dict(repo.config.remotes)


def add_remote(repo: Repository, name: str, url: str) -> None:
    remotes = list_remotes(repo)
    if name in remotes:
        raise InvalidInput(f"remote {name!r} already exists ({remotes[name]}); remove it first")
    path = repo.config_path
    text = path.read_text("utf-8") if path.exists() else ""
    sep = "" if not text or text.endswith("\n") else "\n"
    # the name quoted: "v1.2" is one remote, not a table v1 holding a table 2
    new = f"{text}{sep}\n[remotes.{configmod.toml_string(name)}]\nurl = {configmod.toml_string(url)}\n"
    _check_and_write(repo, new)


def remove_remote(repo: Repository, name: str) -> None:
    remotes = list_remotes(repo)
    if name not in remotes:
        raise RemoteNotFound(f"Remote not found: {name!r}; remotes: {', '.join(remotes) or 'none'}")
    lines = repo.config_path.read_text("utf-8").splitlines(keepends=True)
    out, skipping = [], False
    for line in lines:
        m = _HEADER.match(line)
        if m:
            skipping = m.group("name").strip('"') == name
        elif _ANY_HEADER.match(line):
            skipping = False
        if not skipping:
            out.append(line)
    _check_and_write(repo, "".join(out).rstrip("\n") + "\n")
    tracking = f"refs/remotes/{name}/main"
    if repo.refs.read(tracking) is not None:
        repo.refs.set(tracking, None, message=f"remote remove {name}")


def _check_and_write(repo: Repository, text: str) -> None:
    configmod.parse(
        text, repo.config_path
    )  # a bad name or URL is refused before anything is written
    atomic_write(repo.config_path, [text.encode("utf-8")])
    repo._config = None


def resolve_remote(repo: Repository, name: str | None) -> tuple[str, str]:
    """(remote name, url) for a configured name, or for a URL/path given directly."""
    remotes = list_remotes(repo)
    if name is None:
        if "origin" in remotes:
            return "origin", remotes["origin"]
        if len(remotes) == 1:
            return next(iter(remotes.items()))
        raise InvalidInput(
            "which remote? "
            + (
                f"configured: {', '.join(remotes)}"
                if remotes
                else "none is configured: `extract remote add NAME URL`"
            )
        )
    if name in remotes:
        return name, remotes[name]
    if "/" in name or ":" in name or name.startswith("."):
        return _name_for_url(name), name
    git_url = resolve_git_remote(repo.root, name)  # the code repository's own remote of that name
    if git_url is not None:
        return name, git_url
    raise RemoteNotFound(
        f"Remote not found: {name!r}: not an extract remote "
        f"({', '.join(remotes) or 'none configured'}) nor a git remote of this code repository; "
        "give a path, an ssh URL or git::<git url>"
    )


def resolve_git_remote(store_root: Path, name: str) -> str | None:
    """``git::<url>`` for git remote ``name`` of the code repository that holds the store,
    or None."""
    # Imported here: pygit2 loads only when a name is not a configured remote.
    from extract.git.remotes import code_remote_url

    url = code_remote_url(store_root, name)
    return None if url is None else GIT_PREFIX + url


def _name_for_url(url: str) -> str:
    """A tracking-ref name for a URL used without a configured remote."""
    return "_" + re.sub(r"[^A-Za-z0-9_-]+", "_", url).strip("_")[:60]
