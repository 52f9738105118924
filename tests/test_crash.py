"""Crashes and torn files: the store stays sound, and damage is named, never hidden.

Two kinds of failure, tested two ways (see NOTES.md):

- SIGKILL cannot tear a write already handed to the kernel, but it can stop a
  writer between any two system calls. ``test_sigkill_*`` kills a real writer
  process (tests/workers/writer.py) at random moments, over and over, on one store.
- Torn tails, flipped bits and misnamed files come from power loss and bad
  disks. The damage tests make them by hand in copies of a store and check that
  fsck (library and CLI) names the bad object, ref or file.
"""

from __future__ import annotations

import dataclasses
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import pytest
import zstandard

from extract.errors import CorruptObject, LockHeld, StoreError
from extract.objects import Blob, ChunkList, Commit, ObjectId, Tree, from_hex, to_hex
from extract.store import chunking
from extract.store.fsck import FsckReport, fsck
from extract.store.refs import RefStore
from extract.store.repo import MAIN, Repository
from tests.cli import extract
from tests.workers.writer import content

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")

ROOT = Path(__file__).resolve().parent.parent
KILLS = 60
KILL_SEED = 20240611
KILL_DELAY = (0.005, 0.3)  # seconds after the writer says "ready"
LOOSE_HEADER = 4


# helpers ------------------------------------------------------------------------------


