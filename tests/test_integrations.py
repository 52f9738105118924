"""Real trainings with the real frameworks, on the CPU, logged through the integrations.

A tiny Lightning module for 2 epochs, a Hugging Face ``Trainer`` on a GPT-2 built from a
config (no download) with evaluation and checkpoints, a Keras 3 model on the torch
backend for 2 epochs, and a 2-process ``torchrun`` job whose ranks are grouped. Each
checks what the run holds through ``extract sql`` (the real command) and the SDK.

Marked ``integrations``: they need the ``[integrations]`` extra (``.ci/run`` installs it
with ``-c ci/constraints.txt`` and runs them in one pytest process, since importing
torch and the frameworks costs more than the trainings), and each skips without its
framework. Importing all of them once takes 10-20 s here; every training takes < 1 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

# Before any framework is imported: the backend of Keras is fixed at its first import,
# and more than one OpenMP thread on a shared 2-core machine makes tiny models crawl.
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from extract.sdk import Store
from extract.store.repo import Repository
from tests.cli import REPO, extract

pytestmark = pytest.mark.integrations

EXPERIMENT = {"benchmark": "synthetic", "model": "tiny"}


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    Repository.init(tmp_path / ".extract", ("benchmark", "model"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / ".extract"


def sql(store: Path, query: str) -> list[dict[str, Any]]:
    r = extract("sql", "--store", str(store), "--format", "json", query, cwd=store.parent)
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, Any]] = json.loads(r.stdout)
    return rows


def only_run(store: Path) -> dict[str, Any]:
    rows = sql(store, "SELECT id, name, status, config, total_steps FROM runs")
    assert len(rows) == 1, rows
    return rows[0]


def torch_single_thread() -> Any:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch


def fit_linear(logger: Any, epochs: int, root: Path) -> Any:
    """Fit a one-layer Lightning model on 8 random samples (2 steps an epoch) with
    ``logger``, recording warnings; (trainer, warning messages)."""
    torch = torch_single_thread()
    pl = pytest.importorskip("lightning.pytorch")

    class Lin(pl.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, idx: int) -> Any:
            loss = self.lin(batch[0]).pow(2).mean()
            self.log("loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=logger,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=root / "pl",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(Lin(), loader)
    return trainer, [str(w.message) for w in caught]


# --- Lightning ----------------------------------------------------------------------


def test_lightning_logger_records_config_curves_headline_status_and_checkpoints(
    store_path: Path, tmp_path: Path
) -> None:
    torch = torch_single_thread()
    pl = pytest.importorskip("lightning.pytorch")
    from extract.integrations.lightning import ExtractLogger

    class Tiny(pl.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(self, lr: float = 0.05, hidden: int = 8) -> None:
            super().__init__()
            self.save_hyperparameters()
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

    x = torch.randn(64, 4)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=16)
    logger = ExtractLogger(
        experiment=EXPERIMENT,
        name="pl-run",
        store=store_path,
        config={"dataset": "sum-of-4"},
        tags=["lightning"],
        log_model=True,
    )
    trainer = pl.Trainer(
        max_epochs=2,
        logger=logger,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path / "pl",
        num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's own advice on workers and the like
        trainer.fit(Tiny(hidden=8), loader, loader)

    run = only_run(store_path)
    assert run["name"] == "pl-run" and run["status"] == "completed"
    # hyperparameters arrived after the run started: they are in its config all the same
    assert json.loads(run["config"]) == {"dataset": "sum-of-4", "lr": 0.05, "hidden": 8}
    curves = sql(
        store_path,
        f"SELECT name, COUNT(*) AS n, MIN(step) AS lo, MAX(step) AS hi FROM curve_points "
        f"WHERE run_id = '{run['id']}' GROUP BY name ORDER BY name",
    )
    by_name = {c["name"]: c for c in curves}
    assert set(by_name) == {"epoch", "train_loss_epoch", "train_loss_step", "val_loss"}
    assert (by_name["train_loss_step"]["n"], by_name["train_loss_step"]["lo"]) == (8, 0)
    assert by_name["train_loss_step"]["hi"] == 7
    assert by_name["val_loss"]["n"] == 2 and by_name["train_loss_epoch"]["n"] == 2
    headline = {
        r["name"]: r["value"]
        for r in sql(
            store_path, f"SELECT name, value FROM scalar_metrics WHERE run_id = '{run['id']}'"
        )
    }
    assert set(headline) == {"train_loss_epoch", "train_loss_step", "val_loss"}
    models = sql(store_path, "SELECT name, version, framework, run_id FROM models ORDER BY version")
    assert models and all(m["run_id"] == run["id"] for m in models)
    assert models[0]["name"] == "pl-run" and models[0]["framework"] == "pytorch-lightning"
    assert any("epoch=1-step=8" in m["version"] for m in models)

    with Store(store_path) as store:
        data = store.load_run(run["id"])
        assert data.status == "completed"
        assert data.record is not None and data.record.config["lr"] == 0.05
        assert "lightning" in data.record.tags
        steps, values, _ = data.curve("val_loss")
        assert steps.tolist() == [3, 7]
        assert values[-1] == pytest.approx(headline["val_loss"])
        out = store.checkout_model(models[-1]["name"], models[-1]["version"], tmp_path / "ckpt")
        assert torch.load(out, weights_only=False)["epoch"] in (0, 1)


def test_lightning_failure_inside_the_logger_warns_once_and_training_goes_on(
    store_path: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightning.pytorch")
    from extract.integrations.lightning import ExtractLogger

    logger = ExtractLogger(experiment=EXPERIMENT, store=store_path)
    logger.experiment.finish()  # the run is finished under it: every later write fails
    trainer, caught = fit_linear(logger, 2, tmp_path)
    ours = [m for m in caught if "extract: ExtractLogger" in m]
    assert len(ours) == 1, ours
    assert trainer.global_step == 4  # trained to the end


# --- Hugging Face transformers ------------------------------------------------------


def test_transformers_callback_records_args_model_config_curves_eval_and_checkpoints(
    store_path: Path, tmp_path: Path
) -> None:
    torch = torch_single_thread()
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from extract.integrations.transformers import ExtractCallback

    config = transformers.GPT2Config(
        vocab_size=64,
        n_positions=16,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = transformers.GPT2LMHeadModel(config)

    class Tokens(torch.utils.data.Dataset):  # type: ignore[name-defined,misc]
        def __init__(self, n: int) -> None:
            self.ids = torch.randint(0, 64, (n, 16), generator=torch.Generator().manual_seed(n))

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": self.ids[i], "labels": self.ids[i]}

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "hf"),
        max_steps=6,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=3,
        save_steps=3,
        learning_rate=1e-3,
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
        seed=0,
    )
    callback = ExtractCallback(
        experiment=EXPERIMENT,
        name="hf-run",
        store=store_path,
        config={"corpus": "random"},
        log_checkpoints=True,
    )
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=Tokens(24),
        eval_dataset=Tokens(8),
        callbacks=[callback],
    )
    trainer.remove_callback(transformers.PrinterCallback)
    trainer.train()

    run = only_run(store_path)
    assert (run["name"], run["status"], run["total_steps"]) == ("hf-run", "completed", 6)
    config_back = json.loads(run["config"])
    assert config_back["corpus"] == "random"
    assert config_back["training_args"]["learning_rate"] == 1e-3
    assert config_back["training_args"]["max_steps"] == 6
    assert config_back["model"]["n_embd"] == 16 and config_back["model"]["model_type"] == "gpt2"
    points = sql(
        store_path,
        f"SELECT name, step FROM curve_points WHERE run_id = '{run['id']}' ORDER BY name, step",
    )
    steps: dict[str, list[int]] = {}
    for p in points:
        steps.setdefault(p["name"], []).append(p["step"])
    assert steps["loss"] == [2, 4, 6]
    assert steps["eval_loss"] == [3, 6]
    assert "learning_rate" in steps and "epoch" in steps
    assert "train_runtime" not in steps  # the closing summary is headline, not a curve
    headline = {
        r["name"]
        for r in sql(store_path, f"SELECT name FROM scalar_metrics WHERE run_id = '{run['id']}'")
    }
    assert {"eval_loss", "train_loss", "train_runtime"} <= headline
    models = sql(store_path, "SELECT name, version, framework FROM models ORDER BY version")
    assert [m["version"].rsplit("-", 1)[-1] for m in models] == ["3", "6"]
    assert all(m["framework"] == "transformers" and m["name"] == "hf-run" for m in models)

    with Store(store_path) as store:
        data = store.load_run(run["id"])
        eval_steps, eval_values, _ = data.curve("eval_loss")
        assert eval_steps.tolist() == [3, 6]
        assert data.record is not None
        assert data.record.metrics["eval_loss"]["value"] == pytest.approx(eval_values[-1])
        out = store.checkout_model(models[-1]["name"], models[-1]["version"], tmp_path / "back")
        assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()


# --- Keras 3 ------------------------------------------------------------------------


def test_keras_callback_records_config_batch_and_epoch_curves_and_headline(
    store_path: Path,
) -> None:
    torch_single_thread()
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend first")
    import numpy as np

    from extract.integrations.keras import ExtractCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(60, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    cb = ExtractCallback(experiment=EXPERIMENT, name="keras-run", store=store_path, tags=["keras"])
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0, callbacks=[cb])

    run = only_run(store_path)
    assert (run["name"], run["status"], run["total_steps"]) == ("keras-run", "completed", 6)
    config_back = json.loads(run["config"])
    assert config_back["backend"] == "torch" and config_back["loss"] == "mse"
    assert config_back["optimizer"]["name"] == "adam"
    assert config_back["optimizer"]["learning_rate"] == pytest.approx(0.01)
    assert config_back["fit"]["epochs"] == 2 and config_back["fit"]["steps"] == 3
    assert [layer["class_name"] for layer in config_back["model"]["layers"]][-1] == "Dense"
    counts = {
        r["name"]: (r["n"], r["hi"])
        for r in sql(
            store_path,
            f"SELECT name, COUNT(*) AS n, MAX(step) AS hi FROM curve_points "
            f"WHERE run_id = '{run['id']}' GROUP BY name",
        )
    }
    assert counts["loss"] == (6, 5) and counts["mae"] == (6, 5)  # 3 batches (48 of 60) x 2 epochs
    assert counts["epoch/loss"] == (2, 1) and counts["epoch/val_loss"] == (2, 1)
    headline = {
        r["name"]: r["value"]
        for r in sql(
            store_path, f"SELECT name, value FROM scalar_metrics WHERE run_id = '{run['id']}'"
        )
    }
    assert set(headline) == {"loss", "mae", "val_loss", "val_mae"}
    with Store(store_path) as store:
        data = store.load_run(run["id"])
        _, values, _ = data.curve("epoch/val_loss")
        assert values[-1] == pytest.approx(headline["val_loss"])


# --- one job, two ranks ---------------------------------------------------------------

DDP_SCRIPT = """
import os, sys
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch, torch.distributed as dist
from extract.sdk import Store

