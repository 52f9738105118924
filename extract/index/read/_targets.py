"""What ``extract purge`` and ``Store.purge`` name: runs and model versions, as typed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from extract.errors import InvalidInput, ModelNotFound, RunNotFound
from extract.index.read._registry import get_model, list_models
from extract.index.read._runs import ULID_LENGTH, resolve_run


def resolve_targets(
    conn: sqlite3.Connection, targets: Iterable[object]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Run ids and (name, version) pairs from what a person typed: ``NAME@VERSION`` is a
    model version, anything else a run (id, unique id prefix or name). What the index no
    longer knows (purged before) is passed on as typed where it has the right shape, for
    the store to say whether it was purged or never existed."""
    runs: list[str] = []
    models: list[tuple[str, str]] = []
    for text in targets:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(
                f"{text!r} names nothing: give a run (id, id prefix or name) or NAME@VERSION"
            )
        if "@" in text:
            models.append(_model(conn, text.strip()))
        else:
            runs.append(_run(conn, text.strip()))
    return runs, models


def _model(conn: sqlite3.Connection, text: str) -> tuple[str, str]:
    try:
        m = get_model(conn, text)
        return m.name, m.version
    except ModelNotFound:
        name, _, version = text.rpartition("@")
        if not name or not version:
            raise InvalidInput(
                f"{text!r} is not a model version: write NAME@VERSION (e.g. resnet50@v2)"
            ) from None
        return name, version


def _run(conn: sqlite3.Connection, text: str) -> str:
    try:
        return resolve_run(conn, text, hint=True)
    except RunNotFound:
        versions = sorted(m.version for m in list_models(conn, text).items if m.name == text)
        if versions:
            raise InvalidInput(
                f"{text!r} is a model: name one version, as {text}@VERSION "
                f"(it has {', '.join(versions[:10])})"
            ) from None
        if len(text) == ULID_LENGTH and text.isalnum() and text.isascii():
            return text.upper()  # not indexed: the store says whether it was purged before
        raise
