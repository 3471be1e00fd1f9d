"""Timing, memory and reporting for the benchmark runner.

Every implementation of a workload is prepared first (data on the device,
weights converted, programs jitted: setup, not timed), then warmed up (a JAX
implementation's first call compiles and is timed separately as
``first_call_s``; a peer trains one epoch so its libraries are loaded), then
the timed repetitions run *interleaved*: repetition ``r`` visits every
implementation, starting at a rotating offset, so a background load that comes
and goes hits all of them alike. The reported figure is the median.

A JAX implementation's compile time is measured the same way: after the timed
repetitions, each round clears JAX's caches (``jax.clear_caches()``, no persistent
cache in the runner) and calls every compiled implementation once, in rotating
order; ``compile_s`` is the median of those calls minus the median run. The very
first call of the process, ``first_call_s``, also pays the process's one-time
warm-up, which falls on whichever implementation happens to be first, so it is
reported but not compared.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from workloads import NumpyParams, Problem, evaluate, to_numpy, unstack


@dataclasses.dataclass
class Impl:
    """One way of training a workload.

    ``prepare(problem)`` does the untimed setup and returns ``run()``, which
    trains every model of the workload (or, with ``scale != 1``, a subset whose
    time is multiplied by ``scale``) and returns the final params.
    """

    name: str  # key in the JSON: fit, fit_seq, torch, numpy, ...
    prepare: Callable[[Problem], Callable[[], Any]]
    compiled: bool = False  # JAX: the first call compiles
    warm_up: Callable[[Problem], None] | None = None
    scale: float = 1.0  # time multiplier for an extrapolated subset
    note: str = ""
    trains: bool = True  # False: a yardstick (the W3 matmul peak), no params to check


@dataclasses.dataclass
class Measurement:
    name: str
    times_s: list[float]  # every timed repetition, unscaled
    median_s: float  # median, times `scale`
    first_call_s: float | None = None  # JAX: the first call, compilation included
    compile_s: float | None = None  # median call after jax.clear_caches() minus the median run
    quality: dict = dataclasses.field(
        default_factory=dict
    )  # train_loss, test_accuracy (first model)
    scale: float = 1.0
    note: str = ""


def as_models(result) -> list[NumpyParams]:
    """A run's result as one numpy param list per model (stacked JAX params are split)."""
    if isinstance(result, list):
        return [m if isinstance(m, list) else to_numpy(m) for m in result]
    return unstack(result)


#: A repetition of a run shorter than this is the median of calls filling about this long.
SHORT_S = 0.1
MAX_CALLS = 50


def measure(
    problem: Problem,
    impls: list[Impl],
    reps: int,
    log: Callable[[str], None] = print,
    pairs: tuple[tuple[str, str], ...] = (),
    pair_seconds: float = 3.0,
) -> tuple[dict[str, Measurement], dict[str, float]]:
    """Prepare, warm up and time ``impls`` on ``problem``, interleaved.

    Returns the medians per name, and for each ``(a, b)`` of ``pairs`` the paired time
    ratio ``a / b`` (:func:`paired_ratio`, for about ``pair_seconds``) under the key ``"a/b"``.
    """
    runs: dict[str, Callable[[], Any]] = {}
    first: dict[str, float] = {}
    for impl in impls:
        runs[impl.name] = impl.prepare(problem)
        if impl.compiled:
            t0 = time.perf_counter()
            runs[impl.name]()
            first[impl.name] = time.perf_counter() - t0
        elif impl.warm_up is not None:
            impl.warm_up(problem)
    times: dict[str, list[float]] = {impl.name: [] for impl in impls}
    last: dict[str, Any] = {}
    for r in range(reps):
        for impl in _rotated(impls, r):
            t0 = time.perf_counter()
            last[impl.name] = runs[impl.name]()
            elapsed = time.perf_counter() - t0
            if elapsed < SHORT_S:  # a run of milliseconds: one call is noise; the median of many
                calls = [elapsed]
                while len(calls) < MAX_CALLS and sum(calls) < SHORT_S:
                    t0 = time.perf_counter()
                    runs[impl.name]()
                    calls.append(time.perf_counter() - t0)
                elapsed = statistics.median(calls)
            times[impl.name].append(elapsed)
        log(
            f"  {problem.spec.name} repetition {r + 1}/{reps}: "
            + ", ".join(f"{name} {ts[-1]:.3g}s" for name, ts in times.items())
        )
    recompiles = _recompile_times([impl for impl in impls if impl.compiled], runs, reps)
    out = {}
    for impl in impls:
        median = statistics.median(times[impl.name])
        m = Measurement(
            impl.name, times[impl.name], median * impl.scale, scale=impl.scale, note=impl.note
        )
        if impl.name in first:
            m.first_call_s = first[impl.name]
            m.compile_s = max(statistics.median(recompiles[impl.name]) - median, 0.0)
        if impl.trains:
            m.quality = evaluate(problem, as_models(last[impl.name])[0])
        out[impl.name] = m
    paired = {}
    for a, b in pairs:  # each side of a pair: as many calls as the slower fills PAIR_BLOCK_S with
        slower = max(statistics.median(times[a]), statistics.median(times[b]))
        calls = max(1, round(PAIR_BLOCK_S / slower))
        paired[f"{a}/{b}"] = paired_ratio(
            _repeated(runs[a], calls), _repeated(runs[b], calls), pair_seconds
        )
    return out, paired


