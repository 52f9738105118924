"""``extract serve``: the far side of an ssh remote. One request frame at a time, each
answered by the handler its verb names (objects_spec/sync-protocol.md)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from extract.errors import ExtractError, ProtocolError, StreamLost
from extract.objects import ObjectId, to_hex
from extract.store.odb import Buffer, DiskObjectStore
from extract.store.repo import Repository
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
)
from extract.sync.transport._local import LocalTransport


def serve(repo: Repository, inp: IO[bytes], out: IO[bytes]) -> None:
    """Answer requests on ``inp``/``out`` until the client hangs up."""
    server = _Server(LocalTransport.from_repo(repo), inp, out)
    with contextlib.suppress(AttributeError, OSError, ValueError):
        widen_pipe(inp.fileno(), out.fileno())
    try:
        while True:
            try:
                req = read_frame(inp)
            except ProtocolError:
                return  # the client closed the connection (or can no longer be followed)
            try:
                server.answer(req)
            except StreamLost:
                raise  # halfway through a batch: an error frame would be read as object bytes
            except ExtractError as e:
                write_frame(out, ["err", type(e).__name__, str(e)])
            except (IndexError, KeyError, TypeError, ValueError, AttributeError) as e:
                write_frame(out, ["err", "ProtocolError", f"malformed request: {e}"])
            out.flush()
    finally:
        server.local.release()  # a client that pushed objects and hung up before update-ref


class _Server:
    """One connection's requests, answered against the store served."""

    def __init__(self, local: LocalTransport, inp: IO[bytes], out: IO[bytes]) -> None:
        self.local = local
        self.inp = inp
        self.out = out
        self.buffers = Buffers()

    def answer(self, req: Any) -> None:
        if not isinstance(req, list) or not req or not isinstance(req[0], str):
            raise ProtocolError("malformed request")
        verb, args = req[0], req[1:]
        if verb not in _HANDLERS:
            raise ProtocolError(f"unknown request {verb!r}")
        arity, handler = _HANDLERS[verb]
        if len(args) < arity:
            raise ProtocolError(f"malformed request: {verb} takes {arity} argument(s)")
        handler(self, args)

    def reply(self, *values: Any) -> None:
        write_frame(self.out, ["ok", *values])

    def hello(self, args: list[Any]) -> None:
        self.reply(PROTOCOL_VERSION)

    def ls_refs(self, args: list[Any]) -> None:
        self.reply({k: bytes(v) for k, v in self.local.list_refs().items()})

    def walk(self, args: list[Any]) -> None:
        wants, haves = decode_ids(args[0]), decode_ids(args[1])
        self.reply([bytes(i) for i in self.local.walk(wants, haves)])

    def has(self, args: list[Any]) -> None:
        self.reply(self.local.has(decode_ids(args[0])))

    def get(self, args: list[Any]) -> None:
        n = send_objects(self.local.repo.objects, decode_ids(args[0]), self.out)
        write_frame(self.out, ["end", n])

    def put(self, args: list[Any]) -> None:
        """Object batches until ``["end"]``; then one reply. Refused midway, the rest of the
        stream is still read, so the next request starts at a frame boundary."""
        ended = False

        def incoming() -> Iterator[tuple[ObjectId, Buffer]]:
            nonlocal ended
            while True:
                frame = read_frame(self.inp)
                if not isinstance(frame, list) or not frame:
                    raise ProtocolError("malformed frame in a put")
                if frame[0] == "end":
                    ended = True
                    return
                if frame[0] != "objs" or len(frame) != 2:
                    raise ProtocolError("malformed frame in a put")
                yield from read_objects(self.inp, batch_table(frame[1]), self.buffers)

        try:
            try:
                n = self.local.put(incoming())
            except StreamLost:
                raise
            except ExtractError:
                while not ended:
                    frame = read_frame(self.inp)
                    if isinstance(frame, list) and len(frame) == 2 and frame[0] == "objs":
                        read_objects(self.inp, batch_table(frame[1]))
                    ended = isinstance(frame, list) and bool(frame) and frame[0] == "end"
                raise
        except StreamLost as e:  # the client's stream cannot be followed: say so, hang up
            write_frame(self.out, ["err", "ProtocolError", str(e)])
            self.out.flush()
            raise
        self.reply(n)

    def update_ref(self, args: list[Any]) -> None:
        name, new, expected = args[0], decode_ids([args[1]])[0], args[2]
        self.local.update_ref(name, new, decode_ids([expected])[0] if expected else None)
        self.reply()


#: verb -> (how many arguments it needs at least, its handler); objects_spec/sync-protocol.md.
_HANDLERS: dict[str, tuple[int, Callable[[_Server, list[Any]], None]]] = {
    "hello": (0, _Server.hello),  # (the client's version follows; the reply says ours)
    "ls-refs": (0, _Server.ls_refs),
    "walk": (2, _Server.walk),
    "has": (1, _Server.has),
    "get": (1, _Server.get),
    "put": (0, _Server.put),
    "update-ref": (3, _Server.update_ref),
}


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
