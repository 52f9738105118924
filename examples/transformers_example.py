"""Hugging Face Trainer with extract: a tiny GPT-2 built from a config (no download)
learns to copy random token sequences, with evaluation and checkpoints.

    pip install torch 'extract-tracker[transformers]'    # torch as your machine needs
    python examples/transformers_example.py
    extract sql --store examples-store/.extract "SELECT name, version FROM models"
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from _store import example_store
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)

from extract.integrations.transformers import ExtractCallback


class Tokens(torch.utils.data.Dataset):  # type: ignore[misc]
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 64, (n, 32), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def main() -> None:
    config = GPT2Config(
        vocab_size=64,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    store = example_store()
    callback = ExtractCallback(
        experiment={"benchmark": "copy-tokens", "model": "gpt2-tiny"},
        name="hf-gpt2-tiny",
        store=store,
        tags=["example", "transformers"],
        log_checkpoints=True,
    )
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            max_steps=40,
            per_device_train_batch_size=8,
            logging_steps=5,
            eval_strategy="steps",
            eval_steps=20,
            save_steps=20,
            learning_rate=3e-3,
            use_cpu=True,
            report_to="none",
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=GPT2LMHeadModel(config),
            args=args,
            train_dataset=Tokens(256, 0),
            eval_dataset=Tokens(32, 1),
            callbacks=[callback],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    runs = store.experiment({"benchmark": "copy-tokens", "model": "gpt2-tiny"}).list_runs()
    print(f"run {runs[-1]['id']}: {runs[-1]['status']}")
    store.close()


if __name__ == "__main__":
    main()
