"""[store] auto_commit: every finished run is committed at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract import Store
from extract.store.history import head_state, list_staged
from extract.store.repo import Repository


def test_auto_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repo = Repository.init(tmp_path / ".extract", ("exp",))
    with open(repo.config_path, "a") as f:
        f.write("auto_commit = true\n")  # still inside [store], the last table of the file
    with Store(repo.root) as store:
        with store.experiment({"exp": "a"}).run(name="one") as run:
            run.log(acc=1.0)
        head, state = head_state(Repository(repo.root))
        assert head is not None and run.id in state.sections["runs"]
        assert not [s for s in list_staged(repo) if s.section == "runs"]


def test_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repo = Repository.init(tmp_path / ".extract", ("exp",))
    with Store(repo.root) as store, store.experiment({"exp": "a"}).run(name="one"):
        pass
    assert head_state(repo)[0] is None
    assert [s.section for s in list_staged(repo)].count("runs") == 1
