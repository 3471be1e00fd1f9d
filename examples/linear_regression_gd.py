"""Does gradient descent on h(x) = w0 + w1 x reach the closed form, and which step sizes diverge?

The lecture fits h(x) = w0 + w1 x by gradient descent on J = 1/(2m) Σ (h − t)² and
shows a "big step size" and a "small step size". J is quadratic with the constant
Hessian H = (1/m) XᵀX, so the error e = w − w* evolves as e ← (I − αH) e and the
iteration converges exactly when α < α* = 2 / λ_max(H). This script predicts α*
from H, then confirms it: 0.98 α* converges, 1.02 α* diverges. It also compares the
trajectory's end point with the closed form (normal equations) and each run's
measured error decay with the predicted factor ρ = max |1 − αλ| per step.

    python examples/linear_regression_gd.py --seed 0 --num-steps 400 --out-dir out/linear_regression_gd
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import linear_regression as lr
from functional_nn.flags import parse_flags

# (label, step size as a multiple of α*)
STEP_SIZES = (
    ("small", 0.05),
    ("good", 0.5),
    ("big", 0.9),
    ("just below α*", 0.98),
    ("just above α*", 1.02),
)


def main(
    *,
    seed: int = 0,
    num_examples: int = 50,
    noise: float = 0.5,
    num_steps: int = 400,
    w_init: tuple[float, float] = (-1.0, -1.0),
    out_dir: str = "out/linear_regression_gd",
) -> dict:
    """Fit the line by gradient descent at several step sizes; print the table, write ``linear_regression_gd.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, t = lr.make_data(jax.random.key(seed), num_examples, w_true=(1.0, 2.0), noise=noise)
    w_star = lr.closed_form(x, t)
    j_star = float(lr.cost(w_star, x, t))
    lam = np.asarray(lr.hessian_eigenvalues(x))
    a_star = float(lr.divergence_threshold(x))
    start = jnp.asarray(w_init, x.dtype)
    d0 = float(jnp.linalg.norm(start - w_star))

    print(
        f"m = {num_examples} examples; closed form w* = ({float(w_star[0]):.4f}, {float(w_star[1]):.4f}), "
        f"J(w*) = {j_star:.4f}"
    )
    print(
        f"Hessian eigenvalues λ = ({lam[0]:.4f}, {lam[1]:.4f}); predicted threshold α* = 2/λ_max = {a_star:.4f}\n"
    )
    head = (
        f"{'run':<15} {'α/α*':>6} {'α':>8} {'ρ predicted':>12} {'ρ measured':>11} {'‖w_K − w*‖':>12} "
        f"{'J − J*':>10}  verdict"
    )
    print(head)
    print("-" * len(head))
    runs = {}
    for label, factor in STEP_SIZES:
        alpha = factor * a_star
        traj = lr.gradient_descent(x, t, learning_rate=alpha, num_steps=num_steps, w_init=start)
        dist = np.asarray(jnp.linalg.norm(traj.weights - w_star, axis=1))
        rho = float(lr.contraction_factor(x, alpha))
        rho_measured = _measured_rate(dist, d0)
        converged = bool(np.isfinite(dist[-1]) and dist[-1] < 1e-3 * d0)
        diverged = bool(not np.isfinite(dist[-1]) or dist[-1] > d0)
        verdict = "converges" if converged else ("DIVERGES" if diverged else "slow")
        excess = float(traj.costs[-1]) - j_star
        print(
            f"{label:<15} {factor:>6.2f} {alpha:>8.4f} {rho:>12.4f} {rho_measured:>11.4f} {dist[-1]:>12.3e} "
            f"{excess:>10.3e}  {verdict}"
        )
        runs[label] = dict(
            factor=factor,
            learning_rate=alpha,
            rho_predicted=rho,
            rho_measured=rho_measured,
            final_distance=float(dist[-1]),
            excess_cost=excess,
            converged=converged,
            diverged=diverged,
            weights=np.asarray(traj.weights),
            distance=dist,
        )

    prediction_confirmed = runs["just below α*"]["converged"] and runs["just above α*"]["diverged"]
    gd_end = runs["good"]["weights"][-1]
    print(
        f"\ngradient descent (α = 0.5 α*) ends at ({gd_end[0]:.6f}, {gd_end[1]:.6f}); "
        f"closed form ({float(w_star[0]):.6f}, {float(w_star[1]):.6f})"
    )
    print(
        f"prediction α* = {a_star:.4f} confirmed (0.98 α* converges, 1.02 α* diverges): {prediction_confirmed}"
    )

    figure = _plot(out / "linear_regression_gd.png", x, t, w_star, runs, a_star)
    print(f"figure: {figure}")
    return {
        "w_closed_form": np.asarray(w_star).tolist(),
        "w_gradient_descent": gd_end.tolist(),
        "hessian_eigenvalues": lam.tolist(),
        "alpha_star": a_star,
        "prediction_confirmed": bool(prediction_confirmed),
        "runs": {
            k: {n: v for n, v in r.items() if n not in ("weights", "distance")}
            for k, r in runs.items()
        },
        "figure": str(figure),
    }


