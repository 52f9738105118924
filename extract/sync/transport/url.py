"""Remote URLs: which transport a URL names, and where it points. Pure text, no I/O
beyond asking whether a path exists (``host:path`` is scp-style ssh unless it is a path
on this machine, as git decides).

=====================================  =========================================
``PATH``, ``file://PATH``              a store directory (LocalTransport)
``ssh://[user@]host[:port]/path``      ``extract serve`` over ssh (SshTransport)
``[user@]host:path``                   the same, scp-style
``git::<any git URL or path>``         a git repository (GitTransport)
``git+file://``, ``git+ssh://``,       the same, spelled as a scheme
``git+http(s)://``, ``git://``
``s3://bucket[/prefix]``               a bucket of S3-compatible object storage
                                       (extract.sync.transport.s3)
=====================================  =========================================
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from extract.errors import InvalidInput

#: What a user types to say "this is a git repository": ``git::<any git URL or path>``,
#: or one of the ``git+<scheme>://`` forms; ``git://`` (git daemon) is git already.
GIT_PREFIX = "git::"
_GIT_SCHEMES = ("git+file://", "git+ssh://", "git+http://", "git+https://")


@dataclass(frozen=True)
class RemoteUrl:
    kind: str  # "path", "ssh", "git" or "s3"
    path: str  # the store's path; for git, the location git understands; for s3, the prefix
    host: str | None = None
    port: int | None = None
    user: str | None = None


#: A URL with a scheme (``name://``): only the schemes below are served.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
#: The forms a remote may take, for error messages.
FORMS = (
    "a path, file://PATH, ssh://[user@]host[:port]/path, [user@]host:path, "
    "s3://bucket/prefix, or a git remote (git::URL, git+ssh://, git+https://, git+file://, "
    "git://)"
)
_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^/:]+):(?P<path>.*)$")
_SSH = re.compile(r"^ssh://(?:(?P<user>[^@/]+)@)?(?P<host>[^/:]+)(?::(?P<port>\d+))?(?P<path>/.*)$")


def parse_url(url: str) -> RemoteUrl:
    """A path, ``file://PATH``, ``ssh://[user@]host[:port]/path``, ``[user@]host:path`` or
    a git remote URL (see :func:`is_git_url`)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            "a remote URL is a path, ssh://[user@]host[:port]/path or [user@]host:path"
        )
    if is_git_url(url):
        return RemoteUrl("git", git_location(url))
    if url.startswith(S3_SCHEME):
        bucket, prefix = s3_location(url)
        return RemoteUrl("s3", prefix, bucket)
    if url.startswith("file://"):
        return RemoteUrl("path", url[len("file://") :])
    scheme = _SCHEME.match(url)
    if scheme is not None and scheme.group("scheme") != "ssh":
        raise InvalidInput(f"extract cannot serve {scheme.group('scheme')}:// remotes; use {FORMS}")
    m = _SSH.match(url)
    if url.startswith("ssh://") and not m:
        raise InvalidInput(f"malformed ssh URL {url!r}: expected ssh://[user@]host[:port]/path")
    if m is None and "/" not in url.split(":", 1)[0] and not Path(url).exists():
        m = _SCP.match(url)
    if m is None:
        return RemoteUrl("path", url)
    host, path, user = m.group("host"), m.group("path"), m.group("user")
    for label, value in (("host", host), ("user", user or ""), ("path", path)):
        if value.startswith("-"):
            raise InvalidInput(
                f"refusing ssh {label} {value!r}: it starts with '-' and ssh would read it as an option"
            )
    if not path:
        raise InvalidInput(f"ssh remote {url!r} names no path")
    port = int(m.group("port")) if "port" in m.groupdict() and m.group("port") else None
    return RemoteUrl("ssh", path, host, port, user)


def is_git_url(url: str) -> bool:
    """Whether ``url`` names a git repository (``git::X``, ``git+scheme://``, ``git://``)."""
    return isinstance(url, str) and (
        url.startswith(GIT_PREFIX) or url.startswith(_GIT_SCHEMES) or url.startswith("git://")
    )


def git_location(url: str) -> str:
    """The location git (and dulwich) understand, from an extract git-remote URL.

    ``git::/srv/code.git`` -> ``/srv/code.git``; ``git::me@host:code.git`` ->
    ``me@host:code.git``; ``git+ssh://host/p`` -> ``ssh://host/p``;
    ``git+https://host/p`` -> ``https://host/p``; ``git://host/p`` unchanged.
    """
    if url.startswith(GIT_PREFIX):
        loc = url[len(GIT_PREFIX) :]
    elif url.startswith(_GIT_SCHEMES):
        loc = url[len("git+") :]
    elif url.startswith("git://"):
        loc = url
    else:
        raise InvalidInput(
            f"{url!r} is not a git remote URL: write git::<git URL or path>, "
            "git+file:///path, git+ssh://[user@]host[:port]/path or git+https://host/path"
        )
    if not loc.strip():
        raise InvalidInput(f"git remote URL {url!r} names no repository")
    if loc.startswith("-"):
        raise InvalidInput(f"refusing git location {loc!r}: it starts with '-'")
    return loc


#: What names a bucket of S3-compatible object storage: ``s3://bucket[/prefix]``.
S3_SCHEME = "s3://"
# S3's bucket naming rules (3-63 of lower-case letters, digits, '.' and '-', starting and
# ending with a letter or digit), which every S3-compatible service accepts.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def s3_location(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket[/prefix]``; the prefix has no leading or trailing
    '/' ('' for the bucket's root)."""
    rest = url[len(S3_SCHEME) :] if url.startswith(S3_SCHEME) else None
    if rest is None:
        raise InvalidInput(f"{url!r} is not an S3 URL: write s3://bucket[/prefix]")
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise InvalidInput(
            f"{url!r}: {bucket!r} is not a bucket name (3-63 characters of a-z, 0-9, '.' "
            "and '-', starting and ending with a letter or digit): write s3://bucket[/prefix]"
        )
    prefix = prefix.strip("/")
    parts = prefix.split("/") if prefix else []
    if any(p in ("", ".", "..") for p in parts) or any(ord(c) < 32 for c in prefix):
        raise InvalidInput(
            f"{url!r}: the prefix {prefix!r} holds an empty, '.' or '..' segment or a "
            "control character"
        )
    return bucket, prefix


def redact(url: str) -> str:
    """``url`` with any password or token in it replaced by ``***``."""
    url = re.sub(r"(https?://)[^/@]*@", r"\1***@", url)  # an http user may be a token
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)


def cache_key(location: str) -> str:
    """The cache directory name for a git location: 16 hex digits of its SHA-256."""
    return hashlib.sha256(location.encode("utf-8")).hexdigest()[:16]
