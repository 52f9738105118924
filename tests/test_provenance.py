"""Code provenance against real repositories made by the real ``git`` binary.

Every expectation comes from git itself: ``git rev-parse``, ``git diff HEAD``, and
``git add -u && git write-tree`` run in a throwaway copy. Every test goes through
:func:`cap`, which also checks that ``capture`` returned (never raised) a well-formed
record, and most check that the user's ``.git`` was left byte-for-byte untouched.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pygit2
import pytest

from extract.git import Provenance, capture
from extract.git import provenance as prov
from extract.objects import decode, encode

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
}
#: Variables that would point git or libgit2 at another repository (a hook running pytest).
REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
RECORD_KEYS = {"sha", "branch", "remote", "dirty", "tree", "head_tree", "untracked", "reasons"}


@pytest.fixture(autouse=True)
def _isolated_git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in REPO_ENV:
        monkeypatch.delenv(var, raising=False)
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    r = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "gc.auto=0", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        timeout=120,
    )
    if check and r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {r.stderr.decode()}")
    return r.stdout


def git_text(cwd: Path, *args: str) -> str:
    return git(cwd, *args).decode().strip()


def cap(path: Path | str | None = None, **kwargs: Any) -> Provenance:
    """capture(), checking it returned a well-formed record (it must never raise)."""
    p = capture(path, **kwargs)
    assert isinstance(p, Provenance)
    record = p.to_record()
    assert set(record) == RECORD_KEYS
    assert decode(encode(record)) == record  # msgpack-friendly, canonical
    assert all(isinstance(r, str) for r in p.reasons)
    return p


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def make_repo(root: Path) -> Path:
    """A committed repository with nested directories, an executable and a binary file."""
    git(root.parent, "init", "-q", str(root))
    write(root / "train.py", "".join(f"line {i}\n" for i in range(40)))
    write(root / "README.md", "# project\n")
    write(root / "src/model/net.py", "class Net:\n    pass\n")
    write(root / "src/model/loss.py", "def loss():\n    return 0\n")
    write(root / "src/data/load.py", "def load():\n    return []\n")
    write(root / "weights.bin", bytes(range(256)) * 8)
    write(root / "run.sh", "#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o755)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def snapshot(gitdir: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``gitdir`` with its mtime and content hash."""
    out: dict[str, tuple[int, str]] = {}
    for dirpath, _dirs, files in os.walk(gitdir):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(gitdir))] = (
                p.lstat().st_mtime_ns,
                hashlib.sha256(p.read_bytes()).hexdigest(),
            )
    return out


def expected_tree(repo: Path, tmp: Path) -> str:
    """``git add -u && git write-tree`` in a throwaway copy of the repository."""
    copy = tmp / f"copy-{random.randrange(1 << 30)}"
    shutil.copytree(repo, copy, symlinks=True)
    git(copy, "add", "-u")
    tree = git_text(copy, "write-tree")
    shutil.rmtree(copy)
    return tree


def assert_matches_git(
    repo: Path, tmp: Path, *, in_process: bool = False, **kwargs: Any
) -> Provenance:
    """capture() equals git's own answers, and left .git untouched.

    ``in_process``: also check that capture ran no subprocess (pygit2 alone).
    """
    before = snapshot(repo / ".git")
    if in_process:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(subprocess, "run", _no_subprocess)
            p = cap(repo, **kwargs)
    else:
        p = cap(repo, **kwargs)
    assert snapshot(repo / ".git") == before, "capture modified the user's .git"
    assert p.reasons == ()
    assert p.sha == git_text(repo, "rev-parse", "HEAD")
    assert p.head_tree == git_text(repo, "rev-parse", "HEAD^{tree}")
    assert p.worktree_tree == expected_tree(repo, tmp)
    want = git(repo, "diff", "HEAD")
    assert (p.diff or b"") == want
    assert p.dirty == bool(want)
    assert p.dirty == (p.worktree_tree != p.head_tree)
    return p


