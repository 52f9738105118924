"""Experiment history in a bucket of S3-compatible object storage: the bucket is the
remote, with no server of ours in front of it (objects_spec/s3-remote.md).

``s3://bucket[/prefix]`` holds, under the prefix::

    FORMAT                              "extract-s3-remote 1\\nhash blake3-256\\n"
    refs/heads/<name>                   64 hex digits and LF: moved only by conditional writes
    packs/<pack name>.pack              objects, in the store's pack format
    index/<stamp>-<meta|data>-<name>    that pack's index (its tail), written after the pack

Blobs go in ``data`` packs (large; a fetch takes byte ranges of them), everything else in
``meta`` packs (small; kept whole in the local cache, so a walk never waits on the
network per object). A ref moves with ``If-Match: <ETag read>`` (``If-None-Match: *``
for a new one): of two racing pushers one wins and the other gets RefConflict. A service
that ignores those headers is detected (``Bucket.probe``) and refused before anything is
written.

The local cache ``<store>/cache/s3/<16 hex>/`` keeps the indexes seen and the meta packs;
index keys sort by time, so a fetch lists only the newest (``LIST_MARGIN_MS``). It is
derived: deleting it costs one full listing and download of the meta packs, never data.

``remote_gc`` and ``remote_fsck`` (``_maintain``) are ``extract gc --remote`` and
``extract fsck --remote``.
"""

from extract.sync.transport.s3._client import WORKERS
from extract.sync.transport.s3._layout import FORMAT_TEXT
from extract.sync.transport.s3._maintain import (
    RemoteFsckReport,
    RemoteGcReport,
    remote_fsck,
    remote_gc,
)
from extract.sync.transport.s3._transport import S3Transport

__all__ = [
    "FORMAT_TEXT",
    "WORKERS",
    "RemoteFsckReport",
    "RemoteGcReport",
    "S3Transport",
    "remote_fsck",
    "remote_gc",
]
