"""``functional-nn train``: load a data set, train an MLP with ``fnn.fit``, report and write the results.

With no options it trains a 64-64-32-10 network on scikit-learn's bundled
handwritten digits (1797 images of 8x8 pixels, C = 10 classes).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from functional_nn.cli._common import (
    CLIError,
    disable_compilation_cache,
    enable_compilation_cache,
    fraction,
    hidden_sizes,
    name_list,
    positive_float,
    positive_int,
)

DEFAULT_DATASET = "digits"
OPTIMIZERS = ("sgd", "momentum", "adam")
DEFAULT_LEARNING_RATE = {"sgd": 0.1, "momentum": 0.05, "adam": 0.01}
SCHEDULES = ("constant", "inverse-time")


def add_train(commands) -> None:
    from functional_nn.activations import ACTIVATION_NAMES
    from functional_nn.backprop import METHODS
    from functional_nn.data import names as data_names
    from functional_nn.losses import LOSS_NAMES
    from functional_nn.network import INIT_NAMES

    p = commands.add_parser(
        "train",
        help="train a network on a data set and write history, checkpoint and figures",
        description="Train a feedforward network with mini-batch gradient descent and report training, validation "
        "and test loss and accuracy. With no options: scikit-learn's handwritten digits (C = 10), "
        "hidden layers 64,32, tanh, softmax output with categorical cross-entropy, plain SGD.",
        epilog="Writes history.csv, history.json, summary.json, checkpoint.npz and figures (loss_curves.png; "
        "decision_boundary.png for 2-D inputs; gradient_norms.png) under --out-dir.",
    )
    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        metavar="NAME|PATH",
        help=f"a data set name ({', '.join(data_names())}) or a .csv/.tsv/.npz file whose last column "
        "is the target (default: digits)",
    )
    g.add_argument(
        "--target",
        default=None,
        metavar="COLUMN",
        help="CSV files: the target column, an index or a header name (default: the last column)",
    )
    g.add_argument(
        "--task",
        choices=("classification", "regression"),
        default=None,
        help="files: what the target is (default: inferred from its values)",
    )
    g.add_argument(
        "--samples",
        type=positive_int,
        default=None,
        metavar="N",
        help="toy data sets: number of examples (default: the generator's)",
    )
    g.add_argument(
        "--noise",
        type=float,
        default=None,
        help="toy data sets: noise level (default: the generator's)",
    )
    g.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.2,
        metavar="F",
        help="fraction held out for validation (default: 0.2)",
    )
    g.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.2,
        metavar="F",
        help="fraction held out for the final test (default: 0.2)",
    )

    g = p.add_argument_group("network")
    g.add_argument(
        "--hidden",
        type=hidden_sizes,
        default=(64, 32),
        metavar="N1,N2,...",
        help="hidden layer widths, or 'none' (default: 64,32)",
    )
    g.add_argument(
        "--activation",
        type=name_list,
        default=("tanh",),
        metavar="NAME[,NAME...]",
        help=f"hidden activation: one for all layers or one per layer; one of {', '.join(ACTIVATION_NAMES)}"
        " (default: tanh)",
    )
    g.add_argument(
        "--output-activation",
        choices=ACTIVATION_NAMES,
        default=None,
        metavar="NAME",
        help=f"{', '.join(ACTIVATION_NAMES)} (default from the task: softmax for C > 2 classes, "
        "sigmoid for 2, linear for regression)",
    )
    g.add_argument(
        "--loss",
        choices=LOSS_NAMES,
        default=None,
        metavar="NAME",
        help=f"{', '.join(LOSS_NAMES)} (default from the output: categorical_cross_entropy for softmax, "
        "binary_cross_entropy for sigmoid on classes, else mse)",
    )
    g.add_argument(
        "--initializer",
        choices=INIT_NAMES,
        default="glorot_uniform",
        metavar="NAME",
        help=f"weight initializer: {', '.join(INIT_NAMES)} (default: glorot_uniform)",
    )

    g = p.add_argument_group("optimization")
    g.add_argument(
        "--batch-size",
        type=_batch_size,
        default=32,
        metavar="K",
        help="examples per update: 1 is SGD, 'full' is batch gradient descent (default: 32)",
    )
    g.add_argument(
        "--epochs", type=positive_int, default=40, help="maximum number of epochs (default: 40)"
    )
    g.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="sgd",
        help="sgd: the lecture's w <- w - α ∇J; momentum, adam: optax (default: sgd)",
    )
    g.add_argument(
        "--learning-rate",
        type=positive_float,
        default=None,
        metavar="α",
        help="constant learning rate (default: "
        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATE.items())
        + ")",
    )
    g.add_argument(
        "--momentum", type=fraction, default=0.9, help="momentum coefficient (default: 0.9)"
    )
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="constant",
        help="inverse-time: the lecture's α_k = c1 / (k + c2) (default: constant)",
    )
    g.add_argument(
        "--c1", type=positive_float, default=1.0, help="inverse-time numerator c1 (default: 1)"
    )
    g.add_argument(
        "--c2",
        type=positive_float,
        default=10.0,
        help="inverse-time offset c2; α_0 = c1/c2 (default: 10)",
    )
    g.add_argument(
        "--decay-per",
        choices=("update", "epoch"),
        default="epoch",
        help="what the inverse-time k counts (default: epoch)",
    )
    g.add_argument(
        "--method",
        choices=METHODS,
        default="manual",
        help="gradient engine: the hand-written backward pass or jax.grad (default: manual)",
    )
    g.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        metavar="EPOCHS",
        help="stop after this many epochs without a better validation loss and keep the best params "
        "(default: run every epoch; the best-validation params are still reported)",
    )
    g.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the split, the weights and the batches (default: 0)",
    )

    g = p.add_argument_group("output")
    g.add_argument(
        "--out-dir",
        type=Path,
        default=Path("out/train"),
        metavar="DIR",
        help="where the results go (default: out/train)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=None,
        metavar="EPOCHS",
        help="write a checkpoint to OUT_DIR/checkpoints every EPOCHS epochs, and record how the run "
        "was started in OUT_DIR/run.json, so a killed run can be resumed (default: none)",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run recorded in --out-dir from its newest checkpoint; needs no other "
        "options (the recorded ones are used) and ends with the uninterrupted run's results",
    )
    g.add_argument("--no-figures", action="store_true", help="do not draw figures")
    g.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is shown on a terminal when tqdm is installed)",
    )
    g.add_argument(
        "--no-cache", action="store_true", help="do not use JAX's persistent compilation cache"
    )
    g.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="compilation cache folder (default: ~/.cache/functional_nn/jax)",
    )
    p.set_defaults(handler=run_train)
    _DEFAULTS.update({a.dest: a.default for a in p._actions if a.dest != "help"})


#: the train parser's defaults: an option left at its default does not conflict with a recorded run
_DEFAULTS: dict = {}
#: options that say how this invocation runs, not what it trains: never recorded in run.json
_NOT_RECORDED = (
    "handler",
    "resume",
    "out_dir",
    "no_progress",
    "no_cache",
    "cache_dir",
    "no_figures",
)
RUN_FILE = "run.json"


def recorded_options(args: argparse.Namespace) -> dict:
    """The options that define the training run, JSON-ready (what ``run.json`` holds)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in vars(args).items()
        if k not in _NOT_RECORDED
    }


