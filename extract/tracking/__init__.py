"""The write path: journal records, the fold of a run's state, sealing, events.

Layer order: ``objects <- store <- tracking <- index``. The SDK writes a live run's
journal through ``records``; ``fold`` says what the records mean; ``seal`` turns a
journal into objects and staged entries (at ``finish()``, or for a run whose process
died); ``events`` records annotations. Each reports to the index through the
``sink.RunSink`` interface the index implements, so nothing here imports it.
"""
