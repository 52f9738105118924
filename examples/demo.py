"""The README's demo: a small learning-rate sweep of a real model, tracked with extract.

Run: python examples/demo.py [PROJECT_DIR]    (default: ./demo, recreated each run)

A two-layer MLP (numpy only) learns to classify a synthetic three-arm spiral.
Each run of the sweep logs per-step curves, headline metrics, its confusion
matrix and first-layer weights as tables, a text report and its weights as a
model; the best model is then fine-tuned in a run that records where it came
from. Everything is committed, and the script ends with what a user would type
next: `extract log`, `extract sql`, `extract fsck`.
"""

from __future__ import annotations

import io
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from extract import Store
from extract.store.repo import Repository

Array = np.ndarray[Any, Any]


def spiral(n_per_class: int, classes: int, rng: np.random.Generator) -> tuple[Array, Array]:
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, 0.25, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


class MLP:
    def __init__(self, hidden: int, classes: int, rng: np.random.Generator) -> None:
        self.w1 = rng.normal(0, 1.0, (2, hidden)).astype(np.float32)
        self.b1 = np.zeros(hidden, np.float32)
        self.w2 = rng.normal(0, 1.0 / np.sqrt(hidden), (hidden, classes)).astype(np.float32)
        self.b2 = np.zeros(classes, np.float32)

    def forward(self, x: Array) -> tuple[Array, Array]:
        h = np.maximum(0, x @ self.w1 + self.b1)
        logits = h @ self.w2 + self.b2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return h, p / p.sum(axis=1, keepdims=True)

    def step(self, x: Array, y: Array, lr: float) -> float:
        h, p = self.forward(x)
        n = len(y)
        loss = float(-np.log(p[np.arange(n), y] + 1e-9).mean())
        d = p.copy()
        d[np.arange(n), y] -= 1
        d /= n
        dh = (d @ self.w2.T) * (h > 0)
        self.w2 -= lr * h.T @ d
        self.b2 -= lr * d.sum(axis=0)
        self.w1 -= lr * x.T @ dh
        self.b1 -= lr * dh.sum(axis=0)
        return loss

    def accuracy(self, x: Array, y: Array) -> float:
        return float((self.forward(x)[1].argmax(axis=1) == y).mean())

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2)
        path.write_bytes(buf.getvalue())


def train(
    store: Store,
    lr: float,
    hidden: int,
    steps: int,
    data: tuple[Array, ...],
    workdir: Path,
    parent: tuple[str, str] | None = None,
    init: MLP | None = None,
) -> tuple[str, float]:
    x_tr, y_tr, x_te, y_te = data
    variant = "finetune" if parent else "lr-sweep"
    exp = store.experiment({"dataset": "spiral", "model": f"mlp{hidden}", "variant": variant})
    rng = np.random.default_rng(int(lr * 1e4) + hidden)
    model = init or MLP(hidden, 3, rng)
    name = f"lr{lr:g}-h{hidden}" + ("-ft" if parent else "")
    with exp.run(
        config={"lr": lr, "hidden": hidden, "optimizer": {"name": "sgd", "batch": 64}},
        name=name,
        total_steps=steps,
    ) as run:
        if parent:
            run.derived_from(model=parent[0], version=parent[1])
        for step in range(steps):
            idx = rng.integers(0, len(y_tr), 64)
            loss = model.step(x_tr[idx], y_tr[idx], lr)
            if step % 10 == 0 or step == steps - 1:
                run.curve(step, train_loss=loss, test_acc=model.accuracy(x_te, y_te))
        acc = model.accuracy(x_te, y_te)
        pred = model.forward(x_te)[1].argmax(axis=1)
        confusion = np.zeros((3, 3), np.int64)
        np.add.at(confusion, (y_te, pred), 1)
        run.log(test_acc=acc, final_loss=loss, arch="mlp")
        run.log_table("confusion", confusion, axes={"rows": "true", "cols": "predicted"})
        run.log_table("w1", model.w1, step=steps, axes={"rows": "input", "cols": "hidden"})
        run.log_text(
            "report", f"## {name}\n\nTest accuracy {acc:.3f} after {steps} steps at lr={lr:g}.\n"
        )
        run.tag("demo", variant)
        weights = workdir / f"{name}.npz"
        model.save(weights)
        run.register_model(
            f"spiral-mlp{hidden}", name, weights, metadata={"test_acc": acc}, framework="numpy"
        )
        print(f"  {name:<16} test_acc={acc:.3f}  run {run.id}")
        return run.id, acc


def main() -> int:
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo")
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    Repository.init(project / ".extract", ("dataset", "model", "variant"))
    rng = np.random.default_rng(0)
    x, y = spiral(400, 3, rng)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    data = (x[:900], y[:900], x[900:], y[900:])

    print(f"extract demo in {project}/.extract: a learning-rate sweep of an MLP on a 3-arm spiral")
    with Store(project / ".extract") as store:
        results = {}
        for hidden in (32, 64):
            for lr in (0.05, 0.2, 0.8):
                results[(lr, hidden)] = train(store, lr, hidden, 600, data, project)
        (best_lr, best_h), (_best_run, best_acc) = max(results.items(), key=lambda kv: kv[1][1])
        print(
            f"best: lr={best_lr:g} hidden={best_h} ({best_acc:.3f}); fine-tuning it at a lower rate"
        )
        best_model = MLP(best_h, 3, rng)
        saved = np.load(project / f"lr{best_lr:g}-h{best_h}.npz")
        best_model.w1, best_model.b1, best_model.w2, best_model.b2 = (
            saved[k] for k in ("w1", "b1", "w2", "b2")
        )
        train(
            store,
            best_lr / 4,
            best_h,
            300,
            data,
            project,
            parent=(f"spiral-mlp{best_h}", f"lr{best_lr:g}-h{best_h}"),
            init=best_model,
        )
        store.todo("Try a deeper MLP on the spiral", priority=1)

    def extract(*args: str) -> int:
        print(f"\n$ extract {shlex.join(args)}", flush=True)
        return subprocess.run(
            [sys.executable, "-m", "extract", *args, "--store", str(project / ".extract")]
        ).returncode

    codes = [
        extract("commit", "-m", "spiral lr sweep and fine-tune"),
        extract("log"),
        extract(
            "sql",
            "SELECT r.name, m.value AS test_acc FROM runs r JOIN scalar_metrics m "
            "ON m.run_id = r.id AND m.name = 'test_acc' ORDER BY m.value DESC LIMIT 3",
        ),
        extract("fsck"),
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
