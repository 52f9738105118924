"""What every framework integration shares: where it logs, which rank logs, how a
framework's values become curve points, and a hook failure that warns once.

Trainers call their loggers from inside the training loop, so nothing here may raise
into it: a store that cannot be written, a value the SDK refuses, a bug of ours, all
become one ``RuntimeWarning`` per integration object, and training goes on.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from extract.sdk import Run, Store
from extract.sdk.jobs import job_rank
from extract.sdk.values import number

P = ParamSpec("P")
R = TypeVar("R")

StoreArg = Store | str | os.PathLike[str] | None


class Target:
    """Where an integration logs: the arguments every integration takes, and the run it
    opens on first use (rank zero only, unless ``log_all_ranks``)."""

    def __init__(
        self,
        owner: str,
        experiment: Mapping[str, str],
        name: str | None,
        store: StoreArg,
        config: Mapping[str, Any] | None,
        tags: Iterable[str],
        log_all_ranks: bool,
        group: str | bool | None,
    ) -> None:
        if not isinstance(experiment, Mapping) or not experiment:
            raise TypeError(
                f"{owner}: experiment= must be the dict store.experiment() takes, e.g. "
                "{'benchmark': 'mnist', 'model': 'mlp'}"
            )
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"{owner}: config= must be a dict or None")
        if isinstance(tags, str):
            tags = (tags,)
        self.owner = owner
        self.experiment = dict(experiment)
        self.name = name
        self.store_arg = store
        self.config = dict(config or {})
        self.tags = tuple(tags)
        self.log_all_ranks = log_all_ranks
        self.group = group
        self.run: Run | None = None
        self.store: Store | None = None
        self._own_store = False
        self._warned = False

    @property
    def default_model_name(self) -> str:
        """The name checkpoints are registered under: the run's name, else the deepest
        experiment level's value."""
        return self.name or list(self.experiment.values())[-1]

    def logs_here(self, rank: int | None = None) -> bool:
        """Whether this process logs: rank zero, or every rank with ``log_all_ranks``."""
        return self.log_all_ranks or (job_rank() if rank is None else rank) == 0

    def start(self, config: Mapping[str, Any] | None = None, total_steps: int | None = None) -> Run:
        """The run, opened now if it is not yet (``config`` under the user's own keys)."""
        if self.run is not None:
            return self.run
        store = self.store_arg
        if not isinstance(store, Store):
            store = Store() if store is None else Store(Path(store))
            self._own_store = True
        self.store = store
        exp = store.experiment(self.experiment)
        full = {**plain_config(config or {}), **plain_config(self.config)}
        self.run = exp.run(
            config=full or None, name=self.name, total_steps=total_steps, group=self.group
        )
        if self.tags:
            self.run.tag(*self.tags)
        return self.run

    def finish(self, status: str) -> None:
        run, self.run = self.run, None
        if run is not None:
            run.finish(status)
        if self._own_store and self.store is not None:
            self.store.close()
            self.store = None

    def warn(self, hook: str, error: BaseException) -> None:
        """Once per integration object: later failures are silent, training goes on."""
        if self._warned:
            return
        self._warned = True
        warnings.warn(
            f"extract: {self.owner}.{hook} failed ({type(error).__name__}: {error}); "
            "training goes on, and further extract failures of this logger are not reported",
            RuntimeWarning,
            stacklevel=3,
        )


def guarded(method: Callable[P, R]) -> Callable[P, R | None]:
    """A hook that warns once (through ``self._target``) instead of raising into the
    training loop."""

    @functools.wraps(method)
    def hook(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return method(*args, **kwargs)
        except Exception as e:
            target: Target = args[0]._target  # type: ignore[attr-defined]
            target.warn(method.__name__, e)
            return None

    return hook


def scalars(values: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, float]:
    """The numbers of a framework's metrics dict (floats, ints, numpy, torch or jax
    scalars), as floats; strings, lists, bools and the keys in ``skip`` left out."""
    out: dict[str, float] = {}
    skipped = set(skip)
    for k, v in values.items():
        if k in skipped or isinstance(v, bool | str | bytes):
            continue
        if type(v) is float:
            out[k] = v
            continue
        try:
            out[k] = float(number("metrics", k, v, allow_bool=False))
        except (TypeError, ValueError):
            continue
    return out


def finite(values: Mapping[str, float]) -> dict[str, float]:
    """Headline values worth keeping (NaN or Inf make a poor final metric)."""
    return {k: v for k, v in values.items() if math.isfinite(v)}


def plain_config(value: Any, depth: int = 0) -> Any:
    """A framework's config as values the store keeps: numbers, strings, lists and maps
    as they are, numpy/torch scalars unwrapped, anything else (a dtype, a class, a
    module) as its ``str``, so an odd hyperparameter never refuses the whole config."""
    if depth > 32:
        return str(value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        n = int(value)
        return n if -(2**63) <= n < 2**63 else str(n)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): plain_config(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_config(v, depth + 1) for v in value]
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        try:
            return plain_config(item(), depth + 1)
        except Exception:
            pass
    try:
        text = str(value)
        text.encode("utf-8")
        return text
    except Exception:
        return f"<{type(value).__name__}>"
