"""Transports: one interface, a local path and an ssh connection behind it.

A path remote is a store directory on a local or mounted disk, worked on
directly. An ssh remote runs ``extract serve PATH`` on the far side over one
ssh connection (as git runs upload-pack) and speaks ``protocol`` to it; the
user's ssh config and agent apply. ``$EXTRACT_SSH`` replaces the ssh command
(like GIT_SSH_COMMAND) and ``$EXTRACT_REMOTE_COMMAND`` the far side's extract.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import os
import queue
import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from extract.errors import (
    ExtractError,
    InvalidInput,
    LockHeld,
    ObjectNotFound,
    ProtocolError,
    RefConflict,
    StoreNotFound,
    StreamLost,
)
from extract.objects import ObjectId, check_ref_name, to_hex
from extract.objects.ids import DIGEST_SIZE
from extract.store.odb import Buffer, DiskObjectStore, ObjectStore
from extract.store.repo import FORMAT_FILE, Repository
from extract.sync.protocol import (
    PROTOCOL_VERSION,
    Buffers,
    batch_table,
    read_frame,
    read_objects,
    widen_pipe,
    write_frame,
    write_objects,
)
from extract.sync.walk import objects_to_send

BATCH = 4096
#: Objects travel in batches of about this many bytes (small ones many to a batch) ...
GROUP_BYTES = 1 << 20
#: ... and at most this many objects (a sender holds a batch's files open at once).
BATCH_OBJECTS = 256
#: Batches an ssh fetch reads ahead of the one being checked and stored ...
READ_AHEAD = 4
#: ... when it asks for more objects than this (an incremental fetch asks for a handful).
SMALL_GET = 64


def receive(
    odb: ObjectStore,
    items: Iterable[tuple[ObjectId, Buffer]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Verify and store objects arriving in stored form, children first, durably in groups.

    Writing and making groups durable run in background threads while the next objects
    arrive and are checked (``ObjectStore.ingest``), which also decides when a group is
    closed and put in place (by size and by age), so a transfer killed at any moment keeps
    what arrived up to the last few seconds or 64 MiB."""
    n = 0
    with odb.ingest() as sink:
        for oid, stored in items:
            sink.put_stored(oid, stored)
            n += 1
            if progress:
                progress(len(stored))
    odb.sync()
    return n


class Transport(abc.ABC):
    """What fetch and push need from the other side."""

    url: str

    @abc.abstractmethod
    def list_refs(self) -> dict[str, ObjectId]: ...

    @abc.abstractmethod
    def walk(self, wants: Sequence[ObjectId], haves: Sequence[ObjectId]) -> list[ObjectId]:
        """Objects the remote would send for ``wants``, given the receiver has ``haves``."""

    @abc.abstractmethod
    def has(self, ids: Sequence[ObjectId]) -> list[bool]: ...

    @abc.abstractmethod
    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        """``ids`` in their stored form (loose object files), in order; the caller verifies."""

    @abc.abstractmethod
    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        """Send objects in stored form, children before parents; the remote verifies each
        (hash, kind, links present) before writing it. Returns the count."""

    @abc.abstractmethod
    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        """Compare-and-swap a remote ref; RefConflict when it moved."""

    def close(self) -> None:  # noqa: B027 - nothing to release for a path
        pass

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalTransport(Transport):
    """A store reachable as a directory."""

    def __init__(self, path: Path, create: bool = False) -> None:
        self.url = str(path)
        if not (path / FORMAT_FILE).exists():
            if not create:
                raise StoreNotFound(
                    f"no extract store at {path}; `extract push` creates one, or `extract init --bare {path}`"
                )
            Repository.create(path)
        self.repo = Repository(path)
        # A push is objects first, the ref later (two requests over ssh): the objects are
        # unnamed here in between, so the store's writer lock is held across both.
        self._writing: contextlib.ExitStack | None = None

    def list_refs(self) -> dict[str, ObjectId]:
        out = {}
        for name in self.repo.refs.names():
            oid = self.repo.refs.read(name)
            if oid is not None:
                out[name] = oid
        return out

    def walk(self, wants: Sequence[ObjectId], haves: Sequence[ObjectId]) -> list[ObjectId]:
        return objects_to_send(self.repo.objects, wants, haves)

    def has(self, ids: Sequence[ObjectId]) -> list[bool]:
        return [self.repo.objects.has(i) for i in ids]

    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        for oid in ids:
            yield oid, self.repo.objects.get_stored(oid)

    def hold(self) -> None:
        """Enter this store's writer lock until the next ref update or close."""
        if self._writing is None:
            self._writing = contextlib.ExitStack()
            self._writing.enter_context(self.repo.writing())

    def release(self) -> None:
        held, self._writing = self._writing, None
        if held is not None:
            held.close()

    def close(self) -> None:
        self.release()

    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        self.hold()
        return receive(self.repo.objects, items)

    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        check_ref_name(name)
        # Received objects are stored only after everything they link to, so the walk
        # below finds the history present; it guards against a commit that lost its
        # history here (an interrupted gc), and raises before the ref moves.
        if not self.repo.objects.has(new):
            raise ObjectNotFound(
                f"cannot move {name} to {to_hex(new)[:12]}: that commit was never sent"
            )
        objects_to_send(self.repo.objects, [new], [expected] if expected else [])
        try:
            self.repo.refs.set(name, new, expected=expected, message=f"push: {to_hex(new)[:12]}")
        finally:
            self.release()


