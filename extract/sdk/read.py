"""Reading results back: curves as numpy, tables by slice, texts, models as files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from extract.errors import ArtifactNotFound, ModelNotFound
from extract.index import query
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
    """A run as stored: live runs read from the index, sealed ones from their objects."""

    def __init__(self, store: Store, run_id: str) -> None:
        store._indexer.refresh()
        self._store = store
        conn = store._conn
        self.id = query.resolve_run(conn, run_id)
        self.info = query.run(conn, self.id)
        oid = self.info.get("object_id")
        self.record = cast(store._repo.objects.get(from_hex(oid)), RunRecord) if oid else None

    @property
    def status(self) -> str:
        return str(self.info["status"])

    def curves(self) -> dict[str, Curve]:
        """Every curve as (steps, values, wall_time) arrays, sorted by step."""
        if self.record is not None:
            return read_curves(self._store._repo.objects, self.record.curves)
        return {name: query.curve(self._store._conn, self.id, name) for name in self.info["curves"]}

    def curve(self, name: str) -> Curve:
        curves = self.curves()
        if name not in curves:
            raise ArtifactNotFound(
                f"run {self.id} has no curve {name!r}; it has: {', '.join(sorted(curves)) or 'none'}"
            )
        return curves[name]

    def _artifact(self, name: str, kind: str, step: int | None) -> dict[str, Any]:
        found = [a for a in self.info["artifacts"] if a["name"] == name and a["kind"] == kind]
        if step is not None:
            found = [a for a in found if a["step"] == step]
        if not found:
            have = sorted({a["name"] for a in self.info["artifacts"] if a["kind"] == kind})
            raise ArtifactNotFound(
                f"run {self.id} has no {kind} {name!r}; it has: {', '.join(have) or 'none'}"
            )
        chosen: dict[str, Any] = found[-1] if step is None else found[0]
        return chosen

    def table(self, name: str, step: int | None = None) -> ArrayReader:
        """A logged table, read lazily: index it (``[100:110]``) to load only those chunks."""
        a = self._artifact(name, "matrix", step)
        return ArrayReader(self._store._repo.objects, from_hex(a["object_id"]))

    def image(self, name: str, step: int | None = None) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """A logged image as H x W x C uint8 pixels (the last one logged, or at ``step``)."""
        return decode(self.image_png(name, step))

    def image_png(self, name: str, step: int | None = None) -> bytes:
        """A logged image as the PNG bytes stored."""
        a = self._artifact(name, "image", step)
        return chunking.read_bytes(self._store._repo.objects, from_hex(a["object_id"]))

    def images(self, name: str) -> list[tuple[int | None, np.ndarray[Any, np.dtype[np.uint8]]]]:
        """Every image logged under ``name``, as (step, pixels), in logging order."""
        return [
            (
                a["step"],
                decode(chunking.read_bytes(self._store._repo.objects, from_hex(a["object_id"]))),
            )
            for a in self.info["artifacts"]
            if a["name"] == name and a["kind"] == "image"
        ]

    def text(self, name: str) -> str:
        a = self._artifact(name, "text", None)
        return chunking.read_bytes(self._store._repo.objects, from_hex(a["object_id"])).decode(
            "utf-8"
        )


def checkout_model(
    store: Store, name: str, version: str, dest: str | Path, force: bool = False
) -> Path:
    """Write model name@version to ``dest`` (a file, or a directory for directory models)."""
    store._indexer.refresh()
    row = query.model(store._conn, name, version)
    if row is None:
        raise ModelNotFound(
            f"Model not found: {f'{name}@{version}'!r}; "
            'see `extract sql "SELECT name, version FROM models"`'
        )
    checkout(store._repo.objects, from_hex(row["content_id"]), Path(dest), force=force)
    return Path(dest)
