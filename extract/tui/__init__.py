"""The terminal UI (``extract tui``): a textual app over a headless core.

``extract.tui.core.Browser`` answers every question the screens ask, through
the one read layer (``extract.index.read``); ``extract.tui.app.ExtractApp`` draws them.
Importing this package loads neither textual nor rich; ``run`` does.
"""

from __future__ import annotations

from pathlib import Path


def run(store: Path) -> None:
    """Run the terminal UI on the store at ``store`` until the user quits."""
    from extract.tui.app import ExtractApp

    ExtractApp(store).run()
