"""config.toml: parsed once, the store's own sections checked, with errors that name the key.

The store reads ``[store]`` (hierarchy, auto_commit, index_while_logging), ``[metrics]`` (which way each
metric is better, which the index and every front end share) and ``[remotes.<name>]``.
Each becomes a frozen dataclass on :class:`Config`; an unknown key inside one of them is
an error (a typo must not be silently ignored). Every other section is kept in
``Config.raw`` for the layer that owns it: the TUI checks its own sections
(``[summary]``, ``[info]``, ``[compare]``, ``[tables]``, ``[theme]``, ``[notifications]``)
in ``extract/display/settings.py`` with the same :class:`TomlTable` checker. Every error is
a :class:`ConfigError` whose message names the file, the section and key, what was
wrong and what is allowed. docs/configuration.md is the user's reference for all of it.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from extract.errors import ConfigError, InvalidHierarchy, InvalidRefName
from extract.objects.names import check_ref_name

__all__ = [
    "MINIMIZE_HINTS",
    "Config",
    "Direction",
    "MetricsConfig",
    "SystemConfig",
    "TomlTable",
    "format_hierarchy",
    "load",
    "metric_direction",
    "parse",
    "parse_hierarchy",
    "show_value",
    "suggest",
    "with_hierarchy",
]

_LEVEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def parse_hierarchy(text: str) -> tuple[str, ...]:
    """'benchmark > model > variant' -> ('benchmark', 'model', 'variant'), or a clear error."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidHierarchy(
            "hierarchy is empty: give levels separated by '>', e.g. \"benchmark > model > variant\""
        )
    levels = tuple(part.strip() for part in text.split(">"))
    for i, level in enumerate(levels):
        if not level:
            raise InvalidHierarchy(
                f"hierarchy {text!r} has an empty level at position {i + 1}: "
                "write levels separated by single '>', e.g. \"benchmark > model\""
            )
        if not _LEVEL.match(level):
            raise InvalidHierarchy(
                f"hierarchy level {level!r} is not allowed: use letters, digits, '_' and '-', "
                "starting with a letter or '_'"
            )
    dupes = sorted({lv for lv in levels if levels.count(lv) > 1})
    if dupes:
        raise InvalidHierarchy(f"hierarchy {text!r} repeats the level {dupes[0]!r}")
    return levels


def format_hierarchy(levels: tuple[str, ...]) -> str:
    return " > ".join(levels)


Direction = Literal["min", "max"]

#: A metric whose name holds one of these (any case) is minimized unless [metrics] says otherwise.
MINIMIZE_HINTS: tuple[str, ...] = (
    "loss",
    "error",
    "perplexity",
    "mse",
    "mae",
    "rmse",
    "nll",
    "cer",
    "wer",
    "fid",
    "divergence",
)


@dataclass(frozen=True)
class MetricsConfig:
    """[metrics]: explicit directions; exact, case-sensitive metric names."""

    minimize: tuple[str, ...] = ()
    maximize: tuple[str, ...] = ()

    def direction(self, name: str) -> Direction | None:
        """The configured direction of ``name``, or None when neither list names it."""
        if name in self.minimize:
            return "min"
        if name in self.maximize:
            return "max"
        return None


@dataclass(frozen=True)
class SystemConfig:
    """[system]: ``metrics`` samples CPU, memory, disk, network and GPUs into ``system/``
    curves while a run is live, every ``interval`` seconds (extract/sdk/system.py)."""

    metrics: bool = True
    interval: float = 1.0


def _no_remotes() -> Mapping[str, str]:
    return MappingProxyType({})


def _no_options() -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Config:
    hierarchy: tuple[str, ...] | None = None
    #: The whole file as parsed: the sections other layers check (the TUI's) are read here.
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: [store] auto_commit: commit each run to refs/heads/main as it finishes.
    auto_commit: bool = False
    #: [store] index_while_logging: a background thread of the training process indexes
    #: curve points as they are logged, so finish() has little left to do.
    index_while_logging: bool = False
    metrics: MetricsConfig = MetricsConfig()
    system: SystemConfig = SystemConfig()
    #: remote name -> url, from the [remotes.<name>] tables, in file order.
    remotes: Mapping[str, str] = field(default_factory=_no_remotes)
    #: remote name -> its settings other than url (an s3:// remote's endpoint_url, region,
    #: addressing_style), for remotes that have any.
    remote_options: Mapping[str, Mapping[str, str]] = field(default_factory=_no_options)

    @property
    def where(self) -> str:
        """The file as error messages name it."""
        return str(self.path) if self.path else "config.toml"


