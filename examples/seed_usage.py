"""The reference document's "Full Usage Example", run unchanged against extract.

Run it in a project directory that has a store with the hierarchy the example assumes::

    extract init --hierarchy "benchmark > model > variant"
    python examples/seed_usage.py            # the store is ./.extract

or give the project directory (or the ``.extract`` directory itself) as the argument::

    python examples/seed_usage.py path/to/project

If that directory has no store yet, or a store without a hierarchy, the script
gives it ``benchmark > model > variant`` as ``extract init`` would; a store with
another hierarchy is refused.

Everything between the ``seed example`` markers is the seed's code, verbatim,
except one thing: the seed registers ``/tmp/model.pt``, a file it never makes,
so the script writes a small stand-in checkpoint, ``model.pt``, next to the store
and registers that (``MODEL_PATH``). The seed's two imports are the imports at the
top of this file.

The example registers the model ``resnet50-imagenet@v1.0``, and a name@version
is registered once per store: run again on the same store, the first run fails
at ``register_model`` with a ValueError, is recorded as failed, and the script
stops there, as the reference's SDK does.
"""

import os
import sys
from pathlib import Path

import numpy as np

from extract import Store
from extract.errors import StoreExists
from extract.store.repo import DEFAULT_DIR, Repository

HIERARCHY = ("benchmark", "model", "variant")


def prepare(argv: list[str]) -> str:
    """Enter the project directory, make sure its store exists, write the model file."""
    target = Path(argv[1]) if len(argv) > 1 else Path.cwd()
    project = target.parent if target.name == DEFAULT_DIR else target
    project.mkdir(parents=True, exist_ok=True)
    os.chdir(project)  # the seed opens its store with Store(), i.e. ./.extract
    try:
        Repository.init(Path(DEFAULT_DIR), HIERARCHY)
    except StoreExists:
        levels = Repository(Path(DEFAULT_DIR)).config.hierarchy
        if levels != HIERARCHY:
            sys.exit(
                f"{project / DEFAULT_DIR} has the hierarchy {' > '.join(levels or ())}; "
                f"this example needs {' > '.join(HIERARCHY)}"
            )
    model = project / "model.pt"
    if not model.exists():
        weights = np.random.default_rng(0).standard_normal(16_384).astype(np.float32)
        model.write_bytes(weights.tobytes())
    return str(model.resolve())


MODEL_PATH = prepare(sys.argv)

# fmt: off
# --- seed example: begins ----------------------------------------------------
store = Store()

# Create experiment hierarchy
exp = store.experiment({
    "benchmark": "imagenet",
    "model": "resnet50",
    "variant": "lr-sweep"
})

# Context manager approach
with exp.run(config={"lr": 0.001, "bs": 32, "epochs": 50}, name="resnet50-lr1e3", total_steps=50) as run:
    for step in range(50):
        # Streaming curve points — drive the live chart, not the headline summary.
        run.curve(step=step, train_loss=2.3 - step * 0.04, train_acc=step * 0.018)
    # Headline metrics — appear in Summary panel and rankings.
    run.log(final_acc=0.92)
    run.log(arch="resnet50", optimizer="sgd")
    run.log_table("confusion_matrix", np.random.rand(1000, 1000), axes={"rows": "true", "cols": "predicted"})
    run.log_text("notes", "## Observations\nResNet50 with lr=1e-3 converges stably.")
    run.tag("sweep", "production-candidate")
    run.note("Best learning rate in sweep")
    run.todo("Try lr=0.005 next", priority=1)
    run.register_model("resnet50-imagenet", "v1.0", MODEL_PATH, framework="pytorch")
    run.derived_from(model="baseline-imagenet", version="v0.9")

# Direct call approach — run spans multiple scopes
run = exp.run(config={"lr": 0.005}, name="resnet50-lr5e3")
run.log(loss=2.1)
run.tag("sweep")
run.finish()          # explicit finalize (idempotent)

# Global TODO
store.todo("Write up results for paper", priority=2)

store.close()
# --- seed example: ends -------------------------------------------------------
# fmt: on

print(f"logged 2 runs into {Path(DEFAULT_DIR).resolve()} (experiment imagenet/resnet50/lr-sweep)")