def extract_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``extract`` command in a subprocess (``python -m extract``)."""
    return extract(*args, cwd=ROOT)


def show(oid: ObjectId | None) -> str:
    return "no ref" if oid is None else to_hex(oid)


def describe(rep: FsckReport) -> str:
    return "\n".join(str(p) for p in rep.problems) or "(no problems)"


def object_file_id(path: Path) -> ObjectId:
    """The id a loose object file's content hashes to, decoded without extract's reader."""
    data = path.read_bytes()
    assert len(data) >= LOOSE_HEADER and data[:3] == b"XO\x01", f"{path}: bad header"
    codec = data[3]
    assert codec in (0, 1, 2), f"{path}: unknown codec {codec}"
    body = data[LOOSE_HEADER:]
    payload = {
        0: lambda: body,
        1: lambda: zlib.decompress(body),
        2: lambda: zstandard.ZstdDecompressor().decompress(body),
    }[codec]()
    return ObjectId(blake3.blake3(payload).digest())


def assert_every_object_file_matches_its_name(store: Path) -> int:
    """No file in objects/ sits under a name its content does not hash to. Returns the count."""
    count = 0
    for sub in sorted((store / "objects").iterdir()):
        if sub.name == "tmp":
            continue
        assert sub.is_dir() and re.fullmatch(r"[0-9a-f]{2}", sub.name), f"stray entry {sub}"
        for f in sorted(sub.iterdir()):
            name = sub.name + f.name
            assert re.fullmatch(r"[0-9a-f]{64}", name), f"stray file {f}"
            actual = object_file_id(f)
            assert to_hex(actual) == name, f"{f} holds object {to_hex(actual)}"
            count += 1
    return count


def chain(repo: Repository, head: ObjectId | None) -> list[ObjectId]:
    """Commits from ``head`` back to the root, following first parents."""
    out: list[ObjectId] = []
    while head is not None:
        out.append(head)
        commit = repo.objects.get(head)
        assert isinstance(commit, Commit), f"{to_hex(head)} is a {commit.KIND}, not a commit"
        assert len(commit.parents) <= 1
        head = commit.parents[0] if commit.parents else None
    return out


# SIGKILL at random points ------------------------------------------------------------


@dataclass
class WriterRun:
    """What a killed writer said it had done, from its stdout (complete lines only)."""

    ready: ObjectId | None = None
    sets: list[ObjectId] = field(default_factory=list)
    #: Blobs referenced by each commit the writer announced, in order.
    blobs_of: dict[ObjectId, list[tuple[ObjectId, int, int]]] = field(default_factory=dict)
    #: The commit announced by "about to set" with no "set" after it.
    about: ObjectId | None = None
    lines: int = 0


def parse_writer_output(text: str) -> WriterRun:
    run = WriterRun()
    complete = text[: text.rfind("\n") + 1]  # a line cut by the kill is not a report
    pending: list[tuple[ObjectId, int, int]] = []
    started = False
    for line in complete.splitlines():
        run.lines += 1
        word, _, rest = line.partition(" ")
        if word == "ready":
            started = True
            run.ready = None if rest == "none" else from_hex(rest)
        elif word == "blob":
            hexid, seed, size = rest.split()
            pending.append((from_hex(hexid), int(seed), int(size)))
        elif line.startswith("about to set "):
            assert run.about is None, "two 'about to set' without a 'set' between them"
            run.about = from_hex(line.removeprefix("about to set "))
            run.blobs_of[run.about], pending = pending, []
        elif word == "set":
            oid = from_hex(rest)
            assert oid == run.about, f"'set {rest}' does not follow its 'about to set'"
            run.sets.append(oid)
            run.about = None
        else:
            raise AssertionError(f"unexpected writer output {line!r}")
    assert started, f"writer never said ready: {text!r}"
    return run


def run_writer_and_kill(store: Path, out_dir: Path, seed: int, delay: float) -> str:
    """Start a writer, SIGKILL it ``delay`` s after it is ready; return what it printed."""
    out_path = out_dir / f"writer-{seed}.out"
    err_path = out_dir / f"writer-{seed}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.workers.writer", str(store), str(seed)],
            cwd=ROOT,
            stdout=out,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 30
        while not out_path.read_bytes().startswith(b"ready"):
            assert proc.poll() is None, f"writer exited early: {err_path.read_text()}"
            assert time.monotonic() < deadline, "writer did not start within 30 s"
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # A writer that died of its own error before the kill is a failure, not a crash test.
    assert code == -signal.SIGKILL, f"writer exited with {code}: {err_path.read_text()}"
    return out_path.read_text()


def remove_stale_lock_as_told(store: Path, rep: FsckReport) -> bool:
    """If the kill left the ref locked: fsck warns, set() refuses and says how to fix it; do that."""
    lock = store / "refs" / "heads" / "main.lock"
    if not lock.exists():
        return False
    assert any(p.severity == "warning" and p.subject == str(lock) for p in rep.problems), (
        f"fsck did not report the stale lock {lock}:\n{describe(rep)}"
    )
    refs = RefStore(store, lock_timeout=0.05)
    current = refs.read(MAIN)
    with pytest.raises(LockHeld) as info:
        refs.set(MAIN, current or ObjectId(bytes(32)), expected=current, message="crash test")
    found = re.search(r"rm '[^']+'", str(info.value))
    assert found, f"LockHeld does not say how to remove the lock: {info.value}"
    subprocess.run(found.group(0), shell=True, check=True)  # as a user would paste it
    assert not lock.exists()
    assert refs.read(MAIN) == current
    return True


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_a_sound_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    Repository.create(store)
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(KILL_SEED)

    ref: ObjectId | None = None  # what the ref held after the previous kill
    history: list[ObjectId] = []  # every value the ref was reported (or found) to hold, in order
    durable: dict[ObjectId, tuple[int, int]] = {}  # blob id -> (seed, size), content verified
    unsettled: set[ObjectId] = set()  # announced "about to set", then killed before the move
    stale_locks = torn_sets = 0

    for _ in range(KILLS):
        seed = rng.getrandbits(32)
        text = run_writer_and_kill(store, logs, seed, rng.uniform(*KILL_DELAY))
        run = parse_writer_output(text)
        assert run.ready == ref, "the writer did not see the ref the last round left"

        # The store opens, whatever the kill interrupted.
        repo = Repository(store)
        rep = fsck(repo, read_data=True)
        assert rep.ok, f"after kill (writer seed {seed}):\n{describe(rep)}"
        tmp_dir = str(store / "objects" / "tmp")
        for p in rep.problems:  # only leftovers of an interrupted write are allowed
            assert p.subject.startswith(tmp_dir) or p.subject.endswith(".lock"), str(p)
        stale_locks += remove_stale_lock_as_told(store, rep)
        assert_every_object_file_matches_its_name(store)

        # The ref holds the last value reported set, or the one about to be set.
        last = run.sets[-1] if run.sets else run.ready
        allowed = {last} | ({run.about} if run.about is not None else set())
        now = repo.refs.read(MAIN)
        assert now in allowed, f"ref is {show(now)}; allowed {sorted(map(show, allowed))}"
        settled = list(run.sets)
        if run.about is not None and now == run.about:
            settled.append(run.about)  # killed after set() returned, before it said so
            torn_sets += 1
        elif run.about is not None:
            unsettled.add(run.about)
        history.extend(settled)
        ref = now

        # Everything the reported commits reference is readable and holds its bytes.
        for commit in settled:
            for oid, blob_seed, size in run.blobs_of[commit]:
                if oid not in durable:
                    assert chunking.read_bytes(repo.objects, oid) == content(blob_seed, size)
                    durable[oid] = (blob_seed, size)
        # No reported value was lost: the history is the chain behind the ref.
        assert chain(repo, ref)[::-1] == history
        # The reflog has every move, in order. A kill between the reflog append and the
        # rename (refs.py steps 5-6) may add an entry for a move that never happened;
        # such an entry can only name a commit that was about to be set.
        logged = [e.new for e in repo.refs.reflog(MAIN)]
        assert [o for o in logged if o not in unsettled] == history

    # Damage would have accumulated over the kills: re-read everything once more.
    repo = Repository(store)
    for oid, (blob_seed, size) in durable.items():
        assert chunking.read_bytes(repo.objects, oid) == content(blob_seed, size)
    big = [oid for oid, (_, size) in durable.items() if size > chunking.CHUNK_MIN]
    chunked = sum(isinstance(repo.objects.get(oid), ChunkList) for oid in big)
    assert chunked > 0, "no large blob was ever written as a chunk list: the test lost coverage"
    assert len(history) > KILLS, "the writer hardly wrote anything between kills"

    cli = extract_cli("fsck", "--store", str(store), "--read-data")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "ok" in cli.stdout.splitlines()[-1]
    phantom = len(repo.refs.reflog(MAIN)) - len(history)
    torn_objects = len(list((store / "objects" / "tmp").iterdir()))
    print(
        f"{KILLS} kills: {len(history)} ref moves, {len(durable)} blobs ({chunked} chunked), "
        f"{torn_objects} temp files of interrupted object writes, {stale_locks} stale locks "
        f"removed, {torn_sets} kills between set() and its report, "
        f"{phantom} reflog entries for moves that did not happen"
    )


# damage done by hand to copies ----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A small store holding one of each thing we damage."""

    store: Path
    small_blob: ObjectId  # raw blob, a few bytes
    blob: ObjectId  # raw blob, 10 KB
    chunks: ObjectId  # chunk list of several blobs
    chunk: ObjectId  # one of its chunk blobs
    tree: ObjectId  # raw structured object
    root_commit: ObjectId
    commit: ObjectId  # zstd-compressed structured object (long message)

    def named(self, what: str) -> ObjectId:
        oid = getattr(self, what)
        assert isinstance(oid, bytes)
        return ObjectId(oid)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    store = tmp_path_factory.mktemp("sample") / "store"
    repo = Repository.create(store)
    odb = repo.objects
    with repo.writing():  # a module fixture: set up before lax_writes applies
        small = odb.put_blob(b"hello")
        blob = odb.put_blob(random.Random(1).randbytes(10_000))
        big = random.Random(2).randbytes(3_000_000)
        chunks = chunking.write_bytes(odb, big)
        chunk_list = odb.get(chunks)
        assert isinstance(chunk_list, ChunkList) and len(chunk_list.parts) >= 2
        tree = odb.put(Tree({"small": small, "blob": blob, "big": chunks}))
        root = odb.put(Commit((), tree, "tester", "host", "2024-06-11T00:00:00+00:00", "first"))
        commit = odb.put(
            Commit((root,), tree, "tester", "host", "2024-06-11T00:00:01+00:00", "second " * 200)
        )
        odb.sync()
        repo.refs.set(MAIN, root, expected=None, message="first")
        repo.refs.set(MAIN, commit, expected=root, message="second")
    sample = Sample(store, small, blob, chunks, chunk_list.parts[1][0], tree, root, commit)
    raw_commit = odb.read_file(commit)
    assert raw_commit[3] == 2, "the long commit should be stored zstd-compressed"
    assert odb.read_file(tree)[3] == 0, "the tree should be stored raw"
    rep = fsck(repo, read_data=True)
    assert rep.ok and not rep.problems, describe(rep)
    return sample


