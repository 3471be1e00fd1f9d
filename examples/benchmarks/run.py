"""How much faster is ``functional_nn.fit`` than what a researcher would otherwise write or use?

Trains the workloads of issue 7 with ``fnn.fit`` / ``fnn.fit_many``, with the
peers (torch eager on 2 CPU threads, numpy with hand-written backprop,
scikit-learn's ``MLPClassifier``) and with two hand-written JAX loops (a jitted
step called from Python; the whole run in one ``lax.scan``): same network,
same initial weights, same sample order where the peer allows. Repetitions are
interleaved; the table shows medians and the targets' ratios.

* W1: XOR 2-2-1 sigmoid, SGD K = 1, 5000 epochs (updates/s)
* W2: digits 64-128-64-10 ReLU/softmax, K = 32, 30 epochs, SGD 0.1 (samples/s);
  also compile time, end to end with compilation (in this process, and in new
  processes with JAX's persistent compilation cache), peak memory
* W3: 784-1024-1024-10, 8192 synthetic examples, full batch, 10 steps (fraction
  of the float32 matmul peak measured in the same run)
* W4: 64 models 2-32-32-1 tanh on two spirals, 500 full-batch Adam steps
  (seconds); and 1000 XOR 2-2-1 models
* the manual / autodiff step-time ratio

Command:
    python examples/benchmarks/run.py [--quick] [--reps 3] [--json out.json] [--only W1,W2]

Peers come with the ``bench`` extra (``pip install -e '.[bench]'``); a missing
one is skipped with a message. The full run takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import importlib
import itertools
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the peer modules beside this file

import jax  # noqa: E402
import optax  # noqa: E402

import functional_nn as fnn  # noqa: E402

import harness  # noqa: E402
import measurements  # noqa: E402
import reference_jax  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402
from harness import Impl  # noqa: E402
from workloads import Problem  # noqa: E402

PEERS = {"torch": "peers_torch", "numpy": "peers_numpy", "sklearn": "peers_sklearn"}


def load_peers(log=print) -> dict:
    """The peer modules that import; a missing library is reported and skipped."""
    found = {}
    for name, module in PEERS.items():
        try:
            found[name] = importlib.import_module(module)
        except ImportError as err:
            log(
                f"skipping the {name} peer: {err} (install the bench extra: pip install -e '.[bench]')"
            )
    return found


def _optimizer_kwargs(spec: workloads.Spec) -> dict:
    """``fit``'s rate: the lecture's plain ``w ← w − α∇J`` for SGD, one shared optax Adam otherwise."""
    if spec.optimizer == "adam":
        return {
            "optimizer": optax.adam(spec.learning_rate)
        }  # one object: the compiled program is reused
    return {"learning_rate": spec.learning_rate}


def prepare_fit(problem: Problem, checkpoint_every: int | None = None):
    """``fnn.fit`` on every model, one after another (W4: the 64 sequential fits).

    ``checkpoint_every``: the same runs with a checkpoint every that many epochs (each
    call writes into a fresh directory under one temporary directory).
    """
    spec, rate = problem.spec, _optimizer_kwargs(problem.spec)
    x, y = jax.device_put(problem.x), jax.device_put(problem.y)
    inits = reference_jax.model_params(problem)
    if checkpoint_every is not None:
        root, calls = tempfile.mkdtemp(prefix="fnn_bench_ckpt_"), itertools.count()
        atexit.register(shutil.rmtree, root, True)

        def options():
            return dict(
                checkpoint_dir=os.path.join(root, str(next(calls))),
                checkpoint_every=checkpoint_every,
            )
    else:
        options = dict

    def run():
        return [
            fnn.fit(
                spec.net,
                params,
                x,
                y,
                loss=spec.loss,
                batch_size=spec.batch_size,
                num_epochs=spec.num_epochs,
                key=problem.shuffle_key,
                **rate,
                **options(),
            ).params
            for params in inits
        ]

    return run


def prepare_fit_many(problem: Problem):
    """``fnn.fit_many`` on the stacked initial params: every model in one call."""
    spec, rate = problem.spec, _optimizer_kwargs(problem.spec)
    x, y = jax.device_put(problem.x), jax.device_put(problem.y)

    def run():
        return fnn.fit_many(
            spec.net,
            x,
            y,
            key=problem.shuffle_key,
            params=problem.init_jax,
            loss=spec.loss,
            batch_size=spec.batch_size,
            num_epochs=spec.num_epochs,
            **rate,
        ).members.params

    return run


def implementations(name: str, peers: dict, *, quick: bool) -> list[Impl]:
    """What runs on workload ``name``, in table order."""

    def peer(key: str, **kw) -> list[Impl]:
        if key not in peers:
            return []
        return [Impl(key, peers[key].prepare, warm_up=peers[key].warm_up, **kw)]

    if (
        name == "W4xor"
    ):  # tiny models: vmapped JAX against torch, whose time is extrapolated from a subset
        subset = workloads.TORCH_XOR_SUBSET["quick" if quick else "full"]
        total = (workloads.QUICK if quick else workloads.FULL)["W4xor"].num_models
        torch = []
        if "torch" in peers:
            prep = peers["torch"].prepare
            torch = [
                Impl(
                    "torch",
                    lambda p: prep(p, p.init[:subset]),
                    warm_up=peers["torch"].warm_up,
                    scale=total / subset,
                    note=f"extrapolated from {subset} of {total} models",
                )
            ]
        return [
            Impl("fit", prepare_fit_many, compiled=True),
            *torch,
            Impl("scan_vmap", lambda p: reference_jax.prepare_scan(p, vmapped=True), compiled=True),
        ]
    impls = [Impl("fit", prepare_fit_many if name == "W4" else prepare_fit, compiled=True)]
    if name == "W2":  # issue 13: the cost of checkpoints inside the run
        impls.append(
            Impl(
                "fit_ckpt5",
                lambda p: prepare_fit(p, checkpoint_every=5),
                compiled=True,
                note="fit with checkpoint_every=5",
            )
        )
    if name == "W4":
        impls.append(Impl("fit_seq", prepare_fit, compiled=True))
    impls += peer("torch") + peer("numpy") + peer("sklearn")
    impls += [
        Impl("loop", reference_jax.prepare_loop, compiled=True),
        Impl("scan", reference_jax.prepare_scan, compiled=True),
    ]
    if (
        workloads.FULL[name].batch_size is not None
    ):  # mini-batches: the scan that shuffles in its run too
        impls.append(Impl("scan_shuffle", reference_jax.prepare_scan_shuffled, compiled=True))
    if name == "W4":
        impls.append(
            Impl("scan_vmap", lambda p: reference_jax.prepare_scan(p, vmapped=True), compiled=True)
        )
    if name == "W3":
        impls.append(
            Impl(
                "matmul_peak",
                measurements.prepare_matmuls,
                compiled=True,
                trains=False,
                note="the step's matmuls alone",
            )
        )
    return impls


#: The targets' time ratios also measured in pairs (harness.paired_ratio): runs of milliseconds,
#: and W4's of about a second, whose medians of three moved by 15 % (0.86-1.0) run to run.
PAIRS = {
    "W1": (("scan", "fit"), ("scan_shuffle", "fit")),
    "W2": (("fit_ckpt5", "fit"), ("scan", "fit"), ("scan_shuffle", "fit")),
    "W4": (("scan_vmap", "fit"),),
    "W4xor": (("fit", "scan_vmap"),),
}


def run_workload(name: str, peers: dict, *, quick: bool, reps: int, seed: int, log=print) -> dict:
    spec = (workloads.QUICK if quick else workloads.FULL)[name]
    log(f"{name}: {spec.title}" + (" (quick sizes)" if quick else ""))
    problem = workloads.make_problem(spec, seed=seed)
    found, paired = harness.measure(
        problem,
        implementations(name, peers, quick=quick),
        reps,
        log=log,
        pairs=PAIRS.get(name, ()),
        pair_seconds=0.2 if quick else 3.0,
    )
    out = {
        "spec": {k: v for k, v in vars(spec).items()},
        "impls": {k: vars(m) for k, m in found.items()},
        "paired": paired,
    }
    if name == "W3":
        flops = spec.num_updates * workloads.step_flops(spec)
        out["matmul_peak"] = {
            "flops_per_step": workloads.step_flops(spec),
            "flops_per_s": flops / found["matmul_peak"].median_s,
        }
    return out


def main(
    *,
    quick: bool = False,
    reps: int = 3,
    only: tuple[str, ...] = ("W1", "W2", "W3", "W4"),
    json_path: str | None = None,
    seed: int = 0,
    end_to_end: bool = True,
    torch_threads: int = 2,
    log=print,
) -> dict:
    """Run the benchmarks; returns (and with ``json_path`` writes) every figure and the tables."""
    unknown = set(only) - set(workloads.NAMES)
    if unknown:
        raise ValueError(f"only must name workloads among {workloads.NAMES}, got {sorted(unknown)}")
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    if torch_threads < 1:
        raise ValueError(f"torch_threads must be >= 1, got {torch_threads}")
    # Compile times are measured here, so nothing may come from a persistent cache in this process.
    jax.config.update("jax_enable_compilation_cache", False)
    peers = load_peers(log)
    if "torch" in peers:
        peers["torch"].set_threads(torch_threads)
    results = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": harness.machine(),
        "peers": {name: module.version() for name, module in peers.items()},
        "config": {
            "quick": quick,
            "reps": reps,
            "seed": seed,
            "only": list(only),
            "torch_threads": torch_threads,
        },
        "workloads": {},
    }
    for name in only:
        results["workloads"][name] = run_workload(
            name, peers, quick=quick, reps=reps, seed=seed, log=log
        )
        if name == "W4":
            results["workloads"]["W4xor"] = run_workload(
                "W4xor", peers, quick=quick, reps=reps, seed=seed, log=log
            )
        if name == "W2" and end_to_end:
            log("W2 end to end in new processes (persistent compilation cache: cold, then warm)")
            results["w2_end_to_end"] = measurements.end_to_end(quick=quick, seed=seed)
    log("manual / autodiff step time (64-128-64-10 ReLU/softmax, K = 32)")
    results["step_ratio"] = measurements.step_ratio(calls=20 if quick else 100, seed=seed)
    results["targets"] = report.targets(results)
    results["tables"] = report.tables(results)
    log("\n" + results["tables"])
    if json_path:
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (seconds; for the smoke test)"
    )
    parser.add_argument(
        "--reps", type=int, default=3, help="timed repetitions per implementation (median)"
    )
    parser.add_argument(
        "--json", dest="json_path", default=None, help="also write every figure to this file"
    )
    parser.add_argument(
        "--only",
        default=",".join(workloads.NAMES),
        help="comma-separated workloads to run (W1,W2,W3,W4; W4 includes the 1000 XOR models)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=2,
        help="torch's intra-op threads (the issue's setting is 2; on a machine whose cores are "
        "busy with other work, 2 threads can be many times slower than 1)",
    )
    parser.add_argument(
        "--no-end-to-end",
        dest="end_to_end",
        action="store_false",
        help="skip W2's new-process runs with the persistent compilation cache",
    )
    args = parser.parse_args()
    main(
        quick=args.quick,
        reps=args.reps,
        only=tuple(s.strip() for s in args.only.split(",") if s.strip()),
        json_path=args.json_path,
        seed=args.seed,
        end_to_end=args.end_to_end,
        torch_threads=args.torch_threads,
    )
