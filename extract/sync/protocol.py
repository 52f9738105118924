"""The wire format between extract and a remote extract (``extract serve``).

Every message is a frame: a 4-byte big-endian length, then one msgpack value.
Requests are lists headed by a verb; the server answers each with one frame,
``["ok", ...]`` or ``["err", kind, message]``, except ``get``, which streams
``["obj", raw bytes]`` frames and ends with ``["end", count]``, and ``put``,
whose object frames the client streams before the server answers.

Verbs: ``hello`` (versions), ``ls-refs``, ``walk`` (wants, haves -> ids and
sizes), ``has`` (ids -> flags), ``get`` (ids -> objects), ``put`` (objects),
``update-ref`` (name, new, expected; compare-and-swap).
"""

from __future__ import annotations

import struct
from typing import IO, Any

import msgpack

from extract.errors import ExtractError

PROTOCOL_VERSION = 2  # 2: objects travel in stored form, many to a frame
MAX_FRAME = 256 * 1024 * 1024
_LEN = struct.Struct(">I")


class ProtocolError(ExtractError):
    """The other side broke the protocol, went away, or sent something we refuse."""

    exit_code = 6


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


def _read_exact(inp: IO[bytes], n: int) -> bytes:
    chunks = []
    left = n
    while left:
        data = inp.read(left)
        if not data:
            raise ProtocolError("the connection to the remote closed in the middle of a transfer")
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)
