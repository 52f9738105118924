"""Fixtures and helpers of the sync tests: a real sshd on 127.0.0.1, stores, the CLI.

``sshd`` (session scope) starts ``/usr/sbin/sshd -D -e -f CONFIG`` on a free port
with throwaway host and user ed25519 keys, and yields an :class:`SshServer`: the
port, the user to log in as, and the environment (``EXTRACT_SSH``,
``EXTRACT_REMOTE_COMMAND``) that makes ``extract`` reach it. The far side runs as
this same user on this same machine, with this interpreter and this checkout on
``PYTHONPATH``.

Test modules import the fixtures by name (``from tests.sshd import sshd``). Pytest
keeps one fixture definition per importing module, so the server itself is shared
through a reference count and started once per session.

Also here: stores with runs made through the SDK (``make_store``, ``add_runs``,
``commit``), object and directory-tree snapshots, and ``run_cli``, the CLI in this
process for tests that run many commands.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from extract.objects import Commit, Event, ObjectId, new_ulid
from extract.sdk import Store
from extract.store.history import commit_staged, head_state, now_iso, write_state
from extract.store.refs import author
from extract.store.repo import MAIN, Repository
from extract.sync.walk import objects_to_send

REPO = Path(__file__).resolve().parent.parent
SSHD = Path("/usr/sbin/sshd")


@dataclass
class SshServer:
    port: int
    user: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    users: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def url(self, path: Path | str) -> str:
        """``ssh://user@127.0.0.1:PORT/abs/path`` for a local absolute path."""
        p = str(path)
        assert p.startswith("/"), p
        return f"ssh://{self.user}@127.0.0.1:{self.port}{p}"

    def log_text(self) -> str:
        try:
            return self.log.read_text("utf-8", "replace")
        except OSError:
            return ""


