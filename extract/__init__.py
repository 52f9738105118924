"""extract: local-first experiment tracking on a content-addressed store."""

__version__ = "0.1.0"
