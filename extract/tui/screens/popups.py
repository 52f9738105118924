"""Small popups: delete confirmation, help overlay, adding a TODO."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from extract.errors import ExtractError
from extract.index.models import RunRow
from extract.tui import fmt
from extract.tui.context import host
from extract.tui.keys import KEYMAP
from extract.tui.messages import StoreChanged

POPUP_CSS = """
{name} {{
    align: center middle;
    background: $background 60%;
}}
{name} > Vertical {{
    width: {width};
    height: auto;
    max-height: 90%;
    border: round $x-border-focused;
    border-title-color: $accent;
    background: $background;
    padding: 0 1;
}}
"""


class ConfirmDelete(ModalScreen[bool]):
    """Delete a run? It is hidden by a ``delete`` event; only ``extract purge`` destroys."""

    DEFAULT_CSS = POPUP_CSS.format(name="ConfirmDelete", width=72)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "yes", "yes"),
        Binding("n,escape", "no", "no"),
    ]

    def __init__(self, row: RunRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        theme = host(self).browser.config.theme
        text = Text("Delete run ")
        text.append(self.row.label, style="bold")
        text.append(f"\n{self.row.id}\n\n", style="dim")
        text.append(
            "The run is hidden by a delete event (committed like any other); its data "
            "stays in the store. `extract purge` removes it for good and frees its space.\n\n"
        )
        text.append(" y ", style=Style(color=theme.bg, bgcolor=theme.error, bold=True))
        text.append(" delete    ")
        text.append(" n ", style=Style(color=theme.bg, bgcolor=theme.accent_dim, bold=True))
        text.append(" keep")
        with Vertical() as v:
            v.border_title = "Delete run"
            yield Static(text)

    def action_yes(self) -> None:
        self._delete()

    @work(thread=True, exclusive=True, group="delete")
    def _delete(self) -> None:
        app = host(self)
        try:
            app.browser.delete_run(self.row.id)
        except Exception as e:
            self.app.call_from_thread(app.fail, e)
            self.app.call_from_thread(self.dismiss, False)
            return
        self.app.call_from_thread(self._done)

    def _done(self) -> None:
        app = host(self)
        if self.row.id in app.marks:
            app.toggle_mark(self.row)
        app.say(f"deleted {self.row.label} (hidden by an event; `extract purge` frees its space)")
        for screen in self.app.screen_stack:
            screen.post_message(StoreChanged())
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class HelpScreen(ModalScreen[None]):
    """Every key, from the one keymap table."""

    DEFAULT_CSS = (
        POPUP_CSS.format(name="HelpScreen", width=96)
        + """
    HelpScreen VerticalScroll {
        height: auto;
        max-height: 100%;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "close"),
        Binding("down,j", "scroll(1)", "down", show=False),
        Binding("up,k", "scroll(-1)", "up", show=False),
    ]

    def compose(self) -> ComposeResult:
        theme = host(self).browser.config.theme
        with Vertical() as v:
            v.border_title = "Keys"
            with VerticalScroll():
                for group, rows in KEYMAP:
                    t = Table(box=None, padding=(0, 2), show_header=False, show_edge=False)
                    t.add_column(width=24, no_wrap=True)
                    t.add_column()
                    for keys, what in rows:
                        t.add_row(Text(keys, style=Style(color=theme.accent, bold=True)), what)
                    yield Static(Text(group, style=Style(color=theme.warning, bold=True)))
                    yield Static(t)

    def action_scroll(self, step: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=step * 3, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)


class TodoAdd(ModalScreen[str | None]):
    """A new TODO: its text, priority (ctrl+p) and scope (ctrl+g: this run or global)."""

    DEFAULT_CSS = (
        POPUP_CSS.format(name="TodoAdd", width=72)
        + """
    TodoAdd #todo-error {
        height: 1;
        color: $error;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+p", "priority", "priority"),
        Binding("ctrl+g", "scope", "scope"),
    ]

    def __init__(self, run: RunRow | None = None, experiment: str | None = None) -> None:
        super().__init__()
        self.run = run
        self.experiment = experiment
        self.priority = 0
        self.scope = "run" if run is not None else "experiment" if experiment else "global"

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Add TODO"
            yield Input(placeholder="what needs doing", id="todo-text")
            yield Static("", id="todo-error")
            yield Static(id="todo-options")

    def on_mount(self) -> None:
        self._draw()
        self.query_one(Input).focus()

    def _scopes(self) -> list[str]:
        out = ["global"]
        if self.experiment:
            out.insert(0, "experiment")
        if self.run is not None:
            out.insert(0, "run")
        return out

    def _draw(self) -> None:
        theme = host(self).browser.config.theme
        text = Text("priority ")
        for p, name in fmt.PRIORITY.items():
            style = (
                Style(color=theme.bg, bgcolor=theme.accent, bold=True)
                if p == self.priority
                else Style(color=theme.accent_dim)
            )
            text.append(f" {name} ", style=style)
            text.append(" ")
        text.append("   ctrl+p\n", style="dim")
        label = {
            "run": f"run {self.run.label if self.run else ''}",
            "experiment": f"experiment {self.experiment}",
            "global": "global",
        }[self.scope]
        text.append("scope    ")
        text.append(label, style=Style(color=theme.accent))
        text.append("   ctrl+g\n", style="dim")
        text.append("enter saves · escape cancels", style="dim")
        self.query_one("#todo-options", Static).update(text)

    def action_priority(self) -> None:
        self.priority = (self.priority + 1) % 3
        self._draw()

    def action_scope(self) -> None:
        scopes = self._scopes()
        self.scope = scopes[(scopes.index(self.scope) + 1) % len(scopes)]
        self._draw()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def show_error(self, text: str) -> None:
        """Say what was refused, on one line in the popup; nothing was written."""
        line = " ".join(text.split()) or "refused"
        self.query_one("#todo-error", Static).update(Text(line, no_wrap=True))

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        content = event.value.strip()
        if not content:
            self.show_error("type the TODO first")
            return
        scope: str | None = None
        if self.scope == "run" and self.run is not None:
            scope = self.run.id
        elif self.scope == "experiment":
            scope = self.experiment
        self._save(content, self.priority, self.scope, scope)

    @work(thread=True, exclusive=True, group="todo-add")
    def _save(self, content: str, priority: int, scope_type: str, scope: str | None) -> None:
        app = host(self)
        try:
            todo_id = app.browser.add_todo(content, priority, scope_type, scope)
        except (ExtractError, OSError) as e:  # a refusal (bad input, a read-only store)
            self.app.call_from_thread(self.show_error, str(e) or type(e).__name__)
            return
        self.app.call_from_thread(self._saved, todo_id, content)

    def _saved(self, todo_id: str, content: str) -> None:
        host(self).say(f"TODO added ({fmt.PRIORITY[self.priority]}): {content}")
        for screen in self.app.screen_stack:
            screen.post_message(StoreChanged())
        self.dismiss(todo_id)
