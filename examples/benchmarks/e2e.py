"""W2 end to end in a fresh process: compilation (or loading it from the cache) included.

The runner starts this script five times: ``--kind fit`` twice with the same
empty ``--cache-dir`` (the first run compiles and fills JAX's persistent
compilation cache, the second loads from it), ``--kind scan`` (the hand-written
one-``lax.scan`` loop with in-run shuffles, ``reference_jax``) twice the same way,
and ``--kind numpy`` once. The warm scan is the floor a JAX program meets here:
tracing, lowering and loading it, and its first execution.
Each prints one JSON line:

* ``import_s``: importing what the run needs (``jax`` + ``functional_nn``, or ``numpy``);
* ``end_to_end_s``: from the data in memory to trained params and test accuracy on
  the host: tracing, compiling or loading, the transfer to the device and training;
* ``peak_rss_bytes`` and ``rss_before_train_bytes``: peak resident set (``VmHWM``)
  at the end and just before training; ``device_peak_bytes``: JAX's
  ``memory_stats()`` where the backend reports it (GPU/TPU; ``None`` on CPU);
  ``tracemalloc_peak_bytes`` (numpy): the traced allocations of a second,
  untimed training run.

Command (the runner does this for you):
    python examples/benchmarks/e2e.py --kind fit --cache-dir /tmp/fnn-cache [--quick]
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def main(
    *, kind: str = "fit", cache_dir: str | None = None, quick: bool = False, seed: int = 0
) -> dict:
    if kind in ("fit", "scan"):
        import functional_nn as fnn

        if cache_dir is not None:
            from functional_nn.cli._common import enable_compilation_cache

            enable_compilation_cache(cache_dir)
    else:
        import numpy  # noqa: F401
    import_s = time.perf_counter() - _T0

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np

    import harness
    import workloads

    spec = (workloads.QUICK if quick else workloads.FULL)["W2"]
    problem = workloads.make_problem(spec, seed=seed)
    rss_before = harness.peak_rss_bytes()
    out = {"kind": kind, "import_s": import_s, "rss_before_train_bytes": rss_before}
    t0 = time.perf_counter()
    if kind == "fit":
        params0 = workloads.to_jax(problem.init[0])
        result = fnn.fit(
            spec.net,
            params0,
            problem.x,
            problem.y,
            loss=spec.loss,
            learning_rate=spec.learning_rate,
            batch_size=spec.batch_size,
            num_epochs=spec.num_epochs,
            key=problem.shuffle_key,
        )
        params = workloads.to_numpy(result.params)
        quality = workloads.evaluate(problem, params)
        out["end_to_end_s"] = time.perf_counter() - t0
        out["device_peak_bytes"] = harness.device_peak_bytes()
    elif kind == "scan":
        import jax

        import reference_jax

        run = jax.jit(reference_jax.whole_run_shuffled(spec, "manual"))
        seed_words = reference_jax.shuffle_seed(problem.shuffle_key)
        trained = run(workloads.to_jax(problem.init[0]), problem.x, problem.y, seed_words)[0]
        params = workloads.to_numpy(trained)
        quality = workloads.evaluate(problem, params)
        out["end_to_end_s"] = time.perf_counter() - t0
        out["device_peak_bytes"] = harness.device_peak_bytes()
    else:
        import tracemalloc

        import peers_numpy

        params = peers_numpy.train(problem, problem.init[0])
        quality = workloads.evaluate(problem, params)
        out["end_to_end_s"] = time.perf_counter() - t0
        tracemalloc.start()  # after the timed run: tracing slows every allocation
        peers_numpy.train(problem, problem.init[0])
        out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    out["peak_rss_bytes"] = harness.peak_rss_bytes()
    out.update(quality)
    out["finite"] = bool(all(np.all(np.isfinite(w)) for layer in params for w in layer))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=("fit", "scan", "numpy"), default="fit")
    parser.add_argument(
        "--cache-dir", default=None, help="JAX persistent compilation cache folder (fit, scan)"
    )
    parser.add_argument("--quick", action="store_true", help="the tiny W2 of --quick")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        json.dumps(main(kind=args.kind, cache_dir=args.cache_dir, quick=args.quick, seed=args.seed))
    )