def _no_subprocess(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("capture ran a subprocess on its in-process path")


# --------------------------------------------------------------------------- basics


def test_clean_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    p = assert_matches_git(repo, tmp_path, in_process=True)
    assert p.branch == "main"
    assert p.root == repo
    assert not p.dirty
    assert p.diff is None
    assert p.worktree_tree == p.head_tree
    assert p.untracked == ()
    assert p.remote_url is None
    assert p.to_record() == {
        "sha": p.sha,
        "branch": "main",
        "remote": None,
        "dirty": False,
        "tree": p.head_tree,
        "head_tree": p.head_tree,
        "untracked": 0,
        "reasons": [],
    }


def test_dirty_tracked_changes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "src/model/net.py", "class Net:\n    depth = 12\n")
    write(repo / "weights.bin", bytes(range(255, -1, -1)) * 8)  # binary change
    (repo / "train.py").unlink()  # deleted, not staged
    write(repo / "src/model/attention.py", "def attend():\n    pass\n")
    git(repo, "add", "src/model/attention.py")  # staged, never committed
    write(repo / "src/data/extra.bin", b"\x00\x01\x02binary\x00")
    git(repo, "add", "src/data/extra.bin")  # staged new binary
    (repo / "run.sh").chmod(0o644)  # mode change only
    # (sizes rule out git's rename detection, so no fallback to the git binary)
    p = assert_matches_git(repo, tmp_path, in_process=True)
    assert p.dirty
    assert p.diff is not None
    assert b"Binary files a/weights.bin and b/weights.bin differ" in p.diff
    assert b"deleted file mode 100644" in p.diff
    assert b"new file mode 100644\nindex 0000000.." in p.diff
    assert p.to_record()["tree"] == p.worktree_tree != p.head_tree


def test_staged_and_unstaged_on_the_same_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "train.py", "staged\n")
    git(repo, "add", "train.py")
    write(repo / "train.py", "staged\nthen edited\n")
    write(repo / "README.md", "# staged then reverted\n")
    git(repo, "add", "README.md")
    write(repo / "README.md", "# project\n")
    p = assert_matches_git(repo, tmp_path)
    assert p.diff is not None and b"README.md" not in p.diff


def test_staged_change_reverted_in_worktree_is_clean(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "README.md", "# other\n")
    git(repo, "add", "README.md")
    write(repo / "README.md", "# project\n")
    p = assert_matches_git(repo, tmp_path)
    assert not p.dirty and p.diff is None


