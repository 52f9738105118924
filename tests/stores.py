"""Small real stores for the damage, read-only and full-disk tests, and ways to hurt them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from extract import Store
from extract.objects import ObjectId, RunRecord, to_hex
from extract.objects.kinds import cast
from extract.store import odb as odbmod
from extract.store.history import commit_staged, head_state
from extract.store.pack import Pack
from extract.store.repo import MAIN, Repository
from extract.sync.transport import receive
from extract.sync.walk import objects_to_send

HIERARCHY = ("bench", "model")
RUN_NAMES = ("r0", "r1", "r2", "r3")
POINTS = 20


def make_store(project: Path, names: tuple[str, ...] = RUN_NAMES, message: str = "runs") -> Path:
    """A store in ``project/.extract`` with one committed run per name (20 curve points,
    a headline value; the first also registers a small model). Call with the working
    directory outside this repository (provenance capture reads it)."""
    root = project / ".extract"
    if not (root / "FORMAT").exists():
        Repository.init(root, HIERARCHY)
    model = project / "model.bin"
    model.write_bytes(os.urandom(3000))
    with Store(root) as s:
        for i, name in enumerate(names):
            exp = s.experiment({"bench": "b", "model": f"m{i % 2}"})
            with exp.run(config={"lr": i}, name=name) as run:
                for step in range(POINTS):
                    run.curve(step, loss=1.0 / (step + 1 + i))
                run.log(acc=i / 10)
                if name == "r0":
                    run.register_model("net", "v1", model, framework="numpy")
    commit_staged(Repository(root), message)
    return root


def copy_store(src: Path, project: Path) -> Path:
    """A copy of the project holding store ``src`` (a second store to fetch back from)."""
    shutil.copytree(src, project / ".extract", symlinks=True)
    return project / ".extract"


def run_objects(root: Path) -> dict[str, ObjectId]:
    """Run name -> its run record's id, from main's state."""
    repo = Repository(root)
    _, state = head_state(repo)
    out = {}
    for oid in state.sections["runs"].values():
        out[cast(repo.objects.get(oid), RunRecord).name or ""] = oid
    return out


def packed_copy(src: Path, dest_project: Path, extra_garbage: bool = False) -> Path:
    """A store holding ``src``'s history with every object in one pack (as a large fetch
    leaves it), plus, with ``extra_garbage``, an unreachable object in the same pack."""
    source = Repository(src)
    head = source.refs.read(MAIN)
    assert head is not None
    root = dest_project / ".extract"
    repo = Repository.create(root)
    shutil.copy(source.config_path, repo.config_path)
    order = objects_to_send(source.objects, [head], [])
    items = [(oid, source.objects.get_stored(oid)) for oid in order]
    if extra_garbage:
        with source.writing():  # left unnamed on purpose: garbage the pack carries
            junk = source.objects.put_blob(b"nobody links to this " * 10)
        items.insert(0, (junk, source.objects.get_stored(junk)))
    saved = odbmod.PACK_AFTER
    odbmod.PACK_AFTER = 0  # pack from the first object
    try:
        with repo.writing():  # the objects are unnamed until the ref below names them
            receive(repo.objects, items)
            repo.refs.set(MAIN, head, expected=None, message="test: packed copy")
    finally:
        odbmod.PACK_AFTER = saved
    assert not list(repo.objects.iter_loose_ids())
    return root


def the_pack(root: Path) -> Pack:
    [pack] = Repository(root).objects.packs()
    return pack


def flip_packed_byte(root: Path, oid: ObjectId) -> None:
    """Flip one byte in the middle of ``oid``'s bytes inside its pack."""
    pack = the_pack(root)
    hit = pack.find(oid)
    assert hit is not None, f"{to_hex(oid)} is not packed"
    offset, length = hit
    at = offset + length // 2
    with open(pack.path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))


def truncate_loose(root: Path, oid: ObjectId) -> None:
    path = Repository(root).objects.path_of(oid)
    size = path.stat().st_size
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def remove_loose(root: Path, oid: ObjectId) -> None:
    os.unlink(Repository(root).objects.path_of(oid))
