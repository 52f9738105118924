"""Reading results back: curves as numpy, tables by slice, texts, models as files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from extract.errors import ArtifactNotFound, InvalidInput, ModelNotFound
from extract.index import read
from extract.index.models import Artifact, RunGroup
from extract.objects import RunRecord, from_hex
from extract.objects.kinds import cast
from extract.sdk.images import decode
from extract.store import chunking
from extract.store.arrays import ArrayReader
from extract.store.checkout import checkout
from extract.store.curves import read_curves

if TYPE_CHECKING:
    from extract.sdk.store import Store

Curve = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]


class RunData:
    """A run as stored: ``detail`` is what the index knows (the read layer's ``RunDetail``);
    curves of a sealed run come from its objects, of a live run from the index."""

    def __init__(self, store: Store, run_id: str) -> None:
        if not isinstance(run_id, str):
            raise InvalidInput(f"a run id is a string, got {type(run_id).__name__}: {run_id!r}")
        store._indexer.refresh()
        self._store = store
        self.detail = read.get_run(store._conn, run_id)
        self.id = self.detail.id
        # a run resumed since it was sealed has its curves in several pieces, which the
        # index holds folded: read like a live run's (record None)
        oid = read.single_record(store._conn, self.id)
        self.record = cast(store._repo.objects.get(from_hex(oid)), RunRecord) if oid else None

    @property
    def status(self) -> str:
        return self.detail.run.status

    @property
    def group(self) -> RunGroup | None:
        """The distributed job this run is a rank of, with every rank's run; or None."""
        return self.detail.group

    def curves(self) -> dict[str, Curve]:
        """Every curve as (steps, values, wall_time) arrays, sorted by step."""
        if self.record is not None:
            return read_curves(self._store._repo.objects, self.record.curves)
        out: dict[str, Curve] = {}
        for name, c in read.curves(self._store._conn, self.id).items():
            assert c.wall_times is not None  # whole curves carry them
            out[name] = (c.steps, c.values, c.wall_times)
        return out

    def curve(self, name: str) -> Curve:
        curves = self.curves()
        if name not in curves:
            raise ArtifactNotFound(
                f"run {self.id} has no curve {name!r}; it has: {', '.join(sorted(curves)) or 'none'}"
            )
        return curves[name]

    def _artifact(self, name: str, kind: str, step: int | None) -> Artifact:
        found = read.pick_artifact(self.detail.artifacts, name, kind, step)
        if found is None:
            have = sorted({a.name for a in self.detail.artifacts if a.kind == kind})
            at = "" if step is None else f" at step {step}"
            raise ArtifactNotFound(
                f"run {self.id} has no {kind} {name!r}{at}; it has: {', '.join(have) or 'none'}"
            )
        return found

    def table(self, name: str, step: int | None = None) -> ArrayReader:
        """A logged table, read lazily: index it (``[100:110]``) to load only those chunks."""
        a = self._artifact(name, "matrix", step)
        assert a.object_id is not None
        return ArrayReader(self._store._repo.objects, from_hex(a.object_id))

    def image(self, name: str, step: int | None = None) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """A logged image as H x W x C uint8 pixels (the last one logged, or at ``step``)."""
        return decode(self.image_png(name, step))

    def image_png(self, name: str, step: int | None = None) -> bytes:
        """A logged image as the PNG bytes stored."""
        a = self._artifact(name, "image", step)
        assert a.object_id is not None
        return chunking.read_bytes(self._store._repo.objects, from_hex(a.object_id))

    def images(self, name: str) -> list[tuple[int | None, np.ndarray[Any, np.dtype[np.uint8]]]]:
        """Every image logged under ``name``, as (step, pixels), in logging order."""
        odb = self._store._repo.objects
        return [
            (a.step, decode(chunking.read_bytes(odb, from_hex(a.object_id))))
            for a in self.detail.artifacts
            if a.name == name and a.kind == "image" and a.object_id is not None
        ]

    def text(self, name: str) -> str:
        a = self._artifact(name, "text", None)
        assert a.object_id is not None
        return chunking.read_bytes(self._store._repo.objects, from_hex(a.object_id)).decode("utf-8")


def checkout_model(
    store: Store, name: str, version: str, dest: str | Path, force: bool = False
) -> Path:
    """Write model name@version to ``dest`` (a file, or a directory for directory models)."""
    store._indexer.refresh()
    model = read.get_model(store._conn, name, version, hint=True)
    if model.content_id is None:
        raise ModelNotFound(f"Model not found: {model.key!r}: the index has no content for it")
    checkout(
        store._repo.objects, from_hex(model.content_id), Path(dest), force, force_name="force=True"
    )
    return Path(dest)