def test_awkward_paths_and_file_types(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "spa ce.txt", "a\n")
    write(repo / "é.txt", "b\n")
    write(repo / 'quo"te.txt', "c\n")
    write(repo / "tab\tname.txt", "d\n")
    write(repo / "empty.txt", "")
    write(repo / "noeol.txt", "no newline")
    os.symlink("train.py", repo / "link")
    write(repo / "becomes_link", "file\n")
    write(repo / "dir_to_file/inner.txt", "x\n")
    write(repo / "file_to_dir", "x\n")
    write(repo / "cut.txt", "tail\n")
    write(repo / "crlf.txt", "one\r\ntwo\r\n")
    write(repo / ".gitattributes", "crlf.txt text eol=crlf\n")
    write(repo / "slide.txt", "1\n2\na\n\nb\n3\n4\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "awkward")

    for name in ("spa ce.txt", "é.txt", 'quo"te.txt', "tab\tname.txt"):
        with open(repo / name, "a") as f:
            f.write("more\n")
    write(repo / "empty.txt", "now has content\n")
    write(repo / "noeol.txt", "no newline\nstill none")
    (repo / "link").unlink()
    os.symlink("README.md", repo / "link")
    (repo / "becomes_link").unlink()
    os.symlink("train.py", repo / "becomes_link")  # typechange file -> symlink
    shutil.rmtree(repo / "dir_to_file")
    write(repo / "dir_to_file", "now a file\n")
    git(repo, "add", "-A", "dir_to_file")
    (repo / "file_to_dir").unlink()
    write(repo / "file_to_dir/inside.txt", "now a dir\n")
    git(repo, "add", "-A", "file_to_dir")
    write(repo / "cut.txt", "")
    write(repo / "crlf.txt", "one\r\ntwo\r\nthree\r\n")
    write(repo / "intent.txt", "intent to add\n")
    git(repo, "add", "-N", "intent.txt")
    # a hunk git's indent heuristic (diff.indentHeuristic, on by default) places
    # differently from plain Myers, which is libgit2's default
    write(repo / "slide.txt", "1\n2\na\n\nb\na\n\nb\n3\n4\n")
    write(
        repo / "src/model/net.py",
        "class Net:\n    pass\n\ndef helper():\n    pass\n\ndef other():\n    pass\n",
    )
    git(repo, "add", "src/model/net.py")
    git(repo, "commit", "-q", "-m", "net")
    write(
        repo / "src/model/net.py",
        "class Net:\n    pass\n\ndef helper():\n    pass\n\n"
        "def inserted():\n    pass\n\ndef other():\n    pass\n",
    )
    assert_matches_git(repo, tmp_path, in_process=True)


def test_every_tracked_file_deleted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    for child in repo.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    p = assert_matches_git(repo, tmp_path)
    assert p.worktree_tree == prov.EMPTY_TREE


def test_random_edits_match_git(tmp_path: Path) -> None:
    """Seeded random edits, staged or not, over several commits: diff and tree equal git's."""
    rng = random.Random(20240601)
    repo = make_repo(tmp_path / "repo")
    for n in range(30):
        write(repo / f"pkg{n % 3}/sub{n % 4}/mod{n}.py", "".join(f"v{n}.{i}\n" for i in range(20)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    for round_ in range(8):
        tracked = git(repo, "ls-files", "-z").decode().split("\0")[:-1]
        for _ in range(rng.randint(1, 6)):
            op = rng.choice(["edit", "edit", "delete", "new", "new_staged", "chmod", "stage"])
            target = repo / rng.choice(tracked)
            if not target.exists() or target.is_symlink():
                continue
            if op == "edit":
                lines = target.read_bytes().splitlines(keepends=True)
                lines.insert(rng.randrange(len(lines) + 1), b"edited %d\n" % round_)
                if lines and rng.random() < 0.5:
                    lines.pop(rng.randrange(len(lines)))
                target.write_bytes(b"".join(lines))
            elif op == "delete":
                target.unlink()
            elif op in ("new", "new_staged"):
                name = f"pkg{rng.randrange(5)}/new{round_}_{rng.randrange(1000)}.txt"
                write(
                    repo / name, "".join(f"fresh {round_} {i}\n" for i in range(rng.randint(1, 9)))
                )
                if op == "new_staged":
                    git(repo, "add", name)
            elif op == "chmod":
                target.chmod(0o755 if rng.random() < 0.5 else 0o644)
            else:
                git(repo, "add", "-A", str(target.relative_to(repo)))
        assert_matches_git(repo, tmp_path)
        if rng.random() < 0.5:
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"round {round_}")


def test_untracked_files_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / ".gitignore", "*.log\nignored_dir/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    write(repo / "notes.txt", "scratch\n")
    write(repo / "scratch/a.py", "x\n")
    write(repo / "scratch/b.py", "y\n")
    write(repo / "train.log", "ignored\n")
    write(repo / "ignored_dir/big.bin", b"\0" * 100)
    p = assert_matches_git(repo, tmp_path)
    assert not p.dirty
    assert p.diff is None
    assert p.worktree_tree == p.head_tree
    porcelain = git(repo, "status", "--porcelain").decode().splitlines()
    assert sorted(p.untracked) == sorted(line[3:] for line in porcelain if line.startswith("??"))
    assert sorted(p.untracked) == ["notes.txt", "scratch/"]
    assert p.to_record()["untracked"] == 2


# --------------------------------------------------------------------------- where and which repo


def test_outside_any_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    p = cap(tmp_path / "plain")
    assert (p.sha, p.branch, p.remote_url, p.worktree_tree, p.head_tree, p.diff, p.root) == (
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    assert not p.dirty
    assert p.reasons == (prov.NOT_A_REPOSITORY,)


def test_missing_path(tmp_path: Path) -> None:
    p = cap(tmp_path / "does" / "not" / "exist")
    assert p.sha is None
    assert len(p.reasons) == 1 and p.reasons[0].startswith(prov.NOT_A_REPOSITORY)


def test_subdirectory_and_file_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "src/model/net.py", "class Net:\n    layers = 3\n")
    whole = cap(repo)
    for where in (repo / "src/model", repo / "src/model/net.py", repo / ".git"):
        p = cap(where)
        assert p.root == repo
        assert (p.sha, p.worktree_tree, p.diff) == (whole.sha, whole.worktree_tree, whole.diff)
    monkeypatch.chdir(repo / "src")
    assert cap().diff == whole.diff  # default: the current directory


def test_detached_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = git_text(repo, "rev-parse", "HEAD")
    write(repo / "README.md", "v2\n")
    git(repo, "commit", "-q", "-am", "second")
    git(repo, "checkout", "-q", "--detach", first)
    p = cap(repo)
    assert p.sha == first
    assert p.branch is None
    assert p.reasons == (prov.DETACHED_HEAD,)
    assert p.head_tree == git_text(repo, "rev-parse", "HEAD^{tree}")
    assert not p.dirty and p.worktree_tree == p.head_tree


def test_unborn_branch(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    p = cap(repo)
    assert (p.sha, p.head_tree, p.diff) == (None, None, None)
    assert p.branch == "main"
    assert p.reasons == (prov.UNBORN_BRANCH,)
    assert p.worktree_tree == prov.EMPTY_TREE and not p.dirty

    write(repo / "a.py", "a\n")
    write(repo / "pkg/b.py", "b\n")
    write(repo / "pkg/gone.py", "c\n")
    git(repo, "add", "-A")
    write(repo / "a.py", "a, edited\n")
    (repo / "pkg/gone.py").unlink()
    write(repo / "untracked.txt", "u\n")
    before = snapshot(repo / ".git")
    p = cap(repo)
    assert snapshot(repo / ".git") == before
    assert p.sha is None and p.branch == "main"
    assert p.dirty
    assert p.worktree_tree == expected_tree(repo, tmp_path)
    assert p.untracked == ("untracked.txt",)


def test_bare_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(tmp_path / "bare.git"))
    p = cap(tmp_path / "bare.git")
    assert p.sha == git_text(repo, "rev-parse", "HEAD")
    assert p.branch == "main"
    assert p.root is None
    assert p.reasons == (prov.BARE_REPOSITORY,)
    assert not p.dirty and p.diff is None
    assert p.worktree_tree == p.head_tree == git_text(repo, "rev-parse", "HEAD^{tree}")
    assert p.remote_url == str(repo)


def test_linked_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "wt"))
    wt = tmp_path / "wt"
    write(wt / "train.py", "feature work\n")
    p = assert_matches_git(wt, tmp_path)
    assert p.branch == "feature"
    assert p.root == wt
    assert cap(repo).branch == "main"
    assert not cap(repo).dirty


