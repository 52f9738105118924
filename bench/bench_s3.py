"""S3 remote benchmark: extract push/pull against dvc push/pull and a plain upload, to
one local S3 server (moto's server mode, started here on 127.0.0.1), in one run.

The data: 1,000 runs of 5,000 steps x 2 metrics (10M curve points) and a 1 GiB model
(random bytes) in an extract store; for DVC the same curves as 1,000 ``.npy`` files and
the same model file, in a git + DVC workspace (``dvc add``, not timed).

Measured, each subject and its floor back to back:

1. push: ``extract push`` (CLI) against ``dvc push``, and against the floor, a plain
   upload of one file of the same bytes (boto3 ``upload_file``: s3transfer, 8 MiB parts,
   10 threads; the fastest plain upload measured for this server);
2. pull into a new place until the model is a usable file: ``extract init`` + ``remote
   add`` + ``fetch`` + ``merge`` (that is ``pull``; the merge brings the index up to date
   too) + ``checkout`` of the model, each step timed, against ``dvc pull`` (fetch + workspace
   checkout) into an emptied cache and workspace, and against the floor, one GET of the
   same bytes streamed to a file and fsynced (moto answers ranged GETs in O(object size),
   so a parallel ranged download would be no floor);
3. an incremental fetch of 1 new run (``extract fetch --json``: its in-process seconds,
   and the command's wall time with Python start-up).

DVC runs from its own environment (``--dvc PATH/bin/dvc``; ``pip install dvc dvc-s3``).

    .venv/bin/python bench/bench_s3.py --dvc /path/venv-dvc/bin/dvc [--quick] [--dir D]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import numpy as np

from extract import Store
from extract.store.history import commit_staged
from extract.store.repo import Repository

MIB = 1 << 20
REPO_ROOT = Path(__file__).resolve().parent.parent
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


def build_store(root: Path, runs: int, steps: int, model: Path) -> None:
    """``runs`` runs of ``steps`` x 2 random curve points, the first registering ``model``."""
    Repository.init(root, ("sweep",))
    rng = np.random.default_rng(1)
    with Store(root) as store:
        exp = store.experiment({"sweep": "s"})
        for i in range(runs):
            r = exp.run(name=f"r{i}", config={"i": i})
            values = rng.standard_normal((steps, 2))
            for step in range(steps):
                r.curve(step, m0=float(values[step, 0]), m1=float(values[step, 1]))
            if i == 0:
                r.register_model("net", "1", model)
            r.finish()
    commit_staged(Repository(root), "bench")


def dvc_workspace(
    ws: Path, runs: int, steps: int, model: Path, dvc: str, env: dict[str, str], endpoint: str
) -> None:
    ws.mkdir(parents=True)
    run(["git", "init", "-q"], ws, env)
    run([dvc, "init", "-q"], ws, env)
    rng = np.random.default_rng(1)
    (ws / "runs").mkdir()
    for i in range(runs):
        np.save(ws / "runs" / f"r{i}.npy", rng.standard_normal((steps, 2)))
    shutil.copy(model, ws / "model.bin")
    run([dvc, "add", "-q", "runs", "model.bin"], ws, env)
    run([dvc, "remote", "add", "-d", "bench", "s3://bench/dvc"], ws, env)
    run([dvc, "remote", "modify", "bench", "endpointurl", endpoint], ws, env)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dvc", required=True, help="the dvc executable of DVC's own venv")
    ap.add_argument("--quick", action="store_true", help="20 runs x 500 steps, 64 MiB model")
    ap.add_argument("--dir", type=Path, default=None)
    a = ap.parse_args()
    runs, steps, model_bytes = (20, 500, 64 * MIB) if a.quick else (1000, 5000, 1024 * MIB)
    top = Path(a.dir or tempfile.mkdtemp(prefix="bench-s3-"))
    top.mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **KEYS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": str(REPO_ROOT),
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    os.environ.update({k: env[k] for k in (*KEYS, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")})
    moto_log = open(top / "moto.log", "wb")  # noqa: SIM115 - open while the server runs
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=moto_log,
        stderr=subprocess.STDOUT,
    )
    out: dict[str, Any] = {"runs": runs, "steps": steps, "model_bytes": model_bytes}
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        os.chdir(top)
        model = top / "model.bin"
        with open(model, "wb") as f:
            for _ in range(model_bytes // (16 * MIB)):
                f.write(os.urandom(16 * MIB))
        say(f"building the stores in {top} ...")
        src = top / "src" / ".extract"
        build_store(src, runs, steps, model)
        dvc_workspace(top / "dvc", runs, steps, model, a.dvc, env, endpoint)
        x = [sys.executable, "-m", "extract"]

        # 1. push
        say("extract push ...")
        push_s = timed(
            lambda: run([*x, "push", "--store", str(src), "s3://bench/x", "--json"], top, env)
        )
        pushed = sum(o["Size"] for o in _listing(s3, "x/"))
        floor_file = top / "floor.bin"
        with open(floor_file, "wb") as f:
            left = pushed
            while left:
                n = min(left, 16 * MIB)
                f.write(os.urandom(n))
                left -= n
        say("floor upload ...")
        floor_up = timed(lambda: s3.upload_file(str(floor_file), "bench", "floor/f"))
        say("dvc push ...")
        dvc_push = timed(lambda: run([a.dvc, "push", "-q"], top / "dvc", env))

        # 2. pull into a new place, until the model is a usable file
        dst = top / "dst"

        steps_s: dict[str, float] = {}

        def timed_step(name: str, args: list[str]) -> None:
            steps_s[name] = timed(lambda: run(args, top, env))

        def extract_pull() -> None:
            dst_store = str(dst / ".extract")
            timed_step("init", [*x, "init", "--hierarchy", "sweep", str(dst)])
            timed_step(
                "remote_add", [*x, "remote", "add", "--store", dst_store, "team", "s3://bench/x"]
            )
            # pull = fetch + merge, run as the two commands to see each one's share
            timed_step("fetch", [*x, "fetch", "--store", dst_store, "team", "-q"])
            timed_step("merge_and_index", [*x, "merge", "--store", dst_store, "team"])
            timed_step(
                "checkout", [*x, "checkout", "--store", dst_store, "net@1", str(dst / "model.bin")]
            )

        say("extract pull + checkout ...")
        pull_s = timed(extract_pull)

        def durable_copy() -> None:
            shutil.copy(model, top / "copy.bin")
            os.sync()

        copy_s = timed(durable_copy)
        (top / "copy.bin").unlink()
        assert _same(dst / "model.bin", model), "the pulled model differs"

        def floor_get() -> None:
            body = s3.get_object(Bucket="bench", Key="floor/f")["Body"]
            with open(top / "floor.down", "wb") as f:
                for chunk in body.iter_chunks(8 * MIB):
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())

        say("floor download ...")
        floor_down = timed(floor_get)
        ws = top / "dvc"
        shutil.rmtree(ws / ".dvc" / "cache")
        shutil.rmtree(ws / "runs")
        (ws / "model.bin").unlink()
        say("dvc pull ...")
        dvc_pull = timed(lambda: run([a.dvc, "pull", "-q"], ws, env))
        assert _same(ws / "model.bin", model), "dvc's model differs"

        # 3. an incremental fetch of one new run
        with Store(src) as store:
            r = store.experiment({"sweep": "s"}).run(name="late")
            for step in range(steps):
                r.curve(step, m0=0.5, m1=float(step))
            r.finish()
        commit_staged(Repository(src), "one more")
        run([*x, "push", "--store", str(src), "s3://bench/x", "-q"], top, env)
        t0 = time.perf_counter()
        inc = json.loads(
            run([*x, "fetch", "--store", str(dst / ".extract"), "team", "--json"], top, env)
        )
        inc_wall = time.perf_counter() - t0

        out.update(
            {
                "pushed_bytes": pushed,
                "push_s": push_s,
                "floor_upload_s": floor_up,
                "dvc_push_s": dvc_push,
                "pull_s": pull_s,
                "pull_steps_s": steps_s,
                "durable_copy_1gib_s": copy_s,
                "floor_download_s": floor_down,
                "dvc_pull_s": dvc_pull,
                "push_vs_floor": push_s / floor_up,
                "dvc_push_vs_push": dvc_push / push_s,
                "pull_vs_floor": pull_s / floor_down,
                "dvc_pull_vs_pull": dvc_pull / pull_s,
                "inc_fetch_objects": inc["objects"],
                "inc_fetch_s": inc["seconds"],
                "inc_fetch_wall_s": inc_wall,
                "load1": os.getloadavg()[0],
            }
        )
        mb = pushed / MIB
        say(
            f"push  {push_s:7.1f} s  floor {floor_up:6.1f} s ({push_s / floor_up:.2f}x)  "
            f"dvc {dvc_push:6.1f} s (extract {dvc_push / push_s:.2f}x faster)  [{mb:.0f} MiB]"
        )
        say(
            f"pull  {pull_s:7.1f} s  floor {floor_down:6.1f} s ({pull_s / floor_down:.2f}x)  "
            f"dvc {dvc_pull:6.1f} s (extract {dvc_pull / pull_s:.2f}x faster)"
        )
        say(
            f"incremental fetch of 1 run: {inc['seconds']:.2f} s in-process, "
            f"{inc_wall:.2f} s wall ({inc['objects']} objects)"
        )
    finally:
        moto.send_signal(signal.SIGTERM)
        moto.wait(timeout=30)
        moto_log.close()
    print(json.dumps(out))
    return 0


def _listing(s3: Any, prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=prefix):
        out.extend(page.get("Contents", []))
    return out


def _same(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(16 * MIB), fb.read(16 * MIB)
            if x != y:
                return False
            if not x:
                return True


if __name__ == "__main__":
    sys.exit(main())
