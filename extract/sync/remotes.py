"""Named remotes in config.toml: ``[remotes.<name>] url = "..."``.

Edits go through tomlkit, which keeps the user's comments, order and formatting: adding a
remote changes nothing else in the file, and removing one removes exactly it, however it
was written (a ``[remotes.<name>]`` table, an inline table, a dotted key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from extract.errors import ConfigError, InvalidInput, RemoteNotFound
from extract.store import config as configmod
from extract.store.fsutil import atomic_write
from extract.store.repo import Repository
from extract.sync.transport.url import GIT_PREFIX, parse_url

if TYPE_CHECKING:
    from tomlkit import TOMLDocument


def list_remotes(repo: Repository) -> dict[str, str]:
    return dict(repo.config.remotes)


def add_remote(
    repo: Repository, name: str, url: str, options: Mapping[str, str] | None = None
) -> None:
    """Add ``[remotes.<name>]`` with ``url`` and ``options`` (an s3:// remote's
    endpoint_url, region, addressing_style; checked by config.parse before anything is
    written)."""
    parse_url(url)  # a URL no transport serves is refused before anything is written
    remotes = list_remotes(repo)
    if name in remotes:
        raise InvalidInput(f"remote {name!r} already exists ({remotes[name]}); remove it first")
    import tomlkit  # here, as in _document

    doc = _document(repo)
    table = doc.get("remotes")
    if table is None:
        # A super table: written as [remotes.<name>] headers, never a bare [remotes].
        table = doc["remotes"] = tomlkit.table(is_super_table=True)
    # Written in the style of the remotes already there; tomlkit quotes a name that needs
    # it: "v1.2" is one remote, not a table v1 holding a table 2.
    entry = tomlkit.inline_table() if _inline(table) else tomlkit.table()
    entry["url"] = url
    for key, value in (options or {}).items():
        entry[key] = value
    table[name] = entry
    _check_and_write(repo, doc.as_string())


def remove_remote(repo: Repository, name: str) -> None:
    remotes = list_remotes(repo)
    if name not in remotes:
        raise RemoteNotFound(f"Remote not found: {name!r}; remotes: {', '.join(remotes) or 'none'}")
    doc = _document(repo)
    table = doc["remotes"]
    del table[name]
    if not table:
        del doc["remotes"]
    text = doc.as_string().rstrip("\n")  # the blank line that set the table apart goes too
    _check_and_write(repo, text + "\n" if text else "")
    tracking = f"refs/remotes/{name}/main"
    if repo.refs.read(tracking) is not None:
        repo.refs.set(tracking, None, message=f"remote remove {name}")


def _document(repo: Repository) -> TOMLDocument:
    # Imported here: tomlkit takes ~0.1 s to import, which only `extract remote add` and
    # `remove` need (fetch and push resolve names from the parsed config).
    import tomlkit
    from tomlkit.exceptions import ParseError

    path = repo.config_path
    text = path.read_text("utf-8") if path.exists() else ""
    try:
        return tomlkit.parse(text)
    except ParseError as e:  # (config.parse said it was sound TOML)
        raise ConfigError(f"{path}: malformed TOML: {e}") from None


def _inline(table: object) -> bool:
    """Whether the remotes are written inline: ``remotes = {...}`` or ``name = {url = ...}``."""
    from tomlkit.items import InlineTable, Table

    if isinstance(table, InlineTable):
        return True
    values = list(table.values()) if isinstance(table, Table) else []
    return bool(values) and all(isinstance(v, InlineTable) for v in values)


def _check_and_write(repo: Repository, text: str) -> None:
    configmod.parse(
        text, repo.config_path
    )  # a bad name or URL is refused before anything is written
    atomic_write(repo.config_path, [text.encode("utf-8")])
    repo._config = None


def remote_options(repo: Repository, url: str) -> Mapping[str, str]:
    """The settings of the configured remote whose url is ``url`` (none for a URL given
    directly, or a remote configured with none)."""
    config = repo.config
    for name, configured in config.remotes.items():
        if configured == url:
            return config.remote_options.get(name, {})
    return {}


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
