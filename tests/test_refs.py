"""Refs: compare-and-swap, reflog, name rules."""

from __future__ import annotations

import pytest

from extract.errors import InvalidRefName, RefConflict, RefNotFound
from extract.objects import Blob, check_ref_name
from extract.store.refs import ANY
from extract.store.repo import MAIN, Repository

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")


def test_create_move_delete_with_reflog(repo: Repository) -> None:
    a = repo.objects.put(Blob(b"a"))
    b = repo.objects.put(Blob(b"b"))
    assert repo.refs.read(MAIN) is None
    repo.refs.set(MAIN, a, expected=None, message="first")
    repo.refs.set(MAIN, b, expected=a, message="second\nline")
    assert repo.refs.get(MAIN) == b
    repo.refs.set(MAIN, None, expected=b, message="gone")
    with pytest.raises(RefNotFound, match=MAIN):
        repo.refs.get(MAIN)
    log = repo.refs.reflog(MAIN)
    assert [(e.old, e.new, e.message) for e in log] == [
        (None, a, "first"),
        (a, b, "second line"),
        (b, None, "gone"),
    ]
    assert "@" in log[0].who


def test_cas_mismatch_changes_nothing(repo: Repository) -> None:
    a = repo.objects.put(Blob(b"a"))
    b = repo.objects.put(Blob(b"b"))
    repo.refs.set(MAIN, a)
    with pytest.raises(RefConflict, match="fetch and merge"):
        repo.refs.set(MAIN, b, expected=b)
    with pytest.raises(RefConflict, match="expected no ref"):
        repo.refs.set(MAIN, b, expected=None)
    assert repo.refs.get(MAIN) == a
    assert len(repo.refs.reflog(MAIN)) == 1
    assert not list((repo.root / "refs" / "heads").glob("*.lock"))
    repo.refs.set(MAIN, b, expected=ANY)
    assert repo.refs.get(MAIN) == b


def test_names_listing(repo: Repository) -> None:
    a = repo.objects.put(Blob(b"a"))
    repo.refs.set(MAIN, a)
    repo.refs.set("refs/remotes/cluster/main", a)
    assert repo.refs.names() == [MAIN, "refs/remotes/cluster/main"]
    assert repo.refs.names("refs/remotes/") == ["refs/remotes/cluster/main"]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "main",
        "refs/heads/../../etc/passwd",
        "refs/heads/-rf",
        "-refs/heads/x",
        "refs/heads/a b",
        "refs/heads/x.lock",
        "refs/heads/.hidden",
        "refs/heads/",
        "refs//x",
        "refs/heads/a:b",
        "refs/heads/a\x00b",
        "refs/heads/x.",
        "refs/heads/@{1}",
    ],
)
def test_bad_ref_names(name: str, repo: Repository) -> None:
    with pytest.raises(InvalidRefName, match="invalid ref name"):
        check_ref_name(name)
    with pytest.raises(InvalidRefName):
        repo.refs.set(name, repo.objects.put(Blob(b"x")))
    assert not (repo.root.parent / "etc").exists()


def test_damaged_ref_is_reported(repo: Repository) -> None:
    (repo.root / "refs" / "heads" / "main").write_text("garbage\n")
    with pytest.raises(Exception, match="damaged"):
        repo.refs.read(MAIN)
