"""The body of ``functional-nn train``: data -> network -> ``fit`` -> table, files and figures."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from functional_nn.cli._common import hidden_activation, table
from functional_nn.cli._train import (
    DEFAULT_LEARNING_RATE,
    choose_head,
    format_number,
    learning_rate_text,
)


class Part(NamedTuple):
    """One part of the split, ready for the network."""

    name: str  # "train" | "validation" | "test"
    x: Any  # (m_part, n_0) float32, standardized
    y: Any  # targets in the network's output encoding
    labels: Any  # (m_part,) int class labels, or (m_part, n_out) regression targets


def train_and_report(args: argparse.Namespace, *, cache_dir: Path | None, started: float) -> int:
    import jax

    from functional_nn import MLP, data, fit

    key_data, key_init, key_fit = jax.random.split(jax.random.key(args.seed), 3)
    options = _data_options(args)
    dataset = data.load_dataset(args.dataset, key=key_data, **options)
    if dataset.task == "regression" and dataset.target_standardizer is None:
        # a file turned out to hold regression targets: read it again (same key, same split) in standard units
        dataset = data.load_dataset(args.dataset, key=key_data, **options, standardize_targets=True)
    n_out, output_activation, loss = choose_head(
        dataset.task,
        dataset.num_classes,
        int(dataset.y_train.shape[-1]) if dataset.y_train.ndim == 2 else 1,
        args.output_activation,
        args.loss,
    )
    activation = hidden_activation(args.activation, len(args.hidden))
    net = MLP(
        (dataset.num_features, *args.hidden, n_out),
        activation=activation,
        output_activation=output_activation,
        initializer=args.initializer,
    )
    parts = _parts(dataset, net, loss)
    train, val, test = parts
    m = int(train.x.shape[0])
    batch_size = None if args.batch_size is None or args.batch_size >= m else args.batch_size
    rate = _rate(args, m, batch_size)

    print(_describe_data(dataset, parts))
    print(_describe_network(net, loss, args.method))
    print(
        f"training  {args.optimizer}, {learning_rate_text(args)}, K = {batch_size or f'{m} (full batch)'}, "
        f"up to {args.epochs} epochs{'' if args.patience is None else f', patience {args.patience}'}, "
        f"seed {args.seed}"
    )
    sys.stdout.flush()  # the progress bar (stderr) comes after these lines

    params = net.init(key_init)
    checkpoints = {}
    if args.checkpoint_every is not None:
        from functional_nn.cli._train import RUN_FILE, recorded_options

        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / RUN_FILE).write_text(json.dumps(recorded_options(args), indent=2))
        checkpoints = dict(
            checkpoint_dir=args.out_dir / "checkpoints",
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
        )
    fit_started = time.perf_counter()
    result = fit(
        net,
        params,
        train.x,
        train.y,
        loss=loss,
        batch_size=batch_size,
        num_epochs=args.epochs,
        key=key_fit,
        method=args.method,
        validation=(val.x, val.y) if val.x is not None else None,
        patience=args.patience,
        progress=_show_progress(args),
        record_grad_norms=True,
        **checkpoints,
        **rate,
    )
    fit_seconds = time.perf_counter() - fit_started
    print(f"fit       {result.message}")

    final = result.best_params
    metrics = _evaluate(net, loss, final, parts, dataset)
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = _write_results(args, out_dir, dataset, net, loss, result, final, metrics)
    figures = [] if args.no_figures else _draw_figures(out_dir, net, final, result, train, dataset)
    files = ["history.csv", "history.json", "summary.json", "checkpoint.npz", *figures]
    wall = time.perf_counter() - started
    summary.update(wall_seconds=round(wall, 3), fit_seconds=round(fit_seconds, 3), files=files)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))

    metric_name = "accuracy" if dataset.task == "classification" else "rmse (data units)"
    rows = [("", "loss J", metric_name)]
    for name in ("train", "validation", "test"):
        values = metrics.get(name)
        rows.append(
            (
                name,
                format_number(values["loss"]) if values else "-",
                format_number(
                    values["metric"], "accuracy" if dataset.task == "classification" else "loss"
                )
                if values
                else "-",
            )
        )
    print()
    print(table(rows))
    print()
    best = f"{result.best_epoch}" + (
        " (its params are reported and saved)" if val.x is not None else ""
    )
    print(
        table(
            [
                (
                    "epochs run",
                    f"{result.stopped_epoch} of {args.epochs}"
                    + (" (stopped early)" if result.stopped_early else ""),
                ),
                ("best epoch", best),
                (
                    "wall time",
                    f"{wall:.1f} s (fit {fit_seconds:.1f} s"
                    + (f"; compilation cache {cache_dir})" if cache_dir else ")"),
                ),
            ],
            header=False,
        )
    )
    print()
    print(f"wrote {out_dir}/: {', '.join(files)}")
    return 1 if result.diverged else 0


def _show_progress(args: argparse.Namespace) -> bool:
    """A bar on a terminal only (a log file would fill with redraws), and only with tqdm installed."""
    if args.no_progress or not sys.stderr.isatty():
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _data_options(args: argparse.Namespace) -> dict:
    options = dict(val_fraction=args.val_fraction, test_fraction=args.test_fraction)
    if args.samples is not None:
        options["n"] = args.samples
    if args.noise is not None:
        options["noise"] = args.noise
    if args.task is not None:
        options["task"] = args.task
    if args.target is not None:
        options["target"] = int(args.target) if args.target.lstrip("-").isdigit() else args.target
    if _named_task(args.dataset) == "regression" or args.task == "regression":
        # standard units keep mse and the default learning rates meaningful whatever the targets' scale
        options["standardize_targets"] = True
    return options


def _named_task(source: str) -> str | None:
    from functional_nn import data

    try:
        return data.info(source).task
    except ValueError:
        return None  # a file: its task is known once it is read


def _parts(dataset, net, loss: str) -> tuple[Part, Part, Part]:
    """Each part's inputs and targets in the encoding the output layer needs."""
    from functional_nn import data

    n_out = net.layer_sizes[-1]

    def encode(labels):
        if dataset.task == "regression":
            return labels
        if n_out == 1:
            return data.binary_targets(labels)
        return data.one_hot(labels, n_out)

    out = []
    for name, x, y in (
        ("train", dataset.x_train, dataset.y_train),
        ("validation", dataset.x_val, dataset.y_val),
        ("test", dataset.x_test, dataset.y_test),
    ):
        if x.shape[0] == 0:
            out.append(Part(name, None, None, None))
        else:
            out.append(Part(name, x, encode(y), y))
    train, validation, test = out
    return train, validation, test


