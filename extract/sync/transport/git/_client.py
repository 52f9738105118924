"""Reaching a git repository: dulwich's client, git's credential helpers, and what its
failures mean to extract."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable
from typing import TypeVar

from dulwich.client import (
    GitClient,
    HTTPProxyUnauthorized,
    HTTPUnauthorized,
    SSHGitClient,
    get_transport_and_path,
)
from dulwich.config import StackedConfig
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

from extract.errors import InvalidInput, ProtocolError, StoreNotFound
from extract.sync.transport.url import redact

_T = TypeVar("_T")

#: What dulwich raises when the remote cannot be reached, refuses us or breaks off.
NETWORK_ERRORS = (
    GitProtocolError,
    NotGitRepository,
    HTTPUnauthorized,
    HTTPProxyUnauthorized,
    OSError,
)

#: How the far side's git says a repository is not there. Over ssh (and git://) that is
#: only ever text: upload-pack exits with "fatal: '/x' does not appear to be a git
#: repository", a host with "ERROR: Repository not found.", and dulwich hands us those
#: lines in a HangupException or GitProtocolError. This is the one place they are read.
_NO_REPOSITORY = (
    "does not appear to be a git repository",
    "not a git repository",
    "repository not found",
    "no such file or directory",
)


class GitRemote:
    """One git location with a dulwich client for it, re-made once with credentials from
    git's helpers when an http server asks for them."""

    def __init__(self, location: str, url: str) -> None:
        self.location = location
        self.url = url  # redacted: what messages show
        self.client, self.path = _client_for(location)
        self._creds: dict[str, str] | None = None  # from git's credential helpers, once asked

    def call(self, fn: Callable[[], _T]) -> _T:
        """``fn()`` (which uses ``self.client``); on HTTP 401, once: credentials from git's
        helpers, a new client, again."""
        try:
            return fn()
        except HTTPUnauthorized:
            if self._creds is not None:
                raise
            creds = git_credential("fill", self.location)
            if creds is None:
                raise
        self._creds = creds
        self.client, self.path = _client_for(self.location, creds["username"], creds["password"])
        try:
            out = fn()
        except HTTPUnauthorized:
            git_credential("reject", self.location, creds)
            raise
        git_credential("approve", self.location, creds)
        return out

    def failure(self, e: BaseException) -> Exception:
        """The extract error for a dulwich failure: StoreNotFound when there is no
        repository, else a ProtocolError with the remote's last words (redacted)."""
        text = str(e).strip()
        if isinstance(e, HangupException) and e.stderr_lines:
            text = b"\n".join(e.stderr_lines).decode("utf-8", "replace").strip()
        if isinstance(e, NotGitRepository) or (
            isinstance(e, GitProtocolError) and _says_no_repository(text)
        ):
            return StoreNotFound(
                f"no git repository at {redact(self.location)}: create one on the host, or locally "
                f"with `git init --bare PATH` (pushing never creates one)"
            )
        if isinstance(e, HTTPUnauthorized | HTTPProxyUnauthorized):
            text = (
                "the server asks for credentials and git's credential helpers gave none that "
                "work (see `git help credential`), or use an ssh URL"
            )
        last = redact(text.splitlines()[-1]) if text else type(e).__name__
        return ProtocolError(f"git remote {self.url}: {last}")


def _says_no_repository(text: str) -> bool:
    lowered = text.lower()
    # "git-upload-pack: command not found" is a host without git, not a missing repository.
    return any(s in lowered for s in _NO_REPOSITORY) and "command not found" not in lowered


def _ssh_command() -> str | None:
    """What git would run for ssh: ``$GIT_SSH_COMMAND``, else ``$GIT_SSH``, else None
    (then dulwich uses ``core.sshCommand`` from the git config, else ``ssh``)."""
    cmd = os.environ.get("GIT_SSH_COMMAND")
    if cmd:
        return cmd
    prog = os.environ.get("GIT_SSH")
    if prog:
        return shlex.quote(prog)
    return None


def _client_for(
    location: str, username: str | None = None, password: str | None = None
) -> tuple[GitClient, str]:
    try:
        config: StackedConfig | None = StackedConfig.default()
    except Exception:  # an unreadable ~/.gitconfig must not stop a fetch
        config = None
    try:
        client, path = get_transport_and_path(
            location,
            config=config,
            ssh_command=_ssh_command(),
            quiet=True,
            username=username,
            password=password,
        )
    except ValueError as e:
        raise InvalidInput(f"cannot use {redact(location)!r} as a git remote: {e}") from None
    if isinstance(client, SSHGitClient):
        for label, value in (("host", client.host), ("user", client.username or "")):
            if value.startswith("-"):
                raise InvalidInput(
                    f"refusing ssh {label} {value!r}: it starts with '-' and ssh would read it as an option"
                )
    return client, path


def git_credential(
    action: str, location: str, creds: dict[str, str] | None = None
) -> dict[str, str] | None:
    """Ask git's credential helpers (``git credential fill``), or tell them the outcome
    (``approve``/``reject``), for an http(s) location: what ``git push`` would use.
    None when git is missing or has nothing (prompts follow git's own rules)."""
    parts = urllib.parse.urlsplit(location)
    if parts.scheme not in ("http", "https") or shutil.which("git") is None:
        return None
    lines = [
        f"protocol={parts.scheme}",
        f"host={parts.hostname or ''}" + (f":{parts.port}" if parts.port else ""),
    ]
    if parts.path.strip("/"):
        lines.append(f"path={parts.path.lstrip('/')}")
    for key, value in (creds or {}).items():
        lines.append(f"{key}={value}")
    try:
        r = subprocess.run(
            ["git", "credential", action],
            input="\n".join(lines) + "\n\n",
            capture_output=True,
            text=True,
            timeout=None if action == "fill" else 30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if action != "fill" or r.returncode != 0:
        return None
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    if not out.get("username"):
        return None
    return {"username": out["username"], "password": out.get("password", "")}
