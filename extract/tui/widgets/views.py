"""The other view tabs: dashboard, model registry, lineage DAG and TODOs."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.console import Group
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from extract.index.models import LineageGraph, LineageNode, ModelVersion, Todo
from extract.tui import dag, fmt, sections
from extract.tui.context import host
from extract.tui.data import MAX_LINEAGE_DEPTH
from extract.tui.messages import DashboardLoaded, Failed, GoToRun, LineageLoaded, RowsLoaded
from extract.tui.sections.common import _grid, _kv
from extract.tui.theme import priority_color
from extract.tui.widgets.vtable import VirtualTable


class DashboardView(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    DashboardView {
        border: round $x-border;
        border-title-color: $x-accent-dim;
        padding: 0 1;
        height: 1fr;
    }
    DashboardView:focus {
        border: round $x-border-focused;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.border_title = "Dashboard"

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="dashboard-body")

    @work(thread=True, exclusive=True, group="dashboard")
    def load(self) -> None:
        try:
            data = host(self).browser.dashboard()
        except Exception as e:
            self.post_message(Failed(f"loading the dashboard: {e}"))
            return
        self.post_message(DashboardLoaded(data))

    @on(DashboardLoaded)
    def _loaded(self, msg: DashboardLoaded) -> None:
        msg.stop()
        cfg = host(self).browser.config
        self.query_one("#dashboard-body", Static).update(sections.dashboard_view(msg.data, cfg))


class RegistryView(Vertical):
    """Every registered model version, with the run that registered it."""

    DEFAULT_CSS = """
    RegistryView {
        height: 1fr;
    }
    RegistryView > VirtualTable {
        height: 2fr;
    }
    RegistryView > #model-detail {
        height: 1fr;
        border: round $x-border;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("L", "lineage", "lineage", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="models")

    def compose(self) -> ComposeResult:
        table = VirtualTable(self._row, self._header, "no models registered", id="model-table")
        table.border_title = "Models"
        yield table
        yield Static(id="model-detail")

    def _header(self, width: int) -> Text:
        return Text(f"  {'name@version':<32} {'framework':<10} {'size':>10}  {'created':<16}  run")

    def _row(self, m: ModelVersion, index: int, width: int) -> Text:
        return Text(
            f"  {fmt.clip(m.key, 32):<32} {fmt.clip(m.framework or '—', 10):<10} "
            f"{fmt.size(m.size):>10}  {fmt.when(m.created_at, seconds=False):<16}  "
            f"{m.run_label or '—'}"
        )

    @work(thread=True, exclusive=True, group="models")
    def load(self) -> None:
        try:
            rows = host(self).browser.models()
        except Exception as e:
            self.post_message(Failed(f"loading models: {e}"))
            return
        self.post_message(RowsLoaded("models", rows))

    @on(RowsLoaded)
    def _loaded(self, msg: RowsLoaded) -> None:
        msg.stop()
        table = self.query_one(VirtualTable)
        table.set_rows(msg.rows, keep=lambda m: m.id)
        self._show(table.current)

    @on(VirtualTable.Highlighted)
    def _highlighted(self, msg: VirtualTable.Highlighted) -> None:
        self._show(msg.table.current)

    @on(VirtualTable.Activated)
    def _activated(self, msg: VirtualTable.Activated) -> None:
        m = msg.table.current
        if isinstance(m, ModelVersion) and m.run_id:
            self.post_message(GoToRun(m.run_id))

    def _show(self, m: ModelVersion | None) -> None:
        cfg = host(self).browser.config
        if m is None:
            self.query_one("#model-detail", Static).update("")
            return
        t = _grid()
        for key, value in (
            ("model", m.key),
            ("framework", m.framework or "—"),
            ("size", fmt.size(m.size)),
            ("content", m.content_id or "—"),
            ("object", m.object_id or "—"),
            ("commit", m.commit_id or "not committed"),
            ("run", f"{m.run_label or '—'}  {m.run_id or ''}"),
            ("source", m.artifact_path or "—"),
            ("metadata", json.dumps(m.metadata, sort_keys=True) if m.metadata else "—"),
            ("created", fmt.when(m.created_at)),
        ):
            _kv(t, key, value, cfg)
        hint = Text("enter: go to the run   L: lineage of this model", style="dim")
        self.query_one("#model-detail", Static).update(Group(t, hint))

    def current(self) -> ModelVersion | None:
        cur = self.query_one(VirtualTable).current
        return cur if isinstance(cur, ModelVersion) else None

    def action_lineage(self) -> None:
        m = self.current()
        if m is not None:
            screen: Any = self.screen
            screen.show_lineage("model", m.id)


