"""Whether a store can be written, asked before a write starts rather than learnt from it.

A store on a read-only mount (an archive, a shared results disk, a snapshot) or one
this user may not write must still be readable; a command that would write to it is
refused up front with one line, so nothing is half done.
"""

from __future__ import annotations

import os
from pathlib import Path

from extract.errors import ReadOnlyStore


def read_only_reason(root: Path) -> str | None:
    """Why nothing can be written under ``root``, or None if it can be.

    statvfs sees a read-only mount even for root (who passes every permission check);
    ``access`` sees a directory this user may not write."""
    try:
        if os.statvfs(root).f_flag & os.ST_RDONLY:
            return "it is on a read-only filesystem"
    except OSError:
        pass
    if not os.access(root, os.W_OK):
        return "this user may not write to it"
    return None


def require_writable(root: Path, action: str) -> None:
    """Refuse ``action`` (e.g. "`extract commit`") on a store that cannot be written."""
    why = read_only_reason(root)
    if why is not None:
        raise ReadOnlyStore(
            f"store {root} is read-only ({why}): {action} would write to it, so nothing "
            "was changed; read commands (log, show, sql, status, diff) still work"
        )
