"""config.toml: every section, key, default and error (docs/configuration.md): the store's
sections (store/config.py) and the TUI's (display/settings.py), which ``parse_tui`` checks
after the store's."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest

from extract.display.settings import (
    COLOR_NAMES,
    COMPARE_SECTIONS,
    SUMMARY_SECTIONS,
    THEME_DEFAULTS,
    CompareConfig,
    HighlightRule,
    InfoConfig,
    NotificationsConfig,
    SummaryConfig,
    TablesConfig,
    ThemeConfig,
    TuiConfig,
    auto_curve_height,
    parse_color,
    tui_config,
)
from extract.errors import ConfigError, InvalidInput
from extract.store import config as configmod
from extract.store.config import (
    MINIMIZE_HINTS,
    Config,
    MetricsConfig,
    load,
    metric_direction,
    parse,
)

SEED_STYLE = """\
[store]
hierarchy = "benchmark > model > variant"
auto_commit = true

[summary]
sections = ["metrics", "curves", "runs"]
curve_width = 90
curve_height = 10
curve_smooth = true

[info]
fields = ["method.**", "!method.parent", "task.num_train_epochs", "{lr,seed}"]

[compare]
sections = ["config", "pivot"]
curve_width = 40
curve_height = "auto"

[metrics]
minimize = ["forgetting_rate", "custom_loss"]
maximize = ["custom_score"]

[[tables.highlight]]
eq = 0.0
color = "darkgray"

[[tables.highlight]]
min = 0.9
color = "green"

[[tables.highlight]]
min = 0.5
max = 0.9
color = "#FF6600"

[[tables.highlight]]
pattern = "NaN"
color = "red"

[[tables.highlight]]
color = "none"

[theme]
fg = "#FFFFFF"
bg = "#000"
accent = "#89b4fa"
accent_dim = "#585b70"
success = "#a6e3a1"
warning = "#f9e2af"
error = "#f38ba8"
border = "#585b70"
border_focused = "#89b4fa"

[notifications]
timeout = 5

[remotes.origin]
url = "/mnt/backup/.extract"

[remotes."lab-server_2.b"]
url = "ssh://lab/home/me/.extract"

