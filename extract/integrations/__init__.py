"""Loggers and callbacks for the trainers people use, one module each.

- ``extract.integrations.lightning``: ``ExtractLogger`` for ``lightning.pytorch.Trainer``.
- ``extract.integrations.transformers``: ``ExtractCallback`` for Hugging Face ``Trainer``.
- ``extract.integrations.keras``: ``ExtractCallback`` for Keras 3 ``model.fit``.

Each takes the same arguments to say where it logs (``experiment=``, ``name=``,
``store=``, ``config=``, ``tags=``), imports only its own framework, and never stops
training: a failure inside one of its hooks warns once and training goes on.
docs/integrations.md has an example for each.
"""