def _resume_options(args: argparse.Namespace) -> None:
    """``--resume``: take the options recorded in ``OUT_DIR/run.json``; refuse conflicting ones."""
    import json

    path = args.out_dir / RUN_FILE
    if not path.is_file():
        if args.checkpoint_every is None:
            raise CLIError(
                f"--resume found no {path}: start the run with --checkpoint-every N first"
            )
        return  # nothing recorded yet: this is the run's first start
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CLIError(f"--resume cannot read {path}: {err}") from None
    given = recorded_options(args)
    conflicts = [
        f"--{k.replace('_', '-')} {given[k]!r} (recorded: {v!r})"
        for k, v in recorded.items()
        if k in given
        and given[k] != v
        and given[k]
        != (list(_DEFAULTS[k]) if isinstance(_DEFAULTS.get(k), tuple) else _DEFAULTS.get(k))
    ]
    if conflicts:
        raise CLIError(
            f"--resume continues the run recorded in {path}; these options differ from it: "
            + ", ".join(conflicts)
        )
    for k, v in recorded.items():
        setattr(args, k, tuple(v) if isinstance(v, list) else v)


def _batch_size(text: str) -> int | None:
    if text.strip().lower() in ("full", "all", "none", "m"):
        return None
    return positive_int(text)


def run_train(args: argparse.Namespace) -> int:
    from functional_nn.cli._train_run import train_and_report

    if args.resume:
        _resume_options(args)
    if args.patience is not None and args.val_fraction == 0:
        raise CLIError("--patience needs a validation part; give --val-fraction > 0")
    if args.val_fraction + args.test_fraction >= 1:
        raise CLIError(
            f"--val-fraction + --test-fraction must be < 1, got {args.val_fraction} + {args.test_fraction}"
        )
    if args.schedule == "inverse-time" and args.learning_rate is not None:
        raise CLIError(
            "--learning-rate is a constant rate; with --schedule inverse-time set --c1 and --c2 instead"
        )
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise CLIError(f"--out-dir {args.out_dir} exists and is not a folder")
    cache = None
    if args.no_cache:
        disable_compilation_cache()
    else:
        cache = enable_compilation_cache(args.cache_dir)
    started = time.perf_counter()
    return train_and_report(args, cache_dir=cache, started=started)


