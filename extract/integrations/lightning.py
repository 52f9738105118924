"""PyTorch Lightning: ``Trainer(logger=ExtractLogger(experiment={...}, name=...))``.

- ``log_hyperparams`` (``self.save_hyperparameters()``, or a call of your own, before or
  after training started) goes into the run's config;
- ``log_metrics`` (everything ``self.log`` records) becomes curves against Lightning's
  global step, ``epoch`` included as a curve; at the end, the last value of every metric
  becomes a headline metric;
- ``log_model=True`` registers every checkpoint ``ModelCheckpoint`` saves as a model
  version the moment it is written (top-k rotation deletes files later);
  ``log_model="best"`` registers only the best one, at the end;
- ``finalize`` finishes the run: ``completed``, or ``failed`` when ``fit`` raised.

Only global rank zero logs (Lightning calls the logger on rank zero only); pass
``log_all_ranks=True`` to give every rank a run of its own, grouped by job. A failure
inside the logger warns once and never stops training.

The logger subclasses ``lightning.pytorch.loggers.Logger``; ``pytorch_lightning``'s
Trainer takes it as well (loggers are duck-typed there).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from extract.integrations._common import (
    StoreArg,
    Target,
    finite,
    guarded,
    plain_config,
    scalars,
)
from extract.sdk import Run

__all__ = ["ExtractLogger"]

_STATUS = {"success": "completed", "finished": "completed", "failed": "failed"}


class ExtractLogger(Logger):
    """A Lightning logger that writes one extract run."""

    def __init__(
        self,
        experiment: Mapping[str, str],
        name: str | None = None,
        store: StoreArg = None,
        config: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        log_model: bool | str = False,
        model_name: str | None = None,
        log_all_ranks: bool = False,
        group: str | bool | None = None,
    ) -> None:
        super().__init__()
        if log_model not in (False, True, "best"):
            raise ValueError(
                f"ExtractLogger: log_model must be False, True or 'best', got {log_model!r}"
            )
        self._target = Target(
            "ExtractLogger", experiment, name, store, config, tags, log_all_ranks, group
        )
        self._log_model = log_model
        self._model_name = model_name
        self._hparams: dict[str, Any] = {}
        self._last: dict[str, float] = {}
        self._saved: dict[tuple[str, int], str] = {}  # (path, mtime_ns): version registered
        self._finished = False
        self._unopenable = False  # starting the run failed once: not tried at every step
        self._callback: Any = None
        self._run_id: str | None = None

    # what Lightning reads ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._target.name or "extract"

    @property
    def version(self) -> str:
        """The run id on the logging rank (checkpoints go to ``<name>/<run id>/``)."""
        if self._run_id is None and self._target.logs_here(rank_zero_only.rank):
            run = self._open()
            self._run_id = run.id if run is not None else "extract"
        return self._run_id or "extract"

    @property
    @rank_zero_experiment  # type: ignore[untyped-decorator]
    def experiment(self) -> Run | None:
        """The extract run (opened on first use)."""
        return self._open()

    @property
    def run(self) -> Run | None:
        return self._target.run

    def _open(self) -> Run | None:
        if self._finished:
            # trainer.test() after fit(), say: the run was finished at fit's end
            self._target.warn(
                "log_metrics",
                RuntimeError(
                    "the run finished when fit() ended; give trainer.test() or a second "
                    "fit() a new ExtractLogger to log it"
                ),
            )
            return None
        if self._target.run is None and not self._unopenable:
            try:  # Lightning reads version and experiment outside any hook of ours
                self._target.start(self._hparams)
            except Exception as e:  # no store, say: training goes on without a run
                self._unopenable = True
                self._target.warn("start", e)
        return self._target.run

    # what Lightning calls --------------------------------------------------------------
    @guarded
    def log_hyperparams(
        self, params: dict[str, Any] | argparse.Namespace, *args: Any, **kwargs: Any
    ) -> None:
        if not self._logs_here():
            return
        values = dict(vars(params) if isinstance(params, argparse.Namespace) else params or {})
        if not values:
            return
        self._hparams.update(values)
        if self._target.run is None:
            self._open()  # the first hyperparameters are the run's config at its start
        elif (run := self._open()) is not None:
            run.update_config(plain_config(values))

    @guarded
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if not self._logs_here():
            return
        run = self._open()
        if run is None:
            return
        values = scalars(metrics)
        if not values:
            return
        if step is None:
            run.curve(None, **values)
        else:
            run.curve(int(step), **values)
        self._last.update(values)

    @guarded
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if not self._log_model or not self._logs_here():
            return
        cb = self._callback = checkpoint_callback  # a weak proxy, alive as long as the Trainer
        if self._log_model == "best":
            return  # registered once, at the end
        paths = [
            getattr(cb, "_last_checkpoint_saved", None),
            cb.last_model_path,
            cb.best_model_path,
        ]
        paths.extend(getattr(cb, "best_k_models", {}) or {})
        for path in dict.fromkeys(p for p in paths if p):
            self._register(str(path), cb)

    @guarded
    def finalize(self, status: str) -> None:
        if self._finished or not self._logs_here():
            return
        run = self._target.run
        if run is not None:
            if self._last:
                headline = finite({k: v for k, v in self._last.items() if k != "epoch"})
                if headline:
                    run.log(**headline)
            cb = self._callback
            if self._log_model == "best" and cb is not None and cb.best_model_path:
                self._register(str(cb.best_model_path), cb)
        self._finished = True
        self._target.finish(_STATUS.get(status, "completed"))

    def finish(self, status: str = "completed") -> None:
        """Finish the run now, if Lightning did not (a script's own loop, a notebook)."""
        self._finished = True
        self._target.finish(status)

    # helpers ---------------------------------------------------------------------------
    def _logs_here(self) -> bool:
        return self._target.logs_here(rank_zero_only.rank)

    def _register(self, path: str, cb: Any) -> None:
        run = self._target.run
        if run is None or not os.path.exists(path):
            return
        key = (os.path.abspath(path), os.stat(path).st_mtime_ns)
        if key in self._saved:
            return
        stem = Path(path).stem
        version = f"{run.id}-{stem}"
        taken = set(self._saved.values())
        n = 1
        while version in taken:  # last.ckpt rewritten every epoch: one version each time
            n += 1
            version = f"{run.id}-{stem}-{n}"
        score = getattr(cb, "best_k_models", {}).get(path)
        meta: dict[str, Any] = {"checkpoint": os.path.basename(path)}
        if getattr(cb, "monitor", None):
            meta["monitor"] = str(cb.monitor)
        if score is not None:
            meta["score"] = float(score)
        run.register_model(
            self._model_name or self._target.name or self._target.default_model_name,
            version,
            path,
            metadata=meta,
            framework="pytorch-lightning",
        )
        self._saved[key] = version
