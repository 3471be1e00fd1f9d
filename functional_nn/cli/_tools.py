"""``functional-nn gradcheck``, ``proofs`` and ``info``."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import platform
from typing import Any

from functional_nn.cli._common import (
    CLIError,
    default_cache_dir,
    hidden_activation,
    layer_sizes,
    name_list,
    positive_int,
    table,
)

_OUTPUT_FOR_LOSS = {
    "mse": "sigmoid",
    "binary_cross_entropy": "sigmoid",
    "categorical_cross_entropy": "softmax",
}


# --- gradcheck -------------------------------------------------------------------------


def add_gradcheck(commands) -> None:
    from functional_nn.activations import ACTIVATION_NAMES
    from functional_nn.losses import LOSS_NAMES

    p = commands.add_parser(
        "gradcheck",
        help="compare manual backprop with jax.grad and finite differences",
        description="Build a network, draw a random batch and compare the manual backward pass with jax.grad and "
        "central finite differences, leaf by leaf (weights, biases and every layer's delta), in "
        "float64. Exit status 0 when every leaf agrees, 1 otherwise.",
    )
    p.add_argument(
        "--layers",
        type=layer_sizes,
        default=(3, 5, 2),
        metavar="N0,N1,...,NL",
        help="layer sizes: inputs, hidden widths, outputs (default: 3,5,2)",
    )
    p.add_argument(
        "--activation",
        type=name_list,
        default=("sigmoid",),
        metavar="NAME[,NAME...]",
        help=f"hidden activation, one for all or one per hidden layer; one of {', '.join(ACTIVATION_NAMES)}"
        " (default: sigmoid, as in the lecture)",
    )
    p.add_argument(
        "--output-activation",
        choices=ACTIVATION_NAMES,
        default=None,
        metavar="NAME",
        help=f"{', '.join(ACTIVATION_NAMES)} (default: softmax for categorical_cross_entropy, else sigmoid)",
    )
    p.add_argument(
        "--loss",
        choices=LOSS_NAMES,
        default="mse",
        metavar="NAME",
        help=f"{', '.join(LOSS_NAMES)} (default: mse)",
    )
    p.add_argument(
        "--batch",
        type=positive_int,
        default=4,
        metavar="K",
        help="examples in the batch (default: 4)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and the batch (default: 0)"
    )
    p.add_argument(
        "--max-fd-coords",
        type=positive_int,
        default=256,
        metavar="N",
        help="finite-difference coordinates per leaf, all when fewer (default: 256)",
    )
    p.add_argument(
        "--taylor",
        action="store_true",
        help="also the Taylor-remainder test: observed order per leaf (2 when right, 1 when wrong)",
    )
    p.add_argument(
        "--hvp",
        action="store_true",
        help="also the hand-derived Hessian-vector product (R-operator) and Gauss-Newton product",
    )
    p.add_argument(
        "--per-example",
        action="store_true",
        help="also the per-example gradients by hand against vmap(grad)",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16"),
        default=None,
        metavar="DTYPE",
        help="also the errors of the gradients computed in float32, bfloat16 or float16 beside "
        "their derived rounding-error bound",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with every report instead of tables",
    )
    p.set_defaults(handler=run_gradcheck)


def run_gradcheck(args: argparse.Namespace) -> int:
    import jax

    import functional_nn as fnn
    from functional_nn import MLP

    sizes = args.layers
    output = args.output_activation or _OUTPUT_FOR_LOSS[args.loss]
    activation = hidden_activation(args.activation, len(sizes) - 2)
    net = MLP(sizes, activation=activation, output_activation=output)
    key_params, key_x, key_y, key_fd = jax.random.split(jax.random.key(args.seed), 4)
    params = net.init(key_params)
    x = jax.random.normal(key_x, (args.batch, sizes[0]))
    y = _random_targets(key_y, args.loss, output, args.batch, sizes[-1])
    reports: dict[str, Any] = {
        "gradients": fnn.compare_gradients(
            net, args.loss, params, x, y, max_fd_coords=args.max_fd_coords, key=key_fd
        )
    }
    if getattr(args, "taylor", False):
        from functional_nn.taylor import taylor_test_mlp

        reports["taylor"] = taylor_test_mlp(net, args.loss, params, x, y, key=key_fd)
    if getattr(args, "hvp", False):
        reports["hvp"] = fnn.check_hvp(net, args.loss, params, x, y, key=key_fd)
    if getattr(args, "per_example", False):
        reports["per_example"] = fnn.check_per_example(net, args.loss, params, x, y)
    if getattr(args, "dtype", None):
        reports["rounding"] = fnn.check_rounding(net, args.loss, params, x, y, dtype=args.dtype)
    ok = all(r.ok for r in reports.values())
    if getattr(args, "json", False):
        print(
            json.dumps(
                {"ok": ok, "seed": args.seed, **{k: r.as_dict() for k, r in reports.items()}},
                default=_json_default,
            )
        )
    else:
        print("\n\n".join(str(r) for r in reports.values()))
        print(
            f"(seed {args.seed}: random weights and a random batch of {args.batch}; --seed to vary)"
        )
    return 0 if ok else 1


def _json_default(value):
    import numpy as np

    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _random_targets(key, loss: str, output: str, batch: int, n_out: int):
    """Targets the loss accepts and the output layer can reach."""
    import jax

    if loss == "categorical_cross_entropy":
        return jax.random.randint(key, (batch,), 0, n_out)
    if loss == "binary_cross_entropy":
        return jax.random.bernoulli(key, 0.5, (batch, n_out)).astype(float)
    if output in ("sigmoid", "softmax"):
        return jax.random.uniform(key, (batch, n_out))
    return jax.random.normal(key, (batch, n_out))


# --- proofs ----------------------------------------------------------------------------

PROOF_STATUSES = ("holds", "erratum", "notation", "convention", "historical")


def add_proofs(commands) -> None:
    p = commands.add_parser(
        "proofs",
        help="list the lecture's claims, their derivations and machine checks",
        description="Print the ledger of proofs/: every formula and claim of the lecture with its status (holds, "
        "erratum, notation, convention, historical), the correction where one is needed and the check "
        "that decides it. With --run, run the checks and show pass/FAIL (exit status 1 if any fails).",
    )
    p.add_argument("--run", action="store_true", help="run the checks and show pass/FAIL per row")
    p.add_argument(
        "--json", action="store_true", help="print a JSON list of rows instead of a table"
    )
    p.add_argument(
        "--status",
        choices=PROOF_STATUSES,
        action="append",
        metavar="STATUS",
        help=f"only rows with this status, one of {', '.join(PROOF_STATUSES)} (repeatable)",
    )
    p.add_argument(
        "--width",
        type=positive_int,
        default=150,
        metavar="COLUMNS",
        help="table width in characters (default: 150)",
    )
    p.set_defaults(handler=run_proofs)


def _load_ledger():
    try:
        return importlib.import_module("proofs.ledger")
    except ModuleNotFoundError as err:
        if err.name not in ("proofs", "proofs.ledger"):
            raise
        raise CLIError(
            "the proofs are not importable: the 'proofs' package ships with the source tree of "
            "functional_nn; run from a checkout (or install one) to see the ledger"
        ) from None


def run_proofs(args: argparse.Namespace) -> int:
    ledger = _load_ledger()
    rows = ledger.ledger()
    if args.status:
        rows = tuple(row for row in rows if row.status.split(" ")[0] in args.status)
    results = ledger.run_checks(rows) if args.run else None
    if args.json:
        print(ledger.render_json(rows, results))
    else:
        print(ledger.render_table(rows, results, width=args.width))
    return 1 if results is not None and any(r.passed is False for r in results) else 0


# --- info ------------------------------------------------------------------------------

_CORE = ("jax", "jaxlib", "optax", "chex", "numpy")
_EXTRAS = {"matplotlib": "plot", "scikit-learn": "data", "tqdm": "progress", "sympy": "proofs"}


def add_info(commands) -> None:
    p = commands.add_parser(
        "info",
        help="versions, the JAX backend and devices",
        description="Print the versions of functional_nn, Python and its dependencies, the JAX backend and devices, "
        "whether float64 is on, and the compilation cache folder.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=run_info)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect_info() -> dict:
    """Everything ``info`` prints, as a JSON-ready dict."""
    import jax

    import functional_nn

    devices = jax.devices()
    config: Any = jax.config  # its flags are attributes jax declares at run time
    active_cache = config.jax_compilation_cache_dir
    return {
        "functional_nn": functional_nn.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in _CORE},
        "optional": {name: _version(name) for name in _EXTRAS},
        "backend": jax.default_backend(),
        "devices": [f"{d.platform}:{d.id} ({d.device_kind})" for d in devices],
        "process_count": jax.process_count(),
        "x64": bool(config.jax_enable_x64),
        "compilation_cache": {
            "default_dir": str(default_cache_dir()),
            "active_dir": active_cache,
            "enabled": bool(config.jax_enable_compilation_cache),
        },
    }


def run_info(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = [
        ("package", "version"),
        ("functional_nn", info["functional_nn"]),
        ("python", info["python"]),
    ]
    rows += [(name, version or "not installed") for name, version in info["versions"].items()]
    rows += [
        (name, version or f"not installed (extra '{_EXTRAS[name]}')")
        for name, version in info["optional"].items()
    ]
    print(table(rows))
    print()
    cache = info["compilation_cache"]
    print(
        table(
            [
                ("platform", info["platform"]),
                ("JAX backend", info["backend"]),
                ("devices", ", ".join(info["devices"])),
                ("processes", str(info["process_count"])),
                ("float64 (jax_enable_x64)", "on" if info["x64"] else "off"),
                (
                    "compilation cache",
                    cache["active_dir"]
                    or f"{cache['default_dir']} (turned on by 'train'; --no-cache)",
                ),
            ],
            header=False,
        )
    )
    return 0
