"""What does the batch size K change: stochastic, mini-batch and batch gradient descent?

The lecture's example: with m = 1000 training examples, stochastic gradient descent
(K = 1) makes 1000 updates per epoch, mini-batch gradient descent with K = 50 makes
20, and batch gradient descent (K = m) makes one. This script trains the same
2-16-1 network (tanh hidden layer, sigmoid output, binary cross-entropy) on 1000
points of the two-moons problem with each K for the same number of epochs, each
run one compiled ``fnn.fit`` call, and counts the updates, the time per epoch and
where the validation loss ends up. The figure plots the validation loss against
epochs and against updates: per epoch the small batches learn fastest (many noisy
steps), per update the full batch's steps are the steadiest, and per second the
large batches process the most examples (one matrix product instead of many).

    python examples/batch_size.py --seed 0 --num-epochs 30 --out-dir out/batch_size
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import jax
import numpy as np

import functional_nn as fnn
from functional_nn.flags import parse_flags

# K -> learning rate: a larger batch averages away more noise and takes larger steps.
DEFAULT_RUNS = ((1, 0.05), (50, 0.5), (None, 2.0))


def main(
    *,
    seed: int = 0,
    num_train: int = 1000,
    num_epochs: int = 30,
    runs=DEFAULT_RUNS,
    hidden: int = 16,
    method: Literal["manual", "autodiff"] = "manual",
    out_dir: str = "out/batch_size",
) -> dict:
    """Train one network per batch size; print the table, write ``batch_size.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key_data, key_init, key_fit = jax.random.split(jax.random.key(seed), 3)
    x, labels = fnn.data.moons(n=num_train + 400, noise=0.2, key=key_data)
    y = fnn.data.binary_targets(labels)
    scaler = fnn.data.standardize(x[:num_train])  # fitted on the training part only
    x = scaler.apply(x)
    train, val, test = (
        slice(0, num_train),
        slice(num_train, num_train + 200),
        slice(num_train + 200, None),
    )
    net = fnn.MLP((2, hidden, 1), activation="tanh", output_activation="sigmoid")
    params = net.init(key_init)

    rows, results = [], {}
    for batch_size, learning_rate in runs:
        name = _name(batch_size, num_train)
        kwargs = dict(
            loss="binary_cross_entropy",
            learning_rate=learning_rate,
            batch_size=batch_size,
            num_epochs=num_epochs,
            key=key_fit,
            method=method,
            validation=(x[val], y[val]),
        )
        start = time.perf_counter()
        fnn.fit(net, params, x[train], y[train], **kwargs)  # first call: compile and run
        first = time.perf_counter() - start
        start = time.perf_counter()
        result = fnn.fit(net, params, x[train], y[train], **kwargs)  # compiled program reused
        seconds = time.perf_counter() - start
        test_accuracy = float(
            np.mean((np.asarray(net.apply(result.params, x[test])) >= 0.5) == (y[test] == 1))
        )
        results[name] = dict(
            batch_size=batch_size or num_train,
            learning_rate=learning_rate,
            updates_per_epoch=result.num_updates // result.stopped_epoch,
            num_updates=result.num_updates,
            seconds=seconds,
            compile_seconds=max(first - seconds, 0.0),
            examples_per_second=num_train * num_epochs / seconds,
            train_loss=float(result.history["train_loss"][-1]),
            val_loss=float(result.history["val_loss"][-1]),
            val_accuracy=float(result.history["val_accuracy"][-1]),
            test_accuracy=test_accuracy,
            val_curve=result.history["val_loss"].tolist(),
        )
        r = results[name]
        rows.append(
            (
                name,
                r["batch_size"],
                learning_rate,
                r["updates_per_epoch"],
                r["num_updates"],
                f"{1e3 * seconds / num_epochs:.2f}",
                f"{r['examples_per_second']:.3g}",
                f"{r['val_loss']:.4f}",
                f"{r['test_accuracy']:.3f}",
            )
        )

    header = (
        "method",
        "K",
        "α",
        "updates/epoch",
        "updates",
        "ms/epoch",
        "examples/s",
        "val loss",
        "test acc",
    )
    print(
        f"m = {num_train} training examples, {num_epochs} epochs, network {net.layer_sizes}, {method} backprop"
    )
    _table(header, rows)
    figure = _plot(out / "batch_size.png", results, num_epochs)
    print(f"figure: {figure}")
    return {"runs": results, "figure": str(figure)}


def _name(batch_size, m) -> str:
    if batch_size == 1:
        return "stochastic (K = 1)"
    if batch_size is None or batch_size == m:
        return "batch (K = m)"
    return f"mini-batch (K = {batch_size})"


def _table(header, rows) -> None:
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(v).rjust(w) for v, w in zip(row, widths)))


def _plot(path: Path, results: dict, num_epochs: int) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    by_epoch, by_update = fig.subplots(1, 2)
    epochs = np.arange(1, num_epochs + 1)
    for name, r in results.items():
        by_epoch.plot(epochs, r["val_curve"], label=name)
        by_update.plot(epochs * r["updates_per_epoch"], r["val_curve"], label=name)
    by_epoch.set(
        xlabel="epoch", ylabel="validation loss", title="per epoch (one pass over m examples)"
    )
    by_update.set(
        xlabel="updates w ← w − α∇J", ylabel="validation loss", xscale="log", title="per update"
    )
    by_epoch.legend()
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main(**parse_flags(main, skip=("runs",)))  # runs: a table, set in code
