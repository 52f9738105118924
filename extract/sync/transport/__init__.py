"""Transports: one interface (``Transport``), and three remotes behind it.

A path remote is a store directory on a local or mounted disk, worked on directly
(``LocalTransport``). An ssh remote runs ``extract serve PATH`` on the far side over one
ssh connection and speaks ``protocol`` to it (``SshTransport``; the server side is
``serve``). A git remote keeps the history in any git repository under
``refs/extract/*`` (``extract.sync.transport.git``). An s3 remote is a bucket of
S3-compatible object storage (``extract.sync.transport.s3``). ``url`` says which a URL
names; ``open_transport`` opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from extract.sync.protocol import BATCH_OBJECTS, GROUP_BYTES
from extract.sync.transport._base import Tick, Transport, receive
from extract.sync.transport._local import LocalTransport
from extract.sync.transport._serve import send_objects, serve
from extract.sync.transport._ssh import BATCH, READ_AHEAD, SMALL_GET, SshTransport
from extract.sync.transport.url import RemoteUrl, parse_url

__all__ = [
    "BATCH",
    "BATCH_OBJECTS",
    "GROUP_BYTES",
    "READ_AHEAD",
    "SMALL_GET",
    "LocalTransport",
    "RemoteUrl",
    "SshTransport",
    "Tick",
    "Transport",
    "open_transport",
    "parse_url",
    "receive",
    "send_objects",
    "serve",
]


def open_transport(url: str, create: bool = False, store: Path | None = None) -> Transport:
    """The transport for ``url``; ``store`` is the local store (git and s3 remotes keep a
    cache there; an s3 remote's settings are read from its config.toml)."""
    u = parse_url(url)
    if u.kind == "s3":
        # Imported here: boto3 (an optional extra) costs ~0.5 s to load.
        from extract.sync.transport.s3 import S3Transport

        options: Mapping[str, str] = {}
        if store is not None:
            from extract.store.repo import Repository
            from extract.sync.remotes import remote_options

            options = remote_options(Repository(store), url)
        assert u.host is not None
        return S3Transport(url, u.host, u.path, options, store=store, create=create)
    if u.kind == "git":
        # Imported here: dulwich and pygit2 cost ~0.2 s to load, which a path or ssh
        # transfer (and `extract serve`) never needs.
        from extract.sync.transport.git import GitTransport

        return GitTransport(url, store=store, create=create)
    if u.kind == "path":
        return LocalTransport(Path(u.path).expanduser(), create=create)
    assert u.host is not None
    return SshTransport(url, u.host, u.path, u.port, u.user, create=create)