def test_git_dir_environment_is_honoured_without_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    assert cap().sha == git_text(repo, "rev-parse", "HEAD")
    monkeypatch.setenv("GIT_DIR", str(elsewhere))
    p = cap()
    assert p.sha is None and p.reasons[0].startswith(prov.NOT_A_REPOSITORY)


def test_remote_urls(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "origin", "git@github.com:lab/project.git")
    assert cap(repo).remote_url == "git@github.com:lab/project.git"

    git(repo, "remote", "add", "fork", "https://user:s3cret@example.com/me/project.git")
    git(repo, "config", "branch.main.remote", "fork")
    git(repo, "config", "branch.main.merge", "refs/heads/main")
    assert cap(repo).remote_url == "https://example.com/me/project.git"

    git(repo, "remote", "set-url", "fork", "ssh://alice:pw@example.com:2222/project.git")
    assert cap(repo).remote_url == "ssh://alice@example.com:2222/project.git"

    git(repo, "config", "branch.main.remote", ".")  # tracking a local branch: use origin
    assert cap(repo).remote_url == "git@github.com:lab/project.git"

    git(repo, "config", "branch.main.remote", "no-such-remote")
    assert cap(repo).remote_url == "git@github.com:lab/project.git"


def test_hooks_path_is_irrelevant(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "core.hooksPath", str(tmp_path / "nowhere"))
    write(repo / "README.md", "changed\n")
    assert_matches_git(repo, tmp_path)


# --------------------------------------------------------------------------- git's finer points


