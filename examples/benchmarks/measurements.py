"""The runner's side measurements: the matmul peak (W3), the engines' step ratio, W2 end to end."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

import functional_nn as fnn

from workloads import Problem, glorot_uniform, to_jax


def prepare_matmuls(problem: Problem):
    """``run()``: the matmuls of every training step of ``problem`` and nothing else (the W3 peak).

    One jitted function does exactly a step's matmuls, with the step's shapes
    and transposes: ``a @ w`` per layer (forward), ``aᵀ @ δ`` per layer
    (``∂J/∂w``), ``δ @ wᵀ`` below every layer but the first; ``run()`` calls it
    once per update of the workload. No activations, no updates: this is the
    most a training step can reach with XLA's float32 matmuls on this device.
    It is timed interleaved with the implementations, under the same load.
    """
    spec = problem.spec
    k, sizes = spec.batch, spec.layer_sizes
    rng = np.random.default_rng(1)
    acts = [
        jax.device_put(rng.standard_normal((k, n), np.float32)) for n in sizes
    ]  # a^0 .. a^L  (K, n_l)
    weights = [
        jax.device_put(rng.standard_normal((n_in, n_out), np.float32))
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    ]

    @jax.jit
    def matmuls(acts, weights):
        forward = [a @ w for a, w in zip(acts[:-1], weights)]
        grad_w = [a.T @ d for a, d in zip(acts[:-1], acts[1:])]  # δ^l has a^l's shape
        grad_a = [d @ w.T for d, w in zip(acts[2:], weights[1:])]
        return forward, grad_w, grad_a

    def run():
        out = None
        for _ in range(spec.num_updates):
            out = matmuls(acts, weights)
        return jax.block_until_ready(out)

    return run


def step_ratio(*, calls: int = 100, scan_steps: int = 200, seed: int = 0) -> dict:
    """Manual / autodiff time of a jitted ``fnn.value_and_grad`` on 64-128-64-10 ReLU/softmax, K = 32.

    ``per_call``: median over ``calls`` interleaved calls of each jitted
    function, after warm-up (includes the dispatch of one call, ~10 µs).
    ``in_scan``: one SGD step inside a jitted ``lax.scan`` of ``scan_steps``
    steps, per step (no dispatch; how ``fit`` runs the engines).
    """
    net = fnn.MLP((64, 128, 64, 10), activation="relu", output_activation="softmax")
    rng = np.random.default_rng(seed)
    params = to_jax(glorot_uniform(net.layer_sizes, rng))
    x = jax.device_put(rng.standard_normal((32, 64), np.float32))
    y = jax.device_put(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)])
    loss = "categorical_cross_entropy"
    engines = {m: fnn.value_and_grad(net, loss, method=m) for m in ("manual", "autodiff")}
    single = {m: jax.jit(f) for m, f in engines.items()}

    def scanned(f):
        @jax.jit
        def run(params):
            def body(p, _):
                J, g = f(p, x, y)
                return jax.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g), J

            return jax.lax.scan(body, params, None, length=scan_steps)

        return run

    in_scan = {m: scanned(f) for m, f in engines.items()}
    for m in engines:  # warm-up: compile and run once
        jax.block_until_ready(single[m](params, x, y))
        jax.block_until_ready(in_scan[m](params))
    per_call = {m: [] for m in engines}
    per_step = {m: [] for m in engines}
    for i in range(calls):
        for m in ("manual", "autodiff") if i % 2 == 0 else ("autodiff", "manual"):
            t0 = time.perf_counter()
            jax.block_until_ready(single[m](params, x, y))
            per_call[m].append(time.perf_counter() - t0)
    for i in range(max(calls // 5, 5)):
        for m in ("manual", "autodiff") if i % 2 == 0 else ("autodiff", "manual"):
            t0 = time.perf_counter()
            jax.block_until_ready(in_scan[m](params))
            per_step[m].append((time.perf_counter() - t0) / scan_steps)
    out = {}
    for label, samples in (("per_call", per_call), ("in_scan", per_step)):
        manual, autodiff = (statistics.median(samples[m]) for m in ("manual", "autodiff"))
        out[label] = {
            "manual_s": manual,
            "autodiff_s": autodiff,
            "ratio": manual / autodiff,
            "samples": len(samples["manual"]),
        }
    return out


def end_to_end(*, quick: bool, seed: int = 0, timeout_s: float = 300) -> dict:
    """W2 in new processes: ``fnn.fit`` and the hand-written scan twice each with one fresh persistent cache, then numpy (see ``e2e.py``)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e.py")
    base = [sys.executable, script, "--seed", str(seed)] + (["--quick"] if quick else [])
    env = {
        k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"
    }  # only --cache-dir counts
    out = {}
    with tempfile.TemporaryDirectory(prefix="fnn-jax-cache-") as cache:
        for label, extra in (
            ("fit_cold_cache", ["--kind", "fit", "--cache-dir", cache]),
            ("fit_warm_cache", ["--kind", "fit", "--cache-dir", cache]),
            ("scan_cold_cache", ["--kind", "scan", "--cache-dir", cache]),
            ("scan_warm_cache", ["--kind", "scan", "--cache-dir", cache]),
            ("numpy", ["--kind", "numpy"]),
        ):
            t0 = time.perf_counter()
            done = subprocess.run(
                base + extra, capture_output=True, text=True, timeout=timeout_s, env=env
            )
            wall = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(f"e2e.py {' '.join(extra)} failed:\n{done.stderr[-3000:]}")
            out[label] = {
                **json.loads(done.stdout.strip().splitlines()[-1]),
                "process_wall_s": wall,
            }
        out["cache_files"] = sum(len(files) for _, _, files in os.walk(cache))
    return out
