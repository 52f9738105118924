"""Every key of the terminal UI, once: the help overlay and docs/tui.md are checked against it.

Each entry is (where, keys as shown, what it does). The bindings themselves live
next to the widgets and screens that own them; tests check that each binding's
key appears here and that help and docs list every row.
"""

from __future__ import annotations

KEYMAP: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere on the main screen",
        (
            ("h / l", "previous / next view tab (Runs, Dashboard, Models, Lineage, TODO)"),
            ("1 2 3 4 5", "go straight to a view tab"),
            ("?", "this help"),
            ("/", "search runs (name, tags, notes, id; status: tag: exp: filters)"),
            ("g", "run picker: jump to a run by name or id"),
            ("b", "run browser: every run, sorted by any column"),
            ("v", "selection window: the marked runs"),
            ("c", "compare the marked runs"),
            ("d", "diff two runs (the two marked, or the selected run against a picked one)"),
            ("a", "add a TODO (to the selected run, or global)"),
            ("T", "Runs view: add a tag to the selected run"),
            ("U", "Runs view: remove a tag from the selected run"),
            ("N", "Runs view: add a note to the selected run"),
            ("ctrl+r", "refresh now (the index is also refreshed every second)"),
            ("q", "quit"),
        ),
    ),
    (
        "Runs view: navigator",
        (
            ("↑ ↓ / j k", "move the cursor"),
            ("← →", "collapse / expand (← on a leaf goes to its parent)"),
            ("enter", "expand or collapse an experiment; on a run, focus its detail"),
            ("space / m", "mark or unmark the run under the cursor"),
            ("x / delete", "delete the run (asks first; hidden by an event until gc)"),
            ("tab / shift+tab", "move focus between the navigator and the detail panel"),
        ),
    ),
    (
        "Runs view: detail panel",
        (
            ("S", "Summary tab"),
            ("I", "Info tab"),
            ("← →", "cycle the curve focus: all charts, then one metric at a time"),
            ("↑ ↓ pgup pgdn", "scroll"),
            ("z", "toggle Catmull-Rom smoothing of the charts"),
            ("t", "open the run's tables (heatmap viewer)"),
            ("L", "show the lineage of the selected run or experiment"),
        ),
    ),
    (
        "Compare and diff",
        (
            ("← →", "compare: cycle the curve focus"),
            ("↑ ↓ pgup pgdn", "scroll"),
            ("t", "compare: open the compared runs' tables"),
            ("d", "compare: diff the first two runs"),
            ("w", "diff: swap the two sides"),
            ("escape / q", "back"),
        ),
    ),
    (
        "Table viewer (heatmap)",
        (
            ("← → ↑ ↓", "move the visible window by one column or row"),
            ("pgup pgdn", "move by a page of rows"),
            ("home end", "first / last rows"),
            ("H", "switch between heatmap colours and the [[tables.highlight]] rules"),
            ("[ ]", "previous / next table"),
            (", .", "previous / next index of the leading axis (arrays of 3 or more axes)"),
            ("escape / q", "back"),
        ),
    ),
    (
        "Lists: search, picker, browser, selection, models, TODO",
        (
            ("↑ ↓ pgup pgdn home end", "move"),
            ("enter", "open the run (search, picker, browser, selection, models)"),
            ("space / m", "mark or unmark the run (search results, browser, selection)"),
            ("tab", "search and picker: move between the input and the results"),
            ("s", "run browser: sort by any metric, config key, param or field"),
            ("r", "run browser: reverse the sort (a metric starts best first)"),
            ("o", "run browser: cycle the order (newest, oldest, name, status)"),
            ("c", "run browser: compare the marked runs"),
            ("x / delete", "run browser: delete the run (asks first)"),
            ("T U N a", "run browser: tag, untag, add a note, add a TODO to the run"),
            ("C", "selection window: clear every mark"),
            ("L", "models: lineage of the model"),
            ("space / enter", "TODO: mark done or open again"),
            ("f", "TODO: show or hide done items"),
            ("escape", "close"),
        ),
    ),
    (
        "Lineage view",
        (
            ("↑ ↓", "move between nodes"),
            ("enter", "re-root the graph on the node"),
            ("+ -", "walk deeper / shallower (1 to 5 generations)"),
            ("o", "cycle direction: both, ancestors, descendants"),
            ("g", "go to the run in the Runs view"),
        ),
    ),
    (
        "Popups",
        (
            ("y / n", "delete confirmation: yes / no"),
            ("ctrl+p", "add TODO: cycle the priority (low, mid, high)"),
            ("ctrl+g", "add TODO: switch between the selected run and global"),
            ("enter", "add TODO, tag, untag, note: save (a refusal shows in the popup)"),
        ),
    ),
)


def all_keys() -> list[str]:
    return [keys for _, rows in KEYMAP for keys, _ in rows]
