"""An ssh remote: ``extract serve PATH`` on the far side of one ssh connection (as git
runs upload-pack), spoken to in ``protocol`` frames; the user's ssh config and agent
apply. ``$EXTRACT_SSH`` replaces the ssh command (like GIT_SSH_COMMAND) and
``$EXTRACT_REMOTE_COMMAND`` the far side's extract.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import subprocess
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import IO, Any

from extract.errors import (
    ConnectionClosed,
    ExtractError,
    InvalidInput,
    LockHeld,
    ObjectNotFound,
    ProtocolError,
    RefConflict,
    StoreNotFound,
)
from extract.objects import ObjectId, check_ref_name
from extract.store.odb import Buffer
from extract.sync.protocol import (
    BATCH_OBJECTS,
    GROUP_BYTES,
    PROTOCOL_VERSION,
    Buffers,
    batch_table,
    decode_ids,
    read_frame,
    read_objects,
    widen_pipe,
    write_frame,
    write_objects,
)
from extract.sync.transport._base import Transport

#: Ids per ``get`` request (``has`` asks four times as many at once).
BATCH = 4096
#: Batches an ssh fetch reads ahead of the one being checked and stored ...
READ_AHEAD = 4
#: ... when it asks for more objects than this (an incremental fetch asks for a handful).
SMALL_GET = 64

#: Errors the server names in an ``err`` frame that the client raises as themselves.
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
        except ConnectionClosed:
            raise self._gone() from None
        except ProtocolError as e:
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
                out[name] = decode_ids([oid])[0]
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
            return decode_ids(
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
        except ConnectionClosed:
            raise self._gone() from None

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
