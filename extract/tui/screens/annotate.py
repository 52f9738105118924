"""Annotating a run from the TUI: one small dialog to add a tag, remove one, or add a note.

The write goes through ``Browser`` to ``extract.index.annotate``, the functions the SDK
and the CLI call, so it is the same event (durable, staged for the next commit, synced
and merged like any other) and the same validation: what ``annotate`` refuses is shown
as one line in the dialog, which stays open, and nothing is written.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from extract.index.models import RunRow
from extract.tui import fmt
from extract.tui.context import host
from extract.tui.messages import StoreChanged
from extract.tui.screens.popups import POPUP_CSS

Kind = Literal["tag", "untag", "note"]

#: kind -> (dialog title, input placeholder, the notification once saved)
KINDS: dict[Kind, tuple[str, str, str]] = {
    "tag": ("Add tag", "a tag, e.g. baseline", "tagged {run}: {value}"),
    "untag": ("Remove tag", "the tag to remove", "removed the tag {value} from {run}"),
    "note": ("Add note", "a note, appended to the run's notes", "note added to {run}: {value}"),
}


def broadcast_change(node: DOMNode) -> None:
    """Every screen redraws what it shows of the store (the row, the detail, the lists)."""
    for screen in node.app.screen_stack:
        screen.post_message(StoreChanged())


class AnnotateRun(ModalScreen[str | None]):
    """One line of text for one annotation of one run; enter saves, escape cancels.

    Dismissed with what was saved (the tag or the note), or None when cancelled."""

    DEFAULT_CSS = (
        POPUP_CSS.format(name="AnnotateRun", width=72)
        + """
    AnnotateRun #annotate-error {
        height: 1;
        color: $error;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, kind: Kind, row: RunRow) -> None:
        super().__init__()
        self.kind: Kind = kind
        self.row = row
        self.error = ""  # the last refusal, as shown
        self.saving = False  # a second enter while the first is written adds nothing

    def compose(self) -> ComposeResult:
        title, placeholder, _ = KINDS[self.kind]
        with Vertical() as v:
            v.border_title = f"{title}: {fmt.clip(self.row.label, 48)}"
            yield Input(placeholder=placeholder, id="annotate-text")
            yield Static("", id="annotate-error")
            yield Static(self._hint(), id="annotate-hint")

    def _hint(self) -> Text:
        theme = host(self).browser.config.theme
        text = Text()
        if self.kind != "note":
            text.append("tags  ")
            shown = ", ".join(self.row.tags) if self.row.tags else "none yet"
            text.append(f"{shown}\n", style=Style(color=theme.accent))
        text.append("enter saves · escape cancels", style="dim")
        return text

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def show_error(self, text: str) -> None:
        """Say what was refused, on one line in the dialog; the dialog stays open."""
        self.error = " ".join(text.split()) or "refused"
        self.query_one("#annotate-error", Static).update(Text(self.error, no_wrap=True))

    @on(Input.Changed)
    def _typed(self) -> None:
        if self.error:
            self.error = ""
            self.query_one("#annotate-error", Static).update("")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        if self.saving:
            return
        if self.kind == "untag" and value.strip() and value.strip() not in self.row.tags:
            # annotate.untag takes a tag the run lacks as a no-op; here it is a typo to show
            have = ", ".join(self.row.tags) or "no tags"
            self.show_error(f"{self.row.short} has no tag {value.strip()!r}; it has: {have}")
            return
        self.saving = True
        self._save(value)

    @work(thread=True, exclusive=True, group="annotate")
    def _save(self, value: str) -> None:
        browser = host(self).browser
        try:
            if self.kind == "tag":
                browser.tag(self.row.id, value)
            elif self.kind == "untag":
                browser.untag(self.row.id, value)
            else:
                browser.note(self.row.id, value)
        except Exception as e:  # a refusal (InvalidInput, a read-only store): said, not raised
            self.app.call_from_thread(self._refused, str(e) or type(e).__name__)
            return
        self.app.call_from_thread(self._saved, value.strip())

    def _refused(self, text: str) -> None:
        self.saving = False
        self.show_error(text)

    def _saved(self, value: str) -> None:
        _, _, done = KINDS[self.kind]
        host(self).say(done.format(run=self.row.label, value=fmt.clip(value, 40)))
        broadcast_change(self)
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
