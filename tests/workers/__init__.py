"""Programs the crash and race tests run as real subprocesses (``python -m tests.workers.X``).

Each prints one line per step, flushed, so the parent knows exactly what had happened
when it killed the process or when the process finished.
"""
