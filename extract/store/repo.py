"""A store on disk: its layout, format version, config, objects and refs."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from extract.errors import (
    InvalidInput,
    RefNotFound,
    StoreExists,
    StoreNotFound,
    UnknownFormatVersion,
)
from extract.objects import HASH_NAME, ObjectId, Value, check_prefix, decode
from extract.objects.ids import HEX_SIZE
from extract.store import config as configmod
from extract.store import journal
from extract.store.fsutil import atomic_write
from extract.store.odb import DiskObjectStore
from extract.store.refs import RefStore
from extract.store.writelock import WriteLock

#: The format ``init`` writes. Format 2 added packs (objects_spec/changes.md).
STORE_FORMAT = 2
#: Formats this build reads and writes. A format-1 store stays format 1: its FORMAT is
#: never rewritten, so transfers into it store every object loose.
KNOWN_FORMATS = (1, 2)
#: The first format with packs.
PACKS_FORMAT = 2
FORMAT_FILE = "FORMAT"
DEFAULT_DIR = ".extract"
MAIN = "refs/heads/main"
#: ``main@{2}``: a ref (or its short name) and a position in its reflog.
_REFLOG_POSITION = re.compile(r"^(.+)@\{(\d{1,9})\}$")
#: Directories every store has; created by init and on first open of an older layout.
LAYOUT = ("objects", "objects/tmp", "refs/heads", "refs/remotes", "logs", "journal", "staged")


def format_text() -> str:
    return f"extract-store {STORE_FORMAT}\nhash {HASH_NAME}\n"


def read_format(root: Path) -> int:
    path = root / FORMAT_FILE
    try:
        lines = path.read_text("ascii").splitlines()
    except FileNotFoundError:
        raise StoreNotFound(
            f"{root} is not an extract store (no {FORMAT_FILE} file); create one with `extract init`"
        ) from None
    except UnicodeDecodeError:
        lines = []
    try:
        magic, version = lines[0].split()
        fields = dict(line.split(None, 1) for line in lines[1:] if line.strip())
        number = int(version) if magic == "extract-store" else -1
        if number < 0:
            raise ValueError(magic)
    except (IndexError, ValueError):
        raise UnknownFormatVersion(f"{path} is damaged: expected 'extract-store N'") from None
    if number not in KNOWN_FORMATS:
        known = " and ".join(map(str, KNOWN_FORMATS))
        raise UnknownFormatVersion(
            f"store {root} has format {number}; this extract reads formats {known}. "
            "Upgrade extract to open it; it was not changed"
        )
    if fields.get("hash") != HASH_NAME:
        raise UnknownFormatVersion(
            f"store {root} uses hash {fields.get('hash')!r}; this extract knows {HASH_NAME}"
        )
    return number


class Repository:
    """An opened store directory (``.extract/``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise StoreNotFound(f"no extract store at {self.root}; create one with `extract init`")
        self.format = read_format(self.root)
        self.objects = DiskObjectStore(self.root / "objects", packs=self.format >= PACKS_FORMAT)
        self.refs = RefStore(self.root)
        self.write_lock = WriteLock(self.root)
        self.objects.guard = self.write_lock.held
        self._config: configmod.Config | None = None

    # layout ---------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def journal_dir(self) -> Path:
        return self.root / "journal"

    @property
    def staged_dir(self) -> Path:
        return self.root / "staged"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def config(self) -> configmod.Config:
        if self._config is None:
            self._config = configmod.load(self.config_path)
        return self._config

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """One write transaction: hold it from the first object written until a root (a ref,
        a staged entry, a journal record) names what was written, so gc cannot collect it
        meanwhile (see store/writelock.py). Re-entrant."""
        return self.write_lock.shared()

    @classmethod
    def create(cls, root: Path) -> Repository:
        """Create the layout (idempotent) and return the opened store."""
        root = Path(root)
        if (root / FORMAT_FILE).exists():
            read_format(root)
        else:
            if root.exists() and not root.is_dir():
                raise InvalidInput(f"{root} exists and is not a directory")
            root.mkdir(parents=True, exist_ok=True)
        for sub in LAYOUT:
            (root / sub).mkdir(parents=True, exist_ok=True)
        if not (root / FORMAT_FILE).exists():
            atomic_write(root / FORMAT_FILE, [format_text().encode("ascii")])
        return cls(root)

    @classmethod
    def init(cls, root: Path, hierarchy: tuple[str, ...]) -> Repository:
        """``extract init``: a new store, or give a hierarchy to one the SDK created without one."""
        root = Path(root)
        cfg_path = root / "config.toml"
        text = cfg_path.read_text("utf-8") if cfg_path.exists() else ""
        existing = configmod.parse(text, cfg_path)  # a malformed file is reported, not replaced
        if existing.hierarchy is not None:
            raise StoreExists(
                f"{root} is already configured (hierarchy: "
                f"{configmod.format_hierarchy(existing.hierarchy)}); edit {cfg_path} to change it"
            )
        repo = cls.create(root)
        atomic_write(cfg_path, [configmod.with_hierarchy(text, hierarchy).encode("utf-8")])
        repo._config = None
        return repo

    # lookups --------------------------------------------------------------
    def resolve(self, rev: str) -> ObjectId:
        """An object id from a ref name ('main', 'refs/remotes/x/main'), an id prefix, or a
        reflog position: 'main@{1}' is what main held before its last move."""
        rev = rev.strip()
        if not rev:
            raise InvalidInput("empty revision: give a ref name like 'main' or an object id")
        at = _REFLOG_POSITION.match(rev)
        if at is not None:
            return self._resolve_reflog(at.group(1), int(at.group(2)))
        for name in (rev, f"refs/heads/{rev}", f"refs/remotes/{rev}", f"refs/remotes/{rev}/main"):
            if name == "HEAD" or name.startswith("refs/"):
                try:
                    oid = self.refs.read(name)
                except InvalidInput:
                    continue
                if oid is not None:
                    return oid
        if rev == "HEAD":
            raise RefNotFound("HEAD does not point anywhere yet: no commit has been made")
        try:
            check_prefix(rev)
        except InvalidInput:
            raise InvalidInput(
                f"{rev!r} is neither a ref nor an object id: give a ref name like 'main' or "
                f"8 to {HEX_SIZE} hex digits of an id"
            ) from None
        return self.objects.resolve_prefix(rev)

    def _resolve_reflog(self, ref: str, n: int) -> ObjectId:
        name = ref if ref.startswith("refs/") or ref == "HEAD" else f"refs/heads/{ref}"
        if n == 0:
            return self.refs.get(name)
        moves = self.refs.reflog(name)  # oldest first
        if n > len(moves):
            raise RefNotFound(
                f"{ref}@{{{n}}}: the reflog of {name} records {len(moves)} move(s); "
                "`extract reflog` lists them"
            )
        oid = moves[-n].old  # what the ref held before its n-th most recent move
        if oid is None:
            raise RefNotFound(f"{ref}@{{{n}}}: {name} did not exist before that move")
        return oid

    # roots for fsck and gc --------------------------------------------------
    def staged_roots(self) -> Iterator[tuple[str, Value]]:
        """(file name, value) of every staged entry: sealed data not yet in a commit."""
        for path in sorted(self.staged_dir.glob("*")):
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # committed and removed while we listed
            yield path.name, decode(data)

    def journal_values(self) -> Iterator[tuple[str, Value]]:
        """(journal name, record) of every intact record of every live journal."""
        for path in sorted(self.journal_dir.glob("*")):
            if path.name.startswith(".") or not path.is_file():
                continue
            for rec in journal.read(path).records:
                yield path.name, rec

    def head(self) -> ObjectId | None:
        return self.refs.read(MAIN)


def locate_store(
    root: str | os.PathLike[str] | None = None, *, create: bool = False, start: Path | None = None
) -> Path:
    """The one answer to "which store?", for the SDK, the CLI, the TUI and the MCP server.

    With ``root``: that store, or the ``.extract`` inside that project directory. Without:
    ``$EXTRACT_STORE`` (the same two forms), else the nearest ``.extract`` in the current
    directory (or ``start``) or a parent. When nothing is found, the place a new store would go
    (``root`` itself, ``$EXTRACT_STORE``, or ``./.extract``) is returned if ``create``
    (the SDK's ``Store()``, which creates it, as the reference API does); otherwise
    StoreNotFound names every place that was looked at.
    """
    env = os.environ.get("EXTRACT_STORE") if root is None else None
    given = root if root is not None else env
    if given is not None:
        path = Path(given).expanduser()
        looked = [path, path / DEFAULT_DIR]
        for candidate in looked:
            if (candidate / FORMAT_FILE).exists():
                return candidate
        if create:
            return path
        where = "" if root is not None else " (from $EXTRACT_STORE)"
        raise StoreNotFound(
            f"no extract store at {path}{where}: looked in {path} and {path / DEFAULT_DIR}; "
            "create one with `extract init`"
        )
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / DEFAULT_DIR / FORMAT_FILE).exists():
            return d / DEFAULT_DIR
    if create:
        return here / DEFAULT_DIR
    raise StoreNotFound(
        f"no extract store at {here / DEFAULT_DIR}: looked in {here} and every parent "
        f"for {DEFAULT_DIR}, and $EXTRACT_STORE is not set; create one with `extract init`, "
        "or pass --store"
    )
