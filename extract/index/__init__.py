"""The index: index.db built from objects and journals, and the read-only query layer."""