def test_renames_match_git_and_leave_the_index_alone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "big.txt", "".join(f"row {i}\n" for i in range(100)))
    git(repo, "add", "big.txt")
    git(repo, "commit", "-q", "-m", "big")
    git(repo, "mv", "big.txt", "moved.txt")
    with open(repo / "moved.txt", "a") as f:
        f.write("one more row\n")  # inexact rename: libgit2's score differs from git's
    git(repo, "mv", "src/data/load.py", "src/data/loader.py")  # exact rename
    p = assert_matches_git(repo, tmp_path)
    assert p.diff is not None
    assert b"rename from big.txt\nrename to moved.txt" in p.diff
    assert b"similarity index 100%\nrename from src/data/load.py" in p.diff


def test_renames_without_git_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "mv", "src/data/load.py", "src/data/loader.py")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    p = cap(repo)
    assert p.dirty
    assert p.worktree_tree == expected_tree(repo, tmp_path)
    assert p.diff is not None and b"deleted file mode" in p.diff  # no rename detection
    assert any("git binary not found" in r for r in p.reasons)


def test_renames_disabled_by_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "diff.renames", "false")
    git(repo, "mv", "src/data/load.py", "src/data/loader.py")
    assert_matches_git(repo, tmp_path)


def test_external_filter_driver(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "filter.upper.clean", "tr a-z A-Z")
    git(repo, "config", "filter.upper.smudge", "cat")
    write(repo / ".gitattributes", "*.up filter=upper\n")
    write(repo / "data.up", "hello\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "filtered")
    assert git(repo, "show", "HEAD:data.up") == b"HELLO\n"
    os.utime(repo / "data.up", (1_000_000_000, 1_000_000_000))  # touched, not changed
    p = assert_matches_git(repo, tmp_path)
    assert not p.dirty
    write(repo / "data.up", "world\n")
    p = assert_matches_git(repo, tmp_path)
    assert p.diff is not None and b"+WORLD" in p.diff


def test_abbreviation_grows_with_packed_objects(tmp_path: Path) -> None:
    """git abbreviates to 8 digits once more than 2**14 objects are packed; libgit2 says 7."""
    repo = make_repo(tmp_path / "repo")
    stream = b"".join(b"blob\ndata %d\n%s\n" % (len(b"%d" % i), b"%d" % i) for i in range(17000))
    git(repo, "fast-import", "--quiet", input=stream)
    write(repo / "train.py", "changed\n")
    p = assert_matches_git(repo, tmp_path)
    assert p.diff is not None
    index_line = next(x for x in p.diff.split(b"\n") if x.startswith(b"index "))
    assert len(index_line.split()[1].split(b"..")[0]) == 8


def test_abbreviation_extended_when_ambiguous(tmp_path: Path) -> None:
    # These two blobs share their first 7 hex digits (b2664c8); git lengthens both.
    a, b = b"collide 826\n", b"collide 4561\n"
    ids = [hashlib.sha1(b"blob %d\x00%s" % (len(x), x)).hexdigest() for x in (a, b)]
    assert ids[0][:7] == ids[1][:7] and ids[0][7] != ids[1][7]
    repo = make_repo(tmp_path / "repo")
    write(repo / "one.txt", a)
    git(repo, "add", "one.txt")
    git(repo, "commit", "-q", "-m", "one")
    write(repo / "one.txt", b)  # the new blob is not in the object store, its twin is
    p = assert_matches_git(repo, tmp_path)
    assert p.diff is not None and f"index {ids[0][:7]}..{ids[1][:8]} ".encode() in p.diff
    write(repo / "two.txt", b)
    git(repo, "add", "two.txt")
    git(repo, "commit", "-q", "-m", "two")
    write(repo / "one.txt", "other\n")  # now the old side is ambiguous in the store
    p = assert_matches_git(repo, tmp_path)
    assert p.diff is not None and f"index {ids[0][:8]}..".encode() in p.diff


@pytest.mark.parametrize("abbrev", ["12", "auto", "no"])
def test_core_abbrev(tmp_path: Path, abbrev: str) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "core.abbrev", abbrev)
    write(repo / "train.py", "changed\n")
    assert_matches_git(repo, tmp_path)