def choose_head(
    task: str,
    num_classes: int | None,
    num_targets: int,
    output_activation: str | None,
    loss: str | None,
) -> tuple[int, str, str]:
    """``(n_out, output_activation, loss)`` for the task, filling in what the user left out.

    Classification: ``C > 2`` classes get ``C`` softmax outputs with categorical
    cross-entropy; two classes one sigmoid output with binary cross-entropy.
    Regression: linear outputs with mse.
    """
    from functional_nn.losses import COMPATIBLE_OUTPUTS

    regression = task == "regression"
    if output_activation is None and loss is None:
        if regression:
            output_activation, loss = "linear", "mse"
        elif num_classes == 2:
            output_activation, loss = "sigmoid", "binary_cross_entropy"
        else:
            output_activation, loss = "softmax", "categorical_cross_entropy"
    elif output_activation is None:
        assert loss is not None  # the first branch took the case where both are missing
        output_activation = {
            "binary_cross_entropy": "sigmoid",
            "categorical_cross_entropy": "softmax",
        }.get(loss, "linear" if regression else ("sigmoid" if num_classes == 2 else "softmax"))
    elif loss is None:
        loss = {"softmax": "categorical_cross_entropy"}.get(output_activation, "mse")
        if output_activation == "sigmoid" and not regression:
            loss = "binary_cross_entropy"
    assert loss is not None and output_activation is not None  # each branch above chose both
    if output_activation == "threshold":
        raise CLIError(
            "--output-activation threshold has zero derivative almost everywhere, so gradient descent "
            "cannot train it; use sigmoid (or functional_nn.neurons for the perceptron rule)"
        )
    if output_activation not in COMPATIBLE_OUTPUTS[loss]:
        raise CLIError(
            f"--loss {loss} needs --output-activation in {', '.join(COMPATIBLE_OUTPUTS[loss])}, "
            f"got {output_activation}"
        )
    if regression:
        if loss != "mse":
            raise CLIError(
                f"--loss {loss} is for classes; this data set is regression: use --loss mse"
            )
        if output_activation == "softmax":
            raise CLIError(
                "--output-activation softmax is for classes; this data set is regression"
            )
        return num_targets, output_activation, loss
    # two classes: one output unless softmax asks for one per class; C > 2: one per class
    # (C sigmoid outputs with binary cross-entropy score each class as its own yes/no)
    assert num_classes is not None  # a classification data set counts its classes
    n_out = 1 if num_classes == 2 and output_activation != "softmax" else int(num_classes)
    return n_out, output_activation, loss


def learning_rate_text(args: argparse.Namespace) -> str:
    if args.schedule == "inverse-time":
        return f"α_k = {args.c1:g} / (k + {args.c2:g}), k = {args.decay_per}s"
    rate = (
        args.learning_rate
        if args.learning_rate is not None
        else DEFAULT_LEARNING_RATE[args.optimizer]
    )
    return f"α = {rate:g}"


def format_number(value: float | None, kind: str = "loss") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "accuracy":
        return f"{100 * value:.2f}%"
    return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.3e}"