def _rate(args: argparse.Namespace, m: int, batch_size: int | None) -> dict:
    """``learning_rate=`` or ``optimizer=`` for ``fit``."""
    import optax

    from functional_nn.schedules import inverse_time_decay, steps_per_epoch

    if args.schedule == "inverse-time":
        per_epoch = args.decay_per == "epoch"
        schedule = inverse_time_decay(
            args.c1,
            args.c2,
            per=args.decay_per,
            steps_per_epoch=steps_per_epoch(m, batch_size)
            if per_epoch and args.optimizer != "sgd"
            else None,
        )
        rate: object = schedule
    else:
        rate = (
            args.learning_rate
            if args.learning_rate is not None
            else DEFAULT_LEARNING_RATE[args.optimizer]
        )
    if args.optimizer == "sgd":
        return {"learning_rate": rate}  # fit's own w <- w - α ∇J, the lecture's rule
    if args.optimizer == "momentum":
        return {
            "optimizer": optax.inject_hyperparams(optax.sgd)(
                learning_rate=rate, momentum=args.momentum
            )
        }
    return {"optimizer": optax.inject_hyperparams(optax.adam)(learning_rate=rate)}


def _evaluate(net, loss: str, params, parts, dataset) -> dict[str, dict]:
    """``J`` and accuracy (classes) or RMSE in the targets' own units (regression) for each part.

    The parts are stacked so one compiled call evaluates them all; each part's ``J``
    is the weighted objective with weight 1 on its own rows and 0 elsewhere.
    """
    import jax.numpy as jnp

    present = [p for p in parts if p.x is not None]
    sizes = [int(p.x.shape[0]) for p in present]
    starts = np.cumsum([0, *sizes])
    masks = np.zeros((len(present), starts[-1]), np.float32)
    for i, (lo, hi) in enumerate(zip(starts[:-1], starts[1:])):
        masks[i, lo:hi] = 1.0
    x = jnp.concatenate([p.x for p in present])
    y = jnp.concatenate([p.y for p in present])
    part_losses, y_hat = _losses_and_outputs(net, loss, params, x, y, jnp.asarray(masks))
    part_losses, y_hat = np.asarray(part_losses), np.asarray(y_hat)
    out = {}
    for i, p in enumerate(present):
        pred = y_hat[starts[i] : starts[i + 1]]
        if dataset.task == "classification":
            predicted = (
                (pred[:, 0] >= 0.5).astype(int) if pred.shape[1] == 1 else pred.argmax(axis=1)
            )
            metric = float(np.mean(predicted == np.asarray(p.labels)))
        else:
            scaler = dataset.target_standardizer
            true = np.asarray(p.labels)
            if scaler is not None:
                pred, true = np.asarray(scaler.invert(pred)), np.asarray(scaler.invert(true))
            metric = float(np.sqrt(np.mean((pred - true) ** 2)))
        out[p.name] = {"loss": float(part_losses[i]), "metric": metric}
    return out


