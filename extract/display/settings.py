"""The TUI's sections of config.toml: ``[summary]``, ``[info]``, ``[compare]``,
``[tables]`` (highlight rules), ``[theme]`` and ``[notifications]``.

The store parses the file and checks its own sections (``extract/store/config.py``);
this module checks these from ``Config.raw`` with the same checker, so a mistake gets
the same kind of message, naming the file, section and key
(``[summary] has no key "curve_widht" (did you mean "curve_width"?)``). They are checked
when the TUI opens the store. docs/configuration.md is the user's reference.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from extract.display.fields import compile_glob
from extract.errors import ConfigError, InvalidInput
from extract.store.config import Config, TomlTable, show_value, suggest

__all__ = [
    "COLOR_NAMES",
    "COMPARE_SECTIONS",
    "SUMMARY_SECTIONS",
    "THEME_DEFAULTS",
    "CompareConfig",
    "HighlightRule",
    "InfoConfig",
    "NotificationsConfig",
    "SummaryConfig",
    "TablesConfig",
    "ThemeConfig",
    "TuiConfig",
    "auto_curve_height",
    "parse_color",
    "tui_config",
]

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
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


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
    raise InvalidInput(
        f"{show_value(text)} is not a color: {_COLOR_HELP}{suggest(text, COLOR_NAMES)}"
    )


_COLOR_CHOICES = (
    "one of " + ", ".join(f'"{c}"' for c in COLOR_NAMES) + ', or a hex color like "#ff6600"'
)
_COLOR_HELP = "use " + _COLOR_CHOICES


def auto_curve_height(n_metrics: int) -> int:
    """Chart height in lines when ``curve_height`` is auto: 12, 10, 8, then 6 for 4 or more charts."""
    return {0: 12, 1: 12, 2: 10, 3: 8}.get(max(n_metrics, 0), 6)


@dataclass(frozen=True)
class SummaryConfig:
    """[summary]: the Summary tab of the detail panel."""

    sections: tuple[str, ...] = SUMMARY_SECTIONS
    curve_width: int = 80
    curve_height: int | None = None  # None: auto, see auto_curve_height
    curve_smooth: bool = False


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
class TuiConfig:
    """What the TUI reads from config.toml: the store's config and the TUI's own sections."""

    store: Config = field(default_factory=Config)
    summary: SummaryConfig = SummaryConfig()
    info: InfoConfig = InfoConfig()
    compare: CompareConfig = CompareConfig()
    tables: TablesConfig = TablesConfig()
    theme: ThemeConfig = ThemeConfig()
    notifications: NotificationsConfig = NotificationsConfig()


def tui_config(config: Config) -> TuiConfig:
    """Check the TUI's sections of an already parsed config; ConfigError names the key."""
    where = config.where

    def table(name: str) -> TomlTable:
        return TomlTable(where, f"[{name}]", config.raw.get(name, {}), _KEYS[name])

    return TuiConfig(
        store=config,
        summary=_summary(table("summary")),
        info=_info(table("info")),
        compare=_compare(table("compare")),
        tables=_tables(table("tables")),
        theme=_theme(table("theme")),
        notifications=_notifications(table("notifications")),
    )


#: The sections this module checks, and the keys each may hold.
_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "summary": ("sections", "curve_width", "curve_height", "curve_smooth"),
        "info": ("fields",),
        "compare": ("sections", "curve_width", "curve_height"),
        "tables": ("highlight",),
        "theme": tuple(THEME_DEFAULTS),
        "notifications": ("timeout",),
    }
)
_RULE_KEYS = ("eq", "min", "max", "pattern", "color")


def _summary(t: TomlTable) -> SummaryConfig:
    return SummaryConfig(
        sections=t.sections("sections", SUMMARY_SECTIONS),
        curve_width=t.integer("curve_width", 80, 1, 100),
        curve_height=t.height("curve_height"),
        curve_smooth=t.boolean("curve_smooth", False),
    )


def _compare(t: TomlTable) -> CompareConfig:
    return CompareConfig(
        sections=t.sections("sections", COMPARE_SECTIONS),
        curve_width=t.integer("curve_width", 50, 1, 100),
        curve_height=t.height("curve_height"),
    )


def _info(t: TomlTable) -> InfoConfig:
    fields = t.strings("fields", "a list of glob patterns (strings)")
    for i, pattern in enumerate(fields):
        body = pattern[1:] if pattern.startswith("!") else pattern
        try:
            if not body:
                raise InvalidInput(f"{show_value(pattern)} has nothing to match")
            compile_glob(body)
        except InvalidInput as e:
            raise t.error(f"fields[{i}]", f"is not a valid pattern: {e}") from None
    return InfoConfig(fields=fields)


def _tables(t: TomlTable) -> TablesConfig:
    if "highlight" not in t.data:
        return TablesConfig()
    rules = t.data["highlight"]
    if not isinstance(rules, list):
        raise ConfigError(
            f"{t.where}: [tables] highlight must be a list of rules, each written as a "
            f"[[tables.highlight]] table (double brackets), got {show_value(rules)}"
        )
    parsed: list[HighlightRule] = []
    for n, value in enumerate(rules, start=1):
        r = TomlTable(t.where, f"[[tables.highlight]] rule {n}", value, _RULE_KEYS)
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


def _theme(t: TomlTable) -> ThemeConfig:
    colors: dict[str, str] = {}
    for key in THEME_DEFAULTS:
        if key in t.data:
            value = t.data[key]
            hexed = _hex(value) if isinstance(value, str) else None
            if hexed is None:
                raise t.fail(key, 'a hex color "#rrggbb" (or "#rgb")', value)
            colors[key] = hexed
    return ThemeConfig(**colors, explicit=frozenset(colors))


def _notifications(t: TomlTable) -> NotificationsConfig:
    return NotificationsConfig(timeout=t.integer("timeout", 3, 0, None))