[tui]
future_setting = 1
"""


def parse_tui(text: str) -> TuiConfig:
    """The whole file as the TUI sees it: the store's sections, then the TUI's."""
    return tui_config(parse(text))


def test_seed_style_config_parses_completely() -> None:
    cfg = parse_tui(SEED_STYLE)
    assert cfg.store.hierarchy == ("benchmark", "model", "variant")
    assert cfg.store.auto_commit is True
    assert cfg.summary == SummaryConfig(
        sections=("metrics", "curves", "runs"), curve_width=90, curve_height=10, curve_smooth=True
    )
    assert cfg.info == InfoConfig(
        fields=("method.**", "!method.parent", "task.num_train_epochs", "{lr,seed}")
    )
    assert cfg.compare == CompareConfig(sections=("config", "pivot"), curve_width=40)
    assert cfg.store.metrics == MetricsConfig(
        minimize=("forgetting_rate", "custom_loss"), maximize=("custom_score",)
    )
    assert cfg.tables.highlight == (
        HighlightRule(color="darkgray", eq=0.0),
        HighlightRule(color="green", min=0.9),
        HighlightRule(color="#ff6600", min=0.5, max=0.9),
        HighlightRule(color="red", pattern="NaN"),
        HighlightRule(color=None),
    )
    assert cfg.theme.fg == "#ffffff"
    assert cfg.theme.bg == "#000000"
    assert cfg.theme.explicit == frozenset(THEME_DEFAULTS)
    assert cfg.notifications == NotificationsConfig(timeout=5)
    assert dict(cfg.store.remotes) == {
        "origin": "/mnt/backup/.extract",
        "lab-server_2.b": "ssh://lab/home/me/.extract",
    }
    assert list(cfg.store.remotes) == ["origin", "lab-server_2.b"]
    assert cfg.store.raw["tui"] == {"future_setting": 1}  # unknown sections are kept, not checked


def test_dotted_remote_names() -> None:
    # In TOML [remotes.lab-server_2.b] is a table "b" inside remote "lab-server_2" (an unknown key);
    # a dotted remote name is written quoted.
    with pytest.raises(ConfigError, match=r'\[remotes.lab\] has no key "b"'):
        parse('[remotes.lab.b]\nurl = "x"\n')
    cfg = parse('[remotes."disk.2"]\nurl = "/mnt/d"\n')
    assert dict(cfg.remotes) == {"disk.2": "/mnt/d"}


def test_defaults() -> None:
    for cfg in (
        TuiConfig(),
        parse_tui(""),
        parse_tui("[summary]\n[info]\n[compare]\n[metrics]\n[tables]\n"),
    ):
        assert cfg.store.auto_commit is False
        assert cfg.summary == SummaryConfig()
        assert cfg.summary.sections == ("runs", "metrics", "tables", "curves") == SUMMARY_SECTIONS
        assert cfg.summary.curve_width == 80
        assert cfg.summary.curve_height is None
        assert cfg.summary.curve_smooth is False
        assert cfg.info.fields == ()
        assert cfg.compare.sections == ("pivot", "config", "tables", "curves") == COMPARE_SECTIONS
        assert cfg.compare.curve_width == 50
        assert cfg.compare.curve_height is None
        assert cfg.store.metrics == MetricsConfig((), ())
        assert cfg.tables == TablesConfig(())
        assert cfg.theme == ThemeConfig()
        assert cfg.theme.explicit == frozenset()
        assert cfg.notifications.timeout == 3
        assert dict(cfg.store.remotes) == {}


def test_theme_defaults_are_the_seeds() -> None:
    assert dataclasses.asdict(ThemeConfig()) == {
        "fg": "#cdd6f4",
        "bg": "#1e1e2e",
        "accent": "#89b4fa",
        "accent_dim": "#585b70",
        "success": "#a6e3a1",
        "warning": "#f9e2af",
        "error": "#f38ba8",
        "border": "#585b70",
        "border_focused": "#89b4fa",
        "explicit": frozenset(),
    }


def test_partial_theme_keeps_defaults_and_records_what_was_set() -> None:
    theme = parse_tui('[theme]\naccent = "#123ABC"\n').theme
    assert theme.accent == "#123abc"
    assert theme.fg == THEME_DEFAULTS["fg"]
    assert theme.explicit == frozenset({"accent"})


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path / "config.toml")
    assert cfg == Config(path=tmp_path / "config.toml")


def test_config_is_frozen() -> None:
    cfg = parse_tui("")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.summary = SummaryConfig()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.summary.curve_width = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.store.remotes["x"] = "y"  # type: ignore[index]


def test_existing_helpers_still_work() -> None:
    text = configmod.with_hierarchy('[metrics]\nminimize = ["x"]\n', ("a", "b"))
    cfg = parse(text)
    assert cfg.hierarchy == ("a", "b")
    assert cfg.metrics.minimize == ("x",)
    assert configmod.format_hierarchy(cfg.hierarchy) == "a > b"
    assert Config(("a",), {}, None).hierarchy == ("a",)


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("[summary]\ncurve_width = 1", "summary.curve_width", 1),
        ("[summary]\ncurve_width = 100", "summary.curve_width", 100),
        ("[summary]\ncurve_height = 1", "summary.curve_height", 1),
        ('[summary]\ncurve_height = "auto"', "summary.curve_height", None),
        ("[summary]\ncurve_smooth = false", "summary.curve_smooth", False),
        ("[summary]\nsections = []", "summary.sections", ()),
        ('[summary]\nsections = ["curves"]', "summary.sections", ("curves",)),
        ("[compare]\ncurve_width = 100", "compare.curve_width", 100),
        ("[compare]\ncurve_height = 30", "compare.curve_height", 30),
        ('[compare]\nsections = ["curves", "tables"]', "compare.sections", ("curves", "tables")),
        ("[info]\nfields = []", "info.fields", ()),
        ('[info]\nfields = ["!seed"]', "info.fields", ("!seed",)),
        ('[metrics]\nmaximize = ["bleu"]', "metrics.maximize", ("bleu",)),
        ("[notifications]\ntimeout = 0", "notifications.timeout", 0),
        ("[notifications]\ntimeout = 86400", "notifications.timeout", 86400),
        ("[tables]\nhighlight = []", "tables.highlight", ()),
    ],
)
def test_valid_values(text: str, field: str, value: object) -> None:
    section, key = field.split(".")
    cfg = parse_tui(text)
    owner = cfg.store if section == "metrics" else cfg
    assert getattr(getattr(owner, section), key) == value


# Every error: the TOML, and the message after "config.toml: ".
ERRORS = [
    # [store]
    ("store = 1", "[store] must be a table"),
    ("[store]\nhierarchy = 3", '[store] hierarchy must be a string like "a > b > c"'),
    ('[store]\nhierarchy = "a > a"', "[store] hierarchy 'a > a' repeats the level 'a'"),
    (
        '[store]\nhierachy = "a"',
        '[store] has no key "hierachy" (did you mean "hierarchy"?); valid keys: hierarchy, '
        "auto_commit",
    ),
    ('[store]\nauto_commit = "yes"', '[store] auto_commit must be true or false, got "yes"'),
    # [summary]
    ("summary = 3", "[summary] must be a table, got 3"),
    (
        "[summary]\ncurve_width = 150",
        "[summary] curve_width must be an integer from 1 to 100, got 150",
    ),
    ("[summary]\ncurve_width = 0", "[summary] curve_width must be an integer from 1 to 100, got 0"),
    (
        "[summary]\ncurve_width = 50.5",
        "[summary] curve_width must be an integer from 1 to 100, got 50.5",
    ),
    (
        '[summary]\ncurve_width = "80"',
        '[summary] curve_width must be an integer from 1 to 100, got "80"',
    ),
    (
        "[summary]\ncurve_width = true",
        "[summary] curve_width must be an integer from 1 to 100, got true",
    ),
    (
        "[summary]\ncurve_height = 0",
        '[summary] curve_height must be a whole number of lines >= 1, or "auto" (the default), got 0',
    ),
    (
        '[summary]\ncurve_height = "big"',
        '[summary] curve_height must be a whole number of lines >= 1, or "auto" (the default), got "big"',
    ),
    ("[summary]\ncurve_smooth = 1", "[summary] curve_smooth must be true or false, got 1"),
    ('[summary]\ncurve_smooth = "yes"', '[summary] curve_smooth must be true or false, got "yes"'),
    (
        '[summary]\nsections = "runs"',
        '[summary] sections must be a list drawn from "runs", "metrics", "tables", "curves", got "runs"',
    ),
    (
        '[summary]\nsections = ["runs", "curve"]',
        '[summary] sections[1] must be one of "runs", "metrics", "tables", "curves", got "curve"',
    ),
    (
        '[summary]\nsections = ["pivot"]',
        '[summary] sections[0] must be one of "runs", "metrics", "tables", "curves", got "pivot"',
    ),
    (
        '[summary]\nsections = ["runs", "runs"]',
        '[summary] sections lists "runs" twice; each section may appear once',
    ),
    (
        "[summary]\ncurve_widht = 80",
        '[summary] has no key "curve_widht" (did you mean "curve_width"?); valid keys: '
        "sections, curve_width, curve_height, curve_smooth",
    ),
    # [info]
    (
        '[info]\nfields = "method.*"',
        '[info] fields must be a list of glob patterns (strings), got "method.*"',
    ),
    ("[info]\nfields = [1]", "[info] fields[0] must be a non-empty string, got 1"),
    ('[info]\nfields = [""]', '[info] fields[0] must be a non-empty string, got ""'),
    ('[info]\nfields = ["!"]', '[info] fields[0] is not a valid pattern: "!" has nothing to match'),
    (
        '[info]\nfields = ["a", "{a,b"]',
        "[info] fields[1] is not a valid pattern: invalid field pattern '{a,b': the '{' at "
        "position 1 is never closed.",
    ),
    (
        '[info]\nfields = ["a..b"]',
        "[info] fields[0] is not a valid pattern: invalid field pattern 'a..b': it has an empty segment",
    ),
    (
        '[info]\nfield = ["a"]',
        '[info] has no key "field" (did you mean "fields"?); valid keys: fields',
    ),
    # [compare]
    (
        "[compare]\ncurve_width = 101",
        "[compare] curve_width must be an integer from 1 to 100, got 101",
    ),
    (
        "[compare]\ncurve_height = -2",
        '[compare] curve_height must be a whole number of lines >= 1, or "auto" (the default), got -2',
    ),
    (
        '[compare]\nsections = ["runs"]',
        '[compare] sections[0] must be one of "pivot", "config", "tables", "curves", got "runs"',
    ),
    (
        "[compare]\ncurve_smooth = true",
        '[compare] has no key "curve_smooth" (did you mean "curve_width"?); valid keys: sections, curve_width, curve_height',
    ),
    # [metrics]
    (
        '[metrics]\nminimize = "loss"',
        '[metrics] minimize must be a list of metric names (strings), got "loss"',
    ),
    ("[metrics]\nmaximize = [1.5]", "[metrics] maximize[0] must be a non-empty string, got 1.5"),
    (
        '[metrics]\nminimize = ["a", "acc"]\nmaximize = ["acc"]',
        '[metrics] "acc" is in both minimize and maximize; a metric has one direction, '
        "so keep it in only one list",
    ),
    (
        '[metrics]\nminimise = ["loss"]',
        '[metrics] has no key "minimise" (did you mean "minimize"?); valid keys: minimize, maximize',
    ),
    # [[tables.highlight]]
    ("tables = 1", "[tables] must be a table, got 1"),
    (
        "[tables]\nhighlights = []",
        '[tables] has no key "highlights" (did you mean "highlight"?); valid keys: highlight',
    ),
    (
        '[tables.highlight]\ncolor = "red"',
        "[tables] highlight must be a list of rules, each written as a [[tables.highlight]] "
        "table (double brackets), got a table",
    ),
    ("[tables]\nhighlight = [1]", "[[tables.highlight]] rule 1 must be a table, got 1"),
    (
        "[[tables.highlight]]\neq = 1",
        '[[tables.highlight]] rule 1 color is missing: every rule needs one; use one of "red", '
        '"green", "yellow", "blue", "cyan", "magenta", "white", "black", "darkgray", "orange", '
        '"none", or a hex color like "#ff6600"',
    ),
    (
        '[[tables.highlight]]\neq = 1\ncolor = "purple"',
        '[[tables.highlight]] rule 1 color must be one of "red", "green", "yellow", "blue", '
        '"cyan", "magenta", "white", "black", "darkgray", "orange", "none", or a hex color like '
        '"#ff6600", got "purple"',
    ),
    (
        '[[tables.highlight]]\neq = 1\ncolor = "#ff66"',
        "[[tables.highlight]] rule 1 color must be one of",
    ),
    ("[[tables.highlight]]\neq = 1\ncolor = 3", "[[tables.highlight]] rule 1 color must be one of"),
    (
        '[[tables.highlight]]\neq = "1"\ncolor = "red"',
        '[[tables.highlight]] rule 1 eq must be a finite number, got "1"',
    ),
    (
        '[[tables.highlight]]\nmin = true\ncolor = "red"',
        "[[tables.highlight]] rule 1 min must be a finite number, got true",
    ),
    (
        '[[tables.highlight]]\nmax = nan\ncolor = "red"',
        "[[tables.highlight]] rule 1 max must be a finite number, got nan",
    ),
    (
        '[[tables.highlight]]\nmin = -inf\ncolor = "red"',
        "[[tables.highlight]] rule 1 min must be a finite number, got -inf",
    ),
    (
        '[[tables.highlight]]\npattern = ""\ncolor = "red"',
        '[[tables.highlight]] rule 1 pattern must be a non-empty string (a substring of the cell text), got ""',
    ),
    (
        '[[tables.highlight]]\npattern = 5\ncolor = "red"',
        "[[tables.highlight]] rule 1 pattern must be a non-empty string",
    ),
    (
        '[[tables.highlight]]\nmin = 0.9\nmax = 0.5\ncolor = "red"',
        "[[tables.highlight]] rule 1 min (0.9) must be less than max (0.5), or the rule never matches",
    ),
    (
        '[[tables.highlight]]\nmin = 1\nmax = 1\ncolor = "red"',
        "[[tables.highlight]] rule 1 min (1.0) must be less than max (1.0), or the rule never matches",
    ),
    (
        '[[tables.highlight]]\neq = 1\nmax = 1\ncolor = "red"',
        "[[tables.highlight]] rule 1 eq (1.0) is outside min..max, so the rule never matches",
    ),
    (
        '[[tables.highlight]]\ncolor = "darkgray"\n[[tables.highlight]]\neq = 1\ncolor = "red"',
        "[[tables.highlight]] rule 1 has no condition (eq, min, max or pattern), so it matches "
        "every cell and rule 2 could never apply; give it a condition or move it last",
    ),
    (
        '[[tables.highlight]]\nvalue = 1\ncolor = "red"',
        '[[tables.highlight]] rule 1 has no key "value"; valid keys: eq, min, max, pattern, color',
    ),
    (
        '[[tables.highlight]]\neq = 1\ncolor = "red"\n[[tables.highlight]]\nmin = 0\ncolour = "red"',
        '[[tables.highlight]] rule 2 has no key "colour" (did you mean "color"?); valid keys: '
        "eq, min, max, pattern, color",
    ),
    # [theme]
    ('[theme]\nfg = "blue"', '[theme] fg must be a hex color "#rrggbb" (or "#rgb"), got "blue"'),
    (
        '[theme]\nborder_focused = "#12345g"',
        '[theme] border_focused must be a hex color "#rrggbb" (or "#rgb"), got "#12345g"',
    ),
    ("[theme]\nbg = 0", '[theme] bg must be a hex color "#rrggbb" (or "#rgb"), got 0'),
    (
        '[theme]\nforeground = "#ffffff"',
        '[theme] has no key "foreground"; valid keys: fg, bg, accent, accent_dim, success, '
        "warning, error, border, border_focused",
    ),
    # [notifications]
    ("[notifications]\ntimeout = -1", "[notifications] timeout must be an integer >= 0, got -1"),
    ("[notifications]\ntimeout = 2.5", "[notifications] timeout must be an integer >= 0, got 2.5"),
    ('[notifications]\ntimeout = "3"', '[notifications] timeout must be an integer >= 0, got "3"'),
    (
        "[notifications]\ntimout = 3",
        '[notifications] has no key "timout" (did you mean "timeout"?); valid keys: timeout',
    ),
    # [remotes.<name>]
    ("remotes = 3", 'remotes must be tables like [remotes.origin] with url = "...", got 3'),
    (
        '[remotes]\norigin = "/mnt/x"',
        '[remotes.origin] must be a table with url = "...", got "/mnt/x"',
    ),
    (
        "[remotes.origin]\n",
        '[remotes.origin] url is missing: give the remote\'s location, e.g. url = "/mnt/backup/.extract"',
    ),
    (
        '[remotes.origin]\nurl = ""',
        '[remotes.origin] url must be a non-empty string (a path or ssh://host/path), got ""',
    ),
    (
        "[remotes.origin]\nurl = 5",
        "[remotes.origin] url must be a non-empty string (a path or ssh://host/path), got 5",
    ),
    (
        '[remotes.origin]\nurl = "x"\nbranch = "main"',
        '[remotes.origin] has no key "branch"; valid keys: url',
    ),
    ('[remotes."my disk"]\nurl = "x"', "[remotes] name \"my disk\" is not allowed: it holds ' '."),
    ('[remotes.""]\nurl = "x"', '[remotes] name "" is not allowed: it is empty.'),
    (
        '[remotes.".hidden"]\nurl = "x"',
        "[remotes] name \".hidden\" is not allowed: it starts with '.'.",
    ),
    ('[remotes.-x]\nurl = "x"', "[remotes] name \"-x\" is not allowed: it starts with '-'."),
    (
        '[remotes."a..b"]\nurl = "x"',
        "[remotes] name \"a..b\" is not allowed: it holds '..' or ends with '.' or '.lock'.",
    ),
    ('[remotes."a."]\nurl = "x"', "[remotes] name \"a.\" is not allowed: it ends with '.'."),
    ('[remotes."x.lock"]\nurl = "x"', '[remotes] name "x.lock" is not allowed'),
    ('[remotes."a/b"]\nurl = "x"', "[remotes] name \"a/b\" is not allowed: it holds '/'."),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_tui(text)
    assert str(info.value).startswith("config.toml: " + message), str(info.value)


def test_remote_name_error_says_what_is_allowed() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("Remote names use letters, digits, '-', '_' and '.'")
    ):
        parse('[remotes."my disk"]\nurl = "x"')


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[summary]\ncurve_width = 150\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: [summary] curve_width")):
        tui_config(load(path))
    assert ConfigError.exit_code == 2


def test_error_shows_long_values_briefly() -> None:
    with pytest.raises(ConfigError, match=r"got \[1, 2, 3, 4, 5, 6, \.\.\.\]"):
        parse_tui("[summary]\ncurve_width = [1, 2, 3, 4, 5, 6, 7]")
    with pytest.raises(ConfigError, match=r"got 1979-05-27 \(a date\)"):
        parse_tui("[summary]\ncurve_width = 1979-05-27")


def test_unknown_sections_and_top_level_keys_are_kept() -> None:
    cfg = parse('title = "x"\n[tui.keys]\nquit = "q"\n')
    assert cfg.raw == {"title": "x", "tui": {"keys": {"quit": "q"}}}


# -- metric direction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("train/MSE", "min"),
        ("Loss", "min"),
        ("error_rate", "min"),
        ("test_error", "min"),
        ("perplexity", "min"),
        ("val_ppl", "max"),  # not a hint: list it under [metrics] minimize
        ("mae", "min"),
        ("rmse", "min"),
        ("nll", "min"),
        ("CER", "min"),
        ("wer", "min"),
        ("fid", "min"),
        ("kl_divergence", "min"),
        ("accuracy", "max"),
        ("acc", "max"),
        ("f1", "max"),
        ("bleu", "max"),
        ("reward", "max"),
        ("forgetting_rate", "max"),
        ("", "max"),
        # Substring matching is the seed's rule, so these are minimized too; override in config.
        ("confidence", "min"),  # con-fid-ence
        ("answer_accuracy", "min"),  # ans-wer
        ("power", "min"),
    ],
)
def test_heuristic_direction(name: str, direction: str) -> None:
    assert metric_direction(name, None) == direction
    assert metric_direction(name, parse("")) == direction


def test_every_hint_is_minimized() -> None:
    assert MINIMIZE_HINTS == (
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
    for hint in MINIMIZE_HINTS:
        assert metric_direction(f"val/{hint.upper()}_x", None) == "min"


def test_configured_direction_wins_and_is_exact() -> None:
    cfg = parse(
        "[metrics]\n"
        'minimize = ["forgetting_rate", "custom_loss"]\n'
        'maximize = ["custom_score", "confidence", "neg_loss"]\n'
    )
    assert metric_direction("forgetting_rate", cfg) == "min"
    assert metric_direction("custom_loss", cfg) == "min"
    assert metric_direction("custom_score", cfg) == "max"
    assert metric_direction("confidence", cfg) == "max"
    assert metric_direction("neg_loss", cfg) == "max"
    # exact names only: a different case or a prefix falls back to the heuristics
    assert metric_direction("Forgetting_Rate", cfg) == "max"
    assert metric_direction("val/neg_loss", cfg) == "min"
    assert cfg.metrics.direction("custom_score") == "max"
    assert cfg.metrics.direction("other") is None


# -- colors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(name, name) for name in COLOR_NAMES if name != "none"],
        ("none", None),
        ("None", None),
        ("RED", "red"),
        (" darkgray ", "darkgray"),
        ("#ff6600", "#ff6600"),
        ("#FF6600", "#ff6600"),
        ("#f60", "#ff6600"),
        ("#ABC", "#aabbcc"),
    ],
)
def test_parse_color(text: str, expected: str | None) -> None:
    assert parse_color(text) == expected


@pytest.mark.parametrize(
    "text", ["", "purple", "darkgrey", "#ff66", "#gg0000", "ff6600", "#ff66001"]
)
def test_bad_colors(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a color: use one of"):
        parse_color(text)


def test_bad_color_suggests() -> None:
    with pytest.raises(InvalidInput, match='did you mean "darkgray"'):
        parse_color("darkgrey")
    with pytest.raises(InvalidInput, match="is not a color"):
        parse_color(3)  # type: ignore[arg-type]


def test_color_names_are_the_seeds() -> None:
    assert COLOR_NAMES == (
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


# -- highlight rules ------------------------------------------------------------------------


def test_highlight_conditions() -> None:
    rule = HighlightRule(color="green", min=0.5, max=0.9)
    assert rule.matches(0.5)  # min is inclusive
    assert rule.matches(0.7)
    assert not rule.matches(0.9)  # max is exclusive
    assert not rule.matches(0.49)
    assert not rule.matches(math.nan)
    assert not rule.matches("0.7")  # numeric conditions need a number
    assert not rule.matches(True)
    assert not rule.matches(None)
    eq = HighlightRule(color="red", eq=0)
    assert eq.matches(0) and eq.matches(0.0) and eq.matches(-0.0) and not eq.matches(1e-12)
    pat = HighlightRule(color="red", pattern="NaN")
    assert pat.matches("NaN") and not pat.matches("nan")
    assert not pat.matches(math.nan)  # str(nan) is "nan": the TUI passes the text it shows
    assert pat.matches(0.5, text="NaN%") and not pat.matches("NaN", text="0.5")
    assert not pat.matches(None)
    both = HighlightRule(color="red", min=1, pattern="1")
    assert both.matches(1.5) and not both.matches(2.5) and not both.matches(0.1)
    assert HighlightRule(color=None).catch_all and HighlightRule(color=None).matches(object())
    assert not both.catch_all


def test_highlight_first_match_wins() -> None:
    tables = parse_tui(SEED_STYLE).tables
    assert tables.rule_for(0.0) == HighlightRule(color="darkgray", eq=0.0)
    assert tables.rule_for(0.95) == HighlightRule(color="green", min=0.9)
    assert tables.rule_for(0.6) == HighlightRule(color="#ff6600", min=0.5, max=0.9)
    assert tables.rule_for("NaN") == HighlightRule(color="red", pattern="NaN")
    catch_all = tables.rule_for(0.1)
    assert catch_all is not None and catch_all.color is None  # matched: terminal default color
    assert TablesConfig().rule_for(0.1) is None  # no rule at all


def test_numpy_numbers_are_numbers() -> None:
    np = pytest.importorskip("numpy")
    rule = HighlightRule(color="red", min=0.5)
    assert rule.matches(np.float32(0.75)) and rule.matches(np.int64(3))
    assert not rule.matches(np.float64(0.25))


# -- chart heights --------------------------------------------------------------------------


def test_auto_curve_height() -> None:
    assert [auto_curve_height(n) for n in range(7)] == [12, 12, 10, 8, 6, 6, 6]
