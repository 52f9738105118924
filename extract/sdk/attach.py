"""What a run attaches besides its buffered points: config set late, artifacts (tables,
texts, images), annotations, model versions and lineage.

Each of these is one durable journal record written at once (``Run._record``), and
those that name stored content write the object first, under the writer lock. ``Run``
takes these methods from ``Attachments``; the buffered points, the journal and the
run's life are in sdk/run.py.
"""

from __future__ import annotations

import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from extract.errors import InvalidInput, PathNotFound
from extract.index.ids import model_id
from extract.objects import ModelVersion, ObjectId, Tree, new_ulid
from extract.sdk.images import encode_png, to_pixels
from extract.sdk.values import INT64_MAX, INT64_MIN, plain, text
from extract.store import chunking
from extract.store.arrays import write_array
from extract.store.history import model_key, now_iso
from extract.store.odb import ObjectStore
from extract.tracking.records import Artifact, Config, Lineage, Model, Note, Record, Tag, Todo

if TYPE_CHECKING:
    from extract.sdk.store import Store
    from extract.store.repo import Repository

PRIORITIES = (0, 1, 2)


def check_step(step: Any, what: str = "curve()") -> int:
    """A step as the journal takes it: an int (numpy's too) that fits in 64 bits."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"{what}: step must be an int, got {type(step).__name__} {step!r}")
    n = int(step)
    if not INT64_MIN <= n <= INT64_MAX:
        raise ValueError(f"{what}: step {n} does not fit in 64 bits")
    return n


class Attachments(ABC):
    """The durable, unbuffered part of a run's API (mixed into ``Run``)."""

    id: str
    _store: Store
    _repo: Repository

    @abstractmethod
    def _check_open(self, what: str) -> bool:
        """True (after a warning) if the run was ended for the process; raises if finished."""

    @abstractmethod
    def _record(self, rec: Record) -> None:
        """Write one record to the journal, durably."""

    def update_config(self, values: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Set config keys after the start, for hyperparameters a framework reports late
        (Lightning's ``log_hyperparams``): each key replaces the top-level key of that name
        in the run's config, or adds it. Written at once, like a tag."""
        if self._check_open("update_config"):
            return
        if values is not None and not isinstance(values, dict):
            raise TypeError(
                f"update_config(): values must be a dict or None, got {type(values).__name__}"
            )
        merged = {**(values or {}), **kwargs}
        if merged:
            self._record(Config(plain(merged, "update_config(): values")))

    # artifacts -----------------------------------------------------------------
    def log_table(
        self,
        name: str,
        data: np.ndarray[Any, Any],
        step: int | None = None,
        axes: dict[str, str] | None = None,
    ) -> None:
        """A numpy array, stored chunked so a slice of it can be read without the rest."""
        if self._check_open("log_table"):
            return
        _check_name("log_table", name)
        if not isinstance(data, np.ndarray):
            raise TypeError(f"log_table(): data must be a numpy array, got {type(data).__name__}")
        if step is not None:
            step = check_step(step, "log_table()")
        if axes is not None and not isinstance(axes, dict):
            raise TypeError(
                f"log_table(): axes must be a dict such as {{'rows': 'task'}}, got {type(axes).__name__}"
            )
        plain_axes = plain(axes, "log_table(): axes") if axes else None
        self._attach(
            name,
            "matrix",
            lambda objects: write_array(objects, data),
            step=step,
            shape=tuple(int(s) for s in data.shape),
            dtype=data.dtype.newbyteorder("=").str
            if data.dtype.byteorder == ">"
            else data.dtype.str,
            metadata={"axes": plain_axes} if plain_axes else None,
        )

    def log_text(self, name: str, content: str) -> None:
        """A markdown text attached to the run."""
        if self._check_open("log_text"):
            return
        _check_name("log_text", name)
        if not isinstance(content, str):
            raise TypeError(f"log_text(): content must be a str, got {type(content).__name__}")
        text(content, "log_text(): content")
        self._attach(
            name, "text", lambda objects: chunking.write_bytes(objects, content.encode("utf-8"))
        )

    def _attach(
        self,
        name: str,
        kind: str,
        write: Callable[[ObjectStore], ObjectId],
        *,
        step: int | None = None,
        shape: tuple[int, ...] | None = None,
        dtype: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Store an artifact's object, then the journal record that names it. Both under
        the writer lock, and the object synced first: until the record is durable the
        object is unnamed, and gc must not sweep it nor a crash leave a record without it."""
        with self._repo.writing():
            oid = write(self._repo.objects)
            self._repo.objects.sync()
            self._record(
                Artifact(
                    id=new_ulid(),
                    name=name,
                    kind=kind,
                    step=step,
                    object=oid,
                    shape=shape,
                    dtype=dtype,
                    metadata=metadata,
                    created_at=now_iso(),
                )
            )

    def log_image(self, name: str, image: Any, step: int | None = None) -> None:
        """An image (numpy H x W, H x W x 3 or H x W x 4, uint8 or float in [0, 1], or a
        PIL image), stored as a PNG: artifact kind ``image``, read back with
        ``RunData.image(name, step)``. Encoding is in sdk/images.py."""
        if self._check_open("log_image"):
            return
        _check_name("log_image", name)
        if step is not None:
            step = check_step(step, "log_image()")
        pixels = to_pixels(image)
        png = encode_png(pixels)
        self._attach(
            name,
            "image",
            lambda objects: chunking.write_bytes(objects, png),
            step=step,
            shape=tuple(int(n) for n in pixels.shape),
            dtype="uint8",
            metadata={"format": "png"},
        )

    # annotations -----------------------------------------------------------------
    def tag(self, *tags: str) -> None:
        if self._check_open("tag"):
            return
        for t in tags:
            if not isinstance(t, str) or not t.strip():
                raise TypeError(f"tag(): tags must be non-empty strings, got {t!r}")
            text(t, "tag(): a tag")
        if tags:
            self._record(Tag(tuple(tags)))

    def note(self, content: str) -> None:
        if self._check_open("note"):
            return
        if not isinstance(content, str):
            raise TypeError(f"note(): content must be a str, got {type(content).__name__}")
        self._record(Note(text(content, "note(): content")))

    def todo(self, content: str, priority: int = 0) -> None:
        if self._check_open("todo"):
            return
        check_todo(content, priority)
        self._record(Todo(new_ulid(), content, priority, now_iso()))

    # models and lineage ------------------------------------------------------------
    def register_model(
        self,
        name: str,
        version: str,
        path: str | os.PathLike[str],
        metadata: dict[str, Any] | None = None,
        framework: str = "pytorch",
    ) -> None:
        """Store a model file or directory as name@version. The same bytes are stored once."""
        if self._check_open("register_model"):
            return
        for label, part in (("name", name), ("version", version)):
            if isinstance(part, str):
                text(part, f"register_model(): {label}")
        key = model_key(name, version)
        self._store._check_model_free(name, version)
        src = Path(path)
        if not src.exists():
            raise PathNotFound(f"register_model(): {src} does not exist")
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(
                f"register_model(): metadata must be a dict or None, got {type(metadata).__name__}"
            )
        if not isinstance(framework, str):
            raise TypeError("register_model(): framework must be a string")
        text(framework, "register_model(): framework")
        # All checked before a byte of the model is stored.
        meta = {
            "source_path": text(str(src.resolve()), "register_model(): path"),
            **(plain(metadata, "register_model(): metadata") if metadata else {}),
        }
        # One write transaction: chunks, tree and version are unnamed until the journal
        # record is durable.
        with self._repo.writing():
            content, size = _store_path(self._store, src)
            mv = ModelVersion(
                name=name,
                version=version,
                framework=framework,
                metadata=meta,
                content=content,
                size=size,
                run=self.id,
                created_at=now_iso(),
            )
            oid = self._repo.objects.put(mv)
            self._repo.objects.sync()
            self._store._claim_model(name, version, oid)
            self._record(Model(key, oid))

    def derived_from(
        self, run: str | None = None, model: str | None = None, version: str | None = None
    ) -> None:
        """This run derives from another run (by id) or a model (name and version, or model id)."""
        if self._check_open("derived_from"):
            return
        if (run is None) == (model is None):
            raise ValueError("derived_from() takes exactly one of run= or model= (with version=)")
        if run is not None:
            _check_id("derived_from", "run", run)
            target = ("run", run)
        else:
            assert model is not None
            _check_id("derived_from", "model", model)
            if version is not None:
                # The parent is the model's id (its name and version hashed, as the registry
                # names it), whether or not this store has the model yet. The name and
                # version travel with the edge so a model never seen here still reads
                # ``name@version`` (``read`` labels it from this metadata).
                text(version, "derived_from(): version", empty=False)
                self._lineage(
                    "derived_from",
                    "model",
                    model_id(model, version),
                    {"name": model, "version": version},
                )
                return
            target = ("model", model)
        self._lineage("derived_from", *target)

    def branched_from(self, experiment: str | None = None, run: str | None = None) -> None:
        """This run branches from an experiment or another run (by id)."""
        if self._check_open("branched_from"):
            return
        if (experiment is None) == (run is None):
            raise ValueError("branched_from() takes exactly one of experiment= or run=")
        kind, value = ("experiment", experiment) if experiment is not None else ("run", run)
        assert value is not None
        _check_id("branched_from", kind, value)
        self._lineage("branched_from", kind, value)

    def _lineage(
        self, relation: str, kind: str, target: str, metadata: dict[str, str] | None = None
    ) -> None:
        self._record(Lineage(relation, kind, target, metadata, now_iso()))


def _check_name(what: str, name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"{what}(): name must be a non-empty string, got {name!r}")
    text(name, f"{what}(): name")


def _check_id(what: str, kind: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{what}(): {kind} must be a non-empty string id, got {value!r}")
    text(value, f"{what}(): {kind}")


def check_todo(content: Any, priority: Any) -> None:
    if not isinstance(content, str) or not content.strip():
        raise TypeError(f"todo(): content must be a non-empty string, got {content!r}")
    text(content, "todo(): content")
    if isinstance(priority, bool) or priority not in PRIORITIES:
        raise ValueError(f"todo(): priority must be 0 (low), 1 (mid) or 2 (high), got {priority!r}")


def _store_path(
    store: Store, src: Path, seen: frozenset[Path] = frozenset()
) -> tuple[ObjectId, int]:
    """A file as chunked content, a directory as a tree; (id, total bytes)."""
    repo = store._repo
    real = src.resolve()
    if real in seen:
        raise InvalidInput(
            f"register_model(): {src} links back to {real}, a directory being stored"
        )
    if src.is_symlink():
        src = src.resolve()
    if src.is_file():
        return chunking.write_file(
            repo.objects, src, cache_dir=repo.cache_dir / "content"
        ), src.stat().st_size
    if src.is_dir():
        entries: dict[str, ObjectId] = {}
        total = 0
        for child in sorted(src.iterdir()):
            if child.is_symlink() and not child.exists():
                continue
            oid, n = _store_path(store, child, seen | {real})
            entries[child.name] = oid
            total += n
        return repo.objects.put(Tree(entries)), total
    raise InvalidInput(f"register_model(): {src} is neither a file nor a directory")
