"""How fast does ``fnn.fit`` train on the device JAX sees, and how close to that device's matmul peak?

Runs on whatever ``jax.devices()`` lists (a GPU, a TPU, or the CPU): W2 (digits
64-128-64-10, K = 32), W3 (784-1024-1024-10, full batch of 8192), W4xor (XOR
ensembles with ``fit_many``, the members split over a ``"members"`` mesh when more
than one device is used) and a large-batch MNIST-shaped synthetic workload
(784-1024-1024-10, K = 1024). For each it prints samples/s, the fraction of the
device's matmul peak (measured here, a square float32 matmul at the default
precision), the compile time, and how far the results of the default matmul
precision (TF32 on recent NVIDIA GPUs) are from ``"highest"`` (full float32).

Command:
    python examples/benchmarks/accelerator.py [--tiny] [--only W4xor] [--members 1000 8000]
        [--devices 1 4] [--reps 3] [--json out.json]
    XLA_FLAGS=--xla_force_host_platform_device_count=4 python examples/benchmarks/accelerator.py \\
        --only W4xor --members 1000 8000 --devices 1 4      # simulated devices on a CPU

``--tiny`` shrinks every workload so the whole run takes seconds on a CPU (the
test suite runs it); its numbers say nothing about speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # workloads.py, harness.py

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import functional_nn as fnn  # noqa: E402

import workloads  # noqa: E402
from harness import machine, median_call_s  # noqa: E402

MNIST = workloads.Spec(
    "MNIST",
    "784-1024-1024-10 ReLU/softmax, 16384 synthetic examples, K=1024, 3 epochs, SGD 0.01",
    (784, 1024, 1024, 10),
    "relu",
    "softmax",
    "categorical_cross_entropy",
    "sgd",
    0.01,
    1024,
    3,
    16384,
    metric="samples/s",
)
FULL = {"W2": workloads.FULL["W2"], "W3": workloads.FULL["W3"], "W4xor": workloads.FULL["W4xor"]}
FULL["MNIST"] = MNIST
TINY = {
    "W2": dataclasses.replace(FULL["W2"], num_epochs=1, num_examples=320),
    "W3": dataclasses.replace(
        FULL["W3"], layer_sizes=(784, 32, 32, 10), num_epochs=2, num_examples=64
    ),
    "W4xor": dataclasses.replace(FULL["W4xor"], num_models=8, num_epochs=10),
    "MNIST": dataclasses.replace(
        MNIST, layer_sizes=(784, 32, 32, 10), batch_size=32, num_epochs=1, num_examples=128
    ),
}
#: The side of the square float32 matmul that measures the device's peak.
PEAK_SIDE = {"gpu": 8192, "tpu": 8192, "cpu": 2048}
TINY_PEAK_SIDE = 128


def matmul_peak(side: int, reps: int) -> float:
    """FLOP/s of the fastest of a few ``(side, side) @ (side, side)`` float32 matmuls (default precision).

    The fastest, not the median: the peak is what the device can reach, and a
    background load only ever slows a call down.
    """
    rng = np.random.default_rng(0)
    a, b = (jax.device_put(rng.standard_normal((side, side), np.float32)) for _ in range(2))
    mm = jax.jit(lambda a, b: a @ b)
    jax.block_until_ready(mm(a, b))
    fastest = min(
        median_call_s(lambda: jax.block_until_ready(mm(a, b)), 1) for _ in range(max(reps, 5))
    )
    return 2 * side**3 / fastest


def matmul_flops(spec: workloads.Spec) -> float:
    """Matmul FLOPs of the whole run, every model: per update and layer ``a @ w``, ``aᵀ δ``, and ``δ wᵀ``
    below every layer but the first (``2 K n_in n_out`` each)."""
    sizes, k = spec.layer_sizes, spec.batch
    per_update = sum(
        2 * k * n_in * n_out * (2 if l == 0 else 3)
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
    )
    return per_update * (spec.num_examples // k) * spec.num_epochs * spec.num_models


def problem_for(spec: workloads.Spec, seed: int) -> workloads.Problem:
    """``workloads.make_problem``; the MNIST-shaped one (and W2 without scikit-learn) is synthetic."""
    try:
        if spec.name != "MNIST":
            return workloads.make_problem(spec, seed=seed)
    except ImportError:  # W2's digits come from scikit-learn
        pass
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((spec.num_examples, spec.layer_sizes[0]), dtype=np.float32)
    labels = rng.integers(0, spec.layer_sizes[-1], spec.num_examples)
    init = [workloads.glorot_uniform(spec.layer_sizes, rng) for _ in range(spec.num_models)]
    empty = np.zeros((0,), np.int64)
    return workloads.Problem(
        spec,
        x,
        np.eye(spec.layer_sizes[-1], dtype=np.float32)[labels],
        labels,
        x[:0],
        empty,
        np.zeros((0, 0), np.int64),
        jax.random.key(seed),
        init,
        None,
    )


def trainer(problem: workloads.Problem, devices: int):
    """``run()`` -> the final params: ``fit`` on one model, ``fit_many`` on an ensemble
    (its members split over a ``"members"`` mesh of ``devices`` devices when > 1)."""
    spec = problem.spec
    rate = (
        {"optimizer": optax.adam(spec.learning_rate)}
        if spec.optimizer == "adam"
        else {"learning_rate": spec.learning_rate}
    )
    x, y = jax.device_put(problem.x), jax.device_put(problem.y)
    common = dict(loss=spec.loss, batch_size=spec.batch_size, num_epochs=spec.num_epochs, **rate)
    if spec.num_models > 1:
        mesh = fnn.members_mesh(jax.devices()[:devices]) if devices > 1 else None
        params = problem.init_jax
        return lambda: fnn.fit_many(
            spec.net, x, y, key=problem.shuffle_key, params=params, mesh=mesh, **common
        )
    params = workloads.to_jax(problem.init[0])
    return lambda: fnn.fit(spec.net, params, x, y, key=problem.shuffle_key, **common)


def final_loss(result) -> float:
    members = getattr(result, "members", result)
    return float(np.mean(np.asarray(members.history["train_loss"])[..., -1]))


def measure(spec: workloads.Spec, devices: int, *, reps: int, peak: float, seed: int = 0) -> dict:
    """One workload on ``devices`` devices: samples/s, fraction of peak, compile time, precision."""
    problem = problem_for(spec, seed)
    run = trainer(problem, devices)
    t0 = time.perf_counter()
    default = jax.block_until_ready(run())
    first = time.perf_counter() - t0
    median = median_call_s(lambda: jax.block_until_ready(run()), reps)
    with jax.default_matmul_precision("highest"):
        highest = jax.block_until_ready(run())
        highest_s = median_call_s(lambda: jax.block_until_ready(run()), max(1, reps // 2))
    leaves = zip(
        jax.tree_util.tree_leaves(getattr(default, "params", None) or default.members.params),
        jax.tree_util.tree_leaves(getattr(highest, "params", None) or highest.members.params),
    )
    return {
        "workload": spec.name,
        "title": spec.title,
        "devices": devices,
        "members": spec.num_models,
        "samples_per_s": spec.num_models * spec.num_samples / median,
        "run_s": median,
        "compile_s": max(first - median, 0.0),
        "fraction_of_matmul_peak": matmul_flops(spec) / median / peak,
        "highest_run_s": highest_s,
        "highest_vs_default_params": max(
            float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in leaves
        ),
        "highest_vs_default_loss": abs(final_loss(default) - final_loss(highest)),
    }


def main(
    *,
    tiny: bool = False,
    only: tuple[str, ...] = ("W2", "W3", "W4xor", "MNIST"),
    members: tuple[int, ...] = (),
    devices: tuple[int, ...] = (1,),
    reps: int = 3,
    seed: int = 0,
) -> dict:
    """Measure ``only`` on each count of ``devices`` (ensembles only; the others use one device)."""
    specs = TINY if tiny else FULL
    unknown = sorted(set(only) - set(specs))
    if unknown:
        raise ValueError(f"unknown workloads {unknown}; known: {', '.join(specs)}")
    if max(devices) > jax.device_count() or min(devices) < 1:
        raise ValueError(
            f"devices {list(devices)} must lie in [1, {jax.device_count()}] (jax.devices())"
        )
    backend = jax.default_backend()
    side = TINY_PEAK_SIDE if tiny else PEAK_SIDE.get(backend, 2048)
    peak = matmul_peak(side, reps)
    rows = []
    for name in only:
        spec = specs[name]
        counts = devices if spec.num_models > 1 else (1,)
        sizes = members if (members and spec.num_models > 1) else (spec.num_models,)
        for n in sizes:
            for d in counts:
                if n % d:
                    raise ValueError(f"{name}: {n} members do not split over {d} devices")
                rows.append(
                    measure(
                        dataclasses.replace(spec, num_models=n), d, reps=reps, peak=peak, seed=seed
                    )
                )
    return {
        "machine": machine(),
        "backend": backend,
        "device": str(jax.devices()[0].device_kind),
        "device_count": jax.device_count(),
        "matmul_peak_flops": peak,
        "matmul_peak_side": side,
        "tiny": tiny,
        "rows": rows,
    }


def print_table(report: dict) -> None:
    print(
        f"{report['backend']} ({report['device']}, {report['device_count']} devices); float32 matmul "
        f"peak {report['matmul_peak_flops'] / 1e9:.1f} GFLOP/s ({report['matmul_peak_side']}² matmul)"
    )
    head = (
        f"{'workload':8} {'dev':>3} {'members':>7} {'samples/s':>11} {'run s':>8} {'compile s':>9} "
        f"{'of peak':>8} {'highest s':>9} {'|Δw| hi-def':>11} {'|ΔJ| hi-def':>11}"
    )
    print(head)
    for r in report["rows"]:
        print(
            f"{r['workload']:8} {r['devices']:>3} {r['members']:>7} {r['samples_per_s']:>11.4g} "
            f"{r['run_s']:>8.3f} {r['compile_s']:>9.2f} {r['fraction_of_matmul_peak']:>8.2%} "
            f"{r['highest_run_s']:>9.3f} {r['highest_vs_default_params']:>11.2e} "
            f"{r['highest_vs_default_loss']:>11.2e}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: seconds on a CPU")
    parser.add_argument("--only", default="W2,W3,W4xor,MNIST", help="comma-separated workloads")
    parser.add_argument("--members", type=int, nargs="*", default=[], help="W4xor ensemble sizes")
    parser.add_argument(
        "--devices", type=int, nargs="*", default=[1], help="device counts (ensembles)"
    )
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args()
    report = main(
        tiny=args.tiny,
        only=tuple(args.only.split(",")),
        members=tuple(args.members),
        devices=tuple(args.devices),
        reps=args.reps,
        seed=args.seed,
    )
    print_table(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
