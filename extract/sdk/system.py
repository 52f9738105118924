"""System metrics: a background thread samples the machine into ``system/`` curves.

While a run is live, every ``interval`` seconds (config.toml ``[system] interval``,
default 1), and once more as it finishes, one sample is taken and logged as curve
points at step 0, 1, 2, ... (their wall times give the time axis):

- ``system/cpu_percent`` (the machine, 0-100), ``system/process_cpu_percent`` (this
  process, 0-100 of the whole machine), ``system/process_threads``;
- ``system/memory_percent``, ``system/memory_used_mb`` (the machine),
  ``system/process_rss_mb``;
- ``system/disk_read_mb_s``, ``system/disk_write_mb_s`` (physical disks, not loop or
  RAM devices), ``system/net_recv_mb_s``, ``system/net_sent_mb_s`` (not loopback);
- for every NVIDIA GPU ``i`` that NVML (the ``nvidia-ml-py`` package and a driver)
  reports: ``system/gpu{i}/utilization``, ``memory_percent``, ``memory_used_mb``,
  ``temperature_c``, ``power_w``. Without NVML, a driver or a GPU there are none.

One sample costs about 1 ms of one core (psutil reads /proc), so at the default
interval the sampler takes about 0.1% of a core; docs/performance.md has the measured
cost on a ``run.curve`` loop. It is off with ``experiment.run(system_metrics=False)``,
``EXTRACT_SYSTEM_METRICS=0`` in the environment, or ``[system] metrics = false`` in
config.toml (the first of these that is set decides). A sampler that fails stops quietly: system
metrics never fail a run.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from extract.sdk.run import Run
    from extract.store.config import Config

PREFIX = "system/"
#: ``EXTRACT_SYSTEM_METRICS=0`` turns the sampler off for a process (and ``1`` on),
#: between ``system_metrics=`` (which wins) and config.toml.
ENV = "EXTRACT_SYSTEM_METRICS"
MB = 1024 * 1024
_SKIP_DISKS = ("loop", "ram", "zram", "dm-", "sr")


def start_sampler(run: Run, config: Config, enabled: bool | None) -> threading.Thread | None:
    """Start sampling ``run`` unless switched off (``enabled`` wins over config.toml)."""
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"run(): system_metrics must be True, False or None, got {enabled!r}")
    env = os.environ.get(ENV, "").strip().lower()
    if enabled is not None:
        on = enabled
    elif env:
        on = env not in ("0", "false", "no", "off")
    else:
        on = config.system.metrics
    if not on:
        return None
    try:
        # here, not in the thread: a training loop holding the GIL makes every step of
        # an import in another thread wait its turn; psutil's (40 ms) took 2 s there
        ticker = _Ticker(weakref.ref(run), Sampler())
    except Exception:  # psutil missing, /proc unreadable: no system metrics, the run goes on
        return None
    # the last, partial interval is sampled as the run finishes, so a run shorter than
    # the interval (or one whose sampler thread the training loop kept waiting) has one
    run._before_finish.append(ticker.last)
    thread = threading.Thread(
        target=ticker.loop, args=(config.system.interval,), name="extract-system", daemon=True
    )
    thread.start()
    return thread


class _Ticker:
    """Takes the samples of one run: every ``interval`` in its thread, and once at finish."""

    def __init__(self, ref: weakref.ref[Run], sample: Sampler) -> None:
        self.ref = ref
        self.sample = sample
        run = ref()
        # a resumed run's system curves go on after the steps they reached before
        self.step = 0 if run is None else run._next_system_step
        self.last_at = time.monotonic()
        self.lock = threading.Lock()  # the thread and finish() must not sample at once
        self.stopped = False

    def tick(self) -> None:
        with self.lock:
            run = self.ref()
            if self.stopped or run is None:
                return
            try:
                values = self.sample()
                if not run._sampled(self.step, values):
                    self.stopped = True
                    return
            except Exception:  # system metrics never fail a run: the sampler just stops
                self.stopped = True
                return
            self.step += 1
            self.last_at = time.monotonic()

    def last(self) -> None:
        """finish(): sample the interval since the last sample, unless it is too short to
        give a meaningful CPU percentage or rate."""
        if time.monotonic() - self.last_at >= 0.1:
            self.tick()
        self.stopped = True

    def loop(self, interval: float) -> None:
        self.sample.gpus = _nvml_devices()  # in the thread: NVML's start can take a while
        next_at = time.monotonic() + interval
        while not self.stopped:
            # Wake often enough to notice the run finished, without a hook in finish().
            time.sleep(max(0.0, min(0.25, next_at - time.monotonic())))
            run = self.ref()
            if run is None or run._finished:
                return
            del run
            if time.monotonic() < next_at:
                continue
            next_at += interval
            if next_at < time.monotonic():  # fell behind (a suspended process): skip, don't burst
                next_at = time.monotonic() + interval
            self.tick()


class Sampler:
    """One sample of the machine, as ``system/`` curve values; rates against the last one."""

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.process = psutil.Process(os.getpid())
        self.ncpu = psutil.cpu_count() or 1
        # the machine's CPU from this sampler's own last reading: psutil.cpu_percent(None)
        # keeps one reading per process, which two live runs' samplers would share
        self.last_cpu = _busy(psutil.cpu_times())
        self.process.cpu_percent(None)  # the first call only primes (per Process object)
        self.last_t = time.monotonic()
        self.last_io = self._io()
        self.gpus: list[tuple[Any, Any]] = []

    def _io(self) -> dict[str, float]:
        """Byte counters so far, by the name of the rate curve they give. A container
        with no /proc/diskstats or /proc/net/dev has no disk or network curves (not
        curves of zeros); the other curves go on."""
        out: dict[str, float] = {}
        try:
            disks = self.psutil.disk_io_counters(perdisk=True) or {}
            real = [d for n, d in disks.items() if not n.startswith(_SKIP_DISKS)]
            out["system/disk_read_mb_s"] = float(sum(d.read_bytes for d in real))
            out["system/disk_write_mb_s"] = float(sum(d.write_bytes for d in real))
        except Exception:
            pass
        try:
            nics = self.psutil.net_io_counters(pernic=True) or {}
            out["system/net_recv_mb_s"] = float(
                sum(c.bytes_recv for n, c in nics.items() if n != "lo")
            )
            out["system/net_sent_mb_s"] = float(
                sum(c.bytes_sent for n, c in nics.items() if n != "lo")
            )
        except Exception:
            pass
        return out

    def _machine_cpu(self) -> float:
        busy, total = _busy(self.psutil.cpu_times())
        (last_busy, last_total), self.last_cpu = self.last_cpu, (busy, total)
        if total <= last_total:
            return 0.0
        return min(100.0, max(0.0, 100.0 * (busy - last_busy) / (total - last_total)))

    def __call__(self) -> dict[str, float]:
        p = self.psutil
        with self.process.oneshot():
            proc_cpu = self.process.cpu_percent(None) / self.ncpu
            rss = self.process.memory_info().rss
            threads = self.process.num_threads()
        mem = p.virtual_memory()
        now = time.monotonic()
        io = self._io()
        dt = max(now - self.last_t, 1e-9)
        out = {
            "system/cpu_percent": self._machine_cpu(),
            "system/process_cpu_percent": float(proc_cpu),
            "system/process_threads": float(threads),
            "system/memory_percent": float(mem.percent),
            "system/memory_used_mb": (mem.total - mem.available) / MB,
            "system/process_rss_mb": rss / MB,
        }
        for name, total in io.items():
            if name in self.last_io:
                out[name] = max(0.0, (total - self.last_io[name]) / dt / MB)
        self.last_t, self.last_io = now, io
        for i, (nvml, handle) in enumerate(self.gpus):
            out.update(_gpu_sample(nvml, handle, f"system/gpu{i}/"))
        return out


def _busy(times: Any) -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine; idle and I/O wait are not busy, and
    guest time is already counted in user time (as psutil.cpu_percent counts it)."""
    fields = times._asdict()
    total = sum(v for k, v in fields.items() if k not in ("guest", "guest_nice"))
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    return total - idle, total


def _nvml_devices() -> list[tuple[Any, Any]]:
    """NVML device handles, or none: no nvidia-ml-py, no driver, or no GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return [
            (pynvml, pynvml.nvmlDeviceGetHandleByIndex(i))
            for i in range(pynvml.nvmlDeviceGetCount())
        ]
    except Exception:  # ImportError, NVMLError_LibraryNotFound, DriverNotLoaded...
        return []


def _gpu_sample(nvml: Any, handle: Any, prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    reads: list[tuple[str, Callable[[], float]]] = [
        ("utilization", lambda: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)),
        ("temperature_c", lambda: float(nvml.nvmlDeviceGetTemperature(handle, 0))),
        ("power_w", lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
    ]
    for name, read in reads:
        try:  # a GPU without a power sensor, say: that value is left out
            out[prefix + name] = read()
        except Exception:
            continue
    try:
        mem = nvml.nvmlDeviceGetMemoryInfo(handle)
        out[prefix + "memory_used_mb"] = mem.used / MB
        out[prefix + "memory_percent"] = 100.0 * mem.used / max(mem.total, 1)
    except Exception:
        pass
    return out
