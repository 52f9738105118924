"""The tab bar (top) and the status bar (bottom) of the main screen."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from extract.tui.context import host

VIEWS = (
    ("runs", "Runs"),
    ("dashboard", "Dashboard"),
    ("models", "Models"),
    ("lineage", "Lineage"),
    ("todo", "TODO"),
)


class TabBar(Static):
    DEFAULT_CSS = """
    TabBar {
        height: 1;
        dock: top;
        background: $background;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="tabbar")
        self.current = "runs"

    def on_mount(self) -> None:
        self.draw()

    def draw(self) -> None:
        theme = host(self).browser.config.theme
        text = Text(" extract ", style=Style(color=theme.bg, bgcolor=theme.accent, bold=True))
        text.append(" ")
        for i, (key, label) in enumerate(VIEWS, start=1):
            if key == self.current:
                text.append(
                    f" {i} {label} ", style=Style(color=theme.accent, bold=True, underline=True)
                )
            else:
                text.append(f" {i} {label} ", style=Style(color=theme.accent_dim))
        text.append("   h/l switch · ? help", style=Style(color=theme.accent_dim))
        self.update(text)


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        dock: bottom;
        background: $x-accent-dim 30%;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="statusbar")
        self.counts: tuple[int, int] | None = None
        self.refreshed: str | None = None
        self.hint = ""

    def on_mount(self) -> None:
        self.draw()

    def draw(self) -> None:
        app = host(self)
        theme = app.browser.config.theme
        text = Text(f" {app.browser.shown_root()}", style=Style(color=theme.fg))
        if self.counts is not None:
            runs, live = self.counts
            text.append(f" · {runs} runs", style=Style(color=theme.fg))
            if live:
                text.append(f" · ● {live} running", style=Style(color=theme.warning))
        n = len(app.marks)
        if n:
            text.append(f" · ◆ {n} marked", style=Style(color=theme.accent, bold=True))
        if self.refreshed:
            text.append(f" · updated {self.refreshed}", style=Style(color=theme.accent_dim))
        if self.hint:
            text.append(f" · {self.hint}", style=Style(color=theme.accent_dim))
        text.append(" · ? help · q quit", style=Style(color=theme.accent_dim))
        self.update(text)