def _measured_rate(dist: np.ndarray, d0: float) -> float:
    """Per-step error factor, fitted where the slowest mode dominates and float32 rounding does not."""
    ok = np.isfinite(dist) & (dist > 1e-4 * d0) & (dist < 1e6 * d0)
    idx = np.flatnonzero(ok)
    idx = idx[idx >= min(10, idx[-1])] if idx.size else idx
    if idx.size < 2:
        return float("nan")
    return float(np.exp(np.polyfit(idx, np.log(dist[idx]), 1)[0]))


def _plot(path: Path, x, t, w_star, runs, a_star) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 4.8), layout="constrained")
    ax_data, ax_small, ax_big, ax_dist = fig.subplots(1, 4)
    xs = np.asarray(x)
    ax_data.scatter(xs, np.asarray(t), s=14, color="0.4", label="data")
    grid = np.linspace(xs.min(), xs.max(), 50)
    ax_data.plot(grid, float(w_star[0]) + float(w_star[1]) * grid, "k", lw=2, label="closed form")
    for label in ("small", "good"):
        w = runs[label]["weights"]
        for k, alpha in ((5, 0.25), (len(w) - 1, 1.0)):
            ax_data.plot(
                grid,
                w[k, 0] + w[k, 1] * grid,
                color="C0" if label == "small" else "C1",
                alpha=alpha,
                lw=1,
                label=f"{label}, step {k}",
            )
    ax_data.set(xlabel="x", ylabel="t", title="fits along the way")
    ax_data.legend(fontsize=7)

    w0s = np.linspace(float(w_star[0]) - 3, float(w_star[0]) + 3, 121)
    w1s = np.linspace(float(w_star[1]) - 3.5, float(w_star[1]) + 1.5, 121)
    g0, g1 = np.meshgrid(w0s, w1s)
    J = np.asarray(
        jax.vmap(lambda w: lr.cost(w, x, t))(jnp.stack([g0.ravel(), g1.ravel()], 1))
    ).reshape(g0.shape)
    for ax, labels, title in (
        (ax_small, ("small", "good"), "small step sizes: slow, smooth"),
        (ax_big, ("big", "just above α*"), "big step sizes: zig-zag, then divergence"),
    ):
        ax.contour(
            g0,
            g1,
            J,
            levels=np.quantile(J, np.linspace(0.01, 0.9, 14)),
            colors="0.75",
            linewidths=0.7,
        )
        for i, label in reversed(list(enumerate(labels))):
            w = runs[label]["weights"][: 40 if i == 0 else 16]  # the diverging run: its first steps
            keep = np.all(np.abs(w - np.asarray(w_star)) < 6, axis=1)
            ax.plot(
                w[keep, 0],
                w[keep, 1],
                ".-",
                ms=4,
                lw=0.9,
                color=f"C{i + 2 * (ax is ax_big)}",
                label=f"{label} (α = {runs[label]['factor']:.2f} α*)",
            )
        ax.plot(*np.asarray(w_star), "k*", ms=12, label="w*")
        ax.set(
            xlim=(w0s[0], w0s[-1]), ylim=(w1s[0], w1s[-1]), xlabel="w0", ylabel="w1", title=title
        )
        ax.legend(fontsize=7, loc="lower right")

    for i, (label, r) in enumerate(runs.items()):
        d = np.where(np.isfinite(r["distance"]), r["distance"], np.nan)
        k = np.arange(len(d))
        ax_dist.semilogy(k, d, color=f"C{i}", label=f"{label} ({r['factor']:.2f} α*)")
        ax_dist.semilogy(k, d[0] * r["rho_predicted"] ** k, ":", color=f"C{i}", lw=0.8)
    ax_dist.set(
        xlabel="step k",
        ylabel="‖w_k − w*‖",
        title=f"error vs step (dotted: ρ^k), α* = {a_star:.3f}",
        ylim=(1e-8, 1e4),
    )
    ax_dist.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
