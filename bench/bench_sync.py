"""Sync benchmark: fetch over a path and over ssh, against floors measured in the same run.

Starts its own sshd on 127.0.0.1 (throwaway keys, a free port; stopped at the end), then:

1. incremental fetch of 1 new run from a remote holding 1,000 runs: objects moved
   against the objects the new commit really adds, and time (in-process ``ops.fetch``,
   the target; the CLI ``extract fetch`` wall time, Python start-up included, reported);
2. full fetch of 1,000 runs (10M curve points) and a 1 GiB model into an empty store,
   against ``cp -r`` of the store directory (path) and ``rsync -a`` over the same ssh;
3. 10,000 small objects over ssh: one batched ``get`` against one request per object.

Every ratio is a median of per-repeat ratios, subject and floor measured back to back
(this kind of VM moves between two speed levels; see /work/shared/NOTES.md).

    .venv/bin/python bench/bench_sync.py [--quick] [--repeat K] [--dir D] [--keep]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from extract import Store
from extract.objects import Commit, ObjectId
from extract.objects.kinds import cast
from extract.store.history import commit_staged, read_state
from extract.store.odb import DiskObjectStore
from extract.store.repo import Repository
from extract.store.walk import object_links
from extract.sync import ops
from extract.sync.transport import open_transport
from extract.sync.transport import receive as extract_receive

MIB = 1 << 20
GIB = 1 << 30
REPO_ROOT = Path(__file__).resolve().parent.parent
SSHD = "/usr/sbin/sshd"
HIERARCHY = ("sweep",)


@dataclass(frozen=True)
class Sizes:
    inc_runs: int  # runs in the remote of the incremental fetch
    inc_steps: int
    inc_metrics: int
    full_runs: int  # runs in the store of the full fetch
    full_steps: int
    full_metrics: int
    model_bytes: int
    small_objects: int  # part 3: objects fetched batched
    per_object: int  # part 3: objects fetched one request each (extrapolated if fewer)


FULL = Sizes(1000, 100, 3, 1000, 5000, 2, GIB, 10_000, 10_000)
QUICK = Sizes(50, 100, 3, 20, 500, 2, 32 * MIB, 2_000, 2_000)


# --- helpers -----------------------------------------------------------------------


def median(xs: Iterable[float]) -> float:
    return float(statistics.median(list(xs)))


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def remote_command() -> str:
    """The far side's extract: this interpreter, with this checkout importable."""
    return f"env PYTHONPATH={shlex.quote(str(REPO_ROOT))} {shlex.quote(sys.executable)} -m extract"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (
        os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else ""
    )
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def tree_bytes(path: Path) -> tuple[int, int]:
    """(files, bytes) under ``path``."""
    files = total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            files += 1
            total += os.lstat(os.path.join(dirpath, n)).st_size
    return files, total


