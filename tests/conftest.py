from __future__ import annotations

import compileall
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from extract.store.repo import Repository
from extract.store.writelock import STRICT_ENV

# Fixed profiles: CI runs the same number of examples every time, without deadlines
# that a loaded 2-core machine would trip.
settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile("default")

# Every object written outside a write transaction is an error in the suite (and in the
# subprocesses it starts, which inherit the environment): such a write could race gc.
os.environ[STRICT_ENV] = "1"

# The system-metrics sampler would add system/ curves to any run that lives past its
# first interval, which tests of exact journals and curves do not expect; the tests of
# the sampler (test_system_metrics.py) turn it on themselves.
os.environ["EXTRACT_SYSTEM_METRICS"] = "0"


@pytest.fixture
def lax_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """For unit tests of the object store itself, which write objects as a test's raw
    material rather than as a writer racing gc."""
    monkeypatch.delenv(STRICT_ENV)


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository.init(tmp_path / ".extract", ("benchmark", "model"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile extract's modules once. The suite starts a new interpreter for about a
    thousand CLI calls and worker scripts; where PYTHONDONTWRITEBYTECODE is set (as on
    this project's machines) each of them would otherwise compile every module it
    imports again, about 0.15 s a call."""
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "extract", quiet=1)
