"""Which decision surfaces can a perceptron, a one-hidden-layer network and a deeper network build?

The lecture asks "What is the decision surface of perceptron?", states that neural
networks are universal approximators, and asks of a complicated region "Can you build
such region with one hidden layer network?". Three measurements:

(a) the perceptron rule on linearly separable data: its decision surface is the
    hyperplane w0 + w1 x1 + w2 x2 = 0 (fnn.neurons), drawn on the data;
(b) one hidden layer of sigmoid units fits a smooth 1-D function, the error falling
    as the width grows (all widths trained at once: fnn.fit_many with hidden-unit masks);
(c) 2-D classification regions of growing complexity — a disk inside a ring and two
    interleaved spirals — with 1, 2, 3, ... hidden units and with two hidden layers:
    the accuracy says which architecture can build which region.

    python examples/decision_surfaces.py --seed 0 --out-dir out/decision_surfaces
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax

import functional_nn as fnn
from functional_nn import neurons
from functional_nn.flags import parse_flags


def target_function(x):
    """The smooth 1-D function of part (b)."""
    return jnp.sin(3 * x) + 0.3 * jnp.cos(9 * x)


def main(
    *,
    seed: int = 0,
    widths_1d: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
    epochs_1d: int = 4000,
    widths_2d: tuple[int, ...] = (1, 2, 3, 8, 64),
    deep: tuple[int, ...] = (16, 16),
    epochs_2d: int = 3000,
    datasets: tuple[Literal["circle", "spirals", "moons", "xor_quadrants"], ...] = (
        "circle",
        "spirals",
    ),
    num_points: int = 200,
    out_dir: str = "out/decision_surfaces",
) -> dict:
    """Run (a), (b) and (c); print their tables, write ``decision_surfaces.png`` and ``decision_regions.png``.

    Args:
        deep: hidden widths of the deeper network (none: skip it)
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k_sep, k_1d, k_2d = jax.random.split(jax.random.key(seed), 3)

    # (a) The perceptron's hyperplane.
    sep = neurons.separable_data(k_sep, 80, margin=0.1)
    perceptron = neurons.train_perceptron(sep.x, sep.t, max_epochs=200)
    accuracy = float(jnp.mean(neurons.perceptron_output(perceptron.w, sep.x) == sep.t))
    w = np.asarray(perceptron.w)
    print(
        f"(a) perceptron on separable data (margin {float(sep.margin):.2f}): converged {bool(perceptron.converged)} "
        f"after {int(jnp.sum(perceptron.mistakes > 0))} epochs with mistakes, {int(perceptron.total_mistakes)} "
        f"updates (Novikoff's bound {float(neurons.novikoff_bound(sep.w, sep.x, sep.t)):.0f}); accuracy {accuracy:.0%}"
    )
    print(f"    decision surface: {w[0]:+.3f} {w[1]:+.3f} x1 {w[2]:+.3f} x2 = 0, a line")

    # (b) One hidden layer approximating a smooth function; all widths in one vmapped run.
    x1d = jnp.linspace(-1, 1, 64)[:, None]
    x_test = jnp.linspace(-1, 1, 301)[:, None]
    net_1d = fnn.MLP((1, max(widths_1d), 1), activation="sigmoid", output_activation="linear")
    many = fnn.fit_many(
        net_1d,
        x1d,
        target_function(x1d),
        key=jax.random.split(k_1d, len(widths_1d)),
        hidden_widths=jnp.asarray(widths_1d),
        loss="mse",
        num_epochs=epochs_1d,
        optimizer=optax.adam(optax.cosine_decay_schedule(0.03, epochs_1d)),
    )
    fits, errors = {}, {}
    print(
        f"\n(b) one sigmoid hidden layer, linear output, fitting sin(3x) + 0.3 cos(9x) on 64 points, "
        f"{epochs_1d} Adam epochs"
    )
    print(f"    {'width':>5} {'train MSE':>11} {'test MSE':>11}")
    for i, width in enumerate(widths_1d):
        params = jax.tree.map(operator.itemgetter(i), many.members.params)
        mask = (_mask(width, max(widths_1d)),)
        train = float(jnp.mean((net_1d.apply(params, x1d, mask) - target_function(x1d)) ** 2))
        test_pred = net_1d.apply(params, x_test, mask)
        test = float(jnp.mean((test_pred - target_function(x_test)) ** 2))
        fits[width], errors[width] = np.asarray(test_pred[:, 0]), dict(train=train, test=test)
        print(f"    {width:>5} {train:>11.2e} {test:>11.2e}")

    # (c) 2-D regions: widths of one hidden layer (masked, one run) and a deeper network.
    opt = optax.adam(0.05)
    regions, accuracies = {}, {}
    for d, name in enumerate(datasets):
        x2, y2 = getattr(fnn.data, name)(num_points, key=jax.random.fold_in(k_2d, d))
        y2f = y2.astype(jnp.float32)[:, None]
        wide = fnn.MLP((2, max(widths_2d), 1), activation="sigmoid", output_activation="sigmoid")
        res = fnn.fit_many(
            wide,
            x2,
            y2f,
            key=jax.random.split(jax.random.fold_in(k_2d, 100 + d), len(widths_2d)),
            hidden_widths=jnp.asarray(widths_2d),
            loss="binary_cross_entropy",
            optimizer=opt,
            num_epochs=epochs_2d,
        )
        models = {}
        for i, width in enumerate(widths_2d):
            params = jax.tree.map(operator.itemgetter(i), res.members.params)
            mask = (_mask(width, max(widths_2d)),)
            models[f"1 hidden layer, {width} unit{'s' if width > 1 else ''}"] = (
                lambda g, p=params, m=mask, n=wide: n.apply(p, g, m)
            )
        if deep:  # () skips the deeper network
            deep_net = fnn.MLP((2, *deep, 1), activation="sigmoid", output_activation="sigmoid")
            deep_fit = fnn.fit(
                deep_net,
                deep_net.init(jax.random.fold_in(k_2d, 200 + d)),
                x2,
                y2f,
                loss="binary_cross_entropy",
                optimizer=opt,
                num_epochs=epochs_2d,
                key=jax.random.fold_in(k_2d, 300 + d),
            )
            models[f"{len(deep)} hidden layers, {'-'.join(map(str, deep))}"] = (
                lambda g, p=deep_fit.params, n=deep_net: n.apply(p, g)
            )
        accuracies[name] = {
            label: float(jnp.mean((f(x2)[:, 0] >= 0.5) == (y2 == 1))) for label, f in models.items()
        }
        regions[name] = (np.asarray(x2), np.asarray(y2), models)
    print(
        f"\n(c) training accuracy on 2-D regions ({num_points} points, sigmoid units, Adam, {epochs_2d} epochs)"
    )
    labels = list(next(iter(accuracies.values())))
    print(f"    {'network':<28} " + " ".join(f"{n:>9}" for n in datasets))
    for label in labels:
        print(f"    {label:<28} " + " ".join(f"{accuracies[n][label]:>9.1%}" for n in datasets))

    fig1 = _plot_surfaces(out / "decision_surfaces.png", sep, w, x_test, fits, errors)
    fig2 = _plot_regions(out / "decision_regions.png", regions, accuracies)
    print(f"figures: {fig1}, {fig2}")
    return {
        "perceptron_converged": bool(perceptron.converged),
        "perceptron_accuracy": accuracy,
        "perceptron_w": w.tolist(),
        "approximation_errors": errors,
        "region_accuracies": accuracies,
        "figures": [str(fig1), str(fig2)],
    }


