"""Keras 3: ``model.fit(..., callbacks=[ExtractCallback(experiment={...})])``.

- at ``on_train_begin`` the run starts; its config holds ``model`` (``get_config()``),
  ``optimizer`` (its ``get_config()``), ``loss``, ``fit`` (epochs and steps per epoch),
  ``backend`` and your ``config=`` keys;
- every ``log_every_n_batches`` batches (default 1), the batch logs (Keras' running
  means over the epoch so far) become curves against the global batch step: ``loss``,
  ``mae``...;
- every epoch end, the epoch logs become curves against the epoch number, under
  ``epoch/`` (``epoch/loss``, ``epoch/val_loss``...), and the last epoch's values are
  the headline metrics;
- ``on_train_end`` finishes the run as ``completed``. A ``fit`` that raises gets no
  hook from Keras: the run is left live and sealed as ``failed`` by the next extract
  that opens the store after this process ended (or call ``callback.finish("failed")``).

Only rank zero logs (``RANK`` in the environment), unless ``log_all_ranks=True``. A
failure inside the callback warns once and never stops training.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import keras

from extract.integrations._common import StoreArg, Target, finite, guarded, scalars
from extract.sdk import Run

__all__ = ["ExtractCallback"]


class ExtractCallback(keras.callbacks.Callback):
    """A Keras callback that writes one extract run per ``fit``."""

    def __init__(
        self,
        experiment: Mapping[str, str],
        name: str | None = None,
        store: StoreArg = None,
        config: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        log_every_n_batches: int = 1,
        log_all_ranks: bool = False,
        group: str | bool | None = None,
    ) -> None:
        super().__init__()
        if (
            isinstance(log_every_n_batches, bool)
            or not isinstance(log_every_n_batches, int)
            or log_every_n_batches < 0
        ):
            raise ValueError(
                "ExtractCallback: log_every_n_batches must be an int >= 0 (0: epochs only)"
            )
        self._target = Target(
            "ExtractCallback", experiment, name, store, config, tags, log_all_ranks, group
        )
        self._every = log_every_n_batches
        # Counted here: reading the optimizer's iteration counter each batch cost 1.6%
        # of a tiny model's step in the benchmark; counting costs nothing.
        self._step = 0
        self._epoch_logs: dict[str, float] = {}

    @property
    def run(self) -> Run | None:
        return self._target.run

    @guarded
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self._target.logs_here():
            return
        model = self.model
        config: dict[str, Any] = {
            "backend": keras.backend.backend(),
            "fit": dict(self.params or {}),
        }
        for key, read in (
            ("model", lambda: model.get_config()),
            ("optimizer", lambda: model.optimizer.get_config()),
            ("loss", lambda: model.loss),
            ("parameters", lambda: int(model.count_params())),
        ):
            try:  # a model that cannot describe itself still trains, and still logs
                config[key] = read()
            except Exception:
                continue
        params = self.params or {}
        steps = params.get("epochs", 0) * (params.get("steps") or 0)
        self._step = 0
        self._epoch_logs = {}
        self._target.start(config, total_steps=steps or None)

    @guarded
    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        step = self._step
        self._step = step + 1
        run = self._target.run
        if run is None or not logs or not self._every or step % self._every:
            return
        values = scalars(logs)
        if values:
            run.curve(step, **values)

    @guarded
    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        run = self._target.run
        if run is None or not logs:
            return
        values = scalars(logs)
        if values:
            self._epoch_logs = values
            run.curve(int(epoch), **{f"epoch/{k}": v for k, v in values.items()})

    @guarded
    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        run = self._target.run
        if run is None:
            return
        headline = finite(self._epoch_logs or scalars(logs or {}))
        if headline:
            run.log(**headline)
        self._target.finish("completed")

    def finish(self, status: str = "completed") -> None:
        """Finish the run now (after a ``fit`` that raised, say)."""
        self._target.finish(status)
