"""config.toml: parsed once, checked section by section, with errors that name the key.

Each known section becomes a frozen dataclass on :class:`Config`; an unknown
key inside a known section is an error (a typo must not be silently ignored);
an unknown section is kept in ``Config.raw`` and otherwise ignored. Every
error is a :class:`ConfigError` whose message names the file, the section and
key, what was wrong and what is allowed. docs/configuration.md is the user's
reference for all of it.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from extract.errors import ConfigError, InvalidHierarchy, InvalidInput, InvalidRefName
from extract.objects.names import check_ref_name
from extract.store.fieldglob import compile_glob

__all__ = [
    "COLOR_NAMES",
    "COMPARE_SECTIONS",
    "MINIMIZE_HINTS",
    "SUMMARY_SECTIONS",
    "THEME_DEFAULTS",
    "CompareConfig",
    "Config",
    "Direction",
    "HighlightRule",
    "InfoConfig",
    "MetricsConfig",
    "NotificationsConfig",
    "SummaryConfig",
    "SystemConfig",
    "TablesConfig",
    "ThemeConfig",
    "auto_curve_height",
    "format_hierarchy",
    "load",
    "metric_direction",
    "parse",
    "parse_color",
    "parse_hierarchy",
    "toml_string",
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


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

#: Parts of the Summary tab, in their default order.
SUMMARY_SECTIONS: tuple[str, ...] = ("runs", "metrics", "tables", "curves")
#: Parts of the Compare view, in their default order.
COMPARE_SECTIONS: tuple[str, ...] = ("pivot", "config", "tables", "curves")
#: Color names a highlight rule may use ("none" means the terminal's default).
COLOR_NAMES: tuple[str, ...] = (
    "red",
    "green",
    "yellow",
    "blue",
    "cyan",
    "magenta",
    "white",
    "black",
    "darkgray",
    "orange",
    "none",
)
#: [theme] keys and the colors used for the ones a config leaves out.
THEME_DEFAULTS: Mapping[str, str] = MappingProxyType(
    {
        "fg": "#cdd6f4",
        "bg": "#1e1e2e",
        "accent": "#89b4fa",
        "accent_dim": "#585b70",
        "success": "#a6e3a1",
        "warning": "#f9e2af",
        "error": "#f38ba8",
        "border": "#585b70",
        "border_focused": "#89b4fa",
    }
)
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

Direction = Literal["min", "max"]

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_REMOTE = re.compile(r"[A-Za-z0-9_.-]")  # one character of a remote name


def _hex(text: str) -> str | None:
    """``#rrggbb`` or ``#rgb`` as lowercase ``#rrggbb``; None if ``text`` is not hex."""
    if not _HEX.match(text):
        return None
    digits = text[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def parse_color(text: str) -> str | None:
    """A color as the TUI should use it: a lowercase name, ``#rrggbb``, or None for "none".

    Names (any case) are those in :data:`COLOR_NAMES`; hex is ``#rrggbb`` or the short
    ``#rgb``, either case. Anything else raises :class:`InvalidInput`.
    """
    if isinstance(text, str):
        name = text.strip().lower()
        if name == "none":
            return None
        if name in COLOR_NAMES:
            return name
        hexed = _hex(name)
        if hexed is not None:
            return hexed
    raise InvalidInput(f"{_show(text)} is not a color: {_COLOR_HELP}{_suggest(text, COLOR_NAMES)}")


_COLOR_CHOICES = (
    "one of " + ", ".join(f'"{c}"' for c in COLOR_NAMES) + ', or a hex color like "#ff6600"'
)
_COLOR_HELP = "use " + _COLOR_CHOICES


def auto_curve_height(n_metrics: int) -> int:
    """Chart height in lines when ``curve_height`` is auto: 12, 10, 8, then 6 for 4 or more charts."""
    return {0: 12, 1: 12, 2: 10, 3: 8}.get(max(n_metrics, 0), 6)


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryConfig:
    """[summary]: the Summary tab of the detail panel."""

    sections: tuple[str, ...] = SUMMARY_SECTIONS
    curve_width: int = 80
    curve_height: int | None = None  # None: auto, see auto_curve_height
    curve_smooth: bool = False

    def curve_height_for(self, n_metrics: int) -> int:
        return self.curve_height if self.curve_height is not None else auto_curve_height(n_metrics)


@dataclass(frozen=True)
class InfoConfig:
    """[info]: which flattened config keys the Info tab and Compare/Diff config sections show."""

    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompareConfig:
    """[compare]: the Compare view."""

    sections: tuple[str, ...] = COMPARE_SECTIONS
    curve_width: int = 50
    curve_height: int | None = None

    def curve_height_for(self, n_metrics: int) -> int:
        return self.curve_height if self.curve_height is not None else auto_curve_height(n_metrics)


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
class HighlightRule:
    """One [[tables.highlight]] rule. All the conditions it has must hold; none means every cell."""

    color: str | None  # parse_color form: name, "#rrggbb", or None for the terminal default
    eq: float | None = None
    min: float | None = None  # inclusive
    max: float | None = None  # exclusive
    pattern: str | None = None  # case-sensitive substring of the cell's text

    @property
    def catch_all(self) -> bool:
        return self.eq is None and self.min is None and self.max is None and self.pattern is None

    def matches(self, value: object, text: str | None = None) -> bool:
        """Whether a cell holding ``value`` (shown as ``text``) gets this rule's color.

        Numeric conditions hold only for real numbers (not bools); NaN meets none.
        ``pattern`` is looked for in ``text`` when given, else in ``str(value)``.
        """
        if self.eq is not None or self.min is not None or self.max is not None:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                return False
            v = float(value)
            if self.eq is not None and v != self.eq:
                return False
            if self.min is not None and not v >= self.min:
                return False
            if self.max is not None and not v < self.max:
                return False
        if self.pattern is not None:
            shown = text if text is not None else ("" if value is None else str(value))
            if self.pattern not in shown:
                return False
        return True


@dataclass(frozen=True)
class TablesConfig:
    """[tables]: ``highlight`` rules for matrix/table cells, in file order."""

    highlight: tuple[HighlightRule, ...] = ()

    def rule_for(self, value: object, text: str | None = None) -> HighlightRule | None:
        """The first rule that matches the cell (first match wins), or None."""
        for rule in self.highlight:
            if rule.matches(value, text):
                return rule
        return None


@dataclass(frozen=True)
class ThemeConfig:
    """[theme]: TUI colors as lowercase ``#rrggbb``."""

    fg: str = THEME_DEFAULTS["fg"]
    bg: str = THEME_DEFAULTS["bg"]
    accent: str = THEME_DEFAULTS["accent"]
    accent_dim: str = THEME_DEFAULTS["accent_dim"]
    success: str = THEME_DEFAULTS["success"]
    warning: str = THEME_DEFAULTS["warning"]
    error: str = THEME_DEFAULTS["error"]
    border: str = THEME_DEFAULTS["border"]
    border_focused: str = THEME_DEFAULTS["border_focused"]
    #: The keys the file set; the rest are defaults (a TUI may prefer terminal colors for those).
    explicit: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NotificationsConfig:
    """[notifications]: ``timeout`` seconds before a notification closes; 0 keeps it open."""

    timeout: int = 3


@dataclass(frozen=True)
class SystemConfig:
    """[system]: ``metrics`` samples CPU, memory, disk, network and GPUs into ``system/``
    curves while a run is live, every ``interval`` seconds (extract/sdk/system.py)."""

    metrics: bool = True
    interval: float = 1.0


def _no_remotes() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Config:
    hierarchy: tuple[str, ...] | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: [store] auto_commit: commit each run to refs/heads/main as it finishes.
    auto_commit: bool = False
    summary: SummaryConfig = SummaryConfig()
    info: InfoConfig = InfoConfig()
    compare: CompareConfig = CompareConfig()
    metrics: MetricsConfig = MetricsConfig()
    tables: TablesConfig = TablesConfig()
    theme: ThemeConfig = ThemeConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    system: SystemConfig = SystemConfig()
    #: remote name -> url, from the [remotes.<name>] tables, in file order.
    remotes: Mapping[str, str] = field(default_factory=_no_remotes)


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
        "store": ("hierarchy", "auto_commit"),
        "summary": ("sections", "curve_width", "curve_height", "curve_smooth"),
        "info": ("fields",),
        "compare": ("sections", "curve_width", "curve_height"),
        "metrics": ("minimize", "maximize"),
        "tables": ("highlight",),
        "theme": tuple(THEME_DEFAULTS),
        "notifications": ("timeout",),
        "system": ("metrics", "interval"),
    }
)
_RULE_KEYS = ("eq", "min", "max", "pattern", "color")
_REMOTE_KEYS = ("url",)


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
    auto_commit = _Table(where, "[store]", store, _KEYS["store"]).boolean("auto_commit", False)
    hierarchy = None
    if "hierarchy" in store:
        if not isinstance(store["hierarchy"], str):
            raise ConfigError(f'{where}: [store] hierarchy must be a string like "a > b > c"')
        try:
            hierarchy = parse_hierarchy(store["hierarchy"])
        except InvalidHierarchy as e:
            raise ConfigError(f"{where}: [store] {e}") from None

    def table(name: str) -> _Table:
        return _Table(where, f"[{name}]", raw.get(name, {}), _KEYS[name])

    return Config(
        hierarchy=hierarchy,
        raw=raw,
        path=path,
        auto_commit=auto_commit,
        summary=_summary(table("summary")),
        info=_info(table("info")),
        compare=_compare(table("compare")),
        metrics=_metrics(table("metrics")),
        tables=_tables(table("tables")),
        theme=_theme(table("theme")),
        notifications=_notifications(table("notifications")),
        system=_system(table("system")),
        remotes=_remotes(where, raw.get("remotes", {})),
    )


