"""``extract fetch`` with its transfer slowed down, for tests that kill it halfway
(tests/test_sync_transport.py).

Usage: ``python -m tests.workers.slow_fetch BYTES_PER_SECOND ARGS...``: runs the
``extract`` CLI with ``ARGS`` (``fetch --store B origin --json``, say) after slowing
every transport's ``get`` to about that many bytes a second. Only the pace changes:
the objects still go through the real transport (a path, or ssh to a real sshd and
``extract serve``), the real checks and the real durable writes, so a SIGKILL lands
where one would on a slow link.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator, Sequence

from extract.objects import ObjectId
from extract.store.odb import Buffer
from extract.sync import transport

Get = Callable[..., Generator[tuple[ObjectId, Buffer], None, None]]


def slowed(get: Get, rate: float) -> Get:
    def slow_get(
        self: transport.Transport, ids: Sequence[ObjectId]
    ) -> Generator[tuple[ObjectId, Buffer], None, None]:
        start = time.monotonic()
        sent = 0
        for oid, stored in get(self, ids):
            sent += len(stored)
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
            yield oid, stored

    return slow_get


def main() -> None:
    rate = float(sys.argv[1])
    local, ssh = transport.LocalTransport, transport.SshTransport
    local.get = slowed(local.get, rate)  # type: ignore[method-assign]
    ssh.get = slowed(ssh.get, rate)  # type: ignore[method-assign]
    from extract.cli import main as cli

    sys.argv = ["extract", *sys.argv[2:]]
    cli()


if __name__ == "__main__":
    main()