def test_binary_patch_applies(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo / "weights.bin", bytes(range(255, -1, -1)) * 8)
    write(repo / "new.bin", b"\x00\xff" * 300)
    git(repo, "add", "new.bin")
    write(repo / "train.py", "changed\n")
    p = cap(repo, binary=True)
    assert p.reasons == () and p.diff is not None
    assert b"GIT binary patch" in p.diff

    def headers(patch: bytes) -> list[bytes]:
        starts = (b"diff --git", b"index ", b"new file", b"deleted file", b"GIT binary", b"@@")
        return [line for line in patch.split(b"\n") if line.startswith(starts)]

    # same headers as git's; the zlib streams differ (git deflates at another level)
    assert headers(p.diff) == headers(git(repo, "diff", "--binary", "HEAD"))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "apply", "--index", input=p.diff)
    assert git_text(clone, "write-tree") == p.worktree_tree == expected_tree(repo, tmp_path)


def test_unmerged_paths(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "-b", "other")
    write(repo / "README.md", "theirs\n")
    git(repo, "commit", "-q", "-am", "theirs")
    git(repo, "checkout", "-q", "main")
    write(repo / "README.md", "ours\n")
    git(repo, "commit", "-q", "-am", "ours")
    git(repo, "merge", "-q", "other", check=False)
    assert b"UU README.md" in git(repo, "status", "--porcelain")
    before = snapshot(repo / ".git")
    p = cap(repo)
    assert snapshot(repo / ".git") == before
    assert p.sha == git_text(repo, "rev-parse", "HEAD")
    assert p.dirty
    assert p.worktree_tree == expected_tree(repo, tmp_path)


# --------------------------------------------------------------------------- never raises


def test_garbage_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".git/HEAD").write_text("this is not a ref\n")
    p = cap(repo)
    assert p.sha is None and p.branch is None and p.worktree_tree is None
    assert len(p.reasons) == 1 and "HEAD" in p.reasons[0]


def test_head_names_a_missing_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".git/refs/heads/main").write_text("1234567890" * 4 + "\n")
    p = cap(repo)
    assert p.sha is None and p.branch == "main"
    assert len(p.reasons) == 1 and p.reasons[0].startswith("pygit2 error")


def test_corrupt_index(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".git/index").write_bytes(b"DIRC garbage")
    p = cap(repo)
    assert p.sha == git_text(repo, "rev-parse", "HEAD")
    assert p.worktree_tree is None and p.diff is None
    assert len(p.reasons) == 1 and p.reasons[0].startswith("pygit2 error")


def test_missing_tree_object(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    sub = git_text(repo, "rev-parse", "HEAD:src/model")
    (repo / ".git/objects" / sub[:2] / sub[2:]).unlink()
    write(repo / "src/model/net.py", "changed\n")
    p = cap(repo)
    assert p.sha == git_text(repo, "rev-parse", "HEAD")
    assert p.reasons and p.reasons[0].startswith("pygit2 error")


def test_unexpected_failures_are_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(prov, "_worktree", boom)
    p = cap(repo)
    assert p.sha == git_text(repo, "rev-parse", "HEAD") and p.branch == "main"
    assert p.reasons == ("error: RuntimeError: kaput",)

    monkeypatch.setattr(pygit2, "discover_repository", boom)
    p = cap(repo)
    assert p.sha is None and p.reasons == ("error: RuntimeError: kaput",)


def test_named_pipes_do_not_block(tmp_path: Path) -> None:
    """A FIFO where a tracked file was, and an untracked one: nothing may open them."""
    repo = make_repo(tmp_path / "repo")
    (repo / "README.md").unlink()
    os.mkfifo(repo / "README.md")
    os.mkfifo(repo / "scratch.fifo")
    p = cap(repo)
    assert p.sha == git_text(repo, "rev-parse", "HEAD")
    assert p.dirty


def test_pygit2_is_what_reads(tmp_path: Path) -> None:
    """The common path (modified files, no renames or filter drivers) runs no subprocess."""
    repo = make_repo(tmp_path / "repo")
    write(repo / "train.py", "changed\n")
    write(repo / "weights.bin", b"\x00changed")
    write(repo / "scratch.txt", "untracked\n")
    p = assert_matches_git(repo, tmp_path, in_process=True)
    assert p.dirty and p.untracked == ("scratch.txt",)
    assert isinstance(pygit2.discover_repository(str(repo)), str)
