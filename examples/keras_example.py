"""Keras 3 (torch backend) with extract: a small dense network learns y = sum(x).

pip install torch 'extract-tracker[keras]'    # torch as your machine needs
python examples/keras_example.py
extract sql --store examples-store/.extract "SELECT name, COUNT(*) FROM curve_points GROUP BY name"
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")

import keras
import numpy as np
from _store import example_store

from extract.integrations.keras import ExtractCallback


def main() -> None:
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(1024, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    store = example_store()
    callback = ExtractCallback(
        experiment={"benchmark": "synthetic-sum", "model": "keras-dense"},
        name="keras-dense",
        store=store,
        tags=["example", "keras"],
    )
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=0, callbacks=[callback])
    runs = store.experiment({"benchmark": "synthetic-sum", "model": "keras-dense"}).list_runs()
    print(f"run {runs[-1]['id']}: {runs[-1]['status']}")
    store.close()


if __name__ == "__main__":
    main()
