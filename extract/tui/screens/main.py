"""The main screen: view tabs (Runs, Dashboard, Models, Lineage, TODO) and the status bar.

It routes intents: a run chosen anywhere is shown in the Runs view, marks and
store changes reach every widget that draws them, and the keys that open the
other screens live here.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from extract.tui.context import host
from extract.tui.data import RunDetail
from extract.tui.messages import Failed, GoToRun, MarksChanged, NodeFocused, StoreChanged
from extract.tui.screens.annotate import AnnotateRun, Kind
from extract.tui.screens.browser import RunBrowser
from extract.tui.screens.compare import CompareScreen, DiffScreen
from extract.tui.screens.lists import RunPicker, SearchScreen, SelectionScreen
from extract.tui.screens.popups import HelpScreen, TodoAdd
from extract.tui.screens.tableview import TableScreen
from extract.tui.widgets.bars import VIEWS, StatusBar, TabBar
from extract.tui.widgets.detail import DetailPanel
from extract.tui.widgets.navigator import Navigator
from extract.tui.widgets.views import DashboardView, LineageView, RegistryView, TodoView

#: The status bar's reminder while a run is selected: the keys that annotate it.
RUN_KEYS = "T tag · U untag · N note · a TODO"


class MainScreen(Screen[None]):
    DEFAULT_CSS = """
    MainScreen {
        background: $background;
    }
    MainScreen ContentSwitcher {
        height: 1fr;
    }
    MainScreen #runs {
        height: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "cycle_view(-1)", "previous view", show=False),
        Binding("l", "cycle_view(1)", "next view", show=False),
        *(
            Binding(str(i), f"view('{key}')", label, show=False)
            for i, (key, label) in enumerate(VIEWS, start=1)
        ),
        Binding("question_mark", "help", "help"),
        Binding("slash", "search", "search"),
        Binding("g", "picker", "go to run"),
        Binding("b", "browser", "run browser"),
        Binding("v", "selection", "marked runs"),
        Binding("c", "compare", "compare"),
        Binding("d", "diff", "diff"),
        Binding("a", "add_todo", "add TODO"),
        Binding("T", "annotate('tag')", "tag"),
        Binding("U", "annotate('untag')", "untag"),
        Binding("N", "annotate('note')", "note"),
        Binding("ctrl+r", "refresh", "refresh"),
        Binding("q", "quit", "quit"),
        Binding("S", "detail_tab('summary')", "Summary", show=False),
        Binding("I", "detail_tab('info')", "Info", show=False),
        Binding("z", "smooth", "smoothing", show=False),
        Binding("t", "tables", "tables", show=False),
        Binding("L", "lineage", "lineage", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TabBar()
        with ContentSwitcher(initial="runs"):
            with Horizontal(id="runs"):
                yield Navigator()
                yield DetailPanel()
            yield DashboardView()
            yield RegistryView()
            yield LineageView()
            yield TodoView()
        yield StatusBar()

    def on_mount(self) -> None:
        self.query_one(Navigator).focus()
        self.query_one(DetailPanel).show("node", "")
        self.update_status()

    # views -----------------------------------------------------------------------
    @property
    def view(self) -> str:
        return self.query_one(ContentSwitcher).current or "runs"

    def action_view(self, name: str) -> None:
        self.query_one(ContentSwitcher).current = name
        bar = self.query_one(TabBar)
        bar.current = name
        bar.draw()
        focus = {
            "runs": "#navigator",
            "dashboard": "#dashboard",
            "models": "#model-table",
            "lineage": "#lineage",
            "todo": "#todo-table",
        }[name]
        self.query_one(focus).focus()
        self._run_hint()
        self._load_view(name)

    def _load_view(self, name: str) -> None:
        lineage = self.query_one(LineageView)
        if name == "lineage" and lineage.root is None:
            panel = self.query_one(DetailPanel)
            if panel.key is not None and panel.key[0] == "run":
                lineage.show("run", panel.key[1])
                return
        if name == "dashboard":
            self.query_one(DashboardView).load()
        elif name == "models":
            self.query_one(RegistryView).load()
        elif name == "lineage":
            self.query_one(LineageView).load()
        elif name == "todo":
            self.query_one(TodoView).load()

    def action_cycle_view(self, step: int) -> None:
        keys = [k for k, _ in VIEWS]
        self.action_view(keys[(keys.index(self.view) + step) % len(keys)])

    # routing ---------------------------------------------------------------------
    @on(NodeFocused)
    def _node_focused(self, msg: NodeFocused) -> None:
        self.query_one(DetailPanel).show(msg.kind, msg.key)
        self._run_hint()

    def _run_hint(self) -> None:
        """The annotating keys in the status bar while they have a run to act on."""
        bar = self.query_one(StatusBar)
        hint = RUN_KEYS if self.selected_run() else ""
        if hint != bar.hint:
            bar.hint = hint
            bar.draw()

    @on(GoToRun)
    def _goto(self, msg: GoToRun) -> None:
        self._find_run(msg.run_id)

    @work(thread=True, exclusive=True, group="goto")
    def _find_run(self, run_id: str) -> None:
        rows = host(self).browser.runs_by_id([run_id])
        row = rows.get(run_id)
        if row is None:
            self.post_message(Failed(f"no run {run_id}"))
            return
        self.app.call_from_thread(self._reveal, row.id, row.experiment_path)

    def _reveal(self, run_id: str, path: str) -> None:
        if self.view != "runs":
            self.action_view("runs")
        self.query_one(Navigator).reveal(run_id, path)
        self.query_one(DetailPanel).show("run", run_id)
        self._run_hint()

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self.query_one(Navigator).reload()
        self.query_one(DetailPanel).reload()
        self._load_view(self.view)
        self.update_status(refreshed=True)

    @on(MarksChanged)
    def _marks_changed(self) -> None:
        self.query_one(Navigator).refresh_labels()
        self.query_one(DetailPanel).redraw()
        self.query_one(StatusBar).draw()

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        host(self).say(msg.text, "error")

    def update_status(self, refreshed: bool = False) -> None:
        self._status(refreshed)

    @work(thread=True, exclusive=True, group="status")
    def _status(self, refreshed: bool) -> None:
        browser = host(self).browser
        try:
            counts = browser.counts()
        except Exception:
            return
        stamp = browser.now().strftime("%H:%M:%S") if refreshed else None
        self.app.call_from_thread(self._set_status, counts, stamp)

    def _set_status(self, counts: tuple[int, int], stamp: str | None) -> None:
        bar = self.query_one(StatusBar)
        bar.counts = counts
        if stamp:
            bar.refreshed = stamp
        bar.draw()

    # selection helpers ----------------------------------------------------------------
    def selected_run(self) -> str | None:
        panel = self.query_one(DetailPanel)
        if self.view == "runs" and panel.key is not None and panel.key[0] == "run":
            return panel.key[1]
        return None

    def selected_node(self) -> str | None:
        panel = self.query_one(DetailPanel)
        if self.view == "runs" and panel.key is not None and panel.key[0] == "node":
            return panel.key[1]
        return None

    # actions -----------------------------------------------------------------------
    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_search(self) -> None:
        self.app.push_screen(SearchScreen())

    def action_picker(self) -> None:
        def chosen(run_id: str | None) -> None:
            if run_id:
                self._find_run(run_id)

        self.app.push_screen(RunPicker(), chosen)

    def action_browser(self) -> None:
        self.app.push_screen(RunBrowser(self.selected_node() or ""))

    def action_selection(self) -> None:
        self.app.push_screen(SelectionScreen(self.action_compare, self.action_diff))

    def action_compare(self) -> None:
        marks = list(host(self).marks)
        if len(marks) < 2:
            host(self).say(
                f"mark at least two runs to compare (space marks; {len(marks)} marked)", "warning"
            )
            return
        self.app.push_screen(CompareScreen(marks[:10]))
        if len(marks) > 10:
            host(self).say("compare shows the first 10 marked runs", "warning")

    def action_diff(self) -> None:
        marks = list(host(self).marks)
        current = self.selected_run()
        if len(marks) >= 2:
            self.app.push_screen(DiffScreen(marks[0], marks[1]))
        elif len(marks) == 1 and current and current != marks[0]:
            self.app.push_screen(DiffScreen(marks[0], current))
        elif current or marks:
            first = current or marks[0]

            def chosen(other: str | None) -> None:
                if other:
                    self.app.push_screen(DiffScreen(first, other))

            self.app.push_screen(RunPicker("Diff against", exclude=first), chosen)
        else:
            host(self).say("select or mark a run to diff", "warning")

    def action_add_todo(self) -> None:
        panel = self.query_one(DetailPanel)
        run = panel.data.row if isinstance(panel.data, RunDetail) and self.view == "runs" else None
        self.app.push_screen(TodoAdd(run, self.selected_node() or None))

    def action_annotate(self, kind: Kind) -> None:
        """Tag, untag or add a note to the run the Runs view shows (navigator or detail)."""
        panel = self.query_one(DetailPanel)
        if not isinstance(panel.data, RunDetail) or self.view != "runs":
            host(self).say("select a run first (Runs view)", "warning")
            return
        if kind == "untag" and not panel.data.row.tags:
            host(self).say(f"{panel.data.row.label} has no tags to remove", "warning")
            return
        self.app.push_screen(AnnotateRun(kind, panel.data.row))

    def action_refresh(self) -> None:
        host(self).refresh_now()

    def action_quit(self) -> None:
        self.app.exit()

    def action_detail_tab(self, tab: str) -> None:
        if self.view != "runs":
            self.action_view("runs")
        self.query_one(DetailPanel).switch(tab)

    def action_smooth(self) -> None:
        app = host(self)
        app.smooth = not app.smooth
        app.say(f"smoothing {'on (Catmull-Rom)' if app.smooth else 'off'}")
        self.query_one(DetailPanel).redraw()

    def action_tables(self) -> None:
        data = self.query_one(DetailPanel).data
        if not isinstance(data, RunDetail) or self.view != "runs":
            host(self).say("select a run to open its tables", "warning")
            return
        if not data.tables:
            host(self).say(f"{data.row.short} logged no tables", "warning")
            return
        self.app.push_screen(TableScreen(list(data.tables)))

    def action_lineage(self) -> None:
        run = self.selected_run()
        node = self.selected_node()
        if self.view == "models":
            model = self.query_one(RegistryView).current()
            if model is not None:
                self.show_lineage("model", model.id)
                return
        if run:
            self.show_lineage("run", run)
        elif node:
            exp = self.query_one(DetailPanel).data
            exp_id = getattr(getattr(exp, "node", None), "id", None)
            if exp_id:
                self.show_lineage("experiment", exp_id)
        else:
            host(self).say("select a run, an experiment or a model first", "warning")

    def show_lineage(self, node_type: str, node_id: str) -> None:
        self.query_one(LineageView).show(node_type, node_id)
        self.action_view("lineage")
