"""PyTorch Lightning with extract: a small MLP learns y = sum(x) on synthetic data.

pip install torch lightning 'extract-tracker[lightning]'    # torch as your machine needs
python examples/lightning_example.py
extract sql --store examples-store/.extract "SELECT name, value FROM scalar_metrics"
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import lightning.pytorch as pl
import torch
from _store import example_store

from extract.integrations.lightning import ExtractLogger


class SumModel(pl.LightningModule):  # type: ignore[misc]
    def __init__(self, lr: float = 0.05, hidden: int = 16) -> None:
        super().__init__()
        self.save_hyperparameters()  # -> the run's config
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def training_step(self, batch: Any, idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(512, 4)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    train, val = torch.utils.data.random_split(data, [448, 64])
    store = example_store()
    logger = ExtractLogger(
        experiment={"benchmark": "synthetic-sum", "model": "mlp"},
        name="lightning-mlp",
        store=store,
        config={"samples": 512},
        tags=["example", "lightning"],
        log_model="best",  # the best checkpoint becomes a model version
    )
    trainer = pl.Trainer(
        max_epochs=5, logger=logger, log_every_n_steps=5, enable_progress_bar=False
    )
    trainer.fit(
        SumModel(),
        torch.utils.data.DataLoader(train, batch_size=32, shuffle=True),
        torch.utils.data.DataLoader(val, batch_size=64),
    )
    print(f"run {logger.version}: {dict(store.load_run(logger.version).detail.metrics)}")
    store.close()


if __name__ == "__main__":
    main()
