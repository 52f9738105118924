"""ULIDs: 48-bit millisecond time + 80 random bits, Crockford base32, sortable by time.

Within one process, ids made in the same millisecond increase monotonically, so
events logged in a tight loop keep their order.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = (0, 0)


def _encode(n: int) -> str:
    out = []
    for _ in range(26):
        out.append(_ALPHABET[n & 31])
        n >>= 5
    return "".join(reversed(out))


def new_ulid(now_ms: int | None = None) -> str:
    """A new ULID. With ``now_ms`` (tests, imports of old data) it is made for that time
    and leaves the process's monotonic sequence alone."""
    global _last
    if now_ms is not None:
        return _encode((now_ms << 80) | int.from_bytes(os.urandom(10), "big"))
    ms = int(time.time() * 1000)
    with _lock:
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
            if rand >= 1 << 80:  # 2**80 ids in one millisecond: borrow the next one
                ms, rand = ms + 1, int.from_bytes(os.urandom(10), "big") >> 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last = (ms, rand)
    return _encode((ms << 80) | rand)


def new_ulid_after(prev: str | None) -> str:
    """A new ULID that sorts after ``prev``, even on a machine whose clock is behind the
    one that made ``prev`` (then it is ``prev`` + 1)."""
    made = new_ulid()
    if prev is None or made > prev:
        return made
    n = 0
    for ch in prev:
        n = (n << 5) | _ALPHABET.index(ch)
    return _encode(n + 1)


def ulid_time_ms(ulid: str) -> int:
    n = 0
    for ch in ulid:
        n = (n << 5) | _ALPHABET.index(ch)
    return n >> 80
