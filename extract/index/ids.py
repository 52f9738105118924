"""Ids the index derives from names, identical on every machine so merges agree."""

from __future__ import annotations

import blake3

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _crockford(digest: bytes) -> str:
    n = int.from_bytes(digest[:16], "big")
    out = []
    for _ in range(26):
        out.append(_ALPHABET[n & 31])
        n >>= 5
    return "".join(reversed(out))


def experiment_id(path: str) -> str:
    """26 characters, like a ULID, from the experiment's path."""
    return _crockford(blake3.blake3(b"experiment\x00" + path.encode("utf-8")).digest())


def model_id(name: str, version: str) -> str:
    return _crockford(blake3.blake3(b"model\x00" + f"{name}@{version}".encode()).digest())