def send_objects(odb: DiskObjectStore, ids: Sequence[ObjectId], out: IO[bytes]) -> int:
    """Stream ``ids`` as object batches (protocol.write_objects) straight from their files:
    ``sendfile`` when ``out`` is a real file, so the bytes never pass through Python."""
    try:
        out_fd: int | None = out.fileno()
    except (AttributeError, OSError, ValueError):
        out_fd = None
    group: list[tuple[ObjectId, int, int, int]] = []  # id, open fd, offset, size
    size = n = 0
    try:
        for oid in ids:
            group.append((oid, *odb.open_range(oid)))
            size += group[-1][3]
            if size >= GROUP_BYTES or len(group) >= BATCH_OBJECTS:
                _send_group(group, out, out_fd)
                n += len(group)
                _close_all(group)
                group, size = [], 0
        if group:
            _send_group(group, out, out_fd)
            n += len(group)
    finally:
        _close_all(group)
    return n


def _send_group(
    group: list[tuple[ObjectId, int, int, int]], out: IO[bytes], out_fd: int | None
) -> None:
    write_frame(out, ["objs", [[bytes(oid), size] for oid, _, _, size in group]])
    if out_fd is not None:
        out.flush()
    for oid, fd, offset, size in group:
        sent = 0
        while sent < size:
            if out_fd is not None:
                try:
                    k = os.sendfile(out_fd, fd, offset + sent, size - sent)
                except OSError as e:
                    if e.errno not in _NO_SENDFILE or sent:
                        raise
                    out_fd = None  # no sendfile to this kind of file here (a pipe on macOS)
                    continue
            else:
                k = len(chunk := os.pread(fd, min(size - sent, 1 << 24), offset + sent))
                out.write(chunk)
            if not k:  # the announced size is no longer true: the stream cannot go on
                raise StreamLost(f"object {to_hex(oid)} shrank while it was being sent")
            sent += k


_NO_SENDFILE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK, errno.EOPNOTSUPP}


def _close_all(group: list[tuple[ObjectId, int, int, int]]) -> None:
    for _, fd, _, _ in group:
        os.close(fd)
    group.clear()


def serve(repo: Repository, inp: IO[bytes], out: IO[bytes]) -> None:
    """The far side of an ssh remote: answer requests until the client hangs up."""
    local = LocalTransport.__new__(LocalTransport)
    local.url, local.repo, local._writing = str(repo.root), repo, None
    buffers = Buffers()
    with contextlib.suppress(AttributeError, OSError, ValueError):
        widen_pipe(inp.fileno(), out.fileno())
    try:
        while True:
            try:
                req = read_frame(inp)
            except ProtocolError:
                return  # the client closed the connection
            try:
                _answer(local, req, inp, out, buffers)
            except StreamLost:
                raise  # halfway through a batch: an error frame would be read as object bytes
            except ExtractError as e:
                write_frame(out, ["err", type(e).__name__, str(e)])
            except (IndexError, KeyError, TypeError, ValueError, AttributeError) as e:
                write_frame(out, ["err", "ProtocolError", f"malformed request: {e}"])
            out.flush()
    finally:
        local.release()  # a client that pushed objects and hung up before update-ref


