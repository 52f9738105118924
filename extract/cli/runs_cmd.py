"""``extract runs``: the runs table, with chosen columns, sorted and filtered (as ``dvc exp show``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ._common import JsonOpt, StoreOpt, handle_errors, print_json

#: Metric columns shown when none are chosen.
DEFAULT_METRICS = 6


@handle_errors
def runs(
    experiment: Annotated[
        str | None,
        typer.Argument(help="Only runs in this experiment (path or id) and below it."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            "-c",
            help="Comma-separated columns: headline metrics (val_acc), config keys "
            "(config.opt.lr), params (param.arch), run fields (name, status, experiment, "
            "started, ended, steps, id). Default: the first headline metrics.",
        ),
    ] = None,
    sort_by: Annotated[
        str | None,
        typer.Option("--sort-by", "-s", help="A column to sort by (a metric sorts best first)."),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option("--order", help="asc or desc (default: best first for a metric, else asc)."),
    ] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-F",
            help="COLUMN OP VALUE, OP one of = != < <= > >= ~ (contains); repeat to add more.",
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", help="Text in the run's name, tags or notes, or an id prefix."),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", "-g", help="Only the runs (ranks) of this distributed job, by rank."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most N runs (0: all).")] = 50,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A table of runs with chosen metrics, config keys and params, sorted by any of them.

    The best value of each metric column is starred (direction from config.toml
    [metrics], else the metric's name). Deleted runs are left out.

    Examples:
      extract runs imagenet --columns val_acc,config.lr,config.opt.name --sort-by val_acc
      extract runs -F 'val_acc>0.9' -F config.opt.name=adam -s config.lr --order asc
      extract runs --group torchrun:5f1c... -c loss,param.rank   (one job's ranks)
    """
    from extract.errors import InvalidInput
    from extract.index import read

    from ._common import reader

    if order not in (None, "asc", "desc"):
        raise InvalidInput(f"--order must be asc or desc, got {order!r}")
    if limit < 0:
        raise InvalidInput(f"--limit must be 0 or more, got {limit}")
    with reader(store) as (repo, conn):
        chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        if chosen is None:
            scope = read.get_experiment(conn, experiment).path if experiment else ""
            chosen = read.metric_names(conn, scope)[:DEFAULT_METRICS]
        table = read.runs_table(
            conn,
            experiment or "",
            chosen,
            sort=sort_by,
            descending=None if order is None else order == "desc",
            filters=filters or (),
            query=search or "",
            group=group,
            limit=limit or None,
            config=repo.config,
        )
    if json_out:
        print_json(_json(table))
        return
    _print(table)


def _json(table: Any) -> dict[str, Any]:
    from ._common import _jsonable

    out: dict[str, Any] = _jsonable(
        {
            "total": table.total,
            "sort": table.sort,
            "descending": table.descending,
            "columns": [c.name for c in table.columns],
            "best": dict(table.best),
            "runs": [
                {
                    "id": r.id,
                    "name": r.name,
                    "experiment": r.experiment_path,
                    "label": r.label,
                    "status": r.status,
                    "started_at": r.started_at,
                    "values": {c.name: v for c, v in zip(table.columns, vals, strict=True)},
                }
                for r, vals in zip(table.rows, table.values, strict=True)
            ],
        }
    )
    return out


def _print(table: Any) -> None:
    from extract.index import read

    from .query_cmds import _print_table

    cols = ["run", "status", *(_title(c, table) for c in table.columns)]
    rows = []
    for r, vals in zip(table.rows, table.values, strict=True):
        cells = [r.label, r.status]
        for c, v in zip(table.columns, vals, strict=True):
            star = " *" if table.best.get(c.name) == r.id else ""
            cells.append(read.cell_text(v) + star)
        rows.append(tuple(cells))
    _print_table(cols, rows)
    if table.total > len(table.rows):
        typer.echo(f"... {table.total - len(table.rows)} more runs (--limit 0 shows all)")


def _title(col: Any, table: Any) -> str:
    arrow = {"min": " ↓", "max": " ↑"}.get(table.directions.get(col.name, ""), "")
    return f"{col.name}{arrow}"