def _summary(t: _Table) -> SummaryConfig:
    return SummaryConfig(
        sections=t.sections("sections", SUMMARY_SECTIONS),
        curve_width=t.integer("curve_width", 80, 1, 100),
        curve_height=t.height("curve_height"),
        curve_smooth=t.boolean("curve_smooth", False),
    )


def _compare(t: _Table) -> CompareConfig:
    return CompareConfig(
        sections=t.sections("sections", COMPARE_SECTIONS),
        curve_width=t.integer("curve_width", 50, 1, 100),
        curve_height=t.height("curve_height"),
    )


def _info(t: _Table) -> InfoConfig:
    fields = t.strings("fields", "a list of glob patterns (strings)")
    for i, pattern in enumerate(fields):
        body = pattern[1:] if pattern.startswith("!") else pattern
        try:
            if not body:
                raise InvalidInput(f"{_show(pattern)} has nothing to match")
            compile_glob(body)
        except InvalidInput as e:
            raise t.error(f"fields[{i}]", f"is not a valid pattern: {e}") from None
    return InfoConfig(fields=fields)


def _metrics(t: _Table) -> MetricsConfig:
    minimize = t.strings("minimize", "a list of metric names (strings)")
    maximize = t.strings("maximize", "a list of metric names (strings)")
    both = [name for name in minimize if name in maximize]
    if both:
        raise ConfigError(
            f"{t.where}: [metrics] {_show(both[0])} is in both minimize and maximize; "
            "a metric has one direction, so keep it in only one list"
        )
    return MetricsConfig(minimize=minimize, maximize=maximize)


