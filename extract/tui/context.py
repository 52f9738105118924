"""What widgets and screens may ask of the app: the browser, the marks, notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from textual.dom import DOMNode

from extract.index.models import RunRow
from extract.tui.core import Browser

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel


class Host(Protocol):
    browser: Browser
    marks: dict[str, RunRow]
    smooth: bool

    def toggle_mark(self, row: RunRow) -> None: ...

    def clear_marks(self) -> None: ...

    def say(self, text: str, severity: SeverityLevel = "information") -> None: ...

    def fail(self, error: BaseException) -> None: ...

    def refresh_now(self) -> None: ...


def host(node: DOMNode) -> Host:
    return cast(Host, node.app)
