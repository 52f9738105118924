"""The experiment tree navigator: the hierarchy, with runs under each experiment.

Experiments come from one query; an experiment's runs are loaded (newest first,
at most ``TREE_RUN_LIMIT``) when it is expanded, and reloaded when the store
changes, so a live run's status and a new run appear without a keypress.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode as UINode

from extract.index.models import ExperimentNode, RunRow
from extract.tui import fmt
from extract.tui.context import host
from extract.tui.data import TREE_RUN_LIMIT
from extract.tui.messages import Failed, NodeFocused, RunsLoaded, TreeLoaded
from extract.tui.theme import status_color

#: Node data: ("exp", path) for experiments and the root (path ""), ("run", id), ("more", path).
NavData = tuple[str, str]


class Navigator(Tree[NavData]):
    DEFAULT_CSS = """
    Navigator {
        width: 36;
        min-width: 24;
        height: 1fr;
        border: round $x-border;
        border-title-color: $x-accent-dim;
        background: $background;
        padding: 0 1 0 0;
    }
    Navigator:focus {
        border: round $x-border-focused;
        border-title-color: $accent;
    }
    Navigator > .tree--cursor {
        background: $x-accent-dim;
    }
    Navigator:focus > .tree--cursor {
        background: $accent 40%;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("left", "collapse", "collapse", show=False),
        Binding("right", "expand", "expand", show=False),
        Binding("space,m", "mark", "mark", show=False),
        Binding("x,delete", "delete", "delete", show=False),
    ]

    def __init__(self) -> None:
        super().__init__("all experiments", data=("exp", ""), id="navigator")
        self.border_title = "Experiments"
        self.auto_expand = False
        self.show_root = True
        self.guide_depth = 2
        self._exp: dict[str, UINode[NavData]] = {"": self.root}
        self._tree_info: dict[str, ExperimentNode] = {}
        self._runs: dict[str, list[RunRow]] = {}
        self._run_nodes: dict[str, UINode[NavData]] = {}
        self._pending: str | None = None
        self.root.expand()

    # loading ------------------------------------------------------------------
    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="tree")
    def load(self) -> None:
        try:
            nodes = host(self).browser.tree()
        except Exception as e:
            self.post_message(Failed(f"loading experiments: {e}"))
            return
        self.post_message(TreeLoaded(nodes))

    def reload(self) -> None:
        """The store changed: counts, and the runs of every expanded experiment."""
        self.load()
        for path, node in list(self._exp.items()):
            if node.is_expanded and path in self._runs:
                self.load_runs(path)

    def load_runs(self, path: str, reveal: str | None = None) -> None:
        self.run_worker(
            lambda: self._fetch_runs(path, reveal),
            thread=True,
            exclusive=True,
            group=f"runs:{path}",
        )

    def _fetch_runs(self, path: str, reveal: str | None) -> None:
        try:
            rows = host(self).browser.runs(path, exact=True, limit=TREE_RUN_LIMIT + 1)
        except Exception as e:
            self.post_message(Failed(f"loading runs of {path}: {e}"))
            return
        self.post_message(RunsLoaded(path, rows, reveal))

    @on(TreeLoaded)
    def _tree_loaded(self, msg: TreeLoaded) -> None:
        msg.stop()
        self._tree_info = {n.path: n for n in msg.nodes}
        total = sum(n.n_total for n in msg.nodes if n.depth == 0)
        live = sum(n.n_live for n in msg.nodes if n.depth == 0)
        self.root.set_label(self._exp_label("all experiments", total, live, None))
        for n in msg.nodes:
            label = self._exp_label(n.name, n.n_total, n.n_live, n.node_type)
            ui = self._exp.get(n.path)
            if ui is None:
                parent_path = n.path.rsplit("/", 1)[0] if "/" in n.path else ""
                parent = self._exp.get(parent_path, self.root)
                before = next(
                    (c for c in parent.children if c.data is not None and c.data[0] != "exp"),
                    None,
                )
                ui = parent.add(label, ("exp", n.path), before=before, expand=n.depth == 0)
                self._exp[n.path] = ui
            else:
                ui.set_label(label)
        if self._pending:
            self._reveal(self._pending)

    def _exp_label(self, name: str, total: int, live: int, node_type: str | None) -> Text:
        theme = host(self).browser.config.theme
        text = Text(name)
        text.append(f" {total}", style=Style(color=theme.accent_dim))
        if live:
            text.append(f" ●{live}", style=Style(color=theme.warning))
        return text

    def run_label(self, row: RunRow) -> Text:
        theme = host(self).browser.config.theme
        text = Text(
            fmt.STATUS_GLYPH.get(row.status, "?") + " ",
            style=Style(color=status_color(theme, row.status)),
        )
        if row.id in host(self).marks:
            text.append("◆ ", style=Style(color=theme.accent, bold=True))
        text.append(row.short)
        return text

    @on(RunsLoaded)
    def _runs_loaded(self, msg: RunsLoaded) -> None:
        msg.stop()
        node = self._exp.get(msg.path)
        if node is None:
            return
        rows = msg.rows[:TREE_RUN_LIMIT]
        old = self._runs.get(msg.path)
        self._runs[msg.path] = rows
        if old is not None and [r.id for r in old] == [r.id for r in rows]:
            for r in rows:
                ui = self._run_nodes.get(r.id)
                if ui is not None:
                    ui.data = ("run", r.id)
                    ui.set_label(self.run_label(r))
        else:
            cursor = self.cursor_node.data if self.cursor_node is not None else None
            for child in list(node.children):
                if child.data is not None and child.data[0] in ("run", "more"):
                    if child.data[0] == "run":
                        self._run_nodes.pop(child.data[1], None)
                    child.remove()
            for r in rows:
                self._run_nodes[r.id] = node.add_leaf(self.run_label(r), ("run", r.id))
            if len(msg.rows) > TREE_RUN_LIMIT:
                n = self._tree_info.get(msg.path)
                more = (n.n_runs if n else len(msg.rows)) - TREE_RUN_LIMIT
                node.add_leaf(
                    Text(f"… {more} more: b opens the run browser", style="dim"), ("more", msg.path)
                )
            if cursor is not None and cursor[0] == "run" and cursor[1] in self._run_nodes:
                target = self._run_nodes[cursor[1]]
                self.call_after_refresh(self.move_cursor, target)
        if self._pending:
            self._reveal(self._pending)

    # finding a run -------------------------------------------------------------
    def reveal(self, run_id: str, experiment_path: str) -> None:
        """Expand the way to a run and put the cursor on it."""
        self._pending = run_id
        parts = experiment_path.split("/")
        for depth in range(1, len(parts) + 1):
            ui = self._exp.get("/".join(parts[:depth]))
            if ui is not None and not ui.is_expanded:
                ui.expand()
        self.load_runs(experiment_path, reveal=run_id)

    def _reveal(self, run_id: str) -> None:
        ui = self._run_nodes.get(run_id)
        if ui is None:
            return
        self._pending = None
        self.call_after_refresh(self.move_cursor, ui)

    def current(self) -> NavData | None:
        node = self.cursor_node
        return None if node is None else node.data

    def current_run(self) -> RunRow | None:
        data = self.current()
        if data is None or data[0] != "run":
            return None
        for rows in self._runs.values():
            for r in rows:
                if r.id == data[1]:
                    return r
        return None

    def refresh_labels(self) -> None:
        """Marks changed: redraw the run labels."""
        for rows in self._runs.values():
            for r in rows:
                ui = self._run_nodes.get(r.id)
                if ui is not None:
                    ui.set_label(self.run_label(r))

    # events ----------------------------------------------------------------------
    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[NavData]) -> None:
        data = event.node.data
        if data is not None and data[0] == "exp" and data[1]:
            self.load_runs(data[1])

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NavData]) -> None:
        data = event.node.data
        if data is None:
            return
        if data[0] == "run":
            self.post_message(NodeFocused("run", data[1]))
        elif data[0] == "exp":
            self.post_message(NodeFocused("node", data[1]))

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NavData]) -> None:
        data = event.node.data
        if data is None:
            return
        if data[0] == "exp":
            event.node.toggle()
        elif data[0] == "run":
            self.screen.focus_next()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.children:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None or node.data[0] != "exp":
            return
        if not node.is_expanded:
            node.expand()
        elif node.children:
            self.move_cursor(node.children[0])

    def action_mark(self) -> None:
        row = self.current_run()
        if row is not None:
            host(self).toggle_mark(row)
            self.action_cursor_down()

    def action_delete(self) -> None:
        row = self.current_run()
        if row is None:
            host(self).say("put the cursor on a run to delete it", "warning")
            return
        from extract.tui.screens.popups import ConfirmDelete

        self.app.push_screen(ConfirmDelete(row))
