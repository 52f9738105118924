"""The system-metrics sampler: on by default, system/ curves of a live run, and its switches."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from extract.errors import ConfigError
from extract.sdk import Store
from extract.sdk.system import Sampler
from extract.store.config import parse
from extract.store.repo import Repository

SPEC = {"benchmark": "b", "model": "m"}


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXTRACT_SYSTEM_METRICS")  # the suite's default (conftest) is off
    Repository.init(tmp_path / ".extract", ("benchmark", "model"))
    return tmp_path / ".extract"


def three_second_run(root: Path, system_metrics: bool | None = None) -> dict[str, int]:
    """A run that trains (a busy loop) for 3 seconds; its curves' point counts."""
    with Store(root) as store:
        with store.experiment(SPEC).run(system_metrics=system_metrics) as run:
            end = time.monotonic() + 3.0
            step = 0
            while time.monotonic() < end:
                sum(i * i for i in range(2000))
                run.curve(step, loss=1.0 / (step + 1))
                step += 1
        return {name: len(c[0]) for name, c in store.load_run(run.id).curves().items()}


def test_a_three_second_run_has_cpu_and_memory_curves_by_default(root: Path) -> None:
    counts = three_second_run(root)
    for name in (
        "system/cpu_percent",
        "system/process_cpu_percent",
        "system/memory_percent",
        "system/memory_used_mb",
        "system/process_rss_mb",
    ):
        assert counts.get(name, 0) >= 1, sorted(counts)
    assert counts["loss"] > 10  # the run's own curve is untouched
    assert not any(k.startswith("system/gpu") for k in counts)  # no GPU here: none, no error


def test_config_toml_switches_the_sampler_off(root: Path) -> None:
    with (root / "config.toml").open("a") as f:
        f.write("\n[system]\nmetrics = false\n")
    counts = three_second_run(root)
    assert sorted(counts) == ["loss"]


def test_the_sdk_switch_wins_over_config_toml(root: Path) -> None:
    assert sorted(three_second_run(root, system_metrics=False)) == ["loss"]
    with (root / "config.toml").open("a") as f:
        f.write("\n[system]\nmetrics = false\ninterval = 0.5\n")
    assert "system/cpu_percent" in three_second_run(root, system_metrics=True)


def test_a_sample_holds_sane_values() -> None:
    sample = Sampler()
    values = sample()
    assert 0 <= values["system/cpu_percent"] <= 100
    assert 0 < values["system/memory_percent"] <= 100
    assert values["system/process_rss_mb"] > 1
    assert values["system/process_threads"] >= 1
    assert all(values[k] >= 0 for k in values if k.endswith("_mb_s"))


def test_system_section_of_config_toml_is_checked() -> None:
    cfg = parse('[store]\nhierarchy = "a"\n[system]\ninterval = 5\n')
    assert (cfg.system.metrics, cfg.system.interval) == (True, 5.0)
    with pytest.raises(ConfigError, match="interval"):
        parse("[system]\ninterval = 0\n")
    with pytest.raises(ConfigError, match="metrics"):
        parse('[system]\nmetrics = "no"\n')
    with pytest.raises(ConfigError, match="sample"):
        parse("[system]\nsample = 1\n")


def test_a_run_shorter_than_the_interval_is_sampled_once_as_it_finishes(root: Path) -> None:
    with (root / "config.toml").open("a") as f:
        f.write("\n[system]\ninterval = 600\n")
    with Store(root) as store:
        with store.experiment(SPEC).run() as run:
            run.curve(0, loss=1.0)
            time.sleep(0.3)
        curves = store.load_run(run.id).curves()
    for name in ("system/cpu_percent", "system/memory_used_mb", "system/process_rss_mb"):
        steps, values = curves[name][0], curves[name][1]
        assert list(steps) == [0], name
        assert values[0] >= 0


def test_without_disk_or_network_counters_those_curves_are_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psutil

    def missing(*args: object, **kwargs: object) -> object:
        # what psutil raises in a container with no /proc/diskstats and no /sys/block
        raise NotImplementedError("/proc/diskstats nor /sys/block are available")

    monkeypatch.setattr(psutil, "disk_io_counters", missing)
    monkeypatch.setattr(psutil, "net_io_counters", missing)
    values = Sampler()()
    assert not any(k.startswith(("system/disk", "system/net")) for k in values)
    assert values["system/memory_percent"] > 0  # the rest is sampled as ever


def test_two_samplers_in_one_process_each_measure_the_machine_since_their_own_last_sample() -> None:
    # psutil.cpu_percent(None) keeps one reading per process: the second of two live
    # runs' samplers read it just after the first and got the CPU of ~0 s
    first, second = Sampler(), Sampler()
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        sum(i * i for i in range(1000))
    a, b = first()["system/cpu_percent"], second()["system/cpu_percent"]
    assert a > 0 and b > 0 and abs(a - b) < 30, (a, b)
