"""Does the hand-derived backward pass give the same gradients as jax.grad, for every architecture?

The lecture derives ∂J/∂w for sigmoid layers and asks "How do you generalize the
above equations to other layers?"; fnn.backward answers with the δ recursion.
This script checks it against jax.grad and against central finite differences
(fnn.compare_gradients, float64) on several architectures: depths 2 to 6,
sigmoid, tanh and ReLU hidden layers (mixed in one net), linear, sigmoid and
softmax outputs, MSE and both cross-entropies. The table gives, per architecture, the
largest relative error of the manual gradient against autodiff and against
finite differences over every parameter leaf and layer delta.

    python examples/manual_vs_autodiff.py --seed 0 --batch 8 --out-dir out/manual_vs_autodiff
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn.flags import parse_flags

# (name, MLP, loss)
ARCHITECTURES = (
    ("2-4-1 sigmoid, MSE", fnn.MLP((2, 4, 1), "sigmoid", "sigmoid"), "mse"),
    ("2-4-1 sigmoid, BCE", fnn.MLP((2, 4, 1), "sigmoid", "sigmoid"), "binary_cross_entropy"),
    (
        "3-5-4-3 tanh, softmax CCE",
        fnn.MLP((3, 5, 4, 3), "tanh", "softmax"),
        "categorical_cross_entropy",
    ),
    ("4-8-8-2 relu, linear MSE", fnn.MLP((4, 8, 8, 2), "relu", "linear"), "mse"),
    (
        "2-(6)x5-1 sigmoid, BCE",
        fnn.MLP((2, 6, 6, 6, 6, 6, 1), "sigmoid", "sigmoid"),
        "binary_cross_entropy",
    ),
    ("3-4-4-3 tanh/relu, softmax MSE", fnn.MLP((3, 4, 4, 3), ("tanh", "relu"), "softmax"), "mse"),
)


def main(
    *,
    seed: int = 0,
    batch: int = 8,
    max_fd_coords: int = 32,
    num_architectures: int | None = None,
    out_dir: str = "out/manual_vs_autodiff",
) -> dict:
    """Compare the gradient engines on every architecture; print the table, write ``manual_vs_autodiff.png``.

    Args:
        max_fd_coords: finite-difference coordinates per leaf
        num_architectures: only the first N of the list
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(seed)
    head = f"{'architecture':<33} {'loss':<26} {'params':>6} {'max rel vs autodiff':>20} {'max rel vs FD':>14}  verdict"
    print(head)
    print("-" * len(head))
    rows = {}
    for i, (name, net, loss) in enumerate(ARCHITECTURES[:num_architectures]):
        k_p, k_x, k_y, k_fd = jax.random.split(jax.random.fold_in(key, i), 4)
        params = net.init(k_p)
        x = jax.random.normal(k_x, (batch, net.layer_sizes[0]))
        y = _targets(k_y, loss, batch, net.layer_sizes[-1])
        report = fnn.compare_gradients(
            net, loss, params, x, y, max_fd_coords=max_fd_coords, key=k_fd
        )
        n_params = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(params))
        rows[name] = dict(
            loss=loss,
            params=n_params,
            rel_autodiff=report.max_rel_autodiff,
            rel_fd=report.max_rel_fd,
            ok=report.ok,
            per_leaf={leaf.name: leaf.rel_autodiff for leaf in report.leaves},
        )
        print(
            f"{name:<33} {loss:<26} {n_params:>6} {report.max_rel_autodiff:>20.1e} {report.max_rel_fd:>14.1e}  "
            f"{'good' if report.ok else 'MISMATCH'}"
        )
    all_ok = all(r["ok"] for r in rows.values())
    print(f"\nevery architecture agrees (relative error ≤ 1e-7 in float64): {all_ok}")
    figure = _plot(out / "manual_vs_autodiff.png", rows)
    print(f"figure: {figure}")
    return {"architectures": rows, "all_ok": all_ok, "figure": str(figure)}


def _targets(key, loss: str, batch: int, n_out: int):
    if loss == "categorical_cross_entropy":
        return jax.random.randint(key, (batch,), 0, n_out)
    if loss == "binary_cross_entropy":
        return jax.random.bernoulli(key, 0.5, (batch, n_out)).astype(jnp.float32)
    return jax.random.uniform(key, (batch, n_out))


def _plot(path: Path, rows) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.6), layout="constrained")
    ax = fig.subplots()
    names = list(rows)
    pos = np.arange(len(names))
    floor = 1e-18  # an exact 0 drawn at the bottom of the log axis
    ad = [max(rows[n]["rel_autodiff"], floor) for n in names]
    fd = [max(rows[n]["rel_fd"], floor) for n in names]
    ax.barh(pos - 0.2, ad, height=0.4, label="manual vs jax.grad")
    ax.barh(pos + 0.2, fd, height=0.4, label="manual vs finite differences")
    ax.axvline(1e-7, color="k", ls=":", label="'good' threshold 1e-7")
    ax.set(
        xscale="log",
        yticks=pos,
        yticklabels=names,
        xlabel="largest relative error (float64)",
        title="hand-derived backprop against two independent oracles",
    )
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
