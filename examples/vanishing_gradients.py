"""Do gradients vanish in a deep sigmoid network, and do tanh, ReLU and a good initialization fix it?

The lecture lists two desirable properties of an activation: a non-vanishing
gradient (sigmoid "saturates and kills gradients", σ' ≤ 1/4) and zero-centred
output (sigmoid's is not, tanh's is). This script measures both at initialization
in a deep network (default 10 weight layers of width 64): the per-layer gradient
norms ‖∂J/∂(w^l, b^l)‖ from the manual backward pass (fnn.backward), the per-layer
delta norms ‖δ^l‖, and the mean activation of each hidden layer, for sigmoid,
tanh and ReLU hidden units under normal(σ) and Glorot and He initialization. A
ratio ‖∇ layer 2‖ / ‖∇ layer L−1‖ (two hidden layers of the same shape) far below
1 is a vanishing gradient; far above 1 an exploding one.

    python examples/vanishing_gradients.py --depth 10 --width 64 --out-dir out/vanishing_gradients
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn.flags import parse_flags

ACTIVATIONS = ("sigmoid", "tanh", "relu")
# (label, MLP initializer, init_scale)
VANISHING = 1e-2  # gradient ratio below this (or above its inverse) across the hidden layers
EXPLODED = 1e3  # a layer gradient norm above this at initialization has exploded
INITS = (
    ("normal(0.01)", "normal", 0.01),
    ("normal(1)", "normal", 1.0),
    ("glorot", "glorot_normal", None),
    ("he", "he_normal", None),
)


def main(
    *,
    seed: int = 0,
    depth: int = 10,
    width: int = 64,
    batch: int = 256,
    num_inputs: int = 32,
    out_dir: str = "out/vanishing_gradients",
) -> dict:
    """Measure per-layer gradient norms at initialization; print the table, write ``vanishing_gradients.png``.

    Args:
        depth: weight layers (>= 8 for the lecture's point)
    """
    if depth < 2:
        raise ValueError(f"depth must be >= 2 weight layers, got {depth}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k_x, k_y, k_init = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(k_x, (batch, num_inputs))
    y = jax.random.normal(k_y, (batch, 1))
    sizes = (num_inputs,) + (width,) * (depth - 1) + (1,)

    print(
        f"{depth} weight layers {sizes[:3]}...{sizes[-2:]}, batch {batch}, MSE on random targets; "
        "norms at initialization (same key for every net)"
    )
    print(
        "ratio = ‖∇ layer 2‖ / ‖∇ layer L−1‖ (both width×width hidden layers, so comparable); "
        f"< {VANISHING:g} vanishing, > {1 / VANISHING:g} (or any norm > {EXPLODED:g}) exploding"
    )
    head = (
        f"{'activation':<10} {'init':<13} {'‖∇ layer 2‖':>12} {'‖∇ layer L−1‖':>14} {'ratio':>9} "
        f"{'‖δ^2‖/‖δ^L−1‖':>14} {'mean a^L−1':>11}  verdict"
    )
    print(head)
    print("-" * len(head))
    results = {}
    for act in ACTIVATIONS:
        for label, initializer, scale in INITS:
            net = fnn.MLP(
                sizes,
                activation=act,
                output_activation="linear",
                initializer=initializer,
                init_scale=scale,
            )
            params = net.init(k_init)
            norms, delta_norms, means = _measure(net, params, x, y)
            ratio = float(norms[1] / norms[-2]) if norms[-2] > 0 else float("nan")
            delta_ratio = (
                float(delta_norms[1] / delta_norms[-2]) if delta_norms[-2] > 0 else float("nan")
            )
            verdict = (
                "vanishing"
                if not ratio >= VANISHING
                else "exploding"
                if ratio > 1 / VANISHING or norms.max() > EXPLODED
                else "stable"
            )
            results[(act, label)] = dict(
                grad_norms=norms.tolist(),
                delta_norms=delta_norms.tolist(),
                mean_activation=means.tolist(),
                ratio=ratio,
                delta_ratio=delta_ratio,
                verdict=verdict,
            )
            print(
                f"{act:<10} {label:<13} {norms[1]:>12.3e} {norms[-2]:>14.3e} {ratio:>9.2e} {delta_ratio:>14.2e} "
                f"{means[-1]:>11.3f}  {verdict}"
            )

    stable = [f"{a}/{i}" for (a, i), r in results.items() if r["verdict"] == "stable"]
    print(f"\nstable at initialization: {', '.join(stable) or 'none'}")
    print(
        "mean activation of the last hidden layer (Glorot): "
        + ", ".join(
            f"{a} {results[(a, 'glorot')]['mean_activation'][-1]:+.3f}" for a in ACTIVATIONS
        )
        + "  (sigmoid is not zero-centred)"
    )
    figure = _plot(out / "vanishing_gradients.png", results)
    print(f"figure: {figure}")
    return {
        "results": {f"{a}/{i}": r for (a, i), r in results.items()},
        "stable": stable,
        "figure": str(figure),
    }


def _measure(net: fnn.MLP, params, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-layer gradient norms, per-layer ‖δ^l‖ and mean hidden activations, from one forward/backward pass."""
    value, grads, deltas = fnn.backward(net, "mse", params, x, y)
    norms = np.asarray(fnn.gradient_norms(grads))
    delta_norms = np.asarray([float(jnp.linalg.norm(d)) for d in deltas])
    hidden = net.forward(params, x).activations[1:-1]
    means = np.asarray([float(jnp.mean(a)) for a in hidden])
    return norms, delta_norms, means


def _plot(path: Path, results) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 4.6), layout="constrained")
    axes = fig.subplots(1, len(ACTIVATIONS) + 1)
    for ax, act in zip(axes, ACTIVATIONS):
        for i, (label, _, _) in enumerate(INITS):
            norms = np.asarray(results[(act, label)]["grad_norms"])
            layers = np.arange(1, len(norms) + 1)
            ax.semilogy(
                layers, np.where(norms > 0, norms, np.nan), "o-", ms=3, color=f"C{i}", label=label
            )
        ax.set(
            xlabel="layer l (1 = next to the input)",
            ylabel="‖∂J/∂(w^l, b^l)‖",
            title=f"{act} hidden layers",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[-1]
    for i, act in enumerate(ACTIVATIONS):
        means = np.asarray(results[(act, "glorot")]["mean_activation"])
        ax.plot(np.arange(1, len(means) + 1), means, "o-", ms=3, color=f"C{i}", label=act)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(xlabel="hidden layer", ylabel="mean activation", title="zero-centred? (Glorot init)")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
