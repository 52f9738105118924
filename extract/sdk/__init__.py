"""The tracking SDK: Store, Experiment and Run, as the reference API names them."""

from extract.sdk.run import Run
from extract.sdk.store import Experiment, Store

__all__ = ["Experiment", "Run", "Store"]
