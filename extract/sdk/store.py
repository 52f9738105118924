"""Store and Experiment: the entry points of the tracking SDK."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from extract.errors import InvalidHierarchy, InvalidInput, StoreNotFound
from extract.index import annotate as annotate_mod
from extract.index import models, read
from extract.index.access import open_index
from extract.index.ids import experiment_id
from extract.objects import Link, ObjectId
from extract.objects.codec import check_value
from extract.sdk.attach import check_todo
from extract.sdk.background import LiveIndexer
from extract.sdk.console import start_capture
from extract.sdk.jobs import group_params
from extract.sdk.read import RunData, checkout_model
from extract.sdk.run import Run
from extract.sdk.system import start_sampler
from extract.sdk.values import text
from extract.store import chunking
from extract.store.history import model_key
from extract.store.purge import plan_purge
from extract.store.purge import purge as purge_store
from extract.store.purges import is_purged
from extract.store.repo import FORMAT_FILE, Repository, locate_store
from extract.tracking.events import record_event
from extract.tracking.seal import recover_orphans


class Store:
    """A store directory (default ``.extract``), created if absent."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        # Found as every CLI command finds it; created where none is found.
        path = locate_store(root, create=True)
        if not (path / FORMAT_FILE).exists():
            if path.exists() and any(path.iterdir()):
                raise StoreNotFound(f"{path} exists but is not an extract store (no {FORMAT_FILE})")
            self._repo = Repository.create(path)
        else:
            self._repo = Repository(path)
        self.root = self._repo.root
        # Where the index lives, healing a damaged one, a read-only store's index in the
        # user's cache: decided once, for every front end, by open_index.
        self._index = open_index(self._repo, refresh=False)
        self._indexer = self._index.writer()
        # Points indexed by a background thread while the run logs (finish() then only
        # catches up), or all at finish(): docs/tracking.md weighs the two.
        self._live = (
            LiveIndexer(self._repo, self._indexer.path)  # started by the first run
            if self._repo.config.index_while_logging
            else None
        )
        self._closed = False
        # Sealing a crashed run writes to the store: a read-only one is only read.
        self.recovered = [] if self._index.read_only else recover_orphans(self._indexer)
        self._indexer.refresh()  # a deleted or stale index answers like a fresh one

    def __repr__(self) -> str:
        return f"<Store {self.root}>"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def hierarchy(self) -> tuple[str, ...]:
        levels = self._repo.config.hierarchy
        if not levels:
            raise InvalidHierarchy(
                f"store {self.root} has no hierarchy yet: run "
                f'`extract init --hierarchy "benchmark > model > variant"` in {self.root.parent}'
            )
        return levels

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"store {self.root} is closed")

    @property
    def _conn(self) -> sqlite3.Connection:
        self._check_open()
        return self._indexer.conn

    def experiment(self, spec: dict[str, str]) -> Experiment:
        """The experiment named by hierarchy levels in order from the root; created if new."""
        self._check_open()
        if not isinstance(spec, dict) or not spec:
            raise ValueError(
                f"experiment() takes a dict of hierarchy levels, e.g. {{{self.hierarchy[0]!r}: 'name'}}"
            )
        levels = self.hierarchy
        values = []
        for i, (key, value) in enumerate(spec.items()):
            if key not in levels:
                raise ValueError(
                    f"unknown hierarchy level {key!r}: this store's levels are {' > '.join(levels)}"
                )
            if i >= len(levels) or key != levels[i]:
                expected = levels[i] if i < len(levels) else None
                raise ValueError(
                    f"hierarchy level {expected!r} must come before {key!r}: levels go "
                    f"{' > '.join(levels)}, from the root, without skipping"
                )
            if (
                not isinstance(value, str)
                or not value.strip()
                or "/" in value
                or value in (".", "..")
            ):
                raise ValueError(f"{key} must be a non-empty name without '/', got {value!r}")
            values.append(text(value, f"experiment(): {key}"))
        path = "/".join(values)
        self._check_open()
        if not self._indexer.has_experiment(path):
            self._event("experiment", f"experiment:{path}", {})
        return Experiment(self, path, levels[len(values) - 1])

    def list_experiments(self, prefix: str = "") -> list[Experiment]:
        self._check_open()
        self._indexer.refresh()
        return [
            Experiment(self, e.path, e.node_type)
            for e in read.list_experiments(self._conn, prefix).items
        ]

    def todo(self, content: str, priority: int = 0) -> None:
        """A TODO not tied to any run or experiment."""
        self._check_open()
        check_todo(content, priority)
        self._event(
            "todo",
            "global",
            {"content": content, "priority": priority, "scope_type": "global", "scope_id": None},
        )

    def list_todos(
        self, scope_type: str = "global", scope_id: str | None = None
    ) -> list[dict[str, Any]]:
        """TODOs of one scope, highest priority first, then oldest first."""
        self._check_open()
        if scope_type not in ("global", "experiment", "run"):
            raise ValueError(
                f"scope_type must be 'global', 'experiment' or 'run', got {scope_type!r}"
            )
        if scope_type == "global" and scope_id is not None:
            raise ValueError("scope_id must be None for global TODOs")
        if scope_type != "global" and scope_id is None:
            raise ValueError(f"scope_id is required for {scope_type} TODOs")
        self._indexer.refresh()
        todos = read.list_todos(self._conn, scope_type, scope_id, include_done=True).items
        return [_todo_dict(t) for t in todos]

    def annotate(self, run: str) -> Annotations:
        """A handle to tag, untag, note, add TODOs to, or delete any run (by id, unique id
        prefix, or name), finished or not, from this machine or fetched: each is an event,
        committed and synced like the run's own records."""
        self._check_open()
        self._indexer.refresh()
        return Annotations(self, read.resolve_run(self._conn, run, hint=True))

    def load_run(self, run_id: str) -> RunData:
        """A run's stored results: ``.curves()``, ``.table(name)[rows]``, ``.text(name)``."""
        self._check_open()
        return RunData(self, run_id)

    def checkout_model(
        self, name: str, version: str, dest: str | os.PathLike[str], force: bool = False
    ) -> Path:
        """Write model name@version's files to ``dest``."""
        self._check_open()
        return checkout_model(self, name, version, Path(dest), force)

    def purge(self, *targets: str, keep_models: bool = False) -> dict[str, Any]:
        """Remove runs (id, id prefix or name) and model versions (``"name@version"``) for
        good and free the space only they used, as ``extract purge --yes`` does: a purged
        run takes the model versions it registered with it unless ``keep_models``. The
        purge is a commit, so it reaches other stores by push, fetch and merge. It cannot
        be undone. Returns what went: ``runs``, ``models``, ``already_purged``,
        ``bytes_freed``."""
        self._check_open()
        if not targets:
            raise InvalidInput(
                "purge() needs runs (id, id prefix or name) or 'name@version' model versions"
            )
        self._indexer.refresh()
        runs, model_keys = read.resolve_targets(self._conn, targets)
        plan = plan_purge(self._repo, runs, model_keys, keep_models=keep_models)
        done = purge_store(self._repo, plan)
        self._indexer.refresh()
        return {
            "runs": plan.runs,
            "models": plan.models,
            "already_purged": plan.already,
            "bytes_freed": done.freed.bytes_removed if done.freed else 0,
        }

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._live is not None:
                self._live.close()
            self._index.close()

    # internals used by Run and Experiment ---------------------------------------------
    def _event(self, op: str, target: str, data: dict[str, Any]) -> str:
        self._check_open()
        return record_event(self._indexer, op, target, data)

    def _auto_commit(self) -> bool:
        return self._repo.config.auto_commit

    def _capture_code(self) -> dict[str, Any] | None:
        """Code provenance of the working directory at run start; never raises."""
        try:
            from extract.git.provenance import capture
        except ImportError:
            return None
        try:
            # binary patches too, so the exact code of the run can be rebuilt
            prov = capture(Path.cwd(), binary=True)
            record: dict[str, Any] = dict(prov.to_record())
            # What git said goes into the run record: a branch name that is not UTF-8 must
            # fail here, where it is only a provenance gap, not when the run is sealed.
            check_value(record, "code provenance")
            if prov.dirty and prov.worktree_tree:
                from extract.git.stamp import want_stamp

                want_stamp(self.root, prov.worktree_tree)  # the post-commit hook's cue
            if prov.diff:
                record["diff"] = Link(chunking.write_bytes(self._repo.objects, prov.diff))
                self._repo.objects.sync()
            else:
                record["diff"] = None
            return record
        except Exception as e:  # provenance must never fail a run
            return {"reasons": [f"capture failed: {e}"]}

    def _check_model_free(self, name: str, version: str) -> None:
        """Refuse a taken name@version before any bytes are stored."""
        self._indexer.refresh()
        holder = self._indexer.model_holder(name, version)
        if holder is not None:
            raise _model_taken(name, version, holder)
        if is_purged(self._repo, model_key(name, version)):  # a commit would drop it
            raise ValueError(
                f"model {name}@{version} was purged from this store for good; register it "
                "under a new version"
            )

    def _claim_model(self, name: str, version: str, oid: ObjectId) -> None:
        """Reserve name@version in the index so a duplicate fails at once, in any process."""
        holder = self._indexer.claim_model(name, version, oid)
        if holder is not None:
            raise _model_taken(name, version, holder)


