"""Tracking benchmark: the SDK's logging path, sealing, reindex and queries, against floors.

Every figure that has a natural floor is set against one measured in the same run (this
kind of VM moves between two speed levels), the floor and the subject measured back to
back in each repeat; a ratio is the median of those per-repeat ratios. See
docs/performance.md and docs/tracking.md.

1. ``run.curve(step, a=, b=, c=)`` steps/s against a buffered msgpack append loop (the
   floor), and against MLflow (sqlite), W&B offline, Aim and tensorboardX when they are
   importable; when they are not, against the reference figures in NOTES.md.
2. Peak RSS of a process logging 1M steps x 3 metrics (a subprocess, ``ru_maxrss``).
3. ``import extract`` and ``from extract import Store`` in fresh interpreters.
4. A run of 200k steps x 3 metrics end to end (start, the logging loop, ``finish()``,
   after which it is sealed and indexed), against the msgpack append loop; and its
   ``finish()`` alone, against a raw SQLite ``executemany`` of its 600k points.
5. ``extract reindex`` of 1,000 committed runs holding ~10M curve points, against a raw
   SQLite ``executemany`` of as many rows.
6. Loading one run's 10k-point curve through the read-only query layer.

    .venv/bin/python bench/bench_tracking.py [--quick] [--dir D] [--workers N] [--only PART]

With ``--quick`` every size is small (a smoke run; its targets mean little). The last
line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import multiprocessing
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import msgpack

from extract import Store
from extract.index import read
from extract.index.build import Indexer
from extract.index.db import INDEX_FILE, open_reader
from extract.sdk import Experiment
from extract.store.history import commit_staged
from extract.store.repo import Repository

MIB = 1 << 20
HIERARCHY = ("sweep",)
METRICS = ("a", "b", "c")
#: run.curve must reach this share of the buffered msgpack append loop's steps/s.
CURVE_VS_FLOOR_MIN = 0.30
#: A whole run (start to sealed and indexed) must reach this share of the same floor.
RUN_VS_FLOOR_MIN = 0.30
CURVE_VS_WANDB_MIN = 20.0
CURVE_VS_MLFLOW_MIN = 100.0
RSS_LIMIT_MIB = 100.0
IMPORT_LIMIT_S = 0.25
SEAL_LIMIT_S = 0.25
REINDEX_LIMIT_S = 60.0
QUERY_LIMIT_MS = 10.0
#: Peers logging 3 metrics a step (steps/s), from /work/shared/NOTES.md, used when the
#: package is not importable here (they are not dependencies, and are not installed).
PEER_REFERENCE = {"mlflow": 241.0, "wandb": 5800.0, "aim": 4400.0, "tensorboardX": 5800.0}


@dataclass(frozen=True)
class Sizes:
    curve_steps: int
    curve_repeat: int
    rss_steps: int
    import_repeat: int
    seal_steps: int
    seal_repeat: int
    runs: int
    run_steps: int
    long_steps: int  # one more run, whose curves the query test loads
    reindex_repeat: int
    query_repeat: int
    peer_steps: int
    mlflow_steps: int


FULL = Sizes(
    curve_steps=300_000,
    curve_repeat=7,
    rss_steps=1_000_000,
    import_repeat=9,
    seal_steps=200_000,
    seal_repeat=7,
    runs=1000,
    run_steps=3334,
    long_steps=10_000,
    reindex_repeat=3,
    query_repeat=50,
    peer_steps=10_000,
    mlflow_steps=500,
)
QUICK = Sizes(
    curve_steps=20_000,
    curve_repeat=3,
    rss_steps=50_000,
    import_repeat=3,
    seal_steps=20_000,
    seal_repeat=3,
    runs=12,
    run_steps=500,
    long_steps=10_000,
    reindex_repeat=1,
    query_repeat=50,
    peer_steps=1000,
    mlflow_steps=50,
)


# --- results -------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    value: float
    unit: str
    floor: float | None = None
    ratio: float | None = None  # value against the floor (or the peer), as labelled
    target: str = ""
    passed: bool | None = None  # None: no target, for information


ROWS: list[Row] = []
FIGURES: dict[str, Any] = {}


def add(row: Row) -> None:
    ROWS.append(row)
    FIGURES[row.key] = {
        "value": row.value,
        "unit": row.unit,
        "floor": row.floor,
        "ratio": row.ratio,
        "target": row.target or None,
        "pass": row.passed,
    }


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    if unit == "steps/s":
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.4f}"


def say(msg: str) -> None:
    print(msg, flush=True)


def settle() -> None:
    """Flush dirty pages so no write-back from a previous step lands in a timing."""
    os.sync()


# --- the logging loop and its floor ----------------------------------------------------


def log_steps(run: Any, n: int, first: int = 0) -> None:
    """What a training loop does: one curve() call a step with three numbers."""
    for i in range(first, first + n):
        v = i * 1e-3
        run.curve(i, a=v, b=1.0 - v, c=v * v)


def floor_append(path: Path, n: int) -> float:
    """Seconds for a plain buffered msgpack append loop: (step, wall, {3 metrics})
    tuples gathered in a list, packed every 10 steps and written to a buffered file."""
    packb = msgpack.packb
    t0 = time.perf_counter()
    start = time.time()
    buf: list[tuple[int, float, dict[str, float]]] = []
    with open(path, "wb") as f:
        for i in range(n):
            v = i * 1e-3
            buf.append((i, time.time() - start, {"a": v, "b": 1.0 - v, "c": v * v}))
            if len(buf) >= 10:
                f.write(packb(buf))
                buf = []
        if buf:
            f.write(packb(buf))
    return time.perf_counter() - t0


#: ``--index-while-logging``: runs are indexed by the background thread as they log.
INDEX_WHILE_LOGGING = False


def open_store(root: Path) -> Store:
    if not (root / "FORMAT").exists():
        Repository.init(root, HIERARCHY)
        if INDEX_WHILE_LOGGING:
            config = root / "config.toml"
            text = config.read_text().replace("[store]\n", "[store]\nindex_while_logging = true\n")
            config.write_text(text)
    return Store(root)


def bench_curve(work: Path, sizes: Sizes) -> float:
    """run.curve throughput; returns the median steps/s (for the peer comparisons)."""
    n = sizes.curve_steps
    say(f"\n[1] run.curve, 3 metrics a step: {sizes.curve_repeat} x {n:,} steps")
    store = open_store(work / "curve" / ".extract")
    exp = store.experiment({"sweep": "curve"})
    subject: list[float] = []
    floor: list[float] = []
    ratios: list[float] = []
    e2e: list[float] = []
    try:
        for rep in range(sizes.curve_repeat):
            settle()
            f_s = floor_append(work / "floor.msgpack", n)
            run = exp.run(name=f"curve-{rep}", total_steps=n)
            settle()
            t0 = time.perf_counter()
            log_steps(run, n)
            s_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            run.finish()
            fin = time.perf_counter() - t1
            subject.append(n / s_s)
            floor.append(n / f_s)
            ratios.append(f_s / s_s)
            e2e.append(n / (s_s + fin))
            say(
                f"    repeat {rep}: curve {n / s_s:,.0f} steps/s, floor {n / f_s:,.0f} steps/s, "
                f"ratio {f_s / s_s:.2f}; with finish() {n / (s_s + fin):,.0f} steps/s"
            )
    finally:
        store.close()
    rate = median(subject)
    ratio = median(ratios)
    add(
        Row(
            "curve_steps_per_s",
            "run.curve steps/s (3 metrics) vs msgpack append loop",
            rate,
            "steps/s",
            median(floor),
            ratio,
            f">= {CURVE_VS_FLOOR_MIN:.0%} of floor",
            ratio >= CURVE_VS_FLOOR_MIN,
        )
    )
    add(
        Row(
            "curve_with_finish_steps_per_s",
            "same, counting finish() (sealing + indexing)",
            median(e2e),
            "steps/s",
            median(floor),
            median(e2e) / median(floor),
        )
    )
    return rate


# --- peers (only when importable: they are not dependencies) -----------------------------


def _values(i: int) -> dict[str, float]:
    v = i * 1e-3
    return {"a": v, "b": 1.0 - v, "c": v * v}


def _peer_mlflow(d: Path, n: int) -> float:
    mlflow: Any = importlib.import_module("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{d / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metrics(_values(i), step=i)
        return time.perf_counter() - t0


def _peer_wandb(d: Path, n: int) -> float:
    wandb: Any = importlib.import_module("wandb")
    run = wandb.init(project="extract-bench", dir=str(d), mode="offline")
    try:
        t0 = time.perf_counter()
        for i in range(n):
            run.log(_values(i), step=i)
        return time.perf_counter() - t0
    finally:
        run.finish()


def _peer_aim(d: Path, n: int) -> float:
    aim: Any = importlib.import_module("aim")
    run = aim.Run(repo=str(d), experiment="bench")
    try:
        t0 = time.perf_counter()
        for i in range(n):
            for k, v in _values(i).items():
                run.track(v, name=k, step=i)
        return time.perf_counter() - t0
    finally:
        run.close()


def _peer_tensorboardx(d: Path, n: int) -> float:
    tbx: Any = importlib.import_module("tensorboardX")
    writer = tbx.SummaryWriter(str(d))
    try:
        t0 = time.perf_counter()
        for i in range(n):
            for k, v in _values(i).items():
                writer.add_scalar(k, v, i)
        return time.perf_counter() - t0
    finally:
        writer.close()


PEERS: dict[str, Callable[[Path, int], float]] = {
    "mlflow": _peer_mlflow,
    "wandb": _peer_wandb,
    "aim": _peer_aim,
    "tensorboardX": _peer_tensorboardx,
}


def bench_peers(work: Path, sizes: Sizes, rate: float) -> None:
    say("\n[1b] peers, 3 metrics a step (logging loop only)")
    targets = {"wandb": CURVE_VS_WANDB_MIN, "mlflow": CURVE_VS_MLFLOW_MIN}
    for name, fn in PEERS.items():
        source = "reference (NOTES.md)"
        peer = PEER_REFERENCE[name]
        if importlib.util.find_spec(name) is None:
            say(f"    {name}: not installed; reference figure {peer:,.0f} steps/s from NOTES.md")
        else:
            d = work / f"peer-{name}"
            d.mkdir()
            n = sizes.mlflow_steps if name == "mlflow" else sizes.peer_steps
            try:
                peer = n / fn(d, n)
                source = "measured in this run"
                say(f"    {name}: {peer:,.0f} steps/s measured ({n:,} steps)")
            except Exception as e:  # a peer's failure must not stop the benchmark
                say(f"    {name}: failed ({type(e).__name__}: {e}); using the reference figure")
        limit = targets.get(name)
        add(
            Row(
                f"curve_vs_{name.lower()}",
                f"run.curve vs {name} ({source})",
                rate,
                "steps/s",
                peer,
                rate / peer,
                f">= {limit:.0f}x" if limit else "",
                rate / peer >= limit if limit else None,
            )
        )


# --- peak RSS ---------------------------------------------------------------------------

RSS_CHILD = r"""
import json, resource, sys, time
from pathlib import Path


