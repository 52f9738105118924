"""``extract remote add|remove`` edit config.toml in place (tomlkit): the rest of the file,
comments included, is kept byte for byte, however the remotes are written."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from extract.errors import ConfigError, RemoteNotFound
from extract.store import config as configmod
from extract.store.repo import Repository
from extract.sync.remotes import add_remote, list_remotes, remove_remote

HEAD = '# my config\n[store]\nhierarchy = "a > b"  # two levels\n\n[theme]\nfg = "#fff"\n'


def store(tmp_path: Path, text: str) -> Repository:
    repo = Repository.create(tmp_path / ".extract")
    repo.config_path.write_text(text, "utf-8")
    repo._config = None
    return repo


def text_of(repo: Repository) -> str:
    return repo.config_path.read_text("utf-8")


def test_add_then_remove_gives_back_the_file_byte_for_byte(tmp_path: Path) -> None:
    repo = store(tmp_path, HEAD)
    add_remote(repo, "origin", "/mnt/backup/.extract")
    assert text_of(repo).startswith(HEAD)  # only appended
    assert list_remotes(repo) == {"origin": "/mnt/backup/.extract"}
    remove_remote(repo, "origin")
    assert text_of(repo) == HEAD


def test_a_dotted_name_is_one_remote(tmp_path: Path) -> None:
    repo = store(tmp_path, HEAD)
    add_remote(repo, "v1.2", "/p")
    add_remote(repo, "lab", 'C:\\dir "quoted"')
    assert '[remotes."v1.2"]' in text_of(repo)
    assert tomllib.loads(text_of(repo))["remotes"] == {
        "v1.2": {"url": "/p"},
        "lab": {"url": 'C:\\dir "quoted"'},
    }
    remove_remote(repo, "v1.2")
    assert list_remotes(repo) == {"lab": 'C:\\dir "quoted"'}
    assert text_of(repo).startswith(HEAD)


@pytest.mark.parametrize(
    "written",
    [
        '[remotes]\norigin = { url = "/x" }  # inline\nlab = { url = "/y" }\n',
        'remotes = { origin = { url = "/x" }, lab = { url = "/y" } }\n',
        '[remotes]\norigin.url = "/x"\nlab.url = "/y"\n',
        '[remotes.origin]\nurl = "/x"\n\n[remotes.lab]\nurl = "/y"\n',
    ],
)
def test_remotes_written_any_way_can_be_removed_and_added(tmp_path: Path, written: str) -> None:
    """The line-editing this replaces removed only [remotes.NAME] tables: an inline or dotted
    remote stayed in the file while `remote remove` said it was gone."""
    # Top-level keys come before any table. (A comment line right after a remote's last
    # line belongs to it, for tomlkit as for the old line editing: it goes with it.)
    rest = HEAD.removeprefix("# my config\n")
    repo = store(tmp_path, written + "\n" + rest)
    remove_remote(repo, "origin")
    assert list_remotes(repo) == {"lab": "/y"}
    add_remote(repo, "new", "/z")
    assert list_remotes(repo) == {"lab": "/y", "new": "/z"}
    remove_remote(repo, "lab")
    remove_remote(repo, "new")
    assert list_remotes(repo) == {}
    assert "remotes" not in tomllib.loads(text_of(repo))
    assert text_of(repo).endswith(rest)


def test_inline_remotes_get_an_inline_neighbour(tmp_path: Path) -> None:
    repo = store(tmp_path, '[remotes]\norigin = { url = "/x" }\n')
    add_remote(repo, "lab", "/y")
    assert text_of(repo) == '[remotes]\norigin = { url = "/x" }\nlab = {url = "/y"}\n'


def test_a_refused_edit_writes_nothing(tmp_path: Path) -> None:
    repo = store(tmp_path, HEAD)
    with pytest.raises(RemoteNotFound):
        remove_remote(repo, "nope")
    with pytest.raises(ConfigError):
        add_remote(repo, "bad name", "/p")
    assert text_of(repo) == HEAD


def test_with_hierarchy_keeps_comments_and_order() -> None:
    text = '# mine\n[store]\nauto_commit = true  # yes\n\n[metrics]\nminimize = ["x"]\n'
    out = configmod.with_hierarchy(text, ("a", "b"))
    assert out == (
        '# mine\n[store]\nauto_commit = true  # yes\nhierarchy = "a > b"\n\n'
        '[metrics]\nminimize = ["x"]\n'
    )
    assert configmod.with_hierarchy("", ("a",)).endswith('[store]\nhierarchy = "a"\n')
    assert configmod.parse(configmod.with_hierarchy('title = "t"\n', ("a",))).hierarchy == ("a",)


def test_remote_add_refuses_a_scheme_no_transport_serves(tmp_path: Path) -> None:
    from extract.errors import InvalidInput
    from extract.store.repo import Repository
    from extract.sync.remotes import add_remote, list_remotes

    repo = Repository.init(tmp_path / ".extract", ("a",))
    before = (repo.root / "config.toml").read_bytes()
    for url in ("foo://bar/baz", "http://host/store", "ftp://x/y"):
        with pytest.raises(InvalidInput, match=r"cannot serve \w+:// remotes; use a path, file://"):
            add_remote(repo, "r", url)
    assert (repo.root / "config.toml").read_bytes() == before  # nothing written
    add_remote(repo, "ok", "ssh://me@host/srv/store")
    assert list_remotes(repo)["ok"] == "ssh://me@host/srv/store"
