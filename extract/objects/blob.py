"""A blob's canonical bytes: the one place that knows their layout.

A blob is the map ``{"data": <bin>, "kind": "blob", "v": 1}``. Canonical msgpack sorts
the keys, so its bytes are always::

    83 a4 "data"   c4|c5|c6 <length, 1|2|4 bytes big-endian>   <data>   a4 "kind" a4 "blob" a1 "v" 01
    `-- PREFIX --' `------------- bin header --------------'           `--------------- SUFFIX -------------'

No other kind starts with ``PREFIX`` (a 3-entry map whose first key is "data"). Knowing
this lets a large chunk be hashed and written without copying it into one buffer
(:func:`blob_parts`), and lets fsck, gc and transfers recognise a blob from its first
bytes without reading its data (:func:`data_span`).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "HEAD_SIZE",
    "PREFIX",
    "SUFFIX",
    "DataSpan",
    "bin_header",
    "blob_parts",
    "data_span",
    "is_blob",
]

PREFIX = b"\x83\xa4data"
SUFFIX = b"\xa4kind\xa4blob\xa1v\x01"
#: bin8, bin16 and bin32: the marker and how many bytes of length follow it.
_BIN_WIDTH = {0xC4: 1, 0xC5: 2, 0xC6: 4}
#: How many leading canonical bytes :func:`data_span` needs to see.
HEAD_SIZE = len(PREFIX) + 5


class DataSpan(NamedTuple):
    """Where a blob's data lies in its canonical bytes."""

    start: int  # offset of the first data byte
    length: int  # data bytes

    @property
    def end(self) -> int:
        """The length of the whole canonical form: data, then ``SUFFIX``."""
        return self.start + self.length + len(SUFFIX)


def bin_header(n: int) -> bytes:
    """msgpack's header for ``n`` bytes of binary data, in its smallest form."""
    if n < 2**8:
        return b"\xc4" + n.to_bytes(1, "big")
    if n < 2**16:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def blob_parts(data: bytes | memoryview) -> tuple[bytes, bytes]:
    """Prefix and suffix that surround ``data`` in a blob's canonical bytes.

    Lets large chunks be hashed and written without copying them into one buffer;
    the test suite checks it against ``encode``.
    """
    return PREFIX + bin_header(memoryview(data).nbytes), SUFFIX


def data_span(head: bytes | memoryview) -> DataSpan | None:
    """Where the data lies, if ``head`` (the first ``HEAD_SIZE`` or more canonical bytes of
    an object) starts a blob; else None. The data and the suffix are not looked at."""
    if len(head) <= len(PREFIX) or bytes(head[: len(PREFIX)]) != PREFIX:
        return None
    width = _BIN_WIDTH.get(head[len(PREFIX)])
    start = len(PREFIX) + 1
    if width is None or len(head) < start + width:
        return None
    n = int.from_bytes(head[start : start + width], "big")
    return DataSpan(start + width, n)


def is_blob(raw: bytes | memoryview) -> bool:
    """Whether ``raw`` is exactly a blob's canonical bytes, checked without decoding the
    data: prefix, smallest length header, length, suffix."""
    span = data_span(raw[:HEAD_SIZE])
    return (
        span is not None
        and span.end == len(raw)
        and bytes(raw[-len(SUFFIX) :]) == SUFFIX
        and span.start == len(PREFIX) + len(bin_header(span.length))
    )
