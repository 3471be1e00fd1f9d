"""A real dataset end to end: can a small sigmoid network diagnose breast cancer?

The lecture's sigmoid neuron for classification, grown into a network and run the
way the lecture prescribes: scikit-learn's bundled Wisconsin breast-cancer data
(569 tumours, 30 features) split into training, validation and test parts,
features standardized on the training part only, a 30-16-1 network with a sigmoid
output trained on binary cross-entropy by mini-batch SGD with the hand-derived
backward pass, early stopping on the validation loss, then one look at the test
set. The params are checkpointed and loaded back, and the loss curves drawn.

    python examples/real_dataset.py --seed 0 --out-dir out/real_dataset
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn.flags import parse_flags


def accuracy(net, params, x, y) -> float:
    """Fraction of examples where ``ŷ >= 0.5`` matches the 0/1 label."""
    return float(jnp.mean((net.apply(params, x)[:, 0] >= 0.5) == (y[:, 0] == 1)))


def main(
    *,
    seed: int = 0,
    dataset: str = "breast_cancer",
    hidden: int = 16,
    learning_rate: float = 0.1,
    batch_size: int = 16,
    num_epochs: int = 200,
    patience: int = 20,
    method: Literal["manual", "autodiff"] = "manual",
    out_dir: str = "out/real_dataset",
) -> dict:
    """Train, early-stop, test, checkpoint; print the table; write ``loss_curves.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k_split, k_init, k_fit = jax.random.split(jax.random.key(seed), 3)
    data = fnn.data.load_dataset(dataset, key=k_split, fractions=(0.6, 0.2, 0.2))
    if data.num_classes != 2:
        raise ValueError(
            f"dataset must be a two-class set for this sigmoid classifier, got {data.num_classes} classes"
        )
    column = lambda labels: jnp.asarray(labels, jnp.float32)[
        :, None
    ]  # 0/1 labels -> (m, 1) targets
    y_train, y_val, y_test = column(data.y_train), column(data.y_val), column(data.y_test)

    net = fnn.MLP(
        (data.x_train.shape[1], hidden, 1), activation="sigmoid", output_activation="sigmoid"
    )
    start = time.perf_counter()
    with warnings.catch_warnings(
        record=True
    ) as capped:  # a run cut off by num_epochs is reported below
        warnings.simplefilter("always", fnn.ConvergenceWarning)
        result = fnn.fit(
            net,
            net.init(k_init),
            data.x_train,
            y_train,
            loss="binary_cross_entropy",
            learning_rate=learning_rate,
            batch_size=batch_size,
            num_epochs=num_epochs,
            key=k_fit,
            method=method,
            validation=(data.x_val, y_val),
            patience=patience,
        )
    seconds = time.perf_counter() - start
    params = result.best_params
    J = fnn.objective(net, "binary_cross_entropy")
    rows = {
        part: (float(J(params, x, y)), accuracy(net, params, x, y))
        for part, x, y in (
            ("train", data.x_train, y_train),
            ("validation", data.x_val, y_val),
            ("test", data.x_test, y_test),
        )
    }

    checkpoint = fnn.save_checkpoint(
        out / "checkpoint.npz",
        params,
        network=net,
        history={k: np.asarray(v) for k, v in result.history.items()},
        metadata={"dataset": dataset, "best_epoch": result.best_epoch},
    )
    restored = fnn.load_checkpoint(checkpoint, like=params)
    reloaded_equal = all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(restored.params), jax.tree.leaves(params))
    )
    fnn.plots.loss_curves(
        result.history,
        best_epoch=result.best_epoch,
        path=out / "loss_curves.png",
        title=f"{dataset}: {net.layer_sizes} sigmoid, BCE, K = {batch_size}",
    )

    print(
        f"{dataset}: {len(data.x_train)} train / {len(data.x_val)} validation / {len(data.x_test)} test, "
        f"network {net.layer_sizes}, {method} gradients, SGD α = {learning_rate}, K = {batch_size}"
    )
    print(f"{'part':<11} {'loss J':>8} {'accuracy':>9}")
    for part, (loss, acc) in rows.items():
        print(f"{part:<11} {loss:>8.4f} {acc:>9.2%}")
    print(
        f"epochs run {result.stopped_epoch}, best epoch {result.best_epoch}, {result.num_updates} updates, "
        f"{seconds:.2f} s including compilation"
    )
    for warning in capped:
        print(f"note: {warning.message}")
    print(
        f"checkpoint {checkpoint} (reloads bit-exact: {reloaded_equal}); figure {out / 'loss_curves.png'}"
    )
    return {
        "rows": rows,
        "best_epoch": result.best_epoch,
        "stopped_epoch": result.stopped_epoch,
        "reloaded_equal": reloaded_equal,
        "figure": str(out / "loss_curves.png"),
        "checkpoint": str(checkpoint),
    }


if __name__ == "__main__":
    main(**parse_flags(main))