def _mask(width: int, max_width: int):
    """Keep the first ``width`` hidden units (as ``fit_many`` did for that member)."""
    return (jnp.arange(max_width) < width).astype(jnp.float32)


def _plot_surfaces(path: Path, sep, w, x_test, fits, errors) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.4), layout="constrained")
    ax_p, ax_f, ax_e = fig.subplots(1, 3)
    x, t = np.asarray(sep.x), np.asarray(sep.t)
    g = np.linspace(-1.1, 1.1, 201)
    g1, g2 = np.meshgrid(g, g)
    ax_p.contourf(
        g1,
        g2,
        (w[0] + w[1] * g1 + w[2] * g2 >= 0).astype(float),
        levels=[0.5, 1.5],
        colors=["#f4c7c3"],
        alpha=0.6,
    )
    ax_p.scatter(x[:, 0], x[:, 1], c=t, cmap="coolwarm", s=18, edgecolors="k", linewidths=0.4)
    ax_p.plot(g, -(w[0] + w[1] * g) / w[2], "k-", label="w0 + w1 x1 + w2 x2 = 0")
    ax_p.set(
        xlim=(-1.1, 1.1),
        ylim=(-1.1, 1.1),
        aspect="equal",
        xlabel="x1",
        ylabel="x2",
        title="(a) perceptron: a hyperplane",
    )
    ax_p.legend(fontsize=7, loc="lower left")

    xs = np.asarray(x_test[:, 0])
    ax_f.plot(xs, np.asarray(target_function(x_test[:, 0])), "k", lw=2.5, label="target")
    for i, (width, y) in enumerate(fits.items()):
        ax_f.plot(xs, y, color=f"C{i}", lw=1, label=f"{width} units")
    ax_f.set(xlabel="x", ylabel="y", title="(b) one hidden layer, growing width")
    ax_f.legend(fontsize=7)
    widths = np.array(list(errors))
    ax_e.loglog(widths, [errors[k]["test"] for k in widths], "o-", label="test MSE")
    ax_e.loglog(widths, [errors[k]["train"] for k in widths], "s--", label="train MSE")
    ax_e.set(xlabel="hidden units", ylabel="mean squared error", title="(b) error vs width")
    ax_e.legend()
    fig.savefig(path, dpi=110)
    return path


def _plot_regions(path: Path, regions, accuracies) -> Path:
    from matplotlib.figure import Figure

    names = list(regions)
    cols = len(next(iter(regions.values()))[2])
    fig = Figure(figsize=(3 * cols, 3.1 * len(names)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(names), cols))
    g = np.linspace(-1.2, 1.2, 161)
    g1, g2 = np.meshgrid(g, g)
    grid = jnp.asarray(np.stack([g1.ravel(), g2.ravel()], 1), jnp.float32)
    for r, name in enumerate(names):
        x, y, models = regions[name]
        for c, (label, f) in enumerate(models.items()):
            ax = axes[r, c]
            p = np.asarray(f(grid))[:, 0].reshape(g1.shape)
            ax.contourf(g1, g2, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
            ax.contour(g1, g2, p, levels=[0.5], colors="k", linewidths=1)
            ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=6, edgecolors="k", linewidths=0.2)
            ax.set(xticks=[], yticks=[], aspect="equal")
            ax.set_title(f"{label}\n{name}: {accuracies[name][label]:.0%}", fontsize=8)
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