#: A paired ratio takes at least MIN_PAIRS and at most MAX_PAIRS pairs.
MIN_PAIRS, MAX_PAIRS = 9, 300
#: Each side of a pair is a block of as many calls as take the slower program about this many
#: seconds (one call of a longer run): alternating single calls of a 2 ms run charges each
#: call for the other program's leftovers in the caches (W1's fit: 0.74 paired call by call,
#: 0.76 in blocks of 20 calls).
PAIR_BLOCK_S = 0.02


def _repeated(run: Callable[[], Any], calls: int) -> Callable[[], None]:
    def block() -> None:
        for _ in range(calls):
            run()

    return block


def paired_ratio(
    a: Callable[[], Any],
    b: Callable[[], Any],
    seconds: float,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The median over pairs of back-to-back calls of ``time(a) / time(b)`` (which goes first
    alternates), for about ``seconds`` of ``clock``.

    The two calls of a pair meet the same moment of the machine, so a load that comes
    and goes cancels in their ratio; in a ratio of two medians taken apart it does not
    (W2's checkpoint overhead read 1.09-1.17 from medians of three repetitions of one
    and the same code, 1.08-1.10 paired).
    """
    ratios: list[float] = []
    start = clock()
    while len(ratios) < MAX_PAIRS and (len(ratios) < MIN_PAIRS or clock() - start < seconds):
        first, second = (a, b) if len(ratios) % 2 == 0 else (b, a)
        t0 = clock()
        first()
        t1 = clock()
        second()
        t2 = clock()
        ta, tb = (t1 - t0, t2 - t1) if first is a else (t2 - t1, t1 - t0)
        ratios.append(ta / tb)
    return statistics.median(ratios)


def _rotated(impls: list[Impl], r: int) -> list[Impl]:
    """Round ``r``'s order: every implementation, starting at a rotating offset."""
    return impls[r % len(impls) :] + impls[: r % len(impls)]


def _recompile_times(
    impls: list[Impl], runs: dict[str, Callable[[], Any]], rounds: int
) -> dict[str, list[float]]:
    """Each compiled implementation's call right after ``jax.clear_caches()``, ``rounds`` times, interleaved."""
    out: dict[str, list[float]] = {impl.name: [] for impl in impls}
    for r in range(rounds):
        for impl in _rotated(impls, r):
            jax.clear_caches()
            t0 = time.perf_counter()
            runs[impl.name]()
            out[impl.name].append(time.perf_counter() - t0)
    return out


def median_call_s(fn: Callable[[], Any], calls: int) -> float:
    """Median wall time of ``calls`` calls of ``fn`` (which must block until its result is ready)."""
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def machine() -> dict:
    """Where the numbers come from: CPU, cores, load, library versions."""
    import os

    import jax

    info = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "numpy": np.__version__,
    }
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peak_rss_bytes() -> int | None:
    """The process's peak resident set size in bytes.

    Linux: ``VmHWM`` from ``/proc/self/status``, the high-water mark of this
    program's memory. ``getrusage``'s ``ru_maxrss`` survives ``exec`` there, so a
    child started by a large parent would report the parent's peak. Elsewhere
    ``getrusage`` (KiB on Linux, bytes on macOS); ``None`` where neither exists.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if platform.system() == "Darwin" else int(peak) * 1024


def device_peak_bytes() -> int | None:
    """``peak_bytes_in_use`` of the default device, where the backend reports it (GPU/TPU; not CPU)."""
    import jax

    stats = jax.devices()[0].memory_stats()
    return None if not stats else stats.get("peak_bytes_in_use")


# --- formatting -------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    """``1.7e+07`` -> ``1.7e7``; None -> an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if 1e3 <= abs(value) < 1e4:
        return f"{value:.0f}"
    if value == 0 or 1e-2 <= abs(value) < 1e3:
        return f"{value:.{digits + 1}g}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