def _tables(t: _Table) -> TablesConfig:
    if "highlight" not in t.data:
        return TablesConfig()
    rules = t.data["highlight"]
    if not isinstance(rules, list):
        raise ConfigError(
            f"{t.where}: [tables] highlight must be a list of rules, each written as a "
            f"[[tables.highlight]] table (double brackets), got {_show(rules)}"
        )
    parsed: list[HighlightRule] = []
    for n, value in enumerate(rules, start=1):
        r = _Table(t.where, f"[[tables.highlight]] rule {n}", value, _RULE_KEYS)
        if "color" not in r.data:
            raise r.error("color", f"is missing: every rule needs one; {_COLOR_HELP}")
        try:
            color = parse_color(r.data["color"])
        except InvalidInput:
            raise r.fail("color", _COLOR_CHOICES, r.data["color"]) from None
        rule = HighlightRule(
            color=color,
            eq=r.number("eq"),
            min=r.number("min"),
            max=r.number("max"),
            pattern=r.nonempty_string(
                "pattern", "a non-empty string (a substring of the cell text)"
            ),
        )
        lo = -math.inf if rule.min is None else rule.min
        hi = math.inf if rule.max is None else rule.max
        if not lo < hi:
            raise r.error(
                "min", f"({rule.min}) must be less than max ({rule.max}), or the rule never matches"
            )
        if rule.eq is not None and not lo <= rule.eq < hi:
            raise r.error("eq", f"({rule.eq}) is outside min..max, so the rule never matches")
        if parsed and parsed[-1].catch_all:
            raise ConfigError(
                f"{t.where}: [[tables.highlight]] rule {n - 1} has no condition (eq, min, max "
                f"or pattern), so it matches every cell and rule {n} could never apply; "
                "give it a condition or move it last"
            )
        parsed.append(rule)
    return TablesConfig(highlight=tuple(parsed))


