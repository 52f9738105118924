"""Docs that can drift from the code are checked against it."""

from __future__ import annotations

import re
from pathlib import Path

from extract.cli.reference import markdown

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    lines = (REPO / "README.md").read_text().splitlines()
    return [line.strip() for line in lines[1:6] if line.startswith("    ")]


def test_cli_reference_is_current() -> None:
    assert (REPO / "docs" / "cli.md").read_text() == markdown(), (
        "docs/cli.md is stale: run `python -m extract.cli.reference > docs/cli.md`"
    )


def test_readme_opens_with_the_two_commands() -> None:
    demo, tests = readme_commands()
    assert "examples/demo.py" in demo
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_relative_links_resolve() -> None:
    for doc in [
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        *(REPO / "objects_spec").glob("*.md"),
    ]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
