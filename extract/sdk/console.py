"""Optional capture of a run's console: what the script prints, kept as text artifacts.

``experiment.run(capture_output=True)`` tees ``sys.stdout`` and ``sys.stderr``: every
write still reaches the terminal, and a copy is kept in memory; when the run finishes,
each non-empty copy becomes a text artifact, ``stdout`` and ``stderr``
(``store.load_run(id).text("stdout")``; the TUI lists it with the run's texts).

What is captured is what Python code writes through ``sys.stdout``/``sys.stderr``
(``print``, ``logging``'s stream handlers created after the start, tqdm, warnings), not
output of C extensions or subprocesses writing to the file descriptors directly. At
most ``LIMIT`` characters of each stream are kept (the first half and the last half,
with a line saying how much was left out between them). A run that crashes loses
its capture with the process; off by default.
"""

from __future__ import annotations

import collections
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from extract.sdk.run import Run

#: Characters kept per stream.
LIMIT = 4 * 1024 * 1024


class _Tee:
    """A text stream that writes through to ``inner`` and keeps a bounded copy."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self.head: list[str] = []
        # a deque: print() writes in small pieces, and dropping the oldest must not
        # shift the whole tail on every write once it is full
        self.tail: collections.deque[str] = collections.deque()
        self.head_n = 0
        self.tail_n = 0
        self.dropped = 0
        self.lock = threading.Lock()

    def write(self, s: str) -> int:
        n = self.inner.write(s)
        if isinstance(s, str) and s:
            with self.lock:
                self._keep(s)
        return n

    def _keep(self, s: str) -> None:
        half = LIMIT // 2
        if self.head_n < half:
            part = s[: half - self.head_n]
            self.head.append(part)
            self.head_n += len(part)
            s = s[len(part) :]
        if s:
            self.tail.append(s)
            self.tail_n += len(s)
            while self.tail_n > half and len(self.tail) > 1:
                gone = self.tail.popleft()
                self.tail_n -= len(gone)
                self.dropped += len(gone)
            if self.tail_n > half:  # one write longer than the tail holds
                cut = self.tail_n - half
                self.tail[0] = self.tail[0][cut:]
                self.tail_n -= cut
                self.dropped += cut

    def text(self) -> str:
        with self.lock:
            middle = (
                [f"\n[... {self.dropped} characters left out by extract ...]\n"]
                if self.dropped
                else []
            )
            return "".join([*self.head, *middle, *self.tail])

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding... of the terminal
        return getattr(self.inner, name)


class Capture:
    """The run's tees, installed at its start and taken out at its finish."""

    def __init__(self) -> None:
        self.out = _Tee(sys.stdout)
        self.err = _Tee(sys.stderr)
        sys.stdout = self.out
        sys.stderr = self.err

    def stop(self, run: Run) -> None:
        """Put the streams back (unless someone replaced them since) and store the copies."""
        if sys.stdout is self.out:
            sys.stdout = self.out.inner
        if sys.stderr is self.err:
            sys.stderr = self.err.inner
        for name, tee in (("stdout", self.out), ("stderr", self.err)):
            text = tee.text()
            if text:
                run.log_text(name, text.encode("utf-8", "replace").decode("utf-8"))


def start_capture(run: Run, enabled: bool) -> None:
    if not isinstance(enabled, bool):
        raise TypeError(f"run(): capture_output must be True or False, got {enabled!r}")
    if enabled:
        capture = Capture()
        run._before_finish.append(lambda: capture.stop(run))
