"""fetch, push, merge and pull: moving history between stores.

fetch copies what the remote has and we lack, verifying every object before
it is written and writing children before the objects that link to them, then
moves ``refs/remotes/<name>/main``. Killed halfway, it leaves a sound store,
and the next fetch skips what already arrived.

merge is three-way over state trees. Runs, events and models are keyed by
ULID or name@version, so merging is a union: commutative, idempotent, and
conflict-free except where two sides really disagree (a model version with
different content, two different hierarchies), which is reported by name with
nothing written, unless ``--ours``/``--theirs`` chooses.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from extract.errors import ExtractError, InvalidInput, MergeConflict, RefConflict, StoreError
from extract.objects import Commit, ObjectId, to_hex
from extract.objects.kinds import cast
from extract.store.history import (
    PURGED,
    SECTIONS,
    State,
    drop_purged,
    now_iso,
    purged_section,
    read_state,
    split_model_key,
    write_state,
)
from extract.store.refs import ANY, author
from extract.store.repo import MAIN, Repository
from extract.sync.transport import Transport
from extract.sync.walk import ancestors, check_connected, check_dangling, objects_to_send

#: (done, total, bytes so far) -> None; the CLI draws a progress bar with it.
Progress = Callable[[int, int, int], None]


#: How many of main's first parents a fetch names besides main as what it has.
HAVES_DEPTH = 16


def tracking_ref(remote: str) -> str:
    return f"refs/remotes/{remote}/main"


@dataclass
class TransferResult:
    """What a fetch or a push moved."""

    head: ObjectId | None  # the commit that moved: the remote's main (fetch) or ours (push)
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0
    up_to_date: bool = False

    def counter(self, total: int, progress: Progress | None) -> Callable[[int], None]:
        """A per-object tick that counts into this result and reports ``progress``."""

        def tick(nbytes: int) -> None:
            self.objects += 1
            self.bytes += nbytes
            if progress:
                progress(self.objects, total, self.bytes)

        return tick


def fetch(
    repo: Repository, transport: Transport, remote: str, progress: Progress | None = None
) -> TransferResult:
    # One write transaction: what arrives is unnamed until the remote-tracking ref moves.
    with repo.writing():
        return _fetch(repo, transport, remote, progress)


def _fetch(
    repo: Repository, transport: Transport, remote: str, progress: Progress | None
) -> TransferResult:
    t0 = time.perf_counter()
    refs = transport.list_refs()
    head = refs.get(MAIN)
    result = TransferResult(head)
    if head is None:
        result.up_to_date = True
        return result
    odb = repo.objects
    haves = [
        h for h in (repo.refs.read(MAIN), repo.refs.read(tracking_ref(remote))) if h is not None
    ]
    if not _complete(repo, head, haves):
        # main's recent first parents too: the remote may not have main itself (a purge or
        # a commit made here since) but an ancestor of it, which spares sending again what
        # that ancestor holds (a purged run included).
        candidates = transport.walk([head], haves + _first_parents(repo, haves[:1], HAVES_DEPTH))
        missing = [oid for oid in candidates if not odb.has(oid)]
        # Each object is checked (hash, kind, and that everything it links to is already
        # here: objects come children first) before it is written, so when the last one is
        # in, the new head's whole history is.
        # Old commits link to what a purge removed: the sender's walk leaves it out, and
        # it is accepted as absent only if a purge in the history received says so.
        with odb.accept_dangling() as dangling:
            transport.copy_into(odb, missing, result.counter(len(missing), progress))
        check_dangling(odb, [head], dangling)
        if result.objects != len(missing):
            raise StoreError(
                f"fetch from {transport.url} ended early: {result.objects} of {len(missing)} objects"
            )
        if not odb.has(head):
            raise StoreError(
                f"fetch from {transport.url}: the remote never sent its head {to_hex(head)[:12]}"
            )
    else:
        result.up_to_date = repo.refs.read(tracking_ref(remote)) == head
    repo.refs.set(tracking_ref(remote), head, expected=ANY, message=f"fetch {remote}")
    result.seconds = time.perf_counter() - t0
    return result


def push(
    repo: Repository, transport: Transport, remote: str, progress: Progress | None = None
) -> TransferResult:
    """Objects first, then the remote's main, moved only if it is still where we saw it."""
    t0 = time.perf_counter()
    local = repo.refs.read(MAIN)
    if local is None:
        raise InvalidInput("nothing to push: main has no commits yet (`extract commit -m MSG`)")
    remote_head = transport.list_refs().get(MAIN)
    result = TransferResult(local)
    if remote_head == local:
        result.up_to_date = True
        return result
    if remote_head is not None and remote_head not in ancestors(repo.objects, [local]):
        raise RefConflict(
            f"the remote {remote} has commits that main does not: run `extract pull {remote}` "
            "(fetch and merge), then push"
        )
    candidates = objects_to_send(repo.objects, [local], [remote_head] if remote_head else [])
    flags = transport.has(candidates)
    missing = [oid for oid, present in zip(candidates, flags, strict=True) if not present]

    transport.copy_from(repo.objects, missing, result.counter(len(missing), progress))
    try:
        transport.update_ref(MAIN, local, remote_head)
    except RefConflict:
        raise RefConflict(
            f"the remote {remote} moved while we pushed: run `extract pull {remote}`, then push again"
        ) from None
    repo.refs.set(tracking_ref(remote), local, expected=ANY, message=f"push {remote}")
    result.seconds = time.perf_counter() - t0
    return result


