"""Perceptron rule or Widrow–Hoff rule: what does each converge to on the same separable data?

Both rules read w_j ← w_j + α x_j (t − y); the perceptron's y is thresholded, Adaline's
is linear. On data separable with a known margin γ the perceptron stops after an epoch
without mistakes, within Novikoff's bound of (R/γ)² mistakes, at *some* separating
line. Adaline (online, mini-batch, full batch) instead descends J = 1/(2m) Σ (t − y)²
to the least-squares weights, whose thresholded line need not separate the data.
This script prints mistakes per epoch, the bound, Adaline's distance to
numpy.linalg.lstsq and each line's training accuracy, and draws the lines on the data,
the mistakes per epoch and Adaline's loss curves against the least-squares loss.

    python examples/perceptron_vs_adaline.py --seed 0 --out-dir out/perceptron_vs_adaline
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from functional_nn import neurons
from functional_nn._x64 import float64_mode
from functional_nn.flags import parse_flags


def main(
    *,
    seed: int = 0,
    num_examples: int = 100,
    margin: float = 0.1,
    max_epochs: int = 100,
    adaline_epochs: int = 100,
    learning_rate: float = 0.02,
    out_dir: str = "out/perceptron_vs_adaline",
) -> dict:
    """Train both rules on one data set; print the table; write ``perceptron_vs_adaline.png``.

    Args:
        margin: margin γ of the generating separator
        max_epochs: perceptron's epoch limit
        learning_rate: Adaline's α for online and mini-batch
    """
    key_data, key_perceptron, key_adaline = jax.random.split(jax.random.key(seed), 3)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = neurons.separable_data(key_data, num_examples, 2, margin=margin)
    x, t = np.asarray(data.x), np.asarray(data.t)

    p = neurons.train_perceptron(x, t, max_epochs=max_epochs, key=key_perceptron)
    bound = neurons.novikoff_bound(data.w, x, t)
    n = int(p.num_epochs)
    print(
        f"data: {num_examples} points, margin γ = {float(data.margin):.4f}, radius R = {float(data.radius):.3f}"
    )
    print(
        f"perceptron: converged = {bool(p.converged)} after {n} epochs; mistakes per epoch "
        f"{np.asarray(p.mistakes[:n]).tolist()}"
    )
    print(f"total mistakes {int(p.total_mistakes)} <= Novikoff bound (R/γ)² = {bound:.1f}")

    w_ls = neurons.least_squares(x, t)
    loss_ls = float(neurons.adaline_loss(w_ls, x, t))
    runs = {"online (K=1)": 1, "mini-batch (K=10)": min(10, num_examples), "full batch": None}
    # Full batch is gradient descent on a quadratic: stable for α < 2/λ_max(X̃ᵀX̃/m); take 1/λ_max.
    xa = np.c_[np.ones(num_examples), x]
    full_batch_rate = 1.0 / float(np.linalg.eigvalsh(xa.T @ xa / num_examples).max())
    print(
        f"Adaline: α = {learning_rate} online and mini-batch, α = 1/λ_max = {full_batch_rate:.3f} full batch"
    )
    adaline = {}
    for i, (name, batch_size) in enumerate(runs.items()):
        rate = learning_rate if batch_size is not None else full_batch_rate
        with float64_mode():  # float64 so the excess loss J − J(w_ls) is visible down to ~1e-15
            r = neurons.train_adaline(
                x,
                t,
                learning_rate=rate,
                num_epochs=adaline_epochs,
                batch_size=batch_size,
                key=jax.random.fold_in(key_adaline, i),
            )
            adaline[name] = neurons.AdalineResult(np.asarray(r.w), np.asarray(r.loss))

    def accuracy(predicted):
        return float(np.mean(np.asarray(predicted) == t))

    rows = [
        (
            "perceptron",
            f"{n}",
            f"{int(p.total_mistakes)}",
            "—",
            "—",
            accuracy(neurons.perceptron_output(p.w, x)),
        )
    ]
    for name, r in adaline.items():
        rows.append(
            (
                f"Adaline {name}",
                f"{adaline_epochs}",
                "—",
                f"{float(r.loss[-1]):.5f}",
                f"{np.abs(np.asarray(r.w) - w_ls).max():.2e}",
                accuracy(neurons.adaline_classify(r.w, x)),
            )
        )
    rows.append(
        (
            "least squares (lstsq)",
            "—",
            "—",
            f"{loss_ls:.5f}",
            "0",
            accuracy(neurons.adaline_classify(w_ls, x)),
        )
    )
    print(
        f"\n{'method':<28} {'epochs':>6} {'mistakes':>8} {'final J':>9} {'max|w−w_ls|':>11} {'train acc':>9}"
    )
    for name, epochs, mistakes, loss, dist, acc in rows:
        print(f"{name:<28} {epochs:>6} {mistakes:>8} {loss:>9} {dist:>11} {acc:>9.3f}")

    figure = _plot(out / "perceptron_vs_adaline.png", data, p, adaline, w_ls, loss_ls, bound)
    print(f"figure: {figure}")
    return {
        "converged": bool(p.converged),
        "num_epochs": n,
        "total_mistakes": int(p.total_mistakes),
        "novikoff_bound": bound,
        "perceptron_accuracy": rows[0][-1],
        "adaline_distance_to_lstsq": {
            k: float(np.abs(np.asarray(r.w) - w_ls).max()) for k, r in adaline.items()
        },
        "adaline_final_loss": {k: float(r.loss[-1]) for k, r in adaline.items()},
        "lstsq_loss": loss_ls,
        "figure": str(figure),
    }


def _plot(path: Path, data, p, adaline, w_ls, loss_ls, bound) -> Path:
    from matplotlib.figure import Figure

    x, t = np.asarray(data.x), np.asarray(data.t)
    fig = Figure(figsize=(15, 4.5), layout="constrained")
    ax_data, ax_mistakes, ax_loss = fig.subplots(1, 3)

    ax_data.scatter(x[:, 0], x[:, 1], c=t, cmap="coolwarm", edgecolors="k", s=25, zorder=3)
    lo, hi = x.min(axis=0) - 0.2, x.max(axis=0) + 0.2
    x1 = np.linspace(lo[0], hi[0], 2)

    def line(w, level, style, label):
        # w0 + w1 x1 + w2 x2 = level  ->  x2 = (level − w0 − w1 x1) / w2
        w = np.asarray(w, np.float64)
        ax_data.plot(x1, (level - w[0] - w[1] * x1) / w[2], style, label=label)

    line(data.w, 0.0, "k:", "true separator (margin γ)")
    line(p.w, 0.0, "C2-", "perceptron w·x̃ = 0")
    line(adaline["online (K=1)"].w, 0.5, "C1--", "Adaline online w·x̃ = 1/2")
    line(w_ls, 0.5, "C4-.", "least squares w·x̃ = 1/2")
    ax_data.set(
        xlim=(lo[0], hi[0]),
        ylim=(lo[1], hi[1]),
        xlabel="x1",
        ylabel="x2",
        title="decision lines on the data",
    )
    ax_data.legend(fontsize=8, loc="lower left")

    n = int(p.num_epochs)
    ax_mistakes.bar(np.arange(1, n + 1), np.asarray(p.mistakes[:n]), color="C2")
    ax_mistakes.xaxis.get_major_locator().set_params(integer=True)
    ax_mistakes.set(
        xlabel="epoch",
        ylabel="mistakes in the epoch",
        title=f"perceptron: {int(p.total_mistakes)} mistakes in all, Novikoff bound {bound:.0f}",
    )

    for name, r in adaline.items():
        excess = np.maximum(np.asarray(r.loss) - loss_ls, 1e-16)
        ax_loss.plot(np.arange(len(excess)), excess, label=f"Adaline {name}")
    ax_loss.set(
        yscale="log",
        xlabel="epoch",
        ylabel="J(w) − J(w_ls)",
        title=f"Widrow–Hoff: J above J(w_ls) = {loss_ls:.4f}",
    )
    ax_loss.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
