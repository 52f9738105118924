"""Experiment history carried by any git repository, under ``refs/extract/*``.

A git remote is a repository reachable the way git reaches it (a path,
``file://``, ``ssh://``, scp-style ``host:path``, ``https://``). extract keeps
its history there as ordinary git objects, so any git host stores it, next to
the code, without knowing what extract is (as DVC keeps experiments under
``refs/exps``). The layout is fixed by ``objects_spec/git-remote.md``:

* ``refs/extract/<name>`` carries the extract ref ``refs/heads/<name>`` (so
  ``refs/extract/main`` carries ``main``). It points to a git commit whose tree is::

      FORMAT                    "extract-git-remote 1\\nhash blake3-256\\n"
      README.md                 what this ref is, for someone browsing the host
      head                      the extract commit id: 64 hex digits and LF
      objects/<2 hex>/<62 hex>  every other extract object: its canonical bytes
      blobs/<2 hex>/<62 hex>    every object of kind blob: its canonical bytes

  Each push makes one git commit whose parent is the previous one and whose
  tree is the previous tree plus the new objects: only the fan-out directories
  that gained an entry are rewritten.
* An extract object becomes exactly one git blob, so no git object is bigger
  than an extract object: large content is already cut into chunks of at most
  4 MiB. ``put`` refuses any object over :data:`MAX_GIT_OBJECT` (50 MiB, where
  hosts start to warn; GitHub refuses 100 MiB).

Which library does what: dulwich's client speaks the git protocol (pure
Python, the system ``ssh``, compare-and-swap of the ref in ``send_pack``;
``_client``); pygit2 reads the local cache (C speed for tree lookups and blob
reads; ``_trees``); the pack we send is written here, compressed once (not at
all for data zlib cannot shrink, such as model weights; ``_pack`` says why no
library writer does it as fast), and dulwich sends its entries verbatim.

The local cache ``<store>/cache/git/<16 hex>.git`` is a bare git repository
mirroring the remote's ``refs/extract/*``: ``list_refs`` fetches into it with
git's own negotiation (the cache's refs are the haves, so only new git objects
travel), and ``walk``/``has``/``get`` are answered from it. ``put`` writes the
new objects into a pack in the cache; ``update_ref`` adds the trees and the
commit, sends that pack, and moves ``refs/extract/<name>`` only if it still
has the value we built on. The cache is derived: deleting it costs one full
fetch, never data.
"""

from extract.sync.transport.git._transport import (
    FORMAT_TEXT,
    GIT_REF_PREFIX,
    MAX_GIT_OBJECT,
    GitTransport,
)

__all__ = ["FORMAT_TEXT", "GIT_REF_PREFIX", "MAX_GIT_OBJECT", "GitTransport"]