def _model_taken(name: str, version: str, run_id: str) -> ValueError:
    return ValueError(
        f"model {name}@{version} is already registered (by run {run_id}); "
        "register it under a new version"
    )


class Experiment:
    """A node of the hierarchy; runs hang off it."""

    def __init__(self, store: Store, path: str, node_type: str | None) -> None:
        self._store = store
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        self.node_type = node_type
        self.id = experiment_id(path)

    def __repr__(self) -> str:
        return f"<Experiment {self.path}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def run(
        self,
        config: dict[str, Any] | None = None,
        name: str | None = None,
        total_steps: int | None = None,
        group: str | bool | None = None,
        system_metrics: bool | None = None,
        capture_output: bool = False,
        resume: str | None = None,
    ) -> Run:
        """Start a run: use it as a context manager, or call finish() yourself.

        ``group``: the job this run is one rank of (sdk/jobs.py; by default found in the
        launcher's environment, ``False`` for none). ``system_metrics``: sample CPU,
        memory, disk, network and GPUs into ``system/`` curves while the run is live
        (sdk/system.py; by default as config.toml's ``[system] metrics`` says, on).
        ``capture_output``: keep what the script prints as the texts ``stdout`` and
        ``stderr`` (sdk/console.py; off by default). ``resume``: the id (or name) of a
        failed or preempted run of this experiment to continue under its own id
        (sdk/resume.py): curves go on after its last step, headline values update, tags
        and notes carry over; ``config`` then sets keys over the run's config."""
        params = group_params(group)  # all checked before the run exists
        if system_metrics is not None and not isinstance(system_metrics, bool):
            raise TypeError(
                f"run(): system_metrics must be True, False or None, got {system_metrics!r}"
            )
        if not isinstance(capture_output, bool):
            raise TypeError(f"run(): capture_output must be True or False, got {capture_output!r}")
        run = Run(self._store, self, config, name, total_steps, resume)
        if params:
            run.log(**params)
        start_sampler(run, self._store._repo.config, system_metrics)
        start_capture(run, capture_output)
        return run

    def list_runs(self) -> list[dict[str, Any]]:
        """This experiment's runs as dicts, oldest first."""
        self._store._check_open()
        self._store._indexer.refresh()
        page = read.list_runs(self._store._conn, self.path, exact=True, order="oldest", full=True)
        return [_run_dict(r) for r in page.items]

    def todo(self, content: str, priority: int = 0) -> None:
        check_todo(content, priority)
        self._store._event(
            "todo",
            f"experiment:{self.path}",
            {
                "content": content,
                "priority": priority,
                "scope_type": "experiment",
                "scope_id": self.id,
            },
        )


