"""When should training stop? Early stopping on the validation loss.

The lecture's stopping criterion: "partition the available data into three parts:
training data, validation data, and test data. We train the network using the
training data and in some epochs, we evaluate the trained network using validation
data." A 1-64-64-1 tanh network fits 24 noisy samples of sin(x) with Adam; the
training loss keeps falling while the validation loss turns up once the network
starts fitting the noise. ``fnn.fit(..., patience=p)`` stops p epochs after the
best validation loss, inside the compiled run, and returns that epoch's params;
the same run without early stopping goes on to the epoch limit. Both are then
judged once on the test data.

    python examples/early_stopping.py --seed 0 --patience 100 --out-dir out/early_stopping
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import functional_nn as fnn
from functional_nn.flags import parse_flags


def noisy_sine(key, m: int, noise: float):
    """``x ~ U(−3, 3)`` ``(m, 1)`` and ``y = sin x + noise · ε`` ``(m, 1)``."""
    kx, ke = jax.random.split(key)
    x = jax.random.uniform(kx, (m, 1), minval=-3.0, maxval=3.0)
    return x, jnp.sin(x) + noise * jax.random.normal(ke, (m, 1))


def main(
    *,
    seed: int = 0,
    num_train: int = 24,
    noise: float = 0.3,
    num_epochs: int = 2000,
    patience: int = 100,
    learning_rate: float = 0.01,
    hidden: int = 64,
    out_dir: str = "out/early_stopping",
) -> dict:
    """Train with and without early stopping; print the table, write ``early_stopping.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k_train, k_val, k_test, k_init, k_fit = jax.random.split(jax.random.key(seed), 5)
    (x, y), validation, (x_test, y_test) = (
        noisy_sine(k_train, num_train, noise),
        noisy_sine(k_val, 200, noise),
        noisy_sine(k_test, 200, noise),
    )
    net = fnn.MLP((1, hidden, hidden, 1), activation="tanh", output_activation="linear")
    params = net.init(k_init)
    common = dict(
        loss="mse",
        optimizer=optax.adam(learning_rate),
        num_epochs=num_epochs,
        key=k_fit,
        validation=validation,
    )
    stopped = fnn.fit(net, params, x, y, patience=patience, **common)
    full = fnn.fit(net, params, x, y, **common)

    def test_loss(p) -> float:
        return float(fnn.objective(net, "mse")(p, x_test, y_test))

    rows = {
        f"early stopping (patience {patience})": dict(
            epochs_run=stopped.stopped_epoch,
            params_from_epoch=stopped.best_epoch,
            train_loss=float(stopped.history["train_loss"][stopped.best_epoch - 1]),
            val_loss=float(stopped.history["val_loss"][stopped.best_epoch - 1]),
            test_loss=test_loss(stopped.best_params),
        ),
        "no early stopping (final params)": dict(
            epochs_run=full.stopped_epoch,
            params_from_epoch=full.stopped_epoch,
            train_loss=float(full.history["train_loss"][-1]),
            val_loss=float(full.history["val_loss"][-1]),
            test_loss=test_loss(full.params),
        ),
    }
    print(
        f"{num_train} training points of sin(x) + {noise}·noise, network {net.layer_sizes}, Adam({learning_rate})"
    )
    print(
        f"{'run':<34} {'epochs run':>10} {'params of':>9} {'train loss':>10} {'val loss':>9} {'test loss':>9}"
    )
    for name, r in rows.items():
        print(
            f"{name:<34} {r['epochs_run']:>10} {r['params_from_epoch']:>9} {r['train_loss']:>10.4f} "
            f"{r['val_loss']:>9.4f} {r['test_loss']:>9.4f}"
        )
    print(stopped.message)
    figure = _plot(out / "early_stopping.png", net, stopped, full, (x, y), (x_test, y_test))
    print(f"figure: {figure}")
    return {
        "runs": rows,
        "best_epoch": stopped.best_epoch,
        "stopped_epoch": stopped.stopped_epoch,
        "stopped_early": stopped.stopped_early,
        "figure": str(figure),
        "val_curve": full.history["val_loss"].tolist(),
        "train_curve": full.history["train_loss"].tolist(),
    }


def _plot(path: Path, net, stopped, full, train, test) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    curves, fits = fig.subplots(1, 2)
    epochs = np.arange(1, full.stopped_epoch + 1)
    curves.plot(epochs, full.history["train_loss"], label="training loss")
    curves.plot(epochs, full.history["val_loss"], label="validation loss")
    curves.axvline(
        stopped.best_epoch, color="k", ls="--", lw=1, label=f"best epoch {stopped.best_epoch}"
    )
    curves.axvline(
        stopped.stopped_epoch,
        color="gray",
        ls=":",
        lw=1,
        label=f"stopped at {stopped.stopped_epoch}",
    )
    curves.set(xlabel="epoch", ylabel="J (mse)", yscale="log", title="training vs validation loss")
    curves.legend()
    grid = np.linspace(-3, 3, 300)[:, None].astype(np.float32)
    fits.scatter(np.asarray(test[0]), np.asarray(test[1]), s=6, color="0.7", label="test data")
    fits.scatter(np.asarray(train[0]), np.asarray(train[1]), s=25, color="k", label="training data")
    fits.plot(grid, np.sin(grid), "g", lw=1, label="sin x")
    fits.plot(
        grid,
        np.asarray(net.apply(stopped.best_params, grid)),
        label=f"epoch {stopped.best_epoch} (early stop)",
    )
    fits.plot(grid, np.asarray(net.apply(full.params, grid)), label=f"epoch {full.stopped_epoch}")
    fits.set(xlabel="x", ylabel="y", title="the fitted functions")
    fits.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