def _first_parents(repo: Repository, heads: list[ObjectId], depth: int) -> list[ObjectId]:
    out: list[ObjectId] = []
    c = heads[0] if heads else None
    while c is not None and len(out) < depth:
        try:
            parents = cast(repo.objects.get(c), Commit).parents
        except ExtractError:
            break
        c = parents[0] if parents else None
        if c is not None:
            out.append(c)
    return out


def _complete(repo: Repository, head: ObjectId, haves: list[ObjectId]) -> bool:
    """Whether ``head`` and all it reaches are here. Usually instant (``haves`` cover it);
    a commit left without its history (an interrupted gc, say) is fetched again."""
    if not repo.objects.has(head):
        return False
    try:
        check_connected(repo.objects, [head], haves)
    except ExtractError:
        return False
    return True


# merging -------------------------------------------------------------------------


def merge_base(repo: Repository, a: ObjectId, b: ObjectId) -> ObjectId | None:
    common = ancestors(repo.objects, [a]) & ancestors(repo.objects, [b])
    if not common:
        return None
    return max(common, key=lambda c: (cast(repo.objects.get(c), Commit).time, c))


def merge_states(
    base: State, ours: State, theirs: State, strategy: str | None
) -> tuple[State, list[str]]:
    """The union of two states; a real disagreement is a conflict unless ``strategy`` picks."""
    out = State()
    conflicts: list[str] = []
    for section in SECTIONS:
        b, o, t = base.sections[section], ours.sections[section], theirs.sections[section]
        merged = dict(o)
        for key, oid in t.items():
            mine = o.get(key)
            if mine is None or mine == oid:
                merged[key] = oid
            elif b.get(key) == mine:
                merged[key] = oid  # only they changed it
            elif b.get(key) == oid:
                pass  # only we changed it
            elif section == "models":
                if strategy is None:
                    name, version = split_model_key(key)
                    conflicts.append(f"model {name}@{version} has different content on each side")
                elif strategy == "theirs":
                    merged[key] = oid
            else:
                merged[key] = max(mine, oid)  # same run or event sealed twice: any fixed choice
        out.sections[section] = merged
    # A purge on either side is final: what it removed stays out of the union.
    for key in out.sections[PURGED]:
        out.sections[purged_section(key)].pop(key, None)
    hb, ho, ht = base.hierarchy, ours.hierarchy, theirs.hierarchy
    # A side without a hierarchy has no opinion (nothing ever removes one): checked before
    # "only one side changed it", on both sides alike, so the result does not depend on
    # who merges.
    if ho == ht or ht is None:
        out.hierarchy = ho
    elif ho is None:
        out.hierarchy = ht
    elif hb == ht:
        out.hierarchy = ho
    elif hb == ho:
        out.hierarchy = ht
    elif strategy is None:
        conflicts.append(f"hierarchy differs: ours {ho!r}, theirs {ht!r}")
        out.hierarchy = ho
    else:
        out.hierarchy = ho if strategy == "ours" else ht
    return out, conflicts


@dataclass
class MergeResult:
    kind: str  # "up-to-date", "fast-forward", "merge"
    head: ObjectId | None
    added: dict[str, int] = field(default_factory=dict)


def merge(
    repo: Repository, theirs: ObjectId, strategy: str | None = None, message: str | None = None
) -> MergeResult:
    if strategy not in (None, "ours", "theirs"):
        raise InvalidInput("strategy must be 'ours' or 'theirs'")
    with repo.writing():  # the merged state and commit are unnamed until main moves
        return _merge(repo, theirs, strategy, message)


def _merge(
    repo: Repository, theirs: ObjectId, strategy: str | None, message: str | None
) -> MergeResult:
    cast(repo.objects.get(theirs), Commit)  # a commit, and present
    ours = repo.refs.read(MAIN)
    if ours is None or ours in ancestors(repo.objects, [theirs]):
        if ours == theirs:
            return MergeResult("up-to-date", ours)
        repo.refs.set(
            MAIN, theirs, expected=ours, message=f"merge {to_hex(theirs)[:12]}: fast-forward"
        )
        return MergeResult("fast-forward", theirs)
    if theirs in ancestors(repo.objects, [ours]):
        return MergeResult("up-to-date", ours)
    base_commit = merge_base(repo, ours, theirs)
    odb = repo.objects
    base = read_state(odb, cast(odb.get(base_commit), Commit).state) if base_commit else State()
    our_state = read_state(odb, cast(odb.get(ours), Commit).state)
    their_state = read_state(odb, cast(odb.get(theirs), Commit).state)
    merged, conflicts = merge_states(base, our_state, their_state, strategy)
    if conflicts:
        raise MergeConflict(conflicts)
    # Events annotating a purged run go with it; ours were checked against our purges.
    ours_checked = merged.sections[PURGED].keys() <= our_state.sections[PURGED].keys()
    drop_purged(
        odb,
        merged,
        our_state.sections["events"].values() if ours_checked else (),
        our_state.sections["runs"].values() if ours_checked else (),
    )
    state_oid = write_state(odb, merged)
    msg = message or f"merge {to_hex(theirs)[:12]}"
    commit = odb.put(
        Commit((ours, theirs), state_oid, author(), socket.gethostname(), now_iso(), msg)
    )
    odb.sync()
    repo.refs.set(MAIN, commit, expected=ours, message=f"merge: {msg}")
    added = {s: len(set(merged.sections[s]) - set(our_state.sections[s])) for s in SECTIONS}
    return MergeResult("merge", commit, added)