class LineageView(VerticalScroll, can_focus=True):
    """The lineage DAG around one run, experiment or model."""

    DEFAULT_CSS = """
    LineageView {
        border: round $x-border;
        border-title-color: $x-accent-dim;
        padding: 0 1;
        height: 1fr;
    }
    LineageView:focus {
        border: round $x-border-focused;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "previous node", show=False),
        Binding("down,j", "move(1)", "next node", show=False),
        Binding("enter", "reroot", "re-root", show=False),
        Binding("plus,equals_sign", "depth(1)", "deeper", show=False),
        Binding("minus", "depth(-1)", "shallower", show=False),
        Binding("o", "direction", "direction", show=False),
        Binding("g", "goto", "go to run", show=False),
    ]
    DIRECTIONS = ("both", "ancestors", "descendants")

    def __init__(self) -> None:
        super().__init__(id="lineage")
        self.border_title = "Lineage"
        self.root: tuple[str, str] | None = None
        self.depth = 2
        self.direction = "both"
        self.data: LineageGraph | None = None
        self.selected: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="lineage-head")
        yield Static(
            Text(
                "Choose a run in the Runs view (or a model in Models) and press L.",
                style="dim",
            ),
            id="lineage-body",
        )
        yield Static(id="lineage-node")

    def show(self, node_type: str, node_id: str) -> None:
        self.root = (node_type, node_id)
        self.selected = self.root
        self.load()

    def load(self) -> None:
        if self.root is not None:
            self._load(self.root, self.depth, self.direction)

    @work(thread=True, exclusive=True, group="lineage")
    def _load(self, root: tuple[str, str], depth: int, direction: str) -> None:
        try:
            data = host(self).browser.lineage(root[0], root[1], depth, direction)
        except Exception as e:
            self.post_message(Failed(f"loading lineage: {e}"))
            return
        self.post_message(LineageLoaded(data))

    @on(LineageLoaded)
    def _loaded(self, msg: LineageLoaded) -> None:
        msg.stop()
        self.data = msg.data
        keys = dag.order(msg.data.nodes, msg.data.edges)
        if self.selected not in keys:
            self.selected = dag.key(msg.data.root)
        self.redraw()

    def redraw(self) -> None:
        d = self.data
        if d is None:
            return
        theme = host(self).browser.config.theme
        head = Text("root ", style=Style(color=theme.accent_dim))
        head.append(d.root.label, style="bold")
        head.append(
            f"   depth {d.depth}   {d.direction}   {len(d.nodes)} nodes, {len(d.edges)} edges",
            style=Style(color=theme.accent_dim),
        )
        colors = {
            "run": theme.accent,
            "model": theme.success,
            "experiment": theme.warning,
            "edge": theme.accent_dim,
        }
        lines = dag.render(
            d.nodes, d.edges, root=dag.key(d.root), selected=self.selected, colors=colors
        )
        body = Text("\n").join(lines)
        body.no_wrap = True
        self.query_one("#lineage-head", Static).update(head)
        self.query_one("#lineage-body", Static).update(body)
        node = self._node(self.selected)
        info = Text()
        if node is not None:
            info.append(f"{node.type} ", style=Style(color=theme.accent_dim))
            info.append(node.label, style="bold")
            info.append(f"  {node.id}", style="dim")
            if not node.found:
                info.append("  (not in this store)", style=Style(color=theme.warning))
            if d.truncated:
                info.append(f"  (the walk stopped at {len(d.nodes)} nodes)", style="dim")
            label = {dag.key(n): n.label for n in d.nodes}
            for e in d.edges:
                parent, child = dag.parent_key(e), dag.child_key(e)
                if child == self.selected:
                    info.append(f"\n  ← {e.relation} {parent[0]} {label.get(parent, parent[1])}")
                if parent == self.selected:
                    info.append(f"\n  → {e.relation} {child[0]} {label.get(child, child[1])}")
        info.append("\n\nenter: re-root  + -: depth  o: direction  g: go to run", style="dim")
        self.query_one("#lineage-node", Static).update(info)

    def action_move(self, step: int) -> None:
        if self.data is None:
            return
        keys = dag.order(self.data.nodes, self.data.edges)
        if not keys:
            return
        i = keys.index(self.selected) if self.selected in keys else 0
        self.selected = keys[(i + step) % len(keys)]
        self.redraw()

    def _node(self, key: tuple[str, str] | None) -> LineageNode | None:
        nodes = self.data.nodes if self.data is not None else ()
        return next((n for n in nodes if dag.key(n) == key), None)

    def action_reroot(self) -> None:
        node = self._node(self.selected)
        if node is not None and node.found:
            self.root = dag.key(node)
            self.load()

    def action_depth(self, step: int) -> None:
        self.depth = max(1, min(MAX_LINEAGE_DEPTH, self.depth + step))
        self.load()

    def action_direction(self) -> None:
        i = self.DIRECTIONS.index(self.direction)
        self.direction = self.DIRECTIONS[(i + 1) % len(self.DIRECTIONS)]
        self.load()

    def action_goto(self) -> None:
        if self.selected is not None and self.selected[0] == "run":
            self.post_message(GoToRun(self.selected[1]))


class TodoView(Vertical):
    """Every TODO (global, experiment and run), highest priority first; stored as events."""

    DEFAULT_CSS = """
    TodoView {
        height: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_done", "done / open", show=False),
        Binding("f", "filter", "show done", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="todo")
        self.show_done = True

    def compose(self) -> ComposeResult:
        table = VirtualTable(self._row, self._header, "no TODOs: a adds one", id="todo-table")
        table.border_title = "TODO"
        yield table

    def _header(self, width: int) -> Text:
        shown = "all" if self.show_done else "open only"
        return Text(f"      {'prio':<5} {'TODO':<48} {'scope':<36} created   ({shown}; f toggles)")

    def _row(self, t: Todo, index: int, width: int) -> Text:
        theme = host(self).browser.config.theme
        p = t.priority
        text = Text(" [x] " if t.done else " [ ] ")
        text.append(
            f" {fmt.PRIORITY.get(p, str(p)):<5}",
            style=Style(color=priority_color(theme, p), bold=p == 2),
        )
        text.append(f"{fmt.clip(t.content, 48):<48} ", style="strike dim" if t.done else "")
        scope = t.scope_label or t.scope_type
        text.append(f"{fmt.clip(scope, 36):<36} ", style=Style(color=theme.accent_dim))
        text.append(fmt.when(t.created_at, seconds=False), style="dim")
        return text

    @work(thread=True, exclusive=True, group="todos")
    def load(self) -> None:
        try:
            rows = host(self).browser.todos(include_done=self.show_done)
        except Exception as e:
            self.post_message(Failed(f"loading TODOs: {e}"))
            return
        self.post_message(RowsLoaded("todos", rows))

    @on(RowsLoaded)
    def _loaded(self, msg: RowsLoaded) -> None:
        msg.stop()
        self.query_one(VirtualTable).set_rows(msg.rows, keep=lambda t: t.id)

    @on(VirtualTable.Activated)
    def _activated(self, msg: VirtualTable.Activated) -> None:
        msg.stop()
        self.action_toggle_done()

    def action_toggle_done(self) -> None:
        t = self.query_one(VirtualTable).current
        if isinstance(t, Todo):
            self._toggle(t.id, not t.done, t.content)

    @work(thread=True, group="todo-write")
    def _toggle(self, todo_id: str, done: bool, content: str) -> None:
        try:
            host(self).browser.set_todo_done(todo_id, done)
        except Exception as e:
            self.post_message(Failed(f"updating the TODO: {e}"))
            return
        self.app.call_from_thread(host(self).say, f"{'done' if done else 'open again'}: {content}")
        self.load()

    def action_filter(self) -> None:
        self.show_done = not self.show_done
        self.load()
