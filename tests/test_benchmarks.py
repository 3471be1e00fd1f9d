"""Smoke tests of the benchmark runner (examples/benchmarks/): it runs, its table and JSON are complete.

The runner goes through its command line in a subprocess (its peer modules
import each other by file name), on the tiny ``--quick`` sizes with one
repetition. Peers (torch, scikit-learn) are optional: a missing one is skipped
by the runner, and only what must always be there is required here. Nothing
here asserts on speed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import functional_nn as fnn

BENCH = Path(__file__).resolve().parents[1] / "examples" / "benchmarks"
ROWS = ("W1", "W2", "W3", "W4", "W4xor")


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _bench_module(name: str):
    """A module of examples/benchmarks under a private name (its own imports need the folder on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"_fnn_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--quick",
            "--reps",
            "1",
            "--no-end-to-end",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text()), done.stdout


def test_quick_run_has_every_workload_with_positive_timings(quick_run):
    results, _ = quick_run
    assert tuple(results["workloads"]) == ROWS
    for name, entry in results["workloads"].items():
        required = {"fit", "scan_vmap"} if name == "W4xor" else {"fit", "numpy", "loop", "scan"}
        assert required <= set(entry["impls"]), (name, sorted(entry["impls"]))
        for impl, m in entry["impls"].items():
            assert _positive(m["median_s"]) and all(_positive(t) for t in m["times_s"]), (
                name,
                impl,
                m,
            )
            if impl != "matmul_peak":  # the W3 yardstick trains nothing
                assert math.isfinite(m["quality"]["train_loss"]), (name, impl)
            if m.get("first_call_s") is not None:
                assert _positive(m["first_call_s"]) and m["compile_s"] >= 0
    run = _bench_module("run")
    for name, pairs in run.PAIRS.items():  # the paired ratios behind the targets of fast runs
        paired = results["workloads"][name]["paired"]
        assert set(paired) == {f"{a}/{b}" for a, b in pairs}, (name, paired)
        assert all(_positive(v) for v in paired.values()), (name, paired)
    assert "matmul_peak" in results["workloads"]["W3"]["impls"]
    assert _positive(results["workloads"]["W3"]["matmul_peak"]["flops_per_s"])
    for label in ("per_call", "in_scan"):
        assert _positive(results["step_ratio"][label]["ratio"])


def test_quick_run_prints_the_table_and_measures_every_target(quick_run):
    results, stdout = quick_run
    for name in ROWS:
        assert f"| {name}: " in stdout
    assert "| W1 | fit / torch eager" in stdout or "torch" not in results["peers"]
    needs_peer = ("torch",)
    for target in results["targets"]:
        if target["value"] is None:
            assert (
                any(p in target["target"] for p in needs_peer) and "torch" not in results["peers"]
            ), target
        else:
            assert _positive(target["value"]) and target["met"] in (True, False), target
    assert results["tables"] in stdout


def test_implementations_train_the_same_model(quick_run):
    """Same start, same order: fit, the JAX references, numpy and torch end at the same training loss."""
    results, _ = quick_run
    for name in ("W1", "W2", "W3", "W4"):
        impls = results["workloads"][name]["impls"]
        reference = impls["scan"]["quality"]["train_loss"]
        for impl in ("fit", "loop", "numpy", "torch"):
            if impl in impls:
                assert impls[impl]["quality"]["train_loss"] == pytest.approx(reference, rel=2e-3), (
                    name,
                    impl,
                )


def test_paired_ratio_times_each_call_of_a_pair_whichever_goes_first(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # harness imports workloads by file name
    harness = _bench_module("harness")
    clock = [0.0]
    cost = {"a": 3.0, "b": 1.0}
    order = []

    def call(name):
        order.append(name)
        clock[0] += cost[name] * (1 + len(order) / 100)  # a slow drift: pairs see it alike

    monkeypatch.setattr(harness, "MIN_PAIRS", 10)  # as many b-first pairs as a-first ones
    ratio = harness.paired_ratio(
        lambda: call("a"), lambda: call("b"), seconds=0.0, clock=lambda: clock[0]
    )
    assert order[:4] == ["a", "b", "b", "a"] and len(order) == 20
    assert ratio == pytest.approx(3.0, rel=0.05)


def test_shared_order_is_the_order_fit_uses():
    """The peers get fit's own per-epoch shuffles, drawn at once for all epochs."""
    workloads = _bench_module("workloads")
    problem = workloads.make_problem(workloads.QUICK["W1"], seed=3)
    m, k = problem.x.shape[0], problem.spec.batch
    for epoch in (0, 1, 7):
        rows, weights = fnn.batch_indices(problem.shuffle_key, epoch, m, k)
        np.testing.assert_array_equal(np.asarray(rows).reshape(-1), problem.orders[epoch])
        assert np.all(np.asarray(weights) == 1)
    assert [np.asarray(w).shape for w, _ in problem.init[0]] == [(2, 2), (2, 1)]
    np.testing.assert_array_equal(problem.init[0][0][0], np.asarray(problem.init_jax[0].w[0]))
    assert isinstance(problem.shuffle_key, jax.Array)


def test_end_to_end_child_reports_time_memory_and_accuracy():
    done = subprocess.run(
        [sys.executable, str(BENCH / "e2e.py"), "--kind", "numpy", "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("import_s", "end_to_end_s", "peak_rss_bytes", "tracemalloc_peak_bytes"):
        assert _positive(out[key]), (key, out)
    assert out["finite"] and 0 <= out["test_accuracy"] <= 1
