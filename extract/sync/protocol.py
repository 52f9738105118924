"""The wire format between extract and a remote extract (``extract serve``).

Every message is a frame: a 4-byte big-endian length, then one msgpack value.
Requests are lists headed by a verb; the server answers each with one frame,
``["ok", ...]`` or ``["err", kind, message]``, except ``get``, which streams
object batches and ends with ``["end", count]``, and ``put``, whose object
batches the client streams (then ``["end"]``) before the server answers.

An object batch is a frame ``["objs", [[id, size], ...]]`` followed by the
objects' stored bytes back to back, outside msgpack: the sender can hand files
to the kernel (``sendfile``) and the receiver reads them into one buffer, with
no copy into or out of a msgpack value on either side.

Verbs: ``hello`` (versions), ``ls-refs``, ``walk`` (wants, haves -> ids),
``has`` (ids -> flags), ``get`` (ids -> objects), ``put`` (objects),
``update-ref`` (name, new, expected; compare-and-swap). The full description
is objects_spec/sync-protocol.md.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Sequence
from typing import IO, Any

import msgpack

from extract.errors import ConnectionClosed, ProtocolError, StreamLost
from extract.objects import ObjectId
from extract.objects.ids import DIGEST_SIZE

#: 2: objects in stored form, many to a frame; 3: object bytes outside msgpack, after a table
PROTOCOL_VERSION = 3
MAX_FRAME = 256 * 1024 * 1024
#: The most stored bytes one object batch may announce (a batch is read into one buffer).
MAX_BATCH = MAX_FRAME
#: A sender makes object batches of about this many bytes (small objects many to a batch) ...
GROUP_BYTES = 1 << 20
#: ... and at most this many objects (``extract serve`` holds a batch's files open at once).
BATCH_OBJECTS = 256
_LEN = struct.Struct(">I")


def write_frame(out: IO[bytes], value: Any) -> None:
    payload = msgpack.packb(value, use_bin_type=True)
    out.write(_LEN.pack(len(payload)))
    out.write(payload)


def read_frame(inp: IO[bytes]) -> Any:
    head = _read_exact(inp, 4)
    (n,) = _LEN.unpack(head)
    if n > MAX_FRAME:
        raise ProtocolError(f"the remote sent a frame of {n} bytes; the limit is {MAX_FRAME}")
    payload = _read_exact(inp, n)
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise ProtocolError(f"the remote sent a malformed message: {e}") from None


def decode_ids(values: Any) -> list[ObjectId]:
    """A list of ids as a frame carries it (32-byte strings), checked."""
    if not isinstance(values, list) or not all(
        isinstance(v, bytes) and len(v) == DIGEST_SIZE for v in values
    ):
        raise ProtocolError("expected a list of 32-byte ids")
    return [ObjectId(v) for v in values]


def write_objects(out: IO[bytes], items: Sequence[tuple[ObjectId, bytes | memoryview]]) -> None:
    """One object batch: its table, then the stored bytes back to back."""
    write_frame(out, ["objs", [[bytes(oid), memoryview(s).nbytes] for oid, s in items]])
    for _, stored in items:
        out.write(stored)


def batch_table(value: Any) -> list[tuple[ObjectId, int]]:
    """The (id, size) table of an ``["objs", table]`` frame, checked."""
    if not isinstance(value, list) or not value:
        raise StreamLost("malformed object batch: expected a list of [id, size]")
    table: list[tuple[ObjectId, int]] = []
    total = 0
    for entry in value:
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], bytes)
            and len(entry[0]) == DIGEST_SIZE
            and type(entry[1]) is int
            and entry[1] >= 0
        ):
            raise StreamLost("malformed object batch: expected [32-byte id, size] entries")
        total += entry[1]
        table.append((ObjectId(entry[0]), entry[1]))
    if total > MAX_BATCH:
        raise StreamLost(
            f"the remote announced an object batch of {total} bytes; the limit is {MAX_BATCH}"
        )
    return table


#: Pipes to and from ssh are widened to this (Linux's default is 64 KiB, and the most an
#: unprivileged process may ask for is 1 MiB): fewer, larger hand-offs between ssh and us
#: took half a second off a 1 GiB fetch on two CPUs.
PIPE_SIZE = 1 << 20


def widen_pipe(*fds: int) -> None:
    """Ask for PIPE_SIZE buffers on those of ``fds`` that are pipes; a hint, never an error."""
    try:
        import fcntl  # not on Windows
    except ImportError:
        return
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if setsize is None:
        return
    for fd in fds:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setsize, PIPE_SIZE)


class Buffers:
    """Batch buffers used again once every view into them is gone: a bytearray with live
    views cannot grow, which is how we tell. Fresh memory is slow to fill on some virtual
    machines (the host hands it back zeroed, a page at a time); a warm buffer is not."""

    #: Batches larger than this get a buffer of their own, never kept.
    KEEP_MAX = 4 << 20

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep
        self.pool: list[bytearray] = []

    def take(self, size: int) -> bytearray:
        if size > self.KEEP_MAX:
            return bytearray(size)
        for buf in self.pool:
            try:
                buf.append(0)  # BufferError while any view of it lives
            except BufferError:
                continue
            buf.pop()
            return buf
        if len(self.pool) >= self.keep:
            return bytearray(size)  # all in use: a one-off, as large as needed
        buf = bytearray(self.KEEP_MAX)
        self.pool.append(buf)
        return buf


def read_objects(
    inp: IO[bytes], table: list[tuple[ObjectId, int]], buffers: Buffers | None = None
) -> list[tuple[ObjectId, memoryview]]:
    """The bytes of a batch announced by ``table``, read into one buffer (from ``buffers``
    when given) and handed out as views into it."""
    total = sum(size for _, size in table)
    view = memoryview(buffers.take(total) if buffers else bytearray(total))[:total]
    got = 0
    while got < total:
        n = inp.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            raise ConnectionClosed(
                "the connection to the remote closed in the middle of a transfer"
            )
        got += n
    out = []
    pos = 0
    for oid, size in table:
        out.append((oid, view[pos : pos + size]))
        pos += size
    return out


def _read_exact(inp: IO[bytes], n: int) -> bytes:
    chunks = []
    left = n
    while left:
        data = inp.read(left)
        if not data:
            raise ConnectionClosed(
                "the connection to the remote closed in the middle of a transfer"
            )
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)
