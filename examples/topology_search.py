"""How many hidden units? The lecture's "trial and error" topology choice, all candidates in one run.

The lecture: "A simple approach for choosing the network topology is by trial and
error. We partition the available data into three parts: training data, validation
data, and test data. We choose a topology and train the network using the
training data. After training, we evaluate the trained network using validation
data." Here the candidates are one-hidden-layer networks 64-w-10 on scikit-learn's
handwritten digits, w from 1 to 64, each from several seeds. ``fnn.fit_many``
trains all of them in one compiled, vmapped call: the network is built at the
largest width and member i masks its hidden layer down to w_i units (a masked
unit outputs 0 and never changes, so the member is exactly the narrow network).
Every member stops early on its own validation loss. The width with the lowest
validation loss is chosen, and only that network is evaluated on the test data.

    python examples/topology_search.py --seed 0 --seeds-per-width 3 --out-dir out/topology_search
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn.flags import parse_flags

DEFAULT_WIDTHS = (1, 2, 4, 8, 16, 32, 64)


def main(
    *,
    seed: int = 0,
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
    seeds_per_width: int = 3,
    num_epochs: int = 100,
    patience: int = 10,
    batch_size: int = 32,
    learning_rate: float = 0.1,
    out_dir: str = "out/topology_search",
) -> dict:
    """Search the hidden width; print the table, write ``topology_search.png``.

    Args:
        widths: comma-separated widths
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key_data, key_runs = jax.random.split(jax.random.key(seed))
    ds = fnn.data.load_dataset(
        "digits", key=key_data
    )  # 60/20/20, standardized on the training part
    widths = tuple(int(w) for w in widths)
    net = fnn.MLP(
        (ds.num_features, max(widths), ds.num_classes),
        activation="relu",
        output_activation="softmax",
        initializer="he_uniform",
    )
    member_widths = np.repeat(widths, seeds_per_width)  # (members,)
    keys = jax.random.split(key_runs, member_widths.size)  # one seed per member
    start = time.perf_counter()
    many = fnn.fit_many(
        net,
        ds.x_train,
        ds.y_train,
        key=keys,
        hidden_widths=member_widths,
        loss="categorical_cross_entropy",
        learning_rate=learning_rate,
        batch_size=batch_size,
        num_epochs=num_epochs,
        validation=(ds.x_val, ds.y_val),
        patience=patience,
    )
    seconds = time.perf_counter() - start

    m = many.members
    best_val = np.array(
        [
            float(np.min(m.history["val_loss"][i, : m.stopped_epoch[i]]))
            for i in range(member_widths.size)
        ]
    )
    best_acc = np.array(
        [
            float(m.history["val_accuracy"][i, m.best_epoch[i] - 1])
            for i in range(member_widths.size)
        ]
    )
    rows = {}
    for w in widths:
        members = member_widths == w
        rows[w] = dict(
            val_loss=float(best_val[members].mean()),
            val_loss_std=float(best_val[members].std()),
            val_accuracy=float(best_acc[members].mean()),
            epochs_run=float(np.mean(m.stopped_epoch[members])),
        )
    chosen = many.best
    chosen_width = int(member_widths[many.best_index])
    mask = (jnp.arange(max(widths)) < chosen_width).astype(jnp.float32)
    test_logits = net.logits(chosen.best_params, ds.x_test, (mask,))
    test_accuracy = float(jnp.mean(jnp.argmax(test_logits, axis=1) == ds.y_test))

    print(
        f"digits: {ds.x_train.shape[0]} train / {ds.x_val.shape[0]} validation / {ds.x_test.shape[0]} test; "
        f"{member_widths.size} networks 64-w-10 trained in one fit_many call ({seconds:.1f} s)"
    )
    print(f"{'width w':>7} {'val loss (mean ± sd)':>22} {'val acc':>8} {'epochs run':>10}")
    for w, r in rows.items():
        print(
            f"{w:>7} {r['val_loss']:>13.4f} ± {r['val_loss_std']:.4f} {r['val_accuracy']:>8.3f} "
            f"{r['epochs_run']:>10.1f}"
        )
    print(
        f"chosen by validation loss: w = {chosen_width} (member {many.best_index}, epoch {chosen.best_epoch}); "
        f"test accuracy {test_accuracy:.4f}"
    )
    figure = _plot(out / "topology_search.png", widths, rows, chosen_width)
    print(f"figure: {figure}")
    return {
        "widths": rows,
        "chosen_width": chosen_width,
        "best_index": many.best_index,
        "test_accuracy": test_accuracy,
        "seconds": seconds,
        "figure": str(figure),
    }


def _plot(path: Path, widths, rows: dict, chosen: int) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss = [rows[w]["val_loss"] for w in widths]
    loss_ax.errorbar(
        widths, loss, yerr=[rows[w]["val_loss_std"] for w in widths], marker="o", capsize=3
    )
    acc_ax.plot(widths, [rows[w]["val_accuracy"] for w in widths], marker="o")
    for ax, label in (
        (loss_ax, "best validation loss"),
        (acc_ax, "validation accuracy at the best epoch"),
    ):
        ax.axvline(chosen, color="k", ls="--", lw=1, label=f"chosen w = {chosen}")
        ax.set(xscale="log", xlabel="hidden units w", ylabel=label)
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.legend()
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
