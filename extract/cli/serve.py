"""``extract serve``: the far side of an ssh remote, started without the rest of the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from extract.errors import ExtractError
from extract.store.repo import FORMAT_FILE, Repository
from extract.sync.transport import serve


def parse(args: list[str]) -> tuple[Path, bool] | None:
    """(path, create) from ``[--create] [--] PATH``, the form ssh remotes send; None for
    anything else (``--help``, say), which the full CLI then handles."""
    create = bool(args) and args[0] == "--create"
    rest = args[1:] if create else args
    if rest[:1] == ["--"]:
        rest = rest[1:]
    elif rest[:1] and rest[0].startswith("-"):
        return None
    return (Path(rest[0]), create) if len(rest) == 1 else None


def run(path: Path, create: bool) -> int:
    """Answer the sync protocol on stdin/stdout until the client hangs up; the exit code."""
    try:
        if not (path / FORMAT_FILE).exists():
            if not create:
                sys.stderr.write(f"extract serve: no extract store at {path}\n")
                return 3
            Repository.create(path)
        serve(Repository(path), sys.stdin.buffer, sys.stdout.buffer)
    except ExtractError as e:  # the same one line and exit code as every other command
        sys.stderr.write(f"error: {e}\n")
        return e.exit_code
    except BrokenPipeError:  # the client hung up halfway through a reply: nothing to say
        # (and nothing for the interpreter to flush into the closed pipe on its way out)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a disk error while serving: one line the client shows, no traceback
        sys.stderr.write(f"error: {e}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
