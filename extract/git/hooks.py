"""Git hook shims: install into the effective hooks directory, chain, remove cleanly.

A shim is a few lines of sh that call ``extract hooks run NAME``. Installing
never overwrites a hook someone else wrote: that hook is renamed to
``NAME.extract-chained`` and the shim runs it first (its exit status still
decides whether git goes on); uninstalling puts it back.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from extract.errors import InvalidInput

HOOKS = ("post-commit", "commit-msg", "pre-push")
MARKER = "Installed by `extract hooks install`"
CHAINED = ".extract-chained"
#: In the store: the tree ids of runs started from a dirty working tree, one per line,
#: written before the run's start record (``stamp.want_stamp``). The post-commit shim
#: starts Python only when the new commit's tree is listed.
WANTED_FILE = "stamps-wanted"

_PURPOSE = {
    "post-commit": "stamps this commit's SHA onto the runs whose working tree it captured",
    "commit-msg": "adds an Extract-Runs trailer when `git config extract.trailer true`",
    "pre-push": "pushes experiment history with the code when `git config extract.pushHistory true`",
}


#: Shell that finds the store as ``locate_store`` does ($EXTRACT_STORE, a store or a
#: project holding one; else the nearest .extract here or above) and leaves the hook
#: when there is none: most commits start no interpreter at all.
_FIND_STORE = """store=
if [ -n "${EXTRACT_STORE:-}" ]; then
  if [ -f "$EXTRACT_STORE/FORMAT" ]; then store=$EXTRACT_STORE
  elif [ -f "$EXTRACT_STORE/.extract/FORMAT" ]; then store=$EXTRACT_STORE/.extract; fi
else
  d=$(pwd -P)
  while :; do
    if [ -f "$d/.extract/FORMAT" ]; then store=$d/.extract; break; fi
    [ -n "$d" ] || break
    d=${d%/*}
  done
fi
[ -n "$store" ] || exit 0
"""
#: Per hook, the shell test that says whether extract has anything to do (else exit 0
#: before starting Python: about 0.9 s saved on every commit).
_NEEDED = {
    # a run waits for this commit only if its exact tree is listed (git/stamp.py)
    "post-commit": (
        f'[ -f "$store/{WANTED_FILE}" ] || exit 0\n'
        f'grep -qxF "$(git rev-parse \'HEAD^{{tree}}\')" "$store/{WANTED_FILE}" || exit 0\n'
    ),
    "commit-msg": '[ "$(git config --bool extract.trailer)" = true ] || exit 0\n',
    "pre-push": '[ "$(git config --bool extract.pushHistory)" = true ] || exit 0\n',
}


def render(name: str, python: str | None) -> str:
    """The shim for hook ``name``; ``python`` pins the interpreter extract was installed with."""
    if name not in HOOKS:
        raise InvalidInput(f"unknown hook {name!r}; extract provides {', '.join(HOOKS)}")
    if python:
        run = f"{shlex.quote(python)} -m extract hooks run {name}"
        find = f"[ -x {shlex.quote(python)} ] || exit 0"
    else:
        run = f"extract hooks run {name}"
        find = "command -v extract >/dev/null 2>&1 || exit 0"
    needed = _FIND_STORE + _NEEDED[name] + find
    if name == "pre-push":  # git writes the refs being pushed on stdin: both hooks get them
        chain = (
            "input=$(cat)\n"
            f'if [ -x "$0{CHAINED}" ]; then printf "%s\\n" "$input" | "$0{CHAINED}" "$@" || exit $?; fi\n'
            f"{needed}\n"
            f'printf "%s\\n" "$input" | {run} "$@"\n'
        )
    else:
        tail = "" if name == "commit-msg" else " || true"
        chain = (
            f'if [ -x "$0{CHAINED}" ]; then "$0{CHAINED}" "$@" || exit $?; fi\n'
            f"{needed}\n"
            f'{run} "$@"{tail}\n'
        )
    return f"#!/bin/sh\n# {MARKER}: {_PURPOSE[name]}.\n# Remove with `extract hooks uninstall`.\n{chain}"


def hooks_dir(project: Path) -> Path:
    """The effective hooks directory of the repository at ``project`` (honours core.hooksPath)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--git-path", "hooks"],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except FileNotFoundError:
        raise InvalidInput("git is not installed: hooks need it") from None
    except subprocess.CalledProcessError:
        raise InvalidInput(f"{project} is not inside a git repository") from None
    path = Path(out)
    return path if path.is_absolute() else (project / path).resolve()


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text("utf-8", errors="replace")
    except OSError:
        return False


@dataclass(frozen=True)
class HookState:
    name: str
    path: Path
    installed: bool
    chained: bool  # a hook that was there before ours runs first
    foreign: bool  # a hook of someone else's is there and ours is not


def status(project: Path) -> list[HookState]:
    d = hooks_dir(project)
    out = []
    for name in HOOKS:
        path = d / name
        ours = path.exists() and _is_ours(path)
        out.append(
            HookState(
                name, path, ours, (d / f"{name}{CHAINED}").exists(), path.exists() and not ours
            )
        )
    return out


def install(project: Path, python: str | None, names: tuple[str, ...] = HOOKS) -> list[HookState]:
    d = hooks_dir(project)
    d.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = d / name
        chained = d / f"{name}{CHAINED}"
        if (path.exists() or path.is_symlink()) and not _is_ours(path):
            if chained.exists() or chained.is_symlink():
                raise InvalidInput(
                    f"{path} is not extract's and {chained} already exists: resolve by hand "
                    "(merge the two, or remove one), then run `extract hooks install` again"
                )
            os.rename(path, chained)  # kept and run first, restored by uninstall
        tmp = path.with_name(f".{name}.extract-tmp")
        tmp.write_text(render(name, python), "utf-8")
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)
    return status(project)


def uninstall(project: Path) -> list[HookState]:
    d = hooks_dir(project)
    for name in HOOKS:
        path = d / name
        chained = d / f"{name}{CHAINED}"
        if path.exists() and _is_ours(path):
            if chained.exists() or chained.is_symlink():
                os.replace(chained, path)  # one step: a kill never leaves the user without it
            else:
                path.unlink()
    return status(project)