def _ids(values: Any) -> list[ObjectId]:
    if not isinstance(values, list) or not all(
        isinstance(v, bytes) and len(v) == DIGEST_SIZE for v in values
    ):
        raise ProtocolError("expected a list of 32-byte ids")
    return [ObjectId(v) for v in values]


def _answer(
    local: LocalTransport, req: Any, inp: IO[bytes], out: IO[bytes], buffers: Buffers
) -> None:
    if not isinstance(req, list) or not req or not isinstance(req[0], str):
        raise ProtocolError("malformed request")
    verb = req[0]
    if verb == "hello":
        write_frame(out, ["ok", PROTOCOL_VERSION])
    elif verb == "ls-refs":
        write_frame(out, ["ok", {k: bytes(v) for k, v in local.list_refs().items()}])
    elif verb == "walk":
        write_frame(out, ["ok", [bytes(i) for i in local.walk(_ids(req[1]), _ids(req[2]))]])
    elif verb == "has":
        write_frame(out, ["ok", local.has(_ids(req[1]))])
    elif verb == "get":
        write_frame(out, ["end", send_objects(local.repo.objects, _ids(req[1]), out)])
    elif verb == "put":
        ended = False

        def incoming() -> Iterator[tuple[ObjectId, Buffer]]:
            nonlocal ended
            while True:
                frame = read_frame(inp)
                if not isinstance(frame, list) or not frame:
                    raise ProtocolError("malformed frame in a put")
                if frame[0] == "end":
                    ended = True
                    return
                if frame[0] != "objs" or len(frame) != 2:
                    raise ProtocolError("malformed frame in a put")
                yield from read_objects(inp, batch_table(frame[1]), buffers)

        try:
            try:
                n = local.put(incoming())
            except StreamLost:
                raise
            except ExtractError:
                while not ended:  # read the rest of the stream so the next request starts clean
                    frame = read_frame(inp)
                    if isinstance(frame, list) and len(frame) == 2 and frame[0] == "objs":
                        read_objects(inp, batch_table(frame[1]))
                    ended = isinstance(frame, list) and bool(frame) and frame[0] == "end"
                raise
        except StreamLost as e:  # the client's stream cannot be followed: say so, hang up
            write_frame(out, ["err", "ProtocolError", str(e)])
            out.flush()
            raise
        write_frame(out, ["ok", n])
    elif verb == "update-ref":
        name, new, expected = req[1], _ids([req[2]])[0], req[3]
        local.update_ref(name, new, _ids([expected])[0] if expected else None)
        write_frame(out, ["ok"])
    else:
        raise ProtocolError(f"unknown request {verb!r}")


_ERRORS: dict[str, type[ExtractError]] = {
    "RefConflict": RefConflict,
    "LockHeld": LockHeld,
    "StoreNotFound": StoreNotFound,
    "ObjectNotFound": ObjectNotFound,
    "CorruptObject": ProtocolError,
    "InvalidRefName": InvalidInput,
}