def metric_direction(name: str, config: Config | None) -> Direction:
    """Whether lower ("min") or higher ("max") is better for the metric ``name``.

    [metrics] minimize / maximize in ``config`` decide first (exact name). Otherwise a
    name holding any of :data:`MINIMIZE_HINTS` as a substring, ignoring case
    ("val_loss", "train/MSE", "WER") is "min", and every other name is "max".
    """
    if config is not None:
        configured = config.metrics.direction(name)
        if configured is not None:
            return configured
    lowered = name.lower()
    return "min" if any(hint in lowered for hint in MINIMIZE_HINTS) else "max"


# ---------------------------------------------------------------------------
# Loading and checking
# ---------------------------------------------------------------------------

#: The sections this module checks, and the keys each may hold.
_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "store": ("hierarchy", "auto_commit", "index_while_logging"),
        "metrics": ("minimize", "maximize"),
        "system": ("metrics", "interval"),
    }
)
_REMOTE_KEYS = ("url", "endpoint_url", "region", "addressing_style")
#: Settings only an s3:// remote takes (credentials never: they come from the AWS chain).
S3_REMOTE_KEYS = ("endpoint_url", "region", "addressing_style")
ADDRESSING_STYLES = ("auto", "path", "virtual")
_REMOTE = re.compile(r"[A-Za-z0-9_.-]")  # one character of a remote name


def load(path: Path) -> Config:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return Config(path=path)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason})") from None
    return parse(text, path)


def parse(text: str, path: Path | None = None) -> Config:
    where = str(path) if path else "config.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: malformed TOML: {e}") from None
    store = raw.get("store", {})
    if not isinstance(store, dict):
        raise ConfigError(f"{where}: [store] must be a table")
    table = TomlTable(where, "[store]", store, _KEYS["store"])
    auto_commit = table.boolean("auto_commit", False)
    index_while_logging = table.boolean("index_while_logging", False)
    hierarchy = None
    if "hierarchy" in store:
        if not isinstance(store["hierarchy"], str):
            raise ConfigError(f'{where}: [store] hierarchy must be a string like "a > b > c"')
        try:
            hierarchy = parse_hierarchy(store["hierarchy"])
        except InvalidHierarchy as e:
            raise ConfigError(f"{where}: [store] {e}") from None

    return Config(
        hierarchy=hierarchy,
        raw=raw,
        path=path,
        auto_commit=auto_commit,
        index_while_logging=index_while_logging,
        metrics=_metrics(TomlTable(where, "[metrics]", raw.get("metrics", {}), _KEYS["metrics"])),
        system=_system(TomlTable(where, "[system]", raw.get("system", {}), _KEYS["system"])),
        remotes=_remotes(where, raw.get("remotes", {})),
        remote_options=_remote_options(where, raw.get("remotes", {})),
    )


def _metrics(t: TomlTable) -> MetricsConfig:
    minimize = t.strings("minimize", "a list of metric names (strings)")
    maximize = t.strings("maximize", "a list of metric names (strings)")
    both = [name for name in minimize if name in maximize]
    if both:
        raise ConfigError(
            f"{t.where}: [metrics] {show_value(both[0])} is in both minimize and maximize; "
            "a metric has one direction, so keep it in only one list"
        )
    return MetricsConfig(minimize=minimize, maximize=maximize)


def _remotes(where: str, value: object) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(
            f'{where}: remotes must be tables like [remotes.origin] with url = "...", '
            f"got {show_value(value)}"
        )
    out: dict[str, str] = {}
    for name, body in value.items():
        why = _remote_name_problem(name)
        if why:
            raise ConfigError(
                f"{where}: [remotes] name {show_value(name)} is not allowed: {why}. Remote names "
                "use letters, digits, '-', '_' and '.', do not start with '.' or '-', and do "
                "not hold '..' or end with '.' or '.lock'"
            )
        label = f"[remotes.{name}]"
        if not isinstance(body, dict):
            raise ConfigError(
                f'{where}: {label} must be a table with url = "...", got {show_value(body)}'
            )
        r = TomlTable(where, label, body, _REMOTE_KEYS)
        if "url" not in r.data:
            raise r.error(
                "url", 'is missing: give the remote\'s location, e.g. url = "/mnt/backup/.extract"'
            )
        url = r.data["url"]
        if not isinstance(url, str) or not url.strip():
            raise r.fail("url", "a non-empty string (a path or ssh://host/path)", url)
        out[name] = url
    return MappingProxyType(out)