def _theme(t: _Table) -> ThemeConfig:
    colors: dict[str, str] = {}
    for key in THEME_DEFAULTS:
        if key in t.data:
            value = t.data[key]
            hexed = _hex(value) if isinstance(value, str) else None
            if hexed is None:
                raise t.fail(key, 'a hex color "#rrggbb" (or "#rgb")', value)
            colors[key] = hexed
    return ThemeConfig(**colors, explicit=frozenset(colors))


def _notifications(t: _Table) -> NotificationsConfig:
    return NotificationsConfig(timeout=t.integer("timeout", 3, 0, None))


def _system(t: _Table) -> SystemConfig:
    interval = t.number("interval")
    if interval is not None and not 0.1 <= interval <= 3600:
        raise t.fail("interval", "seconds between samples, from 0.1 to 3600", interval)
    return SystemConfig(
        metrics=t.boolean("metrics", True), interval=1.0 if interval is None else interval
    )


def _remotes(where: str, value: object) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(
            f'{where}: remotes must be tables like [remotes.origin] with url = "...", '
            f"got {_show(value)}"
        )
    out: dict[str, str] = {}
    for name, body in value.items():
        why = _remote_name_problem(name)
        if why:
            raise ConfigError(
                f"{where}: [remotes] name {_show(name)} is not allowed: {why}. Remote names "
                "use letters, digits, '-', '_' and '.', do not start with '.' or '-', and do "
                "not hold '..' or end with '.' or '.lock'"
            )
        label = f"[remotes.{name}]"
        if not isinstance(body, dict):
            raise ConfigError(
                f'{where}: {label} must be a table with url = "...", got {_show(body)}'
            )
        r = _Table(where, label, body, _REMOTE_KEYS)
        if "url" not in r.data:
            raise r.error(
                "url", 'is missing: give the remote\'s location, e.g. url = "/mnt/backup/.extract"'
            )
        url = r.data["url"]
        if not isinstance(url, str) or not url.strip():
            raise r.fail("url", "a non-empty string (a path or ssh://host/path)", url)
        out[name] = url
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


class _Table:
    """One table being checked, with typed getters whose errors name the file, table and key."""

    def __init__(self, where: str, label: str, value: object, valid: Sequence[str]) -> None:
        self.where = where
        self.label = label
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {label} must be a table, got {_show(value)}")
        for key in value:
            if key not in valid:
                raise ConfigError(
                    f"{where}: {label} has no key {_show(key)}{_suggest(key, valid)}; "
                    f"valid keys: {', '.join(valid)}"
                )
        self.data: dict[str, Any] = value

    def error(self, key: str, text: str) -> ConfigError:
        return ConfigError(f"{self.where}: {self.label} {key} {text}")

    def fail(self, key: str, must: str, got: object) -> ConfigError:
        return self.error(key, f"must be {must}, got {_show(got)}")

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
        choices = ", ".join(_show(s) for s in allowed)
        value = self.data.get(key, list(allowed))
        if not isinstance(value, list):
            raise self.fail(key, f"a list drawn from {choices}", value)
        for i, item in enumerate(value):
            if item not in allowed:
                raise self.fail(f"{key}[{i}]", f"one of {choices}", item)
            if value.index(item) != i:
                raise self.error(key, f"lists {_show(item)} twice; each section may appear once")
        return tuple(value)


def _suggest(word: object, choices: Sequence[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1)
    return f" (did you mean {_show(close[0])}?)" if close else ""


def _show(value: object) -> str:
    """``value`` as it would be written in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        shown = [_show(v) for v in value[:6]]
        return "[" + ", ".join(shown + (["..."] if len(value) > 6 else [])) + "]"
    if isinstance(value, dict):
        return "a table"
    return f"{value} (a {type(value).__name__})"


def toml_string(value: str) -> str:
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
    """``text`` (a config without a hierarchy) with ``[store] hierarchy`` set."""
    line = f"hierarchy = {toml_string(format_hierarchy(hierarchy))}\n"
    if not text.strip():
        return "# extract store configuration; see docs/configuration.md\n[store]\n" + line
    lines = text.splitlines(keepends=True)
    for i, existing in enumerate(lines):
        if existing.strip() == "[store]":
            return "".join([*lines[: i + 1], line, *lines[i + 1 :]])
    return "[store]\n" + line + "\n" + text