class SshTransport(Transport):
    """``extract serve`` on the far side of one ssh connection."""

    def __init__(
        self,
        url: str,
        host: str,
        path: str,
        port: int | None,
        user: str | None,
        create: bool = False,
    ) -> None:
        self.url = url
        self._broken = False
        self._buffers = Buffers()
        ssh = shlex.split(os.environ.get("EXTRACT_SSH", "ssh"))
        remote_cmd = shlex.split(os.environ.get("EXTRACT_REMOTE_COMMAND", "extract"))
        args = [*ssh, "-o", "BatchMode=yes"]
        if port is not None:
            args += ["-p", str(port)]
        target = f"{user}@{host}" if user else host
        serve_cmd = [*remote_cmd, "serve", *(["--create"] if create else []), "--", path]
        args += [target, " ".join(shlex.quote(a) for a in serve_cmd)]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        widen_pipe(self.proc.stdin.fileno(), self.proc.stdout.fileno())
        self.inp: IO[bytes] = self.proc.stdout
        self.out: IO[bytes] = self.proc.stdin
        try:
            reply = self._call(["hello", PROTOCOL_VERSION])
            version = reply[1] if len(reply) > 1 else None
            if version != PROTOCOL_VERSION:
                raise ProtocolError(
                    f"the remote's extract speaks sync protocol {version}, this one {PROTOCOL_VERSION}: "
                    "install the same extract version on both sides"
                )
        except BaseException:
            self.close()
            raise

    def _send(self, req: Any) -> None:
        try:
            write_frame(self.out, req)
            self.out.flush()
        except (BrokenPipeError, OSError):
            raise self._gone() from None

    def _recv(self) -> Any:
        reply = self._reply()
        if reply[0] == "err":
            raise self._remote_error(reply)
        return reply

    def _remote_error(self, reply: list[Any]) -> ExtractError:
        cls = _ERRORS.get(str(reply[1:2] and reply[1]), ProtocolError)
        return cls(f"remote {self.url}: {reply[2] if len(reply) > 2 else 'error'}")

    def _reply(self) -> Any:
        """The next reply frame, an ``err`` one included."""
        try:
            reply = read_frame(self.inp)
        except ProtocolError as e:
            if "closed" in str(e):
                raise self._gone() from None
            raise ProtocolError(f"remote {self.url}: {e}") from None
        if not isinstance(reply, list) or not reply:
            raise ProtocolError(f"remote {self.url} sent a malformed reply")
        return reply

    def _call(self, req: Any) -> Any:
        self._send(req)
        return self._recv()

    def _gone(self) -> ProtocolError:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
        err = self.proc.stderr.read().decode("utf-8", "replace").strip() if self.proc.stderr else ""
        last = (
            err.splitlines()[-1]
            if err
            else f"the remote hung up (ssh exited with {self.proc.returncode})"
        )
        return ProtocolError(f"lost the connection to {self.url}: {last}")

    def list_refs(self) -> dict[str, ObjectId]:
        with self._shape("ls-refs"):
            refs = self._call(["ls-refs"])[1]
            out = {}
            for name, oid in refs.items():
                check_ref_name(name)  # a hostile remote's ref names never become local paths
                out[name] = _ids([oid])[0]
            return out

    @contextlib.contextmanager
    def _shape(self, what: str) -> Iterator[None]:
        """A reply of the wrong shape is a one-line ProtocolError, not a traceback."""
        try:
            yield
        except (IndexError, KeyError, TypeError, AttributeError, ValueError) as e:
            if isinstance(e, ExtractError):
                raise
            raise ProtocolError(f"remote {self.url} sent a malformed {what} reply") from None

    def walk(self, wants: Sequence[ObjectId], haves: Sequence[ObjectId]) -> list[ObjectId]:
        with self._shape("walk"):
            return _ids(
                self._call(["walk", [bytes(w) for w in wants], [bytes(h) for h in haves]])[1]
            )

    def has(self, ids: Sequence[ObjectId]) -> list[bool]:
        out: list[bool] = []
        with self._shape("has"):
            for i in range(0, len(ids), BATCH * 4):
                flags = self._call(["has", [bytes(x) for x in ids[i : i + BATCH * 4]]])[1]
                if len(flags) != len(ids[i : i + BATCH * 4]):
                    raise ValueError("wrong count")
                out.extend(bool(x) for x in flags)
        return out

    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        """Objects in batches; for more than a few, a reader thread receives the next
        batches while the caller checks and stores the previous ones. Abandoned halfway,
        the connection is closed (the stream can no longer be followed)."""
        if self._broken:
            raise ProtocolError(
                f"the connection to {self.url} was closed after an interrupted transfer"
            )
        in_step = threading.Event()  # set when the reply stream stopped at a frame boundary
        batches = self._batches(ids, in_step)
        try:
            if len(ids) <= SMALL_GET:  # a thread costs more than it saves here
                for batch in batches:
                    yield from batch
            else:
                yield from self._read_ahead(batches, in_step)
        finally:
            if not in_step.is_set():
                self._abandon()

    def _batches(
        self, ids: Sequence[ObjectId], in_step: threading.Event
    ) -> Iterator[list[tuple[ObjectId, memoryview]]]:
        for i in range(0, len(ids), BATCH):
            self._send(["get", [bytes(x) for x in ids[i : i + BATCH]]])
            while True:
                with self._shape("get"):
                    frame = self._reply()
                    if frame[0] == "err":  # a whole reply: still in step
                        in_step.set()
                        raise self._remote_error(frame)
                    if frame[0] == "end":
                        break
                    if frame[0] != "objs" or len(frame) != 2:
                        raise ValueError(frame[0])
                    table = batch_table(frame[1])
                yield self._read_batch(table)
        in_step.set()

    def _read_ahead(
        self, batches: Iterator[list[tuple[ObjectId, memoryview]]], in_step: threading.Event
    ) -> Iterator[tuple[ObjectId, memoryview]]:
        """``batches`` read by a thread, up to READ_AHEAD ahead of the caller."""
        ready: queue.Queue[list[tuple[ObjectId, memoryview]] | BaseException | None]
        ready = queue.Queue(maxsize=READ_AHEAD)
        stop = threading.Event()

        def hand_over(item: list[tuple[ObjectId, memoryview]] | BaseException | None) -> bool:
            while not stop.is_set():
                with contextlib.suppress(queue.Full):
                    ready.put(item, timeout=0.1)
                    return True
            return False  # the caller went away

        def reader() -> None:
            try:
                for batch in batches:
                    if not hand_over(batch):
                        return
                hand_over(None)
            except BaseException as e:  # handed to the caller, raised there
                hand_over(e)

        thread = threading.Thread(target=reader, name="extract-receive", daemon=True)
        thread.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            stop.set()
            if not in_step.is_set():
                self._abandon()  # unblocks a reader waiting on the pipe
            thread.join()

    def _abandon(self) -> None:
        self._broken = True
        self._kill()

    def _read_batch(self, table: list[tuple[ObjectId, int]]) -> list[tuple[ObjectId, memoryview]]:
        try:
            return read_objects(self.inp, table, self._buffers)
        except ProtocolError as e:
            if "closed" in str(e):
                raise self._gone() from None
            raise

    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        self._send(["put"])
        group: list[tuple[ObjectId, Buffer]] = []
        size = 0
        try:
            for oid, stored in items:
                group.append((oid, stored))
                size += len(stored)
                if size >= GROUP_BYTES or len(group) >= BATCH_OBJECTS:
                    write_objects(self.out, group)
                    group, size = [], 0
            if group:
                write_objects(self.out, group)
        except (BrokenPipeError, OSError):
            raise self._gone() from None
        self._send(["end"])
        with self._shape("put"):
            return int(self._recv()[1])

    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        self._call(["update-ref", name, bytes(new), bytes(expected) if expected else None])

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.out.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass(frozen=True)
class RemoteUrl:
    kind: str  # "path", "ssh" or "git"
    path: str
    host: str | None = None
    port: int | None = None
    user: str | None = None


