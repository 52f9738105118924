"""Hugging Face ``Trainer``: ``Trainer(..., callbacks=[ExtractCallback(experiment={...})])``.

- at ``on_train_begin`` the run starts, its config holding ``training_args`` (every
  ``TrainingArguments`` field), ``model`` (the model's config) and your ``config=``
  keys; ``total_steps`` is the trainer's ``max_steps``;
- ``on_log`` values become curves against ``state.global_step`` (``loss``,
  ``learning_rate``, ``grad_norm``, ``eval_*``, ``epoch``...); the closing summary
  (``train_runtime``, ``train_loss``...) becomes headline metrics;
- ``on_evaluate`` metrics are curves too, and the latest of each a headline metric;
- ``log_checkpoints=True`` registers each checkpoint directory as a model version as
  it is saved (``save_total_limit`` may delete it later);
- ``on_train_end`` finishes the run as ``completed``. A ``train()`` that raises gets no
  hook from transformers: the run is left live and sealed as ``failed`` by the next
  extract that opens the store after this process ended.

Only the world's process zero logs, unless ``log_all_ranks=True`` (every rank its own
run, grouped by job). A failure inside the callback warns once and never stops training.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from transformers import TrainerCallback

from extract.integrations._common import StoreArg, Target, finite, guarded, plain_config, scalars
from extract.sdk import Run

__all__ = ["ExtractCallback"]

#: Keys of the last ``on_log`` of a training: run totals, not points of a curve.
_SUMMARY = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos")


class ExtractCallback(TrainerCallback):
    """A ``TrainerCallback`` that writes one extract run per ``train()``."""

    def __init__(
        self,
        experiment: Mapping[str, str],
        name: str | None = None,
        store: StoreArg = None,
        config: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        log_checkpoints: bool = False,
        model_name: str | None = None,
        log_all_ranks: bool = False,
        group: str | bool | None = None,
    ) -> None:
        self._target = Target(
            "ExtractCallback", experiment, name, store, config, tags, log_all_ranks, group
        )
        self._log_checkpoints = log_checkpoints
        self._model_name = model_name

    @property
    def run(self) -> Run | None:
        return self._target.run

    def _here(self, state: Any) -> bool:
        return self._target.logs_here(0 if state.is_world_process_zero else 1)

    @guarded
    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if not self._here(state):
            return
        config: dict[str, Any] = {"training_args": args.to_dict()}
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            config["model"] = model_config.to_dict()
        if model is not None and hasattr(model, "num_parameters"):
            config["model_parameters"] = int(model.num_parameters())
        steps = int(state.max_steps) if getattr(state, "max_steps", 0) else None
        self._target.start(config, total_steps=steps)

    @guarded
    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._target.run
        if run is None or not logs or not self._here(state):
            return
        values = scalars(logs)
        if any(k in values for k in _SUMMARY):  # the summary closing a training
            headline = finite({k: v for k, v in values.items() if k != "epoch"})
            if headline:
                run.log(**headline)
            return
        if values:
            run.curve(int(state.global_step), **values)

    @guarded
    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._target.run
        if run is None or not metrics or not self._here(state):
            return
        values = scalars(metrics)
        if not values:
            return
        # on_log has usually logged the same values at the same step: the later point
        # replaces the earlier, so evaluating without logging still gives curves
        run.curve(int(state.global_step), **values)
        headline = finite({k: v for k, v in values.items() if k != "epoch"})
        if headline:
            run.log(**headline)

    @guarded
    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        run = self._target.run
        if run is None or not self._log_checkpoints or not self._here(state):
            return
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if not os.path.isdir(path):
            return
        meta: dict[str, Any] = {"global_step": int(state.global_step), "epoch": state.epoch}
        if state.best_metric is not None:
            meta["best_metric"] = float(state.best_metric)
        run.register_model(
            self._model_name or self._target.default_model_name,
            f"{run.id}-checkpoint-{state.global_step}",
            path,
            metadata=plain_config(meta),
            framework="transformers",
        )

    @guarded
    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._here(state):
            self._target.finish("completed")

    def finish(self, status: str = "completed") -> None:
        """Finish the run now (after a ``train()`` that raised, say)."""
        self._target.finish(status)