@pytest.fixture
def damaged(sample: Sample, tmp_path: Path) -> tuple[Sample, Repository]:
    """A fresh copy of the sample store to damage."""
    copy = tmp_path / "store"
    shutil.copytree(sample.store, copy)
    return dataclasses.replace(sample, store=copy), Repository(copy)


def assert_named(repo: Repository, hexid: str, *, read_data: bool) -> FsckReport:
    rep = fsck(repo, read_data=read_data)
    assert not rep.ok
    assert hexid in {p.subject for p in rep.errors}, (
        f"{hexid} not named (read_data={read_data}):\n{describe(rep)}"
    )
    return rep


def assert_cli_fsck_fails_naming(store: Path, text: str, *args: str) -> None:
    cli = extract_cli("fsck", "--store", str(store), *args)
    assert cli.returncode != 0, cli.stdout + cli.stderr
    assert text in cli.stdout + cli.stderr
    assert "Traceback" not in cli.stderr, cli.stderr


STRUCTURED = ["tree", "commit", "chunks"]
BLOBS = ["small_blob", "blob", "chunk"]


def _cut_half(n: int) -> int:
    return n // 2


TRUNCATIONS: dict[str, Callable[[int], int]] = {
    "empty": lambda n: 0,
    "in-header": lambda n: 3,
    "header-only": lambda n: LOOSE_HEADER,
    "half": _cut_half,
    "last-byte": lambda n: n - 1,
}


