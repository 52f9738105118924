"""Small helpers shared by the screens."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.screen import Screen

from extract.tui.messages import GoToRun


def main_screen(app: App[Any]) -> Screen[Any]:
    """The screen at the bottom of the stack: the main screen with the view tabs."""
    screen: Screen[Any] = app.screen_stack[0]
    return screen


def goto_run(app: App[Any], run_id: str) -> None:
    """Close every screen above the main one, then show the run in the Runs view."""
    while len(app.screen_stack) > 1:
        app.pop_screen()
    main_screen(app).post_message(GoToRun(run_id))
