"""[info] fields globs over flattened config keys (docs/configuration.md, [info]): the
pattern syntax on wcmatch (display/fields.py), and flatten_config (store/flatten.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from extract.display.fields import FieldFilter, compile_glob
from extract.errors import InvalidInput
from extract.store.flatten import flatten_config


def glob_match(pattern: str, key: str) -> bool:
    """Whether the dotted ``key`` matches the positive ``pattern``."""
    return compile_glob(pattern).matches(key)


def match_fields(keys: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """The ``keys`` that ``patterns`` selects, in the order of ``keys``."""
    return FieldFilter(patterns).select(keys)


# The seed's table, row for row: pattern, keys it matches, keys it does not match.
SEED_TABLE = [
    ("method.*", ["method.name", "method.lora_r"], ["method.deep.nested"]),
    ("method.**", ["method.name", "method.deep.nested"], ["model.name"]),
    ("*.name", ["method.name", "model.name"], ["method.deep.name"]),
    ("**.name", ["method.name", "method.deep.name"], ["method.lora_r"]),
    ("method.lora_*", ["method.lora_r", "method.lora_alpha"], ["method.name"]),
    ("method.lora_?", ["method.lora_r"], ["method.lora_alpha"]),
    ("{method,model}.*", ["method.name", "model.name"], ["task.name"]),
]
SEED_ROWS = [(p, k, True) for p, yes, _ in SEED_TABLE for k in yes] + [
    (p, k, False) for p, _, no in SEED_TABLE for k in no
]


@pytest.mark.parametrize(("pattern", "key", "expected"), SEED_ROWS)
def test_seed_table(pattern: str, key: str, expected: bool) -> None:
    assert glob_match(pattern, key) is expected
    assert match_fields([key], [pattern]) == ([key] if expected else [])


def test_seed_negation_row() -> None:
    keys = ["method.name", "method.parent", "task.name"]
    assert match_fields(keys, ["!method.parent"]) == ["method.name", "task.name"]


def test_seed_combined_example() -> None:
    keys = ["method.name", "method.parent", "method.deep.x", "task.name", "lr"]
    assert match_fields(keys, ["method.**", "!method.parent"]) == ["method.name", "method.deep.x"]


def test_empty_patterns_show_everything_in_input_order() -> None:
    keys = ["z", "a.b", "m"]
    assert match_fields(keys, []) == keys
    assert match_fields(iter(keys), ()) == keys


def test_output_follows_key_order_not_pattern_order() -> None:
    keys = ["task.name", "lr", "method.name"]
    assert match_fields(keys, ["method.*", "lr", "task.*"]) == keys


def test_exclusion_wins_wherever_it_stands() -> None:
    keys = ["method.name", "method.parent"]
    assert match_fields(keys, ["!method.parent", "method.*"]) == ["method.name"]
    assert match_fields(keys, ["method.parent", "!method.*"]) == []


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        # ** as a whole segment: leading or middle may be empty, trailing needs one segment
        ("**.name", "name", True),
        ("a.**.b", "a.b", True),
        ("a.**.b", "a.x.y.b", True),
        ("a.**.b", "a.x.y.c", False),
        ("method.**", "method", False),
        ("**", "anything.at.all", True),
        ("**", "top", True),
        ("**.**", "a", True),
        ("a.**.**", "a.b", True),
        ("a.**.**", "a", False),
        # ** inside a segment is just *
        ("a**", "abc", True),
        ("a**", "abc.d", False),
        # * and ? never cross a dot, * may be empty
        ("*", "a.b", False),
        ("method.lora_*", "method.lora_", True),
        ("?", "", False),
        ("a?c", "a.c", False),
        # alternation: nests, holds dots, may be empty
        ("{a,b{c,d}}.x", "bd.x", True),
        ("{a,b{c,d}}.x", "b.x", False),
        ("{method.,}name", "name", True),
        ("{method.,}name", "method.name", True),
        ("x{a,}", "x", True),
        # outside braces a comma is an ordinary character
        ("a,b", "a,b", True),
        # escapes and other characters are literal; case matters
        ("a\\*", "a*", True),
        ("a\\*", "ab", False),
        ("\\{a,b\\}", "{a,b}", True),
        ("layer[0]", "layer[0]", True),
        ("Method.*", "method.name", False),
    ],
)
def test_semantics(pattern: str, key: str, expected: bool) -> None:
    assert glob_match(pattern, key) is expected


def test_escaped_bang_is_a_positive_pattern() -> None:
    assert match_fields(["!x", "x"], ["\\!x"]) == ["!x"]
    assert match_fields(["!x", "x"], ["!!x"]) == ["x"]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("", "it is empty"),
        ("!", "must be followed by the pattern"),
        ("{a,b", "never closed"),
        ("a}", "no matching"),
        ("a..b", "empty segment"),
        (".a", "empty segment"),
        ("a.", "empty segment"),
        ("{a,}.b", "empty segment"),
        ("a\\", "lone"),
        ("{a,b}" * 11, "more than 1024"),
    ],
)
def test_bad_patterns(pattern: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(why)):
        match_fields(["a"], [pattern])


def test_patterns_must_be_a_list() -> None:
    with pytest.raises(InvalidInput, match="not the single string"):
        match_fields(["a"], "a.*")
    with pytest.raises(InvalidInput, match="must be a string"):
        FieldFilter([3])  # type: ignore[list-item]


def test_filter_object() -> None:
    f = FieldFilter(["method.*", "!method.parent"])
    assert f("method.name") and not f("method.parent") and not f("lr")
    assert f.select(["lr", "method.x"]) == ["method.x"]
    assert compile_glob("a.b") is compile_glob("a.b")  # cached


# -- flatten_config ----------------------------------------------------------------------


def test_flatten_config() -> None:
    config = {
        "lr": 0.001,
        "method": {"name": "lora", "lora_r": 8, "deep": {"nested": True}},
        "layers": [1, {"x": 2}],
        "empty": {},
        "task": {"num_train_epochs": 3},
    }
    assert flatten_config(config) == {
        "lr": 0.001,
        "method.name": "lora",
        "method.lora_r": 8,
        "method.deep.nested": True,
        "layers": [1, {"x": 2}],
        "empty": {},
        "task.num_train_epochs": 3,
    }
    assert list(flatten_config(config)) == [
        "lr",
        "method.name",
        "method.lora_r",
        "method.deep.nested",
        "layers",
        "empty",
        "task.num_train_epochs",
    ]


def test_flatten_edge_cases() -> None:
    assert flatten_config(None) == {}
    assert flatten_config({}) == {}
    assert flatten_config({"a.b": 1, "a": {"b": 2}}) == {"a.b": 2}  # later wins
    deep: dict[str, Any] = {"v": 1}
    for _ in range(3000):  # deeper than Python's recursion limit
        deep = {"d": deep}
    assert flatten_config(deep) == {".".join(["d"] * 3000 + ["v"]): 1}
    with pytest.raises(InvalidInput, match="must be a dict"):
        flatten_config([1, 2])  # type: ignore[arg-type]


def test_flatten_then_filter_like_the_info_tab() -> None:
    config = {"method": {"name": "lora", "parent": "base", "lora_r": 8}, "seed": 1}
    keys = match_fields(flatten_config(config), ["method.**", "!method.parent"])
    assert keys == ["method.name", "method.lora_r"]


# -- properties --------------------------------------------------------------------------

SEGMENT_PATTERNS = ["a", "b", "ab", "*", "?", "a*", "*b", "?b", "**"]
KEY_SEGMENTS = ["a", "b", "ab", "ba", "aab", "x"]


def oracle(segments: list[str]) -> re.Pattern[str]:
    """An independent reading of the rules, as one regex over the key plus a final dot."""
    out = ""
    last = len(segments) - 1
    for i, s in enumerate(segments):
        if s == "**":
            out += r"(?:[^.]*\.)+" if (i == last and i > 0) else r"(?:[^.]*\.)*"
        else:
            chars = ("[^.]*" if c == "*" else "[^.]" if c == "?" else re.escape(c) for c in s)
            out += "".join(chars) + r"\."
    return re.compile(out)


@given(
    st.lists(st.sampled_from(SEGMENT_PATTERNS), min_size=1, max_size=5),
    st.lists(st.sampled_from(KEY_SEGMENTS), min_size=1, max_size=6),
)
def test_matches_the_regex_oracle(segments: list[str], key_segments: list[str]) -> None:
    pattern, key = ".".join(segments), ".".join(key_segments)
    assert glob_match(pattern, key) is bool(oracle(segments).fullmatch(key + ".")), (pattern, key)


keys_strategy = st.lists(
    st.lists(st.sampled_from(KEY_SEGMENTS), min_size=1, max_size=4).map(".".join),
    max_size=12,
)
patterns_strategy = st.lists(
    st.tuples(
        st.booleans(),
        st.lists(st.sampled_from(SEGMENT_PATTERNS), min_size=1, max_size=3).map(".".join),
    ).map(lambda t: ("!" if t[0] else "") + t[1]),
    max_size=4,
)


@given(keys_strategy, patterns_strategy)
def test_selection_rule(keys: list[str], patterns: list[str]) -> None:
    positive = [p for p in patterns if not p.startswith("!")]
    negative = [p[1:] for p in patterns if p.startswith("!")]
    expected = [
        k
        for k in keys
        if (not positive or any(glob_match(p, k) for p in positive))
        and not any(glob_match(n, k) for n in negative)
    ]
    assert match_fields(keys, patterns) == expected


@given(st.lists(st.text(alphabet="ab*?{},!\\[]xy", min_size=1, max_size=5), min_size=1, max_size=4))
def test_escaped_keys_match_themselves(segments: list[str]) -> None:
    key = ".".join(segments)
    escaped = ".".join(re.sub(r"([*?{},!\\])", r"\\\1", s) for s in segments)
    assert glob_match(escaped, key)
    assert match_fields([key, key + "z"], [escaped]) == [key]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet="abc_", min_size=1, max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(alphabet="abc_", min_size=1, max_size=3), json_values, max_size=4))
def test_flatten_keeps_every_leaf(config: dict[str, Any]) -> None:
    flat = flatten_config(config)
    for key, value in flat.items():
        node: Any = config
        for part in key.split("."):
            node = node[part]
        assert node == value
        assert not (isinstance(value, dict) and value)
    assert match_fields(flat, ["**"]) == list(flat)