@pytest.mark.parametrize("cut", list(TRUNCATIONS))
@pytest.mark.parametrize("what", STRUCTURED + BLOBS)
def test_truncated_object_is_named(damaged: tuple[Sample, Repository], what: str, cut: str) -> None:
    s, repo = damaged
    oid = s.named(what)
    path = repo.objects.path_of(oid)
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: TRUNCATIONS[cut](len(data))])

    # A torn tail is found by the cheap check too: blobs by their framing and length.
    assert_named(repo, to_hex(oid), read_data=False)
    assert_named(repo, to_hex(oid), read_data=True)
    with pytest.raises(CorruptObject) as info:
        repo.objects.get_raw(oid)
    assert to_hex(oid) in str(info.value)
    assert_cli_fsck_fails_naming(s.store, to_hex(oid))


# (what, offset from the start of the file, or from its end when negative)
FLIPS = [
    pytest.param("tree", LOOSE_HEADER + 12, True, id="tree-body"),
    pytest.param("tree", -1, True, id="tree-last"),
    pytest.param("commit", LOOSE_HEADER + 10, True, id="zlib-commit-body"),
    pytest.param("commit", -1, True, id="zlib-commit-adler"),
    pytest.param("chunks", LOOSE_HEADER + 40, True, id="chunklist-body"),
    pytest.param("tree", 0, True, id="tree-magic"),
    pytest.param("commit", 3, True, id="codec-byte"),
    pytest.param("small_blob", 2, True, id="blob-format-byte"),
    pytest.param("blob", -1, True, id="blob-trailer"),
    # A flipped data byte inside a blob keeps its framing: only --read-data re-hashes it.
    pytest.param("blob", 5_000, False, id="blob-data"),
    pytest.param("small_blob", -16, False, id="small-blob-data"),
    pytest.param("chunk", 100_000, False, id="chunk-data"),
]


@pytest.mark.parametrize(("what", "offset", "cheap"), FLIPS)
def test_flipped_byte_is_named(
    damaged: tuple[Sample, Repository], what: str, offset: int, cheap: bool
) -> None:
    s, repo = damaged
    oid = s.named(what)
    path = repo.objects.path_of(oid)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20
    path.chmod(0o644)
    path.write_bytes(bytes(data))

    assert_named(repo, to_hex(oid), read_data=True)
    if cheap:
        assert_named(repo, to_hex(oid), read_data=False)
    with pytest.raises(CorruptObject):
        repo.objects.get_raw(oid)
    assert_cli_fsck_fails_naming(s.store, to_hex(oid), "--read-data")


@pytest.mark.parametrize("what", ["tree", "commit", "blob", "chunk"])
def test_object_under_a_wrong_name_is_named(damaged: tuple[Sample, Repository], what: str) -> None:
    s, repo = damaged
    oid = s.named(what)
    wrong = ObjectId(blake3.blake3(b"some other object " + oid).digest())
    dest = repo.objects.path_of(wrong)
    dest.parent.mkdir(exist_ok=True)
    repo.objects.path_of(oid).rename(dest)

    rep = assert_named(repo, to_hex(wrong), read_data=True)
    # The real object is now missing, and it is reachable: that is named too.
    assert to_hex(oid) in {p.subject for p in rep.errors}, describe(rep)
    assert to_hex(oid) in " ".join(p.message for p in rep.errors if p.subject == to_hex(wrong))
    assert to_hex(oid) in {p.subject for p in fsck(repo).errors}
    with pytest.raises(CorruptObject):
        repo.objects.get_raw(wrong)
    assert_cli_fsck_fails_naming(s.store, to_hex(wrong), "--read-data")
    assert_cli_fsck_fails_naming(s.store, to_hex(oid))


