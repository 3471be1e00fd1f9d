"""How does the time per epoch of ``fnn.fit`` grow with m, K and the width?

Trains a 64-w-w-10 ReLU/softmax network on synthetic data with ``fnn.fit``
(SGD, learning rate 0.05) and times one epoch while one of the number of
examples ``m``, the batch size ``K`` and the hidden width ``w`` varies around
a base point (3 values each), the others held at the base. Each figure is the
median over ``reps`` runs of ``num_epochs`` epochs, compilation excluded (a
warm-up run compiles each configuration first). The exponent ``p`` in the
last column fits ``time ∝ value^p`` over the three points, so a run can be
predicted: one epoch costs about ``m/K`` updates, each costing roughly
``(a + b·K·w²)``: a fixed per-update overhead plus the matmuls.

Command:
    python examples/benchmarks/cost_growth.py [--quick] [--reps 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import jax
import numpy as np

import functional_nn as fnn

BASE = {"m": 4096, "K": 32, "width": 128}
SWEEPS = {"m": (1024, 4096, 16384), "K": (8, 32, 128), "width": (64, 128, 512)}
QUICK_BASE = {"m": 256, "K": 16, "width": 16}
QUICK_SWEEPS = {"m": (128, 256, 512), "K": (8, 16, 32), "width": (8, 16, 32)}
N_IN, N_OUT = 64, 10


def time_per_epoch(
    m: int, batch_size: int, width: int, *, num_epochs: int, reps: int, seed: int
) -> float:
    """Median seconds per epoch of ``fnn.fit`` on ``m`` synthetic examples (compilation excluded)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, N_IN), np.float32)
    y = rng.integers(0, N_OUT, m).astype(np.int32)
    net = fnn.MLP((N_IN, width, width, N_OUT), activation="relu", output_activation="softmax")
    params = jax.jit(net.init)(jax.random.key(seed))
    x, y = jax.device_put(x), jax.device_put(y)

    def run():
        return fnn.fit(
            net,
            params,
            x,
            y,
            loss="categorical_cross_entropy",
            learning_rate=0.05,
            batch_size=batch_size,
            num_epochs=num_epochs,
            key=jax.random.key(seed),
        )

    run()  # compile
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / num_epochs


def exponent(values: tuple[int, ...], seconds: list[float]) -> float:
    """Least-squares slope of log(time) against log(value)."""
    lx, ly = np.log(values), np.log(seconds)
    return float(np.polyfit(lx, ly, 1)[0])


def main(
    *,
    seed: int = 0,
    quick: bool = False,
    num_epochs: int = 3,
    reps: int = 3,
    json_path: str | None = None,
) -> dict:
    base, sweeps = (QUICK_BASE, QUICK_SWEEPS) if quick else (BASE, SWEEPS)
    cache: dict[tuple[int, int, int], float] = {}
    rows, out = [], {"base": base, "sweeps": {}}
    for name, values in sweeps.items():
        seconds = []
        for value in values:
            point = {**base, name: value}
            key = (point["m"], point["K"], point["width"])
            if key not in cache:  # the base point appears in every sweep: measure it once
                cache[key] = time_per_epoch(*key, num_epochs=num_epochs, reps=reps, seed=seed)
            seconds.append(cache[key])
        p = exponent(values, seconds)
        out["sweeps"][name] = {"values": list(values), "seconds_per_epoch": seconds, "exponent": p}
        for value, s in zip(values, seconds):
            point = {**base, name: value}
            updates = math.ceil(point["m"] / point["K"])
            rows.append(
                [
                    name,
                    str(value),
                    f"{point['m']}",
                    f"{point['K']}",
                    f"{point['width']}",
                    f"{s * 1e3:.3g}",
                    f"{updates}",
                    f"{s / updates * 1e6:.3g}",
                    f"{p:.2f}",
                ]
            )
    header = [
        "varied",
        "value",
        "m",
        "K",
        "width",
        "ms / epoch",
        "updates / epoch",
        "µs / update",
        "p in time ∝ value^p",
    ]
    table = "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(r) + " |" for r in rows]
    )
    out["table"] = table
    print(
        f"fnn.fit time per epoch, 64-w-w-10 ReLU/softmax, SGD; base m={base['m']}, K={base['K']}, "
        f"width={base['width']}; median of {reps} x {num_epochs} epochs ({jax.default_backend()})\n"
    )
    print(table)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for the smoke test)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--epochs", dest="num_epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    main(
        seed=args.seed,
        quick=args.quick,
        num_epochs=args.num_epochs,
        reps=args.reps,
        json_path=args.json_path,
    )