def _todo_dict(t: models.Todo) -> dict[str, Any]:
    """A TODO as the reference's ``list_todos`` returns it: the todos table's columns."""
    return {
        "id": t.id,
        "scope_type": t.scope_type,
        "scope_id": t.scope_id,
        "content": t.content,
        "done": t.done,
        "priority": t.priority,
        "created_at": t.created_at,
        "completed_at": t.completed_at,
    }


def _run_dict(r: models.RunRow) -> dict[str, Any]:
    """A run as the reference's ``list_runs`` returns it: the runs table's columns as
    stored, config and tags as JSON text."""
    assert r.code is not None  # a full row
    return {
        "id": r.id,
        "experiment_id": r.experiment_id,
        "experiment_path": r.experiment_path,
        "name": r.name,
        "config": None if r.config is None else json.dumps(r.config, sort_keys=True),
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "status": r.status,
        "hostname": r.hostname,
        "git_sha": r.git_sha,
        "tags": json.dumps(list(r.tags)),
        "notes": r.notes,
        "total_steps": r.total_steps,
        "object_id": r.object_id,
        "commit_id": r.commit_id,
        "deleted": r.deleted,
        "git_branch": r.code.git_branch,
        "git_dirty": r.code.git_dirty,
        "git_tree": r.code.git_tree,
        "git_diff_id": r.code.git_diff_id,
        "git_stamp": r.code.git_stamp,
    }


class Annotations:
    """What can be said about a run after the fact (``store.annotate(run)``)."""

    def __init__(self, store: Store, run_id: str) -> None:
        self._store = store
        self.id = run_id

    def __repr__(self) -> str:
        return f"<Annotations of run {self.id}>"

    def tag(self, *tags: str) -> None:
        self._store._check_open()
        annotate_mod.tag(self._store._indexer, self.id, tags)

    def untag(self, *tags: str) -> None:
        self._store._check_open()
        annotate_mod.untag(self._store._indexer, self.id, tags)

    def note(self, content: str) -> None:
        self._store._check_open()
        annotate_mod.note(self._store._indexer, self.id, content)

    def todo(self, content: str, priority: int = 0) -> str:
        """A TODO on this run; returns its id (for ``todo_done``)."""
        self._store._check_open()
        return annotate_mod.add_todo(self._store._indexer, content, priority, "run", self.id)

    def todo_done(self, todo_id: str, done: bool = True) -> None:
        self._store._check_open()
        annotate_mod.set_todo_done(self._store._indexer, todo_id, done)

    def delete(self) -> None:
        """Hide the run from lists (an event: nothing is removed; see ``extract purge``)."""
        self._store._check_open()
        annotate_mod.delete_run(self._store._indexer, self.id)
