"""History commands through the real CLI: status, commit, log, show, diff, sql, reindex, checkout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from extract import Store
from extract.store.repo import Repository

from .cli import REPO, extract, extract_bytes


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # provenance capture reads cwd: keep it out of this repository
    Repository.init(tmp_path / ".extract", ("domain", "method", "model"))
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(4096))
    with Store(tmp_path / ".extract") as store:
        for i, (domain, method) in enumerate(
            [
                ("interpretability", "sae_analysis"),
                ("interpretability", "probe_training"),
                ("training", "fine_tuning"),
            ]
        ):
            exp = store.experiment({"domain": domain, "method": method, "model": "gpt2"})
            with exp.run(
                config={"lr": 10.0**-i, "opt": {"name": "adam", "beta": 0.9}},
                name=f"r{i}",
                total_steps=100,
            ) as run:
                for step in range(100):
                    run.curve(step, loss=1.0 / (step + 1 + i), acc=step / 100)
                run.log(final_loss=0.1 * (i + 1), accuracy=0.9 - 0.1 * i, arch="gpt2")
                run.tag("gpt2" if i < 2 else "other", "layer_12")
                run.log_table("activations", np.arange(100 * 8, dtype=np.float32).reshape(100, 8))
                if i == 0:
                    run.register_model("probe", "v1", model, framework="numpy")
    return tmp_path


def run_ids(project: Path) -> list[str]:
    r = extract("sql", "-f", "json", "SELECT id FROM runs ORDER BY name", cwd=project)
    return [row["id"] for row in json.loads(r.stdout)]


def test_status_commit_log_show(project: Path) -> None:
    st = json.loads(extract("status", "--json", cwd=project).stdout)
    assert (st["live"], st["uncommitted"], st["committed"], st["head"]) == (0, 3, 0, None)
    r = extract("commit", "-m", "first sweep", cwd=project)
    assert r.returncode == 0 and "3 runs, 1 models" in r.stdout, r.stdout + r.stderr
    assert extract("commit", "-m", "again", cwd=project).stdout.strip() == "nothing to commit"
    st = json.loads(extract("status", "--json", cwd=project).stdout)
    assert (st["uncommitted"], st["committed"], st["staged_entries"]) == (0, 3, 0)
    log = json.loads(extract("log", "--json", cwd=project).stdout)
    assert [c["message"] for c in log] == ["first sweep"] and len(log[0]["runs"]) == 3
    assert "first sweep" in extract("log", "--graph", cwd=project).stdout
    head = log[0]["id"]
    shown = json.loads(extract("show", "main", "--json", cwd=project).stdout)
    assert shown["id"] == head and sorted(shown["runs"]) == sorted(run_ids(project))
    run = json.loads(extract("show", "r1", "--json", cwd=project).stdout)
    assert run["config"] == {"lr": 0.1, "opt": {"beta": 0.9, "name": "adam"}}
    assert run["metrics"] == {"accuracy": pytest.approx(0.8), "final_loss": pytest.approx(0.2)}
    assert run["params"] == {"arch": "gpt2"} and run["commit_id"] == head
    assert sorted(run["curves"]) == ["acc", "loss"]
    text = extract("show", run["id"][:10], cwd=project).stdout
    assert "opt.name = adam" in text and "curves   acc, loss" in text


def test_commit_needs_a_message(project: Path) -> None:
    r = extract("commit", "-m", "  ", cwd=project)
    assert r.returncode == 2 and "needs a message" in r.stderr


def test_diff(project: Path) -> None:
    d = json.loads(extract("diff", "r0", "r2", "--json", cwd=project).stdout)
    assert d["config"] == {"lr": [1.0, 0.01]}
    assert d["metrics"]["final_loss"]["direction"] == "min"
    assert d["metrics"]["final_loss"]["better"] == "a"
    assert d["metrics"]["accuracy"]["better"] == "a"
    text = extract("diff", "r0", "r2", cwd=project).stdout
    assert "lr: 1 -> 0.01" in text and "lower is better" in text


def test_log_graph_draws_a_merge(project: Path) -> None:
    from extract.cli.track_cmds import _graph_lines

    order = [("m", ["a", "b"]), ("b", ["r"]), ("a", ["r"]), ("r", [])]
    assert list(_graph_lines(order)) == [("*", "m"), ("| *", "b"), ("* |", "a"), ("*", "r")]


@pytest.mark.parametrize(
    "query",
    [
        # the reference document's kind of questions
        "SELECT r.name, m.value FROM runs r JOIN scalar_metrics m ON m.run_id = r.id "
        "WHERE m.name = 'accuracy' ORDER BY m.value DESC",
        "SELECT run_id, COUNT(*) FROM curve_points WHERE name = 'loss' GROUP BY run_id",
        # the Specimen Vault's, over the catalog view
        "SELECT specimen_id, created, method, tags FROM catalog WHERE domain = 'interpretability' "
        "ORDER BY created DESC",
        "SELECT specimen_id, domain, method FROM catalog WHERE array_contains(tags, 'gpt2')",
        "SELECT specimen_id, created FROM catalog WHERE created >= '2024-12-01' ORDER BY created DESC LIMIT 10",
        "WITH ids AS (SELECT specimen_id FROM catalog WHERE domain = 'interpretability') "
        "SELECT c.run_id, MAX(c.step) FROM curve_points c JOIN ids ON ids.specimen_id = c.run_id "
        "WHERE c.name = 'loss' GROUP BY c.run_id",
        "SELECT AVG(value), MIN(value) FROM curve_points WHERE name = 'loss'",
        "SELECT r.name FROM runs r WHERE EXISTS (SELECT 1 FROM json_each(r.tags) WHERE value = 'other')",
    ],
)
def test_read_queries_work(project: Path, query: str) -> None:
    r = extract("sql", "-f", "json", query, cwd=project)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout), "expected rows"


def test_sql_formats(project: Path) -> None:
    q = "SELECT name, value FROM scalar_metrics WHERE name = 'accuracy' ORDER BY value"
    csv_out = extract("sql", "--format", "csv", q, cwd=project).stdout.splitlines()
    assert csv_out[0] == "name,value" and len(csv_out) == 4
    raw = extract_bytes("sql", "-f", "csv", q, cwd=project)  # untranslated line endings
    assert raw.startswith(b"name,value\n") and b"\r" not in raw and raw.count(b"\n") == 4
    table = extract("sql", q, cwd=project).stdout
    assert "(3 rows)" in table
    assert len(json.loads(extract("sql", "-f", "json", "--limit", "2", q, cwd=project).stdout)) == 2
    r = extract("sql", "-f", "xml", q, cwd=project)
    assert r.returncode == 2 and "table, csv or json" in r.stderr


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM runs",
        "UPDATE runs SET name = 'x'",
        "INSERT INTO todos(id) VALUES ('x')",
        "DROP TABLE runs",
        "CREATE TABLE t(x)",
        "CREATE TEMP TABLE t(x)",
        "ATTACH DATABASE 'attached.db' AS a",
        "PRAGMA writable_schema = ON",
        "PRAGMA journal_mode = DELETE",
        "VACUUM",
        "VACUUM INTO 'copy.db'",
        "REINDEX",
        "ANALYZE",
        "SELECT load_extension('x')",
        "UPDATE sqlite_master SET sql = ''",
        "WITH x AS (SELECT 1) DELETE FROM runs",
    ],
)
def test_sql_refuses_anything_that_writes(project: Path, query: str) -> None:
    index = project / ".extract" / "index.db"
    extract("status", cwd=project)  # bring the index up to date first
    before = index.read_bytes()
    r = extract("sql", query, cwd=project)
    assert r.returncode == 2 and r.stderr.startswith("error: "), (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert not (project / "attached.db").exists() and not (project / "copy.db").exists()
    assert index.read_bytes() == before
    assert len(run_ids(project)) == 3


def test_sql_errors_are_clear(project: Path) -> None:
    r = extract("sql", "SELEC nonsense", cwd=project)
    assert r.returncode == 2 and "SQL error" in r.stderr


def test_reindex_gives_the_same_answers(project: Path) -> None:
    extract("commit", "-m", "c", cwd=project)
    q = "SELECT * FROM runs r JOIN scalar_metrics m ON m.run_id = r.id ORDER BY r.id, m.name"
    cols = "id, name, config, tags, status, object_id, commit_id, git_sha"
    before = extract(
        "sql", "-f", "json", f"SELECT {cols} FROM runs ORDER BY id", cwd=project
    ).stdout
    points = extract(
        "sql", "-f", "json", "SELECT * FROM curve_points ORDER BY run_id, name, step", cwd=project
    ).stdout
    (project / ".extract" / "index.db").unlink()
    r = extract("reindex", "--json", cwd=project)
    assert json.loads(r.stdout) == {"runs": 3, "curve_points": 600, "skipped": []}
    assert (
        extract("sql", "-f", "json", f"SELECT {cols} FROM runs ORDER BY id", cwd=project).stdout
        == before
    )
    assert (
        extract(
            "sql",
            "-f",
            "json",
            "SELECT * FROM curve_points ORDER BY run_id, name, step",
            cwd=project,
        ).stdout
        == points
    )
    assert extract("sql", q, cwd=project).returncode == 0


def test_checkout_model(project: Path) -> None:
    dest = project / "out" / "probe.bin"
    r = extract("checkout", "probe@v1", str(dest), cwd=project)
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == (project / "model.bin").read_bytes()
    r = extract("checkout", "probe@v1", str(dest), cwd=project)
    assert r.returncode == 2 and "--force" in r.stderr
    assert extract("checkout", "--force", "probe@v1", str(dest), cwd=project).returncode == 0
    r = extract("checkout", "probe@v9", str(dest), cwd=project)
    assert r.returncode == 3 and "Model not found: 'probe@v9'" in r.stderr
    assert extract("checkout", "probe", str(dest), cwd=project).returncode == 2


def test_show_unknown(project: Path) -> None:
    r = extract("show", "nonexistent-run", cwd=project)
    # neither a run nor a commit: not found (exit 3, as every not-found), in the run's words
    assert r.returncode == 3 and "Run not found: 'nonexistent-run'" in r.stderr
    r = extract("diff", "r0", "zzz-missing", cwd=project)
    assert r.returncode == 3 and "Run not found" in r.stderr


def test_fsck_repair_recovers_a_killed_run(project: Path) -> None:
    script = (
        "import time, sys\n"
        "from extract import Store\n"
        "s = Store('.extract')\n"
        "r = s.experiment({'domain': 'd', 'method': 'm', 'model': 'x'}).run(name='doomed')\n"
        "for i in range(25):\n"
        "    r.curve(i, loss=float(i))\n"
        "r.flush()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen(
        [sys.executable, "-c", script], cwd=project, stdout=subprocess.PIPE, text=True, env=env
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    live = json.loads(extract("status", "--json", cwd=project).stdout)
    assert live["live"] == 1
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(0.05)
    r = extract("fsck", "--repair", cwd=project)
    assert r.returncode == 0 and "recovered run" in r.stdout, r.stdout + r.stderr
    rows = json.loads(
        extract(
            "sql",
            "-f",
            "json",
            "SELECT status, (SELECT COUNT(*) FROM curve_points c WHERE c.run_id = runs.id) AS n "
            "FROM runs WHERE name = 'doomed'",
            cwd=project,
        ).stdout
    )
    assert rows == [{"status": "failed", "n": 25}]