def test_stray_file_in_objects_is_named(damaged: tuple[Sample, Repository]) -> None:
    s, repo = damaged
    path = repo.objects.path_of(s.tree)
    stray = path.with_name(path.name + ".orig")
    path.rename(stray)
    rep = fsck(repo)
    assert str(stray) in {p.subject for p in rep.errors}, describe(rep)
    assert to_hex(s.tree) in {p.subject for p in rep.errors}, describe(rep)
    assert_cli_fsck_fails_naming(s.store, str(stray))


BAD_REFS = [
    pytest.param(lambda good: good[:30], id="truncated"),
    pytest.param(lambda good: good[:64], id="no-newline"),  # fine: git writes it so too
    pytest.param(lambda good: b"", id="empty"),
    pytest.param(lambda good: b"garbage in the ref file\n", id="ascii-garbage"),
    pytest.param(lambda good: b"\xff\xfe\x00\x01" * 17, id="binary-garbage"),
    pytest.param(lambda good: good.upper(), id="uppercase-hex"),
    pytest.param(lambda good: good[:64] + b"\n" + good[:64] + b"\n", id="two-ids"),
]


@pytest.mark.parametrize("damage", BAD_REFS)
def test_damaged_ref_is_reported_clearly(
    damaged: tuple[Sample, Repository], damage: Callable[[bytes], bytes]
) -> None:
    s, repo = damaged
    ref = s.store / "refs" / "heads" / "main"
    good = ref.read_bytes()
    assert good == to_hex(s.commit).encode() + b"\n"
    ref.write_bytes(damage(good))
    if damage(good).strip() == good.strip():
        assert repo.refs.read(MAIN) == s.commit
        assert fsck(repo).ok
        return

    with pytest.raises(StoreError) as info:
        repo.refs.read(MAIN)
    assert MAIN in str(info.value) and "damaged" in str(info.value)
    rep = fsck(repo)
    assert MAIN in {p.subject for p in rep.errors}, describe(rep)
    assert_cli_fsck_fails_naming(s.store, MAIN)
    for cmd in (["rev-parse", "main"], ["show-ref"], ["cat-object", "main"]):
        cli = extract_cli(*cmd, "--store", str(s.store))
        assert cli.returncode != 0, (cmd, cli.stdout)
        assert "Traceback" not in cli.stderr, (cmd, cli.stderr)
        assert cli.stderr.startswith("error: ") and MAIN in cli.stderr, (cmd, cli.stderr)


def test_ref_to_a_missing_object_is_named(damaged: tuple[Sample, Repository]) -> None:
    s, repo = damaged
    gone = ObjectId(blake3.blake3(b"never written").digest())
    (s.store / "refs" / "heads" / "main").write_text(to_hex(gone) + "\n")
    rep = fsck(repo)
    assert to_hex(gone) in {p.subject for p in rep.errors}, describe(rep)
    assert_cli_fsck_fails_naming(s.store, to_hex(gone))


def test_torn_reflog_tail_is_skipped(damaged: tuple[Sample, Repository]) -> None:
    s, repo = damaged
    log = s.store / "logs" / "refs" / "heads" / "main"
    before = repo.refs.reflog(MAIN)
    assert [e.new for e in before] == [s.root_commit, s.commit]
    data = log.read_bytes()
    assert data.endswith(b"\tsecond\n")
    # Power loss in the middle of the last append: the record is cut in its message,
    # just before its newline, in the old id. A record without its newline is torn.
    accepted: dict[int, list[str]] = {}
    for back in (1, 3, 7, 12, 40, 100):
        log.write_bytes(data[:-back])
        entries = repo.refs.reflog(MAIN)
        if entries != before[:1]:
            accepted[back] = [e.message for e in entries]
        rep = fsck(repo, read_data=True)
        assert rep.ok, describe(rep)
    assert not accepted, f"torn last record read as an entry (bytes cut: messages read): {accepted}"
    cli = extract_cli("fsck", "--store", str(s.store))
    assert cli.returncode == 0, cli.stdout + cli.stderr


def test_sample_store_is_sound_through_the_cli(sample: Sample) -> None:
    cli = extract_cli("fsck", "--store", str(sample.store), "--read-data")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert isinstance(Repository(sample.store).objects.get(sample.small_blob), Blob)