def _losses_and_outputs(net, loss: str, params, x, y, masks):
    import jax

    from functional_nn.backprop import objective

    @jax.jit
    def run(params, x, y, masks):
        J = objective(net, loss)
        return jax.vmap(lambda w: J(params, x, y, w))(masks), net.apply(params, x)

    return run(params, x, y, masks)


def _describe_data(dataset, parts) -> str:
    sizes = " / ".join(f"{0 if p.x is None else p.x.shape[0]} {p.name}" for p in parts)
    total = sum(0 if p.x is None else p.x.shape[0] for p in parts)
    targets = dataset.y_train.shape[1] if dataset.task == "regression" else 0
    what = (
        f"C = {dataset.num_classes} classes"
        if dataset.task == "classification"
        else f"regression on {_count(targets, 'target')} (standardized)"
    )
    return (
        f"data      {dataset.name}: {total} examples = {sizes}; {_count(dataset.num_features, 'feature')} "
        f"(standardized on the training part); {what}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _describe_network(net, loss: str, method: str) -> str:
    hidden = net.activation if isinstance(net.activation, str) else ",".join(net.activation)
    engine = "hand-written backprop" if method == "manual" else "jax.grad"
    hidden_text = f"{hidden} hidden, " if net.num_layers > 1 else ""
    return (
        f"network   {'-'.join(map(str, net.layer_sizes))}: {hidden_text}{net.output_activation} output, "
        f"{loss}; gradients by {engine}"
    )


def _write_results(args, out_dir: Path, dataset, net, loss: str, result, params, metrics) -> dict:
    """Write history.csv, history.json and checkpoint.npz; return the run's summary (written by the caller)."""
    from functional_nn.checkpoint import save_checkpoint

    history = {name: np.asarray(values) for name, values in result.history.items()}
    epochs = len(history["train_loss"])
    columns = {"epoch": np.arange(1, epochs + 1)}
    for name, values in history.items():
        if values.ndim == 2:  # (epochs, L): one column per layer
            for l in range(values.shape[1]):
                columns[f"{name}_layer{l + 1}"] = values[:, l]
        else:
            columns[name] = values
    with open(out_dir / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i in range(epochs):
            writer.writerow(
                [int(v[i]) if name == "epoch" else repr(float(v[i])) for name, v in columns.items()]
            )
    with open(out_dir / "history.json", "w") as f:
        json.dump({name: values.tolist() for name, values in history.items()}, f)

    summary = {
        "command": "functional-nn train",
        "config": {
            k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
            for k, v in vars(args).items()
            if k != "handler"
        },
        "dataset": {
            "name": dataset.name,
            "task": dataset.task,
            "num_classes": dataset.num_classes,
            "class_names": list(dataset.class_names) if dataset.class_names else None,
            "num_features": dataset.num_features,
        },
        "network": net.describe(),
        "loss": loss,
        "metrics": metrics,
        "epochs_run": result.stopped_epoch,
        "best_epoch": result.best_epoch,
        "num_updates": result.num_updates,
        "stopped_early": result.stopped_early,
        "diverged": result.diverged,
        "message": result.message,
    }
    scaler = dataset.standardizer
    metadata = {
        "dataset": dataset.name,
        "task": dataset.task,
        "loss": loss,
        "seed": args.seed,
        "best_epoch": result.best_epoch,
        "epochs_run": result.stopped_epoch,
        "metrics": metrics,
        # what a user needs to feed new inputs to the saved params
        "input_mean": None if scaler is None else np.asarray(scaler.mean).tolist(),
        "input_scale": None if scaler is None else np.asarray(scaler.scale).tolist(),
        "class_names": list(dataset.class_names) if dataset.class_names else None,
    }
    save_checkpoint(
        out_dir / "checkpoint.npz",
        params,
        network=net,
        opt_state=result.opt_state,
        history=history,
        metadata=metadata,
    )
    return summary


def _draw_figures(out_dir: Path, net, params, result, train: Part, dataset) -> list[str]:
    try:
        from functional_nn import plots

        plots.loss_curves(
            result.history,
            best_epoch=result.best_epoch or None,
            path=out_dir / "loss_curves.png",
            title=f"{dataset.name}: {'-'.join(map(str, net.layer_sizes))}",
        )
    except ImportError as err:
        print(f"note      figures skipped: {err}", file=sys.stderr)
        return []
    files = ["loss_curves.png"]
    if "grad_norms" in result.history:
        plots.gradient_norms(
            result.history["grad_norms"],
            path=out_dir / "gradient_norms.png",
            title="mean gradient norm per layer and epoch",
        )
        files.append("gradient_norms.png")
    if dataset.num_features == 2 and dataset.task == "classification":
        plots.decision_boundary(
            lambda g: net.apply(params, g),
            train.x,
            train.labels,
            path=out_dir / "decision_boundary.png",
            title=f"{dataset.name}: decision boundary (training data, standardized)",
        )
        files.append("decision_boundary.png")
    return files
