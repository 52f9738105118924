"""Ending the runs a script does not end itself: at interpreter exit, and on SIGTERM.

A script that never calls ``finish()`` (no ``with`` block), or is stopped by SIGTERM
(SLURM preemption, torchrun shutting a job down, ``docker stop``), must lose nothing:

- At interpreter exit every open run is flushed and finished: ``completed`` when the
  interpreter exits normally, ``failed`` when an uncaught exception ends it (the
  exception is recorded in the run's notes).
- On SIGTERM every open run is flushed and ended as ``failed`` with the signal
  recorded (its journal gets its end record, durably; sealing it into objects is left
  to the next writing command or ``Store()``, so the process is gone in milliseconds,
  well inside a scheduler's grace period), then the process dies as it would have: the handler that was installed
  before ours (a user's, a framework's) runs next, or, if there was none, the default
  action kills the process by the signal. Logging on a run ended this way is dropped
  quietly, so a framework's own shutdown code does not crash on it.

Our SIGTERM handler is installed only from the main thread (Python allows no other),
only over a handler Python knows (not one installed from C, which we could not chain)
and never over ``SIG_IGN``; it is taken out again when the last open run finishes.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Protocol


class Endable(Protocol):
    id: str
    _ending_asked: str | None

    def _end(self, status: str, reason: str, wait: bool) -> bool:
        """Flush and finish; False if ``wait`` is False and the run is busy."""
        ...


_open: dict[int, Endable] = {}  # id(run) -> run, in the order they started
_lock = threading.Lock()
_hooked = False  # atexit and sys.excepthook: once per process
_previous: Any = None  # the SIGTERM handler ours replaced
_uncaught: str | None = None  # what ended the interpreter, if an exception did
_waiting: set[int] = set()  # runs a signal asked to end that could not end at once
_signal: int | None = None  # that signal, handed on when the last of them has ended


def _forget_in_child() -> None:
    """A forked child (a DataLoader worker, say) does not own its parent's runs: it must
    not finish them when it exits or is sent SIGTERM."""
    global _lock
    _lock = threading.Lock()  # may have been held by another thread at the fork
    _open.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def started(run: Endable) -> None:
    with _lock:
        _open[id(run)] = run
        _hook_process()
        _install_sigterm()


def ended(run: Endable) -> None:
    with _lock:
        _open.pop(id(run), None)
        if not _open:
            _restore_sigterm()


def _hook_process() -> None:
    global _hooked
    if _hooked:
        return
    _hooked = True
    atexit.register(_at_exit)
    previous = sys.excepthook

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        global _uncaught
        if not issubclass(kind, KeyboardInterrupt | SystemExit):
            _uncaught = f"{kind.__name__}: {value}"[:500]
        elif issubclass(kind, KeyboardInterrupt):
            _uncaught = "KeyboardInterrupt"
        previous(kind, value, tb)

    sys.excepthook = excepthook


def _install_sigterm() -> None:
    global _previous
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm or current is None or current == signal.SIG_IGN:
        return
    _previous = current
    signal.signal(signal.SIGTERM, _on_sigterm)


def _restore_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # stays in place; with no open run it only hands the signal on
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, _previous if _previous is not None else signal.SIG_DFL)


def _snapshot() -> list[Endable]:
    with _lock:
        return list(_open.values())


def _at_exit() -> None:
    status, reason = ("failed", _uncaught) if _uncaught else ("completed", "")
    for run in _snapshot():
        try:
            run._end(status, f"the interpreter exited through {reason}" if reason else "", True)
        except Exception as e:  # an exit hook must not hide the real exit
            print(f"extract: could not finish run {run.id} at exit: {e}", file=sys.stderr)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _signal
    reason = f"the process received {signal.Signals(signum).name}"
    busy: list[Endable] = []
    for run in _snapshot():
        try:
            if not run._end("failed", reason, False):
                busy.append(run)
        except Exception as e:
            print(f"extract: could not finish run {run.id} on {reason}: {e}", file=sys.stderr)
    if not busy:
        _hand_on(signum, frame)
        return
    # The signal came while a run's lock was held: by this thread, interrupted inside the
    # run's own code (which must not be re-entered), or by the flusher. Each such run is
    # ended by whichever comes first: this thread's next call into it, once the lock is
    # free (Run._end_if_asked), or a thread that waits for the lock. The last one ended
    # hands the signal on.
    with _lock:
        _signal = signum
        _waiting.update(id(r) for r in busy)
    for run in busy:
        run._ending_asked = reason

    def wait_for_locks() -> None:
        for run in busy:
            try:
                run._end("failed", reason, True)
            except Exception as e:
                print(f"extract: could not finish run {run.id} on {reason}: {e}", file=sys.stderr)
            done(run)

    threading.Thread(target=wait_for_locks, name="extract-sigterm", daemon=True).start()


def done(run: Endable) -> None:
    """A run asked to end for a signal has ended: when it was the last, hand it on."""
    global _signal
    with _lock:
        _waiting.discard(id(run))
        signum, last = _signal, not _waiting
        if last:
            _signal = None
    if not last or signum is None:
        return
    if threading.current_thread() is threading.main_thread():
        _hand_on(signum, None)
    else:  # delivered again: our handler, in the main thread, finds no open run
        os.kill(os.getpid(), signum)


def _hand_on(signum: int, frame: FrameType | None) -> None:
    """Let the signal do what it would have done without us."""
    previous: Callable[[int, FrameType | None], Any] | int | None = _previous
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    else:  # SIG_DFL: die by the signal, as the sender expects
        os.kill(os.getpid(), signum)