_server: SshServer | None = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "extract-tests", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _wait_accepting(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.settimeout(2)
                if s.recv(4).startswith(b"SSH"):  # the server's banner, not some other listener
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _start() -> SshServer:
    if not SSHD.exists():
        pytest.skip(f"{SSHD} is not installed (apt-get install openssh-server); ssh tests skipped")
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("the ssh client (ssh, ssh-keygen) is not installed; ssh tests skipped")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    workdir = Path(tempfile.mkdtemp(prefix="extract-sshd-"))
    os.chmod(workdir, 0o700)
    host_key, user_key = workdir / "host_ed25519", workdir / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    user = pwd.getpwuid(os.getuid()).pw_name
    log = workdir / "sshd.log"
    last_error = ""
    for _attempt in range(5):  # a free port can be taken between probing and binding
        port = _free_port()
        config = workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"AuthorizedKeysFile {user_key}.pub",
                    f"PidFile {workdir / 'sshd.pid'}",
                    "PermitRootLogin yes",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "PrintMotd no",
                    "LogLevel ERROR",
                    "MaxStartups 100:30:200",
                    "MaxSessions 100",
                    "",
                ]
            )
        )
        with open(log, "ab") as logf:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
            )
        if _wait_accepting(port, proc, timeout=10):
            break
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        last_error = log.read_text("utf-8", "replace")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(f"sshd did not start:\n{last_error}")

    ssh_cmd = " ".join(
        shlex.quote(a)
        for a in [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(user_key),
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
    )
    remote_cmd = " ".join(
        shlex.quote(a) for a in ["env", f"PYTHONPATH={REPO}", sys.executable, "-m", "extract"]
    )
    env = {"EXTRACT_SSH": ssh_cmd, "EXTRACT_REMOTE_COMMAND": remote_cmd}
    server = SshServer(port, user, env, proc, workdir, log)
    # One real login before any test relies on it: a broken setup fails here, clearly.
    probe = subprocess.run(
        [*shlex.split(ssh_cmd), "-p", str(port), f"{user}@127.0.0.1", remote_cmd + " --help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        _stop(server)
        raise RuntimeError(
            f"ssh to the test sshd failed ({probe.returncode}): {probe.stderr.strip()}\n"
            f"sshd log:\n{server.log_text()}"
        )
    return server


def _stop(server: SshServer) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
    shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    """A running sshd; every importing module shares the one server."""
    global _server
    if _server is None or _server.proc.poll() is not None:
        _server = _start()
    server = _server
    server.users += 1
    try:
        yield server
    finally:
        server.users -= 1
        if server.users == 0:
            _stop(server)
            _server = None


@pytest.fixture
def ssh_env(sshd: SshServer, monkeypatch: pytest.MonkeyPatch) -> SshServer:
    """``sshd``, with its environment set in this process (for in-process transports)."""
    for k, v in sshd.env.items():
        monkeypatch.setenv(k, v)
    return sshd


# stores for the sync tests -----------------------------------------------------------

HIERARCHY = ("sweep", "trial")


def make_store(root: Path, hierarchy: tuple[str, ...] = HIERARCHY) -> Repository:
    """A new store at ``root`` (a ``.extract`` directory) with a hierarchy."""
    return Repository.init(root, hierarchy)


def add_runs(
    repo: Repository,
    n: int,
    *,
    sweep: str = "x",
    trial: str = "y",
    steps: int = 3,
    tags: tuple[str, ...] = ("t",),
    prefix: str = "r",
    todo: bool = False,
) -> list[str]:
    """``n`` sealed runs (curves, a headline value, a param, tags); returns their ids."""
    ids = []
    with Store(repo.root) as s:
        e = s.experiment({HIERARCHY[0]: sweep, HIERARCHY[1]: trial})
        for i in range(n):
            with e.run(name=f"{prefix}{i}", config={"i": i}) as r:
                for step in range(steps):
                    r.curve(step, loss=1.0 / (step + 1), acc=step * 0.1)
                r.log(best=float(i), opt="adam")
                if tags:
                    r.tag(*tags)
                if todo:
                    r.todo(f"look at {prefix}{i}")
                ids.append(r.id)
    return ids


def commit(repo: Repository, message: str = "commit") -> ObjectId:
    oid = commit_staged(repo, message).commit
    assert oid is not None, "nothing was staged"
    return oid


def reachable(repo: Repository, head: ObjectId) -> set[ObjectId]:
    """Every object ``head`` reaches."""
    return set(objects_to_send(repo.objects, [head], []))


def object_ids_on_disk(root: Path) -> set[str]:
    """Hex ids of the objects under a store's ``objects/``: loose files and pack entries."""
    from extract.store.odb import DiskObjectStore

    return {oid.hex() for oid in DiskObjectStore(root / "objects").iter_ids()}


def snapshot(top: Path, exclude: Path | None = None) -> dict[str, tuple[str, int, bytes | None]]:
    """Every path under ``top`` (not following symlinks), with its type, size and content."""
    out: dict[str, tuple[str, int, bytes | None]] = {}
    for dirpath, dirs, files in os.walk(top):
        d = Path(dirpath)
        if exclude is not None and (d == exclude or exclude in d.parents):
            dirs[:] = []
            continue
        for name in [*dirs, *files]:
            p = d / name
            if exclude is not None and p == exclude:
                continue
            st = p.lstat()
            rel = str(p.relative_to(top))
            if p.is_symlink():
                out[rel] = ("link", 0, os.readlink(p).encode())
            elif p.is_dir():
                out[rel] = ("dir", 0, None)
            else:
                out[rel] = ("file", st.st_size, p.read_bytes() if st.st_size < 1 << 20 else None)
    return out


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The ``extract`` CLI run in this process (typer's CliRunner), answering like
    ``tests.cli.extract`` at a fraction of the cost of a new interpreter. An exception that
    escaped the CLI's error handling is appended to stderr as the traceback a user would see.
    """
    from typer.testing import CliRunner

    from extract.cli import app

    full_env: dict[str, str | None] = {"EXTRACT_STORE": None, **(env or {})}
    with contextlib.chdir(cwd):
        r = CliRunner().invoke(app, list(args), env=full_env, catch_exceptions=True)
    stderr = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        stderr += "".join(traceback.format_exception(r.exception))
    return subprocess.CompletedProcess(["extract", *args], r.exit_code, r.stdout, stderr)


def add_tag_events(repo: Repository, n: int, run_id: str, message: str = "events") -> ObjectId:
    """Commit ``n`` small tag events on one run straight onto main (many objects, quickly)."""
    head, state = head_state(repo)
    with repo.writing():
        with repo.objects.batch():
            for i in range(n):
                ev = Event(new_ulid(), now_iso(), "tag", f"run:{run_id}", {"tags": [f"e{i}"]})
                state.sections["events"][ev.id] = repo.objects.put(ev)
            root = write_state(repo.objects, state)
            oid = repo.objects.put(
                Commit((head,) if head else (), root, author(), "tests", now_iso(), message)
            )
        repo.objects.sync()
        repo.refs.set(MAIN, oid, expected=head)
    return oid
