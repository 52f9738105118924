from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from extract.store.repo import Repository

# Fixed profiles: CI runs the same number of examples every time, without deadlines
# that a loaded 2-core machine would trip.
settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile("default")


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository.init(tmp_path / ".extract", ("benchmark", "model"))