def _remote_options(where: str, value: dict[str, Any]) -> Mapping[str, Mapping[str, str]]:
    """The settings beside url (checked after ``_remotes`` accepted names and urls)."""
    out: dict[str, Mapping[str, str]] = {}
    for name, body in value.items():
        r = TomlTable(where, f"[remotes.{name}]", body, _REMOTE_KEYS)
        opts: dict[str, str] = {}
        for key in S3_REMOTE_KEYS:
            if key not in r.data:
                continue
            if not str(r.data["url"]).startswith("s3://"):
                raise r.error(key, "applies only to an s3:// remote")
            text = r.nonempty_string(key, "a non-empty string")
            assert text is not None
            if key == "addressing_style" and text not in ADDRESSING_STYLES:
                raise r.fail(key, " or ".join(repr(s) for s in ADDRESSING_STYLES), text)
            if key == "endpoint_url" and not re.match(r"^https?://[^/\s]+", text):
                raise r.fail(key, "an http:// or https:// URL", text)
            opts[key] = text
        if opts:
            out[name] = MappingProxyType(opts)
    return MappingProxyType(out)


def _remote_name_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if name[0] in ".-":
        return f"it starts with {name[0]!r}"
    bad = next((c for c in name if not _REMOTE.fullmatch(c)), None)
    if bad is not None:
        return f"it holds {bad!r}"
    if name.endswith("."):
        return "it ends with '.'"
    try:
        check_ref_name(f"refs/remotes/{name}/main")
    except InvalidRefName:
        return "it holds '..' or ends with '.' or '.lock'"
    return None


class TomlTable:
    """One table being checked, with typed getters whose errors name the file, table and key
    (the store's sections here, the TUI's in extract/display/settings.py)."""

    def __init__(self, where: str, label: str, value: object, valid: Sequence[str]) -> None:
        self.where = where
        self.label = label
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {label} must be a table, got {show_value(value)}")
        for key in value:
            if key not in valid:
                raise ConfigError(
                    f"{where}: {label} has no key {show_value(key)}{suggest(key, valid)}; "
                    f"valid keys: {', '.join(valid)}"
                )
        self.data: dict[str, Any] = value

    def error(self, key: str, text: str) -> ConfigError:
        return ConfigError(f"{self.where}: {self.label} {key} {text}")

    def fail(self, key: str, must: str, got: object) -> ConfigError:
        return self.error(key, f"must be {must}, got {show_value(got)}")

    def integer(self, key: str, default: int, lo: int, hi: int | None) -> int:
        value = self.data.get(key, default)
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or value < lo or (hi is not None and value > hi):
            must = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"
            raise self.fail(key, must, value)
        return int(value)

    def height(self, key: str) -> int | None:
        value = self.data.get(key, "auto")
        if value == "auto":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, 'a whole number of lines >= 1, or "auto" (the default)', value)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def number(self, key: str) -> float | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(key, "a finite number", value)
        return float(value)

    def nonempty_string(self, key: str, must: str) -> str | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, str) or not value:
            raise self.fail(key, must, value)
        return value

    def strings(self, key: str, must: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, must, value)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.fail(f"{key}[{i}]", "a non-empty string", item)
        return tuple(value)

    def sections(self, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        choices = ", ".join(show_value(s) for s in allowed)
        value = self.data.get(key, list(allowed))
        if not isinstance(value, list):
            raise self.fail(key, f"a list drawn from {choices}", value)
        for i, item in enumerate(value):
            if item not in allowed:
                raise self.fail(f"{key}[{i}]", f"one of {choices}", item)
            if value.index(item) != i:
                raise self.error(
                    key, f"lists {show_value(item)} twice; each section may appear once"
                )
        return tuple(value)


def suggest(word: object, choices: Sequence[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1)
    return f" (did you mean {show_value(close[0])}?)" if close else ""


def show_value(value: object) -> str:
    """``value`` as it would be written in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        shown = [show_value(v) for v in value[:6]]
        return "[" + ", ".join(shown + (["..."] if len(value) > 6 else [])) + "]"
    if isinstance(value, dict):
        return "a table"
    return f"{value} (a {type(value).__name__})"


def _toml_string(value: str) -> str:
    """A TOML basic string for ``value``."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def with_hierarchy(text: str, hierarchy: tuple[str, ...]) -> str:
    """``text`` (a config without a hierarchy) with ``[store] hierarchy`` set; the rest of
    the file (comments, order, formatting) is kept as it was (tomlkit)."""
    value = format_hierarchy(hierarchy)
    if not text.strip():
        return (
            "# extract store configuration; see docs/configuration.md\n[store]\n"
            f"hierarchy = {_toml_string(value)}\n"
        )
    import tomlkit  # here: it takes ~0.1 s to import, and only `init` writes a hierarchy

    doc = tomlkit.parse(text)
    store = doc.get("store")
    if store is None:
        store = doc["store"] = tomlkit.table()
    store["hierarchy"] = value
    return tomlkit.dumps(doc)


def _system(t: TomlTable) -> SystemConfig:
    interval = t.number("interval")
    if interval is not None and not 0.1 <= interval <= 3600:
        raise t.fail("interval", "seconds between samples, from 0.1 to 3600", interval)
    return SystemConfig(
        metrics=t.boolean("metrics", True), interval=1.0 if interval is None else interval
    )
