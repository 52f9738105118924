"""Integration with the user's code repository (git): provenance of runs.

pygit2 (libgit2) does the reading; see :mod:`extract.git.provenance`.
"""

from extract.git.provenance import Provenance, capture

__all__ = ["Provenance", "capture"]