dist.init_process_group("gloo")
rank = dist.get_rank()
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
store = Store(sys.argv[1])
with store.experiment({"benchmark": "synthetic", "model": "ddp"}).run(name=f"ddp-{rank}") as run:
    for step in range(5):
        x = torch.randn(8, 4)
        loss = model(x).pow(2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        run.curve(loss=loss)  # a tensor, no .item(); no step: 0, 1, 2...
store.close()
dist.destroy_process_group()
"""


def test_torchrun_ranks_are_one_group(store_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("EXTRACT_GROUP", None)
    r = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", str(script), str(store_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = sql(
        store_path,
        "SELECT r.name, r.status, g.value AS grp, k.value AS rank, w.value AS world "
        "FROM runs r JOIN run_params g ON g.run_id = r.id AND g.name = 'group' "
        "JOIN run_params k ON k.run_id = r.id AND k.name = 'rank' "
        "JOIN run_params w ON w.run_id = r.id AND w.name = 'world_size' ORDER BY r.name",
    )
    assert [(x["name"], x["rank"], x["world"], x["status"]) for x in rows] == [
        ("ddp-0", "0", "2", "completed"),
        ("ddp-1", "1", "2", "completed"),
    ]
    assert rows[0]["grp"] == rows[1]["grp"] and rows[0]["grp"].startswith("torchrun:")
    counts = sql(
        store_path,
        "SELECT run_id, COUNT(*) AS n, MAX(step) AS hi FROM curve_points WHERE name = 'loss' GROUP BY run_id",
    )
    assert [(c["n"], c["hi"]) for c in counts] == [(5, 4), (5, 4)]
    # the job as every front end shows it: its ranks, in rank order, from either run
    ids = [r["id"] for r in sql(store_path, "SELECT id FROM runs ORDER BY name")]
    with Store(store_path) as store:
        group = store.load_run(ids[0]).group
        assert group is not None and group.name == rows[0]["grp"] and group.world_size == 2
        assert [(m.rank, m.name, m.status) for m in group.members] == [
            (0, "ddp-0", "completed"),
            (1, "ddp-1", "completed"),
        ]
        assert store.load_run(ids[1]).group == group


LIGHTNING_DDP_SCRIPT = """
import os, sys, warnings
warnings.simplefilter("ignore")
import torch
import lightning.pytorch as pl
from extract.integrations.lightning import ExtractLogger

class Tiny(pl.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.lin = torch.nn.Linear(4, 1)
    def training_step(self, batch, idx):
        loss = self.lin(batch[0]).pow(2).mean()
        self.log("loss", loss)
        return loss
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

data = torch.utils.data.TensorDataset(torch.randn(32, 4))
for all_ranks in (False, True):
    logger = ExtractLogger(experiment={"benchmark": "synthetic", "model": "ddp"},
                           name=f"pl-all-{all_ranks}", store=sys.argv[1], log_all_ranks=all_ranks)
    trainer = pl.Trainer(max_epochs=1, strategy="ddp", accelerator="cpu", devices=2, logger=logger,
                         log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, default_root_dir=sys.argv[2])
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=4))
"""


def test_lightning_ddp_logs_rank_zero_by_default_and_every_rank_when_asked(
    store_path: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightning.pytorch")
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    script = tmp_path / "pl_ddp.py"
    script.write_text(LIGHTNING_DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("EXTRACT_GROUP", None)
    r = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            str(store_path),
            str(tmp_path / "pl"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = sql(
        store_path,
        "SELECT r.name, r.status, r.config, g.value AS grp, k.value AS rank FROM runs r "
        "JOIN run_params g ON g.run_id = r.id AND g.name = 'group' "
        "JOIN run_params k ON k.run_id = r.id AND k.name = 'rank' ORDER BY r.name, k.value",
    )
    assert [(x["name"], x["rank"], x["status"]) for x in rows] == [
        ("pl-all-False", "0", "completed"),
        ("pl-all-True", "0", "completed"),
        ("pl-all-True", "1", "completed"),
    ]
    assert len({x["grp"] for x in rows}) == 1 and rows[0]["grp"].startswith("torchrun:")
    assert all(json.loads(x["config"]) == {"lr": 0.1} for x in rows), rows
    counts = sql(
        store_path,
        "SELECT r.name, COUNT(*) AS n FROM curve_points c JOIN runs r ON r.id = c.run_id "
        "WHERE c.name = 'loss' GROUP BY c.run_id ORDER BY r.name",
    )
    assert [(c["name"], c["n"]) for c in counts] == [
        ("pl-all-False", 4),
        ("pl-all-True", 4),
        ("pl-all-True", 4),
    ]  # 32 samples, 2 ranks, batches of 4: 4 steps a rank


def test_lightning_trains_on_when_the_store_cannot_be_opened(tmp_path: Path) -> None:
    pytest.importorskip("lightning.pytorch")
    from extract.integrations.lightning import ExtractLogger

    not_a_store = tmp_path / "junk"
    not_a_store.mkdir()
    (not_a_store / "file").write_text("not a store")
    logger = ExtractLogger(experiment=EXPERIMENT, store=not_a_store)
    trainer, caught = fit_linear(logger, 1, tmp_path)
    ours = [m for m in caught if "extract: ExtractLogger" in m]
    assert len(ours) == 1 and "is not an extract store" in ours[0]
    assert trainer.global_step == 2
