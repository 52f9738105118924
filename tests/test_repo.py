"""Opening, creating and configuring a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.errors import (
    ConfigError,
    InvalidHierarchy,
    StoreExists,
    StoreNotFound,
    UnknownFormatVersion,
)
from extract.objects import Blob
from extract.store import config
from extract.store.repo import MAIN, Repository

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")


def test_init_layout(tmp_path: Path) -> None:
    repo = Repository.init(tmp_path / ".extract", ("benchmark", "model", "variant"))
    for sub in ("objects", "refs/heads", "logs", "journal", "staged"):
        assert (repo.root / sub).is_dir()
    assert (repo.root / "FORMAT").read_text() == "extract-store 2\nhash blake3-256\n"
    assert repo.config.hierarchy == ("benchmark", "model", "variant")


def test_init_refuses_a_configured_store(repo: Repository) -> None:
    before = repo.config_path.read_bytes()
    with pytest.raises(StoreExists, match="already configured"):
        Repository.init(repo.root, ("x",))
    assert repo.config_path.read_bytes() == before


def test_init_keeps_existing_settings(tmp_path: Path) -> None:
    root = tmp_path / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text('[metrics]\nminimize = ["loss"]\n\n[store]\n')
    repo = Repository.init(root, ("a",))
    assert repo.config.hierarchy == ("a",)
    assert repo.config.raw["metrics"] == {"minimize": ["loss"]}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("a >", "empty level at position 2"),
        ("a > > b", "empty level"),
        ("a > a", "repeats"),
        ("a b > c", "not allowed"),
        ("1st > b", "not allowed"),
    ],
)
def test_bad_hierarchies(text: str, match: str) -> None:
    with pytest.raises(InvalidHierarchy, match=match):
        config.parse_hierarchy(text)


def test_hierarchy_whitespace() -> None:
    assert config.parse_hierarchy(" benchmark>model >  variant ") == (
        "benchmark",
        "model",
        "variant",
    )


def test_malformed_config(tmp_path: Path) -> None:
    root = tmp_path / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text("[store\nhierarchy=")
    with pytest.raises(ConfigError, match="malformed TOML"):
        Repository(root).config  # noqa: B018
    with pytest.raises(ConfigError):
        Repository.init(root, ("a",))
    (root / "config.toml").write_text("[store]\nhierarchy = 3\n")
    with pytest.raises(ConfigError, match="must be a string"):
        config.load(root / "config.toml")


def test_unknown_format_is_refused_and_untouched(repo: Repository) -> None:
    (repo.root / "FORMAT").write_text("extract-store 3\nhash blake3-256\n")
    with pytest.raises(UnknownFormatVersion, match="format 3; this extract reads formats 1 and 2"):
        Repository(repo.root)
    (repo.root / "FORMAT").write_text("extract-store 1\nhash sha1\n")
    with pytest.raises(UnknownFormatVersion, match="sha1"):
        Repository(repo.root)
    (repo.root / "FORMAT").write_text("garbage")
    with pytest.raises(UnknownFormatVersion, match="damaged"):
        Repository(repo.root)


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound, match="extract init"):
        Repository(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreNotFound, match="FORMAT"):
        Repository(tmp_path / "empty")


def test_resolve(repo: Repository) -> None:
    a = repo.objects.put(Blob(b"a"))
    repo.refs.set(MAIN, a)
    repo.refs.set("refs/remotes/lab/main", a)
    assert repo.resolve("main") == a
    assert repo.resolve(MAIN) == a
    assert repo.resolve("lab") == a
    assert repo.resolve(a.hex()[:10]) == a
    with pytest.raises(ValueError, match="neither a ref nor an object id"):
        repo.resolve("no-such-thing")


def test_a_format_1_store_opens_and_stays_loose(tmp_path: Path) -> None:
    """Stores made before packs keep their FORMAT (never rewritten): they open, and writes
    into them, transfers included, stay loose."""
    repo = Repository.init(tmp_path / ".extract", ("a",))
    (repo.root / "FORMAT").write_text("extract-store 1\nhash blake3-256\n")
    old = Repository(repo.root)
    assert old.format == 1 and not old.objects.can_pack
    assert Repository(repo.root).format == 1