def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def hwm():  # the kernel's high-water mark of this process's own memory, as a cross-check
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return -1


from extract import Store
from extract.store.repo import Repository

root, n = Path(sys.argv[1]), int(sys.argv[2])
Repository.init(root, ("sweep",))
store = Store(root)
run = store.experiment({"sweep": "rss"}).run(name="rss", total_steps=n)
base = peak()
t0 = time.perf_counter()
for i in range(n):
    v = i * 1e-3
    run.curve(i, a=v, b=1.0 - v, c=v * v)
logged = peak()
t1 = time.perf_counter()
run.finish()
sealed = peak()
t2 = time.perf_counter()
store.close()
print(json.dumps({"base": base, "logged": logged, "sealed": sealed, "hwm": hwm(),
                  "log_s": t1 - t0, "finish_s": t2 - t1}))
"""

BARE_CHILD = (
    "import json, resource; "
    "print(json.dumps({'base': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))"
)
#: ru_maxrss and /proc's VmHWM of the child must agree within this (else the figure is wrong).
RSS_CHECK_MIB = 4.0


def child_json(code: str, *args: str, cwd: Path, via_shell: bool = False) -> dict[str, Any]:
    """Run ``python -c code args`` and parse the JSON line it prints last.

    ``via_shell``: start it from a small shell that forks it. Linux carries a process's
    ``ru_maxrss`` across fork + exec (the child starts with its parent's high-water
    mark, here the benchmark's own RSS), so a child started from this process would
    report at least our peak; a shell's is a few MiB."""
    cmd = [sys.executable, "-c", code, *args]
    if via_shell:
        cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
    out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def bench_rss(work: Path, sizes: Sizes) -> None:
    n = sizes.rss_steps
    say(f"\n[2] peak RSS logging {n:,} steps x 3 metrics (subprocess, ru_maxrss)")
    bare = child_json(BARE_CHILD, cwd=work, via_shell=True)["base"] / MIB
    r = child_json(RSS_CHILD, str(work / "rss" / ".extract"), str(n), cwd=work, via_shell=True)
    base, logged, sealed = r["base"] / MIB, r["logged"] / MIB, r["sealed"] / MIB
    if abs(r["hwm"] / MIB - sealed) > RSS_CHECK_MIB:
        raise SystemExit(
            f"ru_maxrss {sealed:.1f} MiB disagrees with VmHWM {r['hwm'] / MIB:.1f} MiB: "
            "the child inherited a high-water mark"
        )
    say(
        f"    bare interpreter {bare:.1f} MiB; after imports + store open + run start "
        f"{base:.1f} MiB; peak after logging {logged:.1f} MiB (+{logged - base:.1f}); "
        f"peak after finish() {sealed:.1f} MiB (+{sealed - base:.1f}); "
        f"logging {n / r['log_s']:,.0f} steps/s, finish {r['finish_s']:.2f} s"
    )
    add(
        Row(
            "rss_logging_increase_mib",
            "peak RSS increase while logging (over baseline)",
            logged - base,
            "MiB",
            base,
            None,
            f"< {RSS_LIMIT_MIB:.0f} MiB",
            logged - base < RSS_LIMIT_MIB,
        )
    )
    add(
        Row(
            "rss_logging_total_mib",
            "peak RSS total while logging (process)",
            logged,
            "MiB",
            bare,
            None,
            f"< {RSS_LIMIT_MIB:.0f} MiB",
            logged < RSS_LIMIT_MIB,
        )
    )
    add(
        Row(
            "rss_after_finish_increase_mib",
            "peak RSS increase incl. finish() of those steps",
            sealed - base,
            "MiB",
            base,
        )
    )


# --- import time ------------------------------------------------------------------------

IMPORT_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import extract
t1 = time.perf_counter()
from extract import Store
t2 = time.perf_counter()
mods = list(sys.modules)
loaded = lambda p: any(m == p or m.startswith(p + ".") for m in mods)
print(json.dumps({"extract": t1 - t0, "store": t2 - t0,
                  "textual": loaded("textual"), "mcp": loaded("mcp")}))
"""


def wall(code: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True)
    return time.perf_counter() - t0


def bench_import(work: Path, sizes: Sizes) -> None:
    say(f"\n[3] imports in fresh interpreters ({sizes.import_repeat} repeats)")
    inner: list[float] = []
    inner_store: list[float] = []
    bare: list[float] = []
    outer: list[float] = []
    outer_store: list[float] = []
    heavy: set[str] = set()
    for _ in range(sizes.import_repeat):
        bare.append(wall("pass", work))
        outer.append(wall("import extract", work))
        outer_store.append(wall("import extract; from extract import Store", work))
        r = child_json(IMPORT_CHILD, cwd=work)
        inner.append(r["extract"])
        inner_store.append(r["store"])
        heavy |= {m for m in ("textual", "mcp") if r[m]}
    say(
        f"    in-process: import extract {median(inner) * 1e3:.1f} ms, + from extract import "
        f"Store {median(inner_store) * 1e3:.1f} ms; subprocess wall: python -c pass "
        f"{median(bare) * 1e3:.0f} ms, import extract {median(outer) * 1e3:.0f} ms, "
        f"+ Store {median(outer_store) * 1e3:.0f} ms; heavy modules loaded: "
        f"{sorted(heavy) or 'none'}"
    )
    ms = f"< {IMPORT_LIMIT_S * 1e3:.0f} ms"
    add(
        Row(
            "import_extract_ms",
            "import extract (in a fresh interpreter)",
            median(inner) * 1e3,
            "ms",
            None,
            None,
            ms,
            median(inner) < IMPORT_LIMIT_S,
        )
    )
    add(
        Row(
            "import_extract_wall_ms",
            "python -c 'import extract' wall (floor: -c pass)",
            median(outer) * 1e3,
            "ms",
            median(bare) * 1e3,
            median(outer) / median(bare),
            ms,
            median(outer) < IMPORT_LIMIT_S,
        )
    )
    add(
        Row(
            "import_store_ms",
            "import extract; from extract import Store",
            median(inner_store) * 1e3,
            "ms",
            None,
            None,
        )
    )
    add(
        Row(
            "import_store_wall_ms",
            "python -c '... from extract import Store' wall",
            median(outer_store) * 1e3,
            "ms",
            median(bare) * 1e3,
            median(outer_store) / median(bare),
        )
    )
    add(
        Row(
            "heavy_modules_after_store",
            "textual/mcp in sys.modules after Store import",
            float(len(heavy)),
            "modules",
            None,
            None,
            "0 (none)",
            not heavy,
        )
    )


# --- SQLite floor -------------------------------------------------------------------------

FLOOR_DDL = (
    "CREATE TABLE pts (run_key INTEGER NOT NULL, metric_id INTEGER NOT NULL, "
    "step INTEGER NOT NULL, value REAL, wall_time REAL, "
    "PRIMARY KEY (run_key, metric_id, step)) WITHOUT ROWID"
)


def columns(steps: int) -> tuple[list[int], list[float], list[float]]:
    s = list(range(steps))
    return s, [i * 1e-3 for i in s], [i * 1e-4 for i in s]


def sqlite_floor(path: Path, groups: Sequence[tuple[int, int]]) -> float:
    """Seconds to executemany the same rows into a fresh table shaped like the index's
    ``curve_data`` (same pragmas), in one transaction: ``groups`` is [(runs, steps)], 3
    metrics each. The Python lists are built before the clock starts."""
    cols = {steps: columns(steps) for _, steps in groups}
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(FLOOR_DDL)
    conn.execute("BEGIN IMMEDIATE")
    key = 0
    for runs, steps in groups:
        s, v, w = cols[steps]
        for _ in range(runs):
            key += 1
            for mid in (1, 2, 3):
                conn.executemany(
                    "INSERT INTO pts VALUES (?, ?, ?, ?, ?)",
                    zip(repeat(key), repeat(mid), s, v, w),
                )
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t0


# --- sealing ------------------------------------------------------------------------------


def bench_seal(work: Path, sizes: Sizes) -> None:
    n = sizes.seal_steps
    say(
        f"\n[4] a run of {n:,} steps x 3 metrics end to end: start, loop, finish() "
        f"({sizes.seal_repeat} repeats)"
    )
    say("    floors: the msgpack append loop (whole run); executemany of its rows (finish)")
    store = open_store(work / "seal" / ".extract")
    exp: Experiment = store.experiment({"sweep": "seal"})
    whole: list[float] = []
    finish: list[float] = []
    floor: list[float] = []
    sql_floor: list[float] = []
    ratios: list[float] = []
    seal_ratios: list[float] = []
    try:
        for rep in range(sizes.seal_repeat):
            settle()
            f_s = floor_append(work / "floor.msgpack", n)
            q_s = sqlite_floor(work / "seal-floor.db", [(1, n)])
            settle()
            t0 = time.perf_counter()
            run = exp.run(name=f"seal-{rep}", total_steps=n)
            t1 = time.perf_counter()
            log_steps(run, n)
            t2 = time.perf_counter()
            run.finish()
            t3 = time.perf_counter()
            whole.append(t3 - t0)
            finish.append(t3 - t2)
            floor.append(f_s)
            sql_floor.append(q_s)
            ratios.append(f_s / (t3 - t0))
            seal_ratios.append((t3 - t2) / q_s)
            say(
                f"    repeat {rep}: start {t1 - t0:.3f} s, loop {t2 - t1:.3f} s, finish "
                f"{t3 - t2:.3f} s; floor {f_s:.3f} s, run/floor {f_s / (t3 - t0):.2f}; "
                f"executemany {q_s:.3f} s, finish/executemany {(t3 - t2) / q_s:.2f}"
            )
    finally:
        store.close()
    add(
        Row(
            "run_steps_per_s",
            f"a {n:,}-step run, start to sealed and indexed, vs msgpack append loop",
            n / median(whole),
            "steps/s",
            n / median(floor),
            median(ratios),
            f">= {RUN_VS_FLOOR_MIN:.0%} of floor",
            median(ratios) >= RUN_VS_FLOOR_MIN,
        )
    )
    add(
        Row(
            "seal_s",
            f"run.finish() of {n:,} steps x 3 metrics (floor: executemany of its rows)",
            median(finish),
            "s",
            median(sql_floor),
            median(seal_ratios),
            f"<= {SEAL_LIMIT_S} s",
            median(finish) <= SEAL_LIMIT_S,
        )
    )


# --- reindex and query --------------------------------------------------------------------


def build_worker(root: str, cwd: str, names: list[str], steps: int) -> list[str]:
    """Log and finish runs through the SDK (runs in a spawned process)."""
    os.chdir(cwd)  # code provenance: outside a git repository, as for the other tests
    ids = []
    with Store(Path(root)) as store:
        exp = store.experiment({"sweep": "reindex"})
        for name in names:
            run = exp.run(config={"name": name}, name=name, total_steps=steps)
            log_steps(run, steps)
            run.log(final=steps * 1e-3)
            run.finish()
            ids.append(run.id)
    return ids


def build_store(root: Path, work: Path, sizes: Sizes, workers: int) -> str:
    """The reindex store: ``runs`` runs of ``run_steps`` steps and one of ``long_steps``,
    every one committed. Returns the long run's id."""
    with open_store(root) as store:
        store.experiment({"sweep": "reindex"})
    names = [f"run-{i:04d}" for i in range(sizes.runs)]
    slices = [names[w::workers] for w in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        futures = [
            ex.submit(build_worker, str(root), str(work), part, sizes.run_steps)
            for part in slices
            if part
        ]
        long = ex.submit(build_worker, str(root), str(work), ["long"], sizes.long_steps)
        for f in futures:
            f.result()
        long_id = long.result()[0]
    commit_staged(Repository(root), f"bench: {sizes.runs + 1} runs")
    return long_id


def bench_reindex(work: Path, sizes: Sizes, workers: int) -> None:
    points = 3 * (sizes.runs * sizes.run_steps + sizes.long_steps)
    say(
        f"\n[5] reindex: {sizes.runs:,} runs x {sizes.run_steps:,} steps + 1 x "
        f"{sizes.long_steps:,} steps, 3 metrics = {points:,} curve points"
    )
    root = work / "reindex" / ".extract"
    t0 = time.perf_counter()
    long_id = build_store(root, work, sizes, workers)
    built = time.perf_counter() - t0
    say(
        f"    built through the SDK with {workers} processes and committed in {built:.1f} s "
        f"({points / 3 / built:,.0f} steps/s overall, run start/finish included)"
    )
    repo = Repository(root)
    groups = [(sizes.runs, sizes.run_steps), (1, sizes.long_steps)]
    subject: list[float] = []
    floor: list[float] = []
    ratios: list[float] = []
    for rep in range(sizes.reindex_repeat):
        settle()
        f_s = sqlite_floor(work / "reindex-floor.db", groups)
        settle()
        t1 = time.perf_counter()
        indexer = Indexer(repo)
        indexer.rebuild()
        s_s = time.perf_counter() - t1
        got = indexer.conn.execute("SELECT COUNT(*) FROM curve_data").fetchone()[0]
        nruns = indexer.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        indexer.close()
        if got != points or nruns != sizes.runs + 1:
            raise SystemExit(f"reindex gave {nruns} runs and {got} points, expected {points}")
        subject.append(s_s)
        floor.append(f_s)
        ratios.append(s_s / f_s)
        say(
            f"    repeat {rep}: reindex {s_s:.1f} s ({points / s_s:,.0f} points/s), "
            f"floor {f_s:.1f} s ({points / f_s:,.0f} rows/s), ratio {s_s / f_s:.2f}"
        )
    (work / "reindex-floor.db").unlink(missing_ok=True)
    size = (root / INDEX_FILE).stat().st_size / MIB
    say(f"    index.db {size:.1f} MiB ({size * MIB / points:.1f} bytes a point)")
    FIGURES["index_db_mib"] = size
    FIGURES["build_s"] = built
    add(
        Row(
            "reindex_s",
            f"extract reindex, {sizes.runs + 1:,} runs / {points / 1e6:.2f}M points",
            median(subject),
            "s",
            median(floor),
            median(ratios),
            f"< {REINDEX_LIMIT_S:.0f} s",
            median(subject) < REINDEX_LIMIT_S,
        )
    )
    bench_query(root, long_id, sizes)


def bench_query(root: Path, run_id: str, sizes: Sizes) -> None:
    n = sizes.long_steps
    say(f"\n[6] read.curve: one run's {n:,}-point curve, reader connection, median of 50")
    say("    floor: the same SELECT ... ORDER BY step, fetchall() on the same connection")
    conn = open_reader(root / INDEX_FILE)
    try:
        key = conn.execute("SELECT key FROM runs WHERE id=?", (run_id,)).fetchone()[0]
        mid = conn.execute("SELECT id FROM metric_names WHERE name='a'").fetchone()[0]
        sql = (
            "SELECT step, value, wall_time FROM curve_data WHERE run_key=? AND metric_id=? "
            "ORDER BY step"
        )
        steps = read.curve(conn, run_id, "a").steps  # warm the page cache once
        if steps.size != n:
            raise SystemExit(f"read.curve returned {steps.size} points, expected {n}")
        subject: list[float] = []
        floor: list[float] = []
        for _ in range(sizes.query_repeat):
            t0 = time.perf_counter()
            conn.execute(sql, (key, mid)).fetchall()
            t1 = time.perf_counter()
            read.curve(conn, run_id, "a")
            t2 = time.perf_counter()
            floor.append((t1 - t0) * 1e3)
            subject.append((t2 - t1) * 1e3)
    finally:
        conn.close()
    say(f"    read.curve {median(subject):.2f} ms, floor {median(floor):.2f} ms")
    add(
        Row(
            "query_curve_ms",
            f"read.curve, {n:,} points",
            median(subject),
            "ms",
            median(floor),
            median(subject) / median(floor),
            f"< {QUERY_LIMIT_MS:.0f} ms",
            median(subject) < QUERY_LIMIT_MS,
        )
    )


# --- main ---------------------------------------------------------------------------------


def table() -> None:
    head = ("figure", "value", "unit", "floor/ref", "ratio", "target", "result")
    body = [
        (
            r.label,
            fmt(r.value, r.unit),
            r.unit,
            fmt(r.floor, r.unit),
            "-" if r.ratio is None else f"{r.ratio:.3g}",
            r.target or "-",
            "info" if r.passed is None else ("PASS" if r.passed else "FAIL"),
        )
        for r in ROWS
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    for line in [head, tuple("-" * w for w in widths), *body]:
        say(
            "  ".join(
                c.ljust(w) if i in (0, 2, 5) else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, < 30 s)")
    ap.add_argument("--dir", type=Path, default=None, help="parent of the work directory")
    ap.add_argument("--workers", type=int, default=2, help="processes building the store")
    ap.add_argument(
        "--only",
        action="append",
        choices=("curve", "rss", "import", "seal", "reindex"),
        help="run only these parts (repeatable; curve includes the peers)",
    )
    ap.add_argument(
        "--index-while-logging",
        action="store_true",
        help="stores with [store] index_while_logging = true (a background indexer)",
    )
    args = ap.parse_args(argv)
    global INDEX_WHILE_LOGGING
    INDEX_WHILE_LOGGING = args.index_while_logging
    only = set(args.only or ("curve", "rss", "import", "seal", "reindex"))
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="extract-bench-tracking-", dir=args.dir))
    here = Path.cwd()
    say(
        f"bench_tracking: python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"work dir {work}{' (quick sizes: targets mean little)' if args.quick else ''}"
    )
    try:
        os.chdir(work)  # runs record code provenance of the cwd: keep it out of a git repo
        if "curve" in only:
            bench_peers(work, sizes, bench_curve(work, sizes))
        if "rss" in only:
            bench_rss(work, sizes)
        if "import" in only:
            bench_import(work, sizes)
        if "seal" in only:
            bench_seal(work, sizes)
        if "reindex" in only:
            bench_reindex(work, sizes, max(1, args.workers))
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    say(f"\nsummary ({elapsed:.0f} s{', quick sizes' if args.quick else ''}):")
    table()
    failed = [r.key for r in ROWS if r.passed is False]
    say(f"\n{'all targets met' if not failed else 'MISSED: ' + ', '.join(failed)}")
    print(
        json.dumps(
            {
                "bench": "tracking",
                "quick": args.quick,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "elapsed_s": elapsed,
                "sizes": asdict(sizes),
                "figures": FIGURES,
                "failed": failed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
