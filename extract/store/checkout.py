"""Writing stored content back out as files: a blob or chunk list as a file, a tree as a directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from extract.errors import InvalidInput
from extract.objects import Blob, ChunkList, ObjectId, Tree, check_entry_name
from extract.store import chunking
from extract.store.odb import ObjectStore


def checkout(
    odb: ObjectStore, oid: ObjectId, dest: Path, force: bool = False, force_name: str = "--force"
) -> int:
    """Materialise ``oid`` at ``dest``; returns bytes written. Written beside ``dest`` and
    renamed into place, so ``dest`` is either absent or complete."""
    dest = Path(dest)
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InvalidInput(f"{dest} already exists; pass {force_name} to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.extract-tmp-{os.getpid()}")
    try:
        n = _write(odb, oid, tmp)
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        elif dest.exists() or dest.is_symlink():
            dest.unlink()
        os.replace(tmp, dest)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise
    return n


def _write(odb: ObjectStore, oid: ObjectId, path: Path) -> int:
    obj = odb.get(oid)
    if isinstance(obj, Tree):
        path.mkdir()
        total = 0
        for name, child in sorted(obj.entries.items()):
            check_entry_name(name)  # again at write time: a hostile tree cannot escape ``path``
            total += _write(odb, child, path / name)
        return total
    if isinstance(obj, Blob | ChunkList):
        with open(path, "wb") as f:
            n = chunking.read_into(odb, oid, f)
            f.flush()
            os.fsync(f.fileno())
        return n
    raise InvalidInput(f"object {oid.hex()[:12]} is a {obj.KIND}, not file or directory content")