_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^/:]+):(?P<path>.*)$")
_SSH = re.compile(r"^ssh://(?:(?P<user>[^@/]+)@)?(?P<host>[^/:]+)(?::(?P<port>\d+))?(?P<path>/.*)$")


def parse_url(url: str) -> RemoteUrl:
    """A path, ``file://PATH``, ``ssh://[user@]host[:port]/path`` or ``[user@]host:path``."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            "a remote URL is a path, ssh://[user@]host[:port]/path or [user@]host:path"
        )
    from extract.sync.gittransport import git_location, is_git_url  # it imports this module

    if is_git_url(url):
        return RemoteUrl("git", git_location(url))
    if url.startswith("file://"):
        return RemoteUrl("path", url[len("file://") :])
    m = _SSH.match(url)
    if url.startswith("ssh://") and not m:
        raise InvalidInput(f"malformed ssh URL {url!r}: expected ssh://[user@]host[:port]/path")
    if m is None and "/" not in url.split(":", 1)[0] and not Path(url).exists():
        m = _SCP.match(url)
    if m is None:
        return RemoteUrl("path", url)
    host, path, user = m.group("host"), m.group("path"), m.group("user")
    for label, value in (("host", host), ("user", user or ""), ("path", path)):
        if value.startswith("-"):
            raise InvalidInput(
                f"refusing ssh {label} {value!r}: it starts with '-' and ssh would read it as an option"
            )
    if not path:
        raise InvalidInput(f"ssh remote {url!r} names no path")
    port = int(m.group("port")) if "port" in m.groupdict() and m.group("port") else None
    return RemoteUrl("ssh", path, host, port, user)


def open_transport(url: str, create: bool = False, store: Path | None = None) -> Transport:
    """The transport for ``url``; ``store`` is the local store (a git remote keeps a cache there)."""
    u = parse_url(url)
    if u.kind == "git":
        from extract.sync.gittransport import GitTransport

        return GitTransport(url, store=store, create=create)
    if u.kind == "path":
        return LocalTransport(Path(u.path).expanduser(), create=create)
    assert u.host is not None
    return SshTransport(url, u.host, u.path, u.port, u.user, create=create)
