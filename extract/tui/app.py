"""The textual app: the theme, the browser, marks, live refresh, and the main screen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from extract.index.models import RunRow
from extract.tui.core import Browser
from extract.tui.messages import MarksChanged, StoreChanged
from extract.tui.screens.main import MainScreen
from extract.tui.theme import build, variables

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

#: A timeout of 0 in [notifications] keeps a notification until it is clicked away.
FOREVER = 10.0**7


class ExtractApp(App[None]):
    """``extract tui``: everything in the store, live while runs are running."""

    TITLE = "extract"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        store: Path,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        refresh_interval: float = 1.0,
    ) -> None:
        self.browser = Browser(store, clock=clock)
        self.marks: dict[str, RunRow] = {}
        self.smooth = self.browser.config.summary.curve_smooth
        self.refresh_interval = refresh_interval
        self._refreshing = False
        super().__init__()
        self.register_theme(build(self.browser.config.theme))
        self.theme = "extract"

    def get_css_variables(self) -> dict[str, str]:
        return {**super().get_css_variables(), **variables(self.browser.config.theme)}

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def on_mount(self) -> None:
        if self.refresh_interval > 0:
            self.set_interval(self.refresh_interval, self.refresh_now)
        self.show_warnings()

    def on_unmount(self) -> None:
        self.browser.close()

    # live refresh: journals -> index -> every screen that draws the store ---------
    def refresh_now(self) -> None:
        if not self._refreshing:
            self._refreshing = True
            self._refresh()

    @work(thread=True, group="refresh")
    def _refresh(self) -> None:
        try:
            changed = self.browser.refresh()
        except Exception as e:
            self.call_from_thread(self.fail, e)
            changed = False
        finally:
            self._refreshing = False
        self.call_from_thread(self.show_warnings)
        if changed:
            self.call_from_thread(self.broadcast_change)

    def show_warnings(self) -> None:
        """What the index worked around (a damaged file rebuilt, a full disk), said once."""
        for text in self.browser.take_warnings():
            self.say(text, "warning")

    def broadcast_change(self) -> None:
        for screen in self.screen_stack:
            screen.post_message(StoreChanged())

    # marks -------------------------------------------------------------------------
    def toggle_mark(self, row: RunRow) -> None:
        if row.id in self.marks:
            del self.marks[row.id]
        else:
            self.marks[row.id] = row
        self._marks_changed()

    def clear_marks(self) -> None:
        self.marks.clear()
        self._marks_changed()

    def _marks_changed(self) -> None:
        for screen in self.screen_stack:
            screen.post_message(MarksChanged())

    # notifications -------------------------------------------------------------------
    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        timeout = self.browser.config.notifications.timeout
        self.notify(text, severity=severity, timeout=timeout or FOREVER, markup=False)

    def fail(self, error: BaseException) -> None:
        self.say(str(error) or type(error).__name__, "error")


def run(store: Path) -> None:
    ExtractApp(store).run()