def read_all(path: Path) -> None:
    """Read every file under ``path`` once, so the source is in the page cache."""
    buf = bytearray(8 * MIB)
    for dirpath, _, names in os.walk(path):
        for n in names:
            with open(os.path.join(dirpath, n), "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass


class Sshd:
    """A private sshd on 127.0.0.1 with throwaway host and client keys."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = 0
        self.key = workdir / "client_key"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        host_key = self.dir / "host_key"
        for key in (host_key, self.key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        auth = self.dir / "authorized_keys"
        auth.write_bytes(self.key.with_suffix(".pub").read_bytes())
        os.chmod(auth, 0o600)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {auth}",
                    "PermitRootLogin yes",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "UseDNS no",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        self.log = open(self.dir / "sshd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 15
        while True:
            r = subprocess.run(
                [*self.ssh_args(), "-p", str(self.port), "root@127.0.0.1", "true"],
                capture_output=True,
            )
            if r.returncode == 0:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.dir / "sshd.log").read_text("utf-8", "replace")
                self.stop()
                raise RuntimeError(f"sshd did not come up: {r.stderr.decode()!r} {log!r}")
            time.sleep(0.1)

    def ssh_args(self) -> list[str]:
        """ssh with our key and no host-key bookkeeping (no port: callers add it)."""
        return [
            "ssh",
            "-i",
            str(self.key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
        ]

    def url(self, path: Path) -> str:
        return f"ssh://root@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if not self.log.closed:
            self.log.close()


# --- building stores ---------------------------------------------------------------


def add_runs(
    root: Path,
    n: int,
    steps: int,
    metrics: int,
    prefix: str,
    seed: int,
    model: tuple[Path, str] | None = None,
) -> list[str]:
    """``n`` finished runs of ``steps`` x ``metrics`` random curve points; the first
    registers ``model`` (file, name) if given. Returns the run ids (staged, not committed)."""
    rng = np.random.default_rng(seed)
    names = [f"m{j}" for j in range(metrics)]
    ids: list[str] = []
    with Store(root) as store:
        exp = store.experiment({"sweep": "s"})
        for i in range(n):
            run = exp.run(name=f"{prefix}{i}", config={"i": i, "lr": 1e-3 * (i + 1)})
            values = rng.standard_normal((steps, metrics)).tolist()
            for step, row in enumerate(values):
                run.curve(step, **dict(zip(names, row, strict=True)))
            if model is not None and i == 0:
                run.register_model(model[1], "1", model[0])
            run.finish()
            ids.append(run.id)
    return ids


def commit(root: Path, msg: str) -> ObjectId:
    res = commit_staged(Repository(root), msg)
    if res.commit is None:
        raise RuntimeError("nothing to commit")
    return res.commit


def reach(odb: DiskObjectStore, starts: Iterable[ObjectId], known: set[ObjectId]) -> set[ObjectId]:
    """Objects reachable from ``starts`` and not in ``known``, by following every link."""
    seen: set[ObjectId] = set()
    stack = [s for s in starts if s not in known]
    while stack:
        oid = stack.pop()
        if oid in seen or oid in known:
            continue
        seen.add(oid)
        stack.extend(object_links(odb, oid))
    return seen


def run_object(repo: Repository, head: ObjectId, run_id: str) -> ObjectId:
    state = read_state(repo.objects, cast(repo.objects.get(head), Commit).state)
    return state.sections["runs"][run_id]


def write_random(path: Path, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 * MIB)
            f.write(rng.bytes(n))
            left -= n


# --- the figures ------------------------------------------------------------------


@dataclass
class Row:
    key: str
    what: str
    value: float
    unit: str
    floor: float | None
    floor_what: str
    ratio: float | None
    target: str
    passed: bool | None  # None: reported, no target


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    if unit == "s":
        return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"
    return f"{x:.3g}{unit}"


# --- 1. incremental fetch -----------------------------------------------------------


def bench_incremental(
    base: Path, sz: Sizes, repeat: int, sshd: Sshd
) -> tuple[list[Row], dict[str, Any]]:
    say(
        f"[1] building a remote of {sz.inc_runs} runs ({sz.inc_steps} steps x {sz.inc_metrics} metrics)"
    )
    remote_root, local_root = base / "inc-remote", base / "inc-local"
    Repository.init(remote_root, HIERARCHY)
    t0 = time.perf_counter()
    add_runs(remote_root, sz.inc_runs, sz.inc_steps, sz.inc_metrics, "r", seed=1)
    head = commit(remote_root, f"{sz.inc_runs} runs")
    build_s = time.perf_counter() - t0
    remote = Repository(remote_root)
    known = reach(remote.objects, [head], set())
    say(f"    built in {build_s:.1f} s, {len(known)} objects; full fetch into a local store")
    Repository.create(local_root)
    local = Repository(local_root)
    with open_transport(str(remote_root)) as t:
        full = ops.fetch(local, t, "origin")
    ops.merge(local, head)
    if full.objects != len(known):
        raise RuntimeError(f"full fetch moved {full.objects} objects, the remote has {len(known)}")

    modes = [
        ("path", "inproc", str(remote_root)),
        ("ssh", "inproc", sshd.url(remote_root)),
        ("path", "cli", str(remote_root)),
        ("ssh", "cli", sshd.url(remote_root)),
    ]
    cli = [sys.executable, "-m", "extract", "fetch"]
    times: dict[str, list[float]] = {f"{k}_{h}": [] for k, h, _ in modes}
    floors: dict[str, list[float]] = {f"{k}_{h}": [] for k, h, _ in modes}
    connect: list[float] = []
    inner: dict[str, list[float]] = {"path_cli": [], "ssh_cli": []}
    moved: list[dict[str, Any]] = []
    serial = 0
    for rep in range(repeat):
        for kind, how, url in modes:
            serial += 1
            (run_id,) = add_runs(
                remote_root, 1, sz.inc_steps, sz.inc_metrics, "new", seed=1000 + serial
            )
            new_head = commit(remote_root, f"one more run ({serial})")
            adds = reach(remote.objects, [new_head], known)  # what the new commit really adds
            known |= adds
            own = reach(remote.objects, [run_object(remote, new_head, run_id)], set())
            key = f"{kind}_{how}"
            os.sync()
            if how == "inproc":
                t0 = time.perf_counter()
                t = open_transport(url)
                t1 = time.perf_counter()
                try:
                    res = ops.fetch(local, t, "origin" if kind == "path" else "lo")
                    t2 = time.perf_counter()
                    ops.merge(local, new_head)
                    t3 = time.perf_counter()
                    ops.fetch(local, t, "origin" if kind == "path" else "lo")  # moves nothing
                    floors[key].append(time.perf_counter() - t3)
                finally:
                    t.close()
                times[key].append(t2 - t1)
                if kind == "ssh":
                    connect.append(t1 - t0)
                n = res.objects
            else:
                argv = [*cli, url, "--store", str(local_root), "--json", "-q"]
                t0 = time.perf_counter()
                p = subprocess.run(argv, capture_output=True, env=cli_env())
                wall = time.perf_counter() - t0
                if p.returncode != 0:
                    raise RuntimeError(f"{argv} failed: {p.stderr.decode()}")
                out = json.loads(p.stdout)
                n = int(out["objects"])
                times[key].append(wall)
                inner[key].append(float(out["seconds"]))
                ops.merge(local, new_head)
                t0 = time.perf_counter()
                subprocess.run(argv, capture_output=True, env=cli_env(), check=True)
                floors[key].append(time.perf_counter() - t0)
            present = all(local.objects.has(o) for o in adds)
            if n != len(adds) or not present:
                raise RuntimeError(
                    f"{key}: fetch moved {n} objects; the new commit adds {len(adds)} (all here: {present})"
                )
            kinds: dict[str, int] = {}
            for o in adds - own:
                name = type(remote.objects.get(o)).__name__
                kinds[name] = kinds.get(name, 0) + 1
            moved.append({"mode": key, "moved": n, "run_own": len(own), "history": kinds})
            say(f"    rep {rep + 1} {key}: {times[key][-1] * 1000:.0f} ms, {n} objects")

    first = moved[0]
    hist = ", ".join(f"{v} {k}" for k, v in sorted(first["history"].items()))
    all_same = all(m["moved"] == first["moved"] for m in moved)
    rows = [
        Row(
            "inc_objects_moved",
            f"1 new run of {sz.inc_runs}: objects moved (run's own {first['run_own']} + {hist})",
            float(first["moved"]),
            "",
            float(first["run_own"]),
            "the run's own objects",
            first["moved"] / first["run_own"],
            "= what the commit adds",
            all_same,
        )
    ]
    targets = {"path_inproc": 0.5, "ssh_inproc": 2.0}
    for key, label in (
        ("path_inproc", "path, ops.fetch in-process"),
        ("ssh_inproc", "ssh, ops.fetch in-process"),
        ("path_cli", "path, `extract fetch` wall (Python start-up incl.)"),
        ("ssh_cli", "ssh, `extract fetch` wall (start-up + ssh connect incl.)"),
    ):
        v, f = median(times[key]), median(floors[key])
        limit = targets.get(key)
        rows.append(
            Row(
                f"inc_{key}",
                f"incremental fetch, {label}",
                v,
                "s",
                f,
                "same fetch when up to date",
                median(a / b for a, b in zip(times[key], floors[key], strict=True)),
                f"< {limit} s" if limit else "(report)",
                v < limit if limit else None,
            )
        )
    rows.append(
        Row(
            "inc_ssh_connect",
            "ssh connect + `extract serve` start + hello (not in the ssh in-process time)",
            median(connect),
            "s",
            None,
            "",
            None,
            "(report)",
            None,
        )
    )
    extra = {
        "inc_build_seconds": build_s,
        "inc_remote_objects": len(known),
        "inc_moved": moved,
        "inc_times": times,
        "inc_floors": floors,
        "inc_cli_fetch_seconds": {k: median(v) for k, v in inner.items()},
    }
    rmtree(remote_root)
    rmtree(local_root)
    return rows, extra


# --- 2. full fetch ------------------------------------------------------------------


def bench_full(base: Path, sz: Sizes, repeat: int, sshd: Sshd) -> tuple[list[Row], dict[str, Any]]:
    points = sz.full_runs * sz.full_steps * sz.full_metrics
    say(
        f"[2] building {sz.full_runs} runs, {points / 1e6:.1f}M curve points, "
        f"a {sz.model_bytes / MIB:.0f} MiB model"
    )
    src = base / "full-remote"
    Repository.init(src, HIERARCHY)
    model = base / "model.bin"
    t0 = time.perf_counter()
    write_random(model, sz.model_bytes, seed=7)
    add_runs(src, sz.full_runs, sz.full_steps, sz.full_metrics, "big", seed=2, model=(model, "net"))
    head = commit(src, "full store")
    build_s = time.perf_counter() - t0
    model.unlink()
    files, total = tree_bytes(src)
    _, obj_bytes = tree_bytes(src / "objects")
    n_objects = sum(1 for _ in Repository(src).objects.iter_ids())
    say(
        f"    built in {build_s:.0f} s: {total / MIB:.0f} MiB in {files} files "
        f"(objects/ {obj_bytes / MIB:.0f} MiB, {n_objects} objects)"
    )
    rsync_ssh = " ".join(shlex.quote(a) for a in [*sshd.ssh_args(), "-p", str(sshd.port)])

    def cp_dir(dest: Path) -> None:
        subprocess.run(["cp", "-r", str(src), str(dest)], check=True)

    def cp_objects(dest: Path) -> None:
        subprocess.run(["cp", "-r", str(src / "objects"), str(dest)], check=True)

    def rsync(dest: Path) -> None:
        subprocess.run(
            ["rsync", "-a", "-e", rsync_ssh, f"root@127.0.0.1:{src}/", f"{dest}/"], check=True
        )

    def rsync_objects(dest: Path) -> None:  # the same bytes the fetch moves, no index.db
        subprocess.run(
            ["rsync", "-a", "-e", rsync_ssh, f"root@127.0.0.1:{src}/objects/", f"{dest}/"],
            check=True,
        )

    fetched: dict[str, int] = {}
    packs: dict[str, int] = {}  # packs the fetch wrote (the rest of its objects are loose)

    def fetcher(url: str, key: str) -> Callable[[Path], None]:
        def go(dest: Path) -> None:
            Repository.create(dest)
            repo = Repository(dest)
            with open_transport(url) as t:
                res = ops.fetch(repo, t, "origin")
            if res.head != head:
                raise RuntimeError(f"{key}: fetched {res.head!r}, wanted {head!r}")
            fetched[key] = res.objects
            packs[key] = len(repo.objects.packs())

        return go

    subjects: list[tuple[str, Callable[[Path], None]]] = [
        ("cp_dir", cp_dir),
        ("cp_objects", cp_objects),
        ("fetch_path", fetcher(str(src), "fetch_path")),
        ("rsync_ssh", rsync),
        ("rsync_objects", rsync_objects),
        ("fetch_ssh", fetcher(sshd.url(src), "fetch_ssh")),
    ]
    times: dict[str, list[float]] = {k: [] for k, _ in subjects}
    syncs: dict[str, list[float]] = {k: [] for k, _ in subjects}
    read_all(src)  # warm: every subject reads a source already in the page cache
    for rep in range(repeat):
        for key, fn in subjects:
            dest = base / f"dest-{key}"
            rmtree(dest)
            os.sync()  # no write-back of an earlier step lands in this timing
            t0 = time.perf_counter()
            fn(dest)
            t1 = time.perf_counter()
            os.sync()
            syncs[key].append(time.perf_counter() - t1)
            times[key].append(t1 - t0)
            if key.startswith("fetch") and rep == 0:
                got = sum(1 for _ in Repository(dest).objects.iter_ids())
                if got != n_objects or fetched[key] != n_objects:
                    raise RuntimeError(f"{key}: {got} objects here, {n_objects} at the remote")
            rmtree(dest)
            say(f"    rep {rep + 1} {key}: {times[key][-1]:.2f} s (+ sync {syncs[key][-1]:.2f} s)")

    def ratio(a: str, b: str, durable_b: bool = False) -> float:
        fb = [t + (s if durable_b else 0.0) for t, s in zip(times[b], syncs[b], strict=True)]
        return median(x / y for x, y in zip(times[a], fb, strict=True))

    def mibs(key: str, nbytes: int) -> float:
        return nbytes / MIB / median(times[key])

    rows = [
        Row(
            "full_path_vs_cp_dir",
            f"full fetch over a path ({obj_bytes / MIB:.0f} MiB objects) vs `cp -r` of the store dir ({total / MIB:.0f} MiB)",
            median(times["fetch_path"]),
            "s",
            median(times["cp_dir"]),
            "cp -r store dir",
            ratio("fetch_path", "cp_dir"),
            "<= 2.0 (ratio)",
            ratio("fetch_path", "cp_dir") <= 2.0,
        ),
        Row(
            "full_path_vs_cp_objects",
            "same, floor `cp -r` of objects/ only (same bytes as the fetch moves)",
            median(times["fetch_path"]),
            "s",
            median(times["cp_objects"]),
            "cp -r objects/",
            ratio("fetch_path", "cp_objects"),
            "<= 2.0 (ratio, strict)",
            ratio("fetch_path", "cp_objects") <= 2.0,
        ),
        Row(
            "full_path_vs_cp_dir_sync",
            "same, floor `cp -r` store dir + sync (fetch is durable, cp is not)",
            median(times["fetch_path"]),
            "s",
            median(t + s for t, s in zip(times["cp_dir"], syncs["cp_dir"], strict=True)),
            "cp -r dir + sync",
            ratio("fetch_path", "cp_dir", durable_b=True),
            "(report)",
            None,
        ),
        Row(
            "full_ssh_vs_rsync",
            "full fetch over ssh vs `rsync -a` over the same ssh (store dir)",
            median(times["fetch_ssh"]),
            "s",
            median(times["rsync_ssh"]),
            "rsync -a over ssh",
            ratio("fetch_ssh", "rsync_ssh"),
            "<= 1.0 (ratio)",
            ratio("fetch_ssh", "rsync_ssh") <= 1.0,
        ),
        Row(
            "full_ssh_vs_rsync_sync",
            "same, floor rsync + sync",
            median(times["fetch_ssh"]),
            "s",
            median(t + s for t, s in zip(times["rsync_ssh"], syncs["rsync_ssh"], strict=True)),
            "rsync -a + sync",
            ratio("fetch_ssh", "rsync_ssh", durable_b=True),
            "(report)",
            None,
        ),
        Row(
            "full_ssh_vs_rsync_objects",
            "same, floor `rsync -a` of objects/ only (same bytes as the fetch moves)",
            median(times["fetch_ssh"]),
            "s",
            median(times["rsync_objects"]),
            "rsync -a objects/",
            ratio("fetch_ssh", "rsync_objects"),
            "(report)",
            None,
        ),
    ]
    extra = {
        "full_build_seconds": build_s,
        "full_store_bytes": total,
        "full_store_files": files,
        "full_objects_bytes": obj_bytes,
        "full_objects": n_objects,
        "full_curve_points": points,
        "full_model_bytes": sz.model_bytes,
        "full_fetch_packs": packs,
        "full_times": times,
        "full_syncs": syncs,
        "full_mib_s": {
            "fetch_path": mibs("fetch_path", obj_bytes),
            "fetch_ssh": mibs("fetch_ssh", obj_bytes),
            "cp_dir": mibs("cp_dir", total),
            "cp_objects": mibs("cp_objects", obj_bytes),
            "rsync_ssh": mibs("rsync_ssh", total),
            "rsync_objects": mibs("rsync_objects", obj_bytes),
        },
    }
    rmtree(src)
    return rows, extra


# --- 3. many small objects --------------------------------------------------------


def bench_small(base: Path, sz: Sizes, repeat: int, sshd: Sshd) -> tuple[list[Row], dict[str, Any]]:
    say(f"[3] {sz.small_objects} small objects over ssh: batched get vs one request each")
    root = base / "small-remote"
    Repository.create(root)
    odb = Repository(root).objects
    rng = np.random.default_rng(3)
    sizes = rng.integers(64, 1024, sz.small_objects)
    with odb.batch():
        ids = [odb.put_blob(rng.bytes(int(n))) for n in sizes]
    odb.sync()
    sample = ids[: sz.per_object]
    batched: list[float] = []
    single: list[float] = []
    with open_transport(sshd.url(root)) as t:
        list(t.get(ids[:100]))  # warm both ends
        for _ in range(max(repeat, 5)):  # cheap, and noisier than the rest: more repeats
            t0 = time.perf_counter()
            n = sum(1 for _ in t.get(ids))
            batched.append(time.perf_counter() - t0)
            if n != len(ids):
                raise RuntimeError(f"batched get returned {n} of {len(ids)}")
            t0 = time.perf_counter()
            for oid in sample:
                for _ in t.get([oid]):
                    pass
            single.append((time.perf_counter() - t0) * len(ids) / len(sample))
            say(f"    batched {batched[-1]:.2f} s, one request each {single[-1]:.2f} s")
        # What ops.fetch does with them: the same batched get, each object verified and written.
        dest = Repository.create(base / "small-local").objects
        t0 = time.perf_counter()
        extract_receive(dest, t.get(ids))
        receive = time.perf_counter() - t0
    speedup = median(s / b for s, b in zip(single, batched, strict=True))
    how = "all" if len(sample) == len(ids) else f"{len(sample)} sampled, extrapolated"
    rows = [
        Row(
            "small_batched_vs_single",
            f"{len(ids)} objects over ssh: transport.get batched vs get([oid]) each ({how})",
            median(batched),
            "s",
            median(single),
            "one request per object",
            speedup,
            ">= 5x faster",
            speedup >= 5.0,
        ),
        Row(
            "small_batched_received",
            f"{len(ids)} objects: batched get + verified and stored in durable groups (what ops.fetch does)",
            receive,
            "s",
            median(batched),
            "batched get alone",
            receive / median(batched),
            "(report)",
            None,
        ),
    ]
    extra = {
        "small_objects": len(ids),
        "small_per_object_sample": len(sample),
        "small_batched": batched,
        "small_single": single,
        "small_received": receive,
    }
    rmtree(root)
    rmtree(base / "small-local")
    return rows, extra


# --- main -----------------------------------------------------------------------------


def report(rows: list[Row]) -> None:
    head = ("figure", "value", "floor", "ratio", "target", "result")
    table = [head]
    for r in rows:
        result = "-" if r.passed is None else ("PASS" if r.passed else "FAIL")
        table.append(
            (
                r.key,
                fmt(r.value, r.unit),
                f"{fmt(r.floor, r.unit)} ({r.floor_what})" if r.floor is not None else "-",
                fmt(r.ratio, "x") if r.ratio is not None else "-",
                r.target,
                result,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print()
    for r in rows:
        print(f"{r.key}: {r.what}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smoke run with tiny sizes (< 60 s)")
    ap.add_argument("--repeat", type=int, default=None, help="repeats, medians taken (3; 2 quick)")
    ap.add_argument("--dir", type=Path, default=None, help="make the working dir in here")
    ap.add_argument("--keep", action="store_true", help="keep the working dir")
    args = ap.parse_args(argv)
    sz = QUICK if args.quick else FULL
    repeat = args.repeat or (2 if args.quick else 3)
    base = Path(tempfile.mkdtemp(prefix="bench_sync.", dir=args.dir))
    sshd = Sshd(base / "sshd")
    saved = {k: os.environ.get(k) for k in ("EXTRACT_SSH", "EXTRACT_REMOTE_COMMAND")}
    t_start = time.perf_counter()
    load_start = os.getloadavg()  # other processes on a shared VM skew every timing
    cwd = os.getcwd()
    try:
        os.chdir(base)  # runs capture code provenance of the cwd: keep it empty
        sshd.start()
        os.environ["EXTRACT_SSH"] = " ".join(shlex.quote(a) for a in sshd.ssh_args())
        os.environ["EXTRACT_REMOTE_COMMAND"] = remote_command()
        rows: list[Row] = []
        extra: dict[str, Any] = {"quick": args.quick, "repeat": repeat}
        for part in (bench_incremental, bench_full, bench_small):
            r, e = part(base, sz, repeat, sshd)
            rows += r
            extra.update(e)
        if args.quick:  # tiny sizes, where start-up costs dominate: the targets are not judged
            rows = [dataclasses.replace(r, target="(full run only)", passed=None) for r in rows]
    finally:
        os.chdir(cwd)
        sshd.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if not args.keep:
            rmtree(base)
    extra["total_seconds"] = time.perf_counter() - t_start
    extra["loadavg_start"], extra["loadavg_end"] = load_start, os.getloadavg()
    print()
    report(rows)
    print(
        f"\n{extra['total_seconds']:.0f} s in all; load average {load_start[0]:.1f} at the "
        f"start, {extra['loadavg_end'][0]:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    figures = {
        r.key: {
            "value": r.value,
            "unit": r.unit,
            "floor": r.floor,
            "ratio": r.ratio,
            "target": r.target,
            "pass": r.passed,
        }
        for r in rows
    }
    print(json.dumps({"figures": figures, **extra}, sort_keys=True, default=str))
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
