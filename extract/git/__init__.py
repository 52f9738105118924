"""Integration with the user's code repository (git): provenance of runs.

pygit2 (libgit2) does the reading; see :mod:`extract.git.provenance`. Importing this
package loads nothing: ``extract.git.hooks`` and friends must not pay for pygit2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from extract.git.provenance import Provenance, capture

__all__ = ["Provenance", "capture"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from extract.git import provenance

        return getattr(provenance, name)
    raise AttributeError(f"module 'extract.git' has no attribute {name!r}")
