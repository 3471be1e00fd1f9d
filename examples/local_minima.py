"""How often does backprop get stuck on XOR, and in what?

The lecture: "Error function contains many local minima and there is no guarantee
of convergence." Measured on the smallest case: a 2-2-1 sigmoid network trained on
XOR by full-batch gradient descent from many random initializations at once
(fnn.fit_many, one vmapped compiled run). A seed "solves" XOR when all four outputs
are on the right side of 0.5. The failures are grouped by what the network outputs
at the end, then examined: training them for more epochs (do they ever escape?),
the gradient norm there, and the eigenvalues of the loss's Hessian over the 9
parameters (fnn.critical_points, float64) — a strict local minimum has all
eigenvalues positive; a plateau has some near zero.

    python examples/local_minima.py --num-seeds 128 --num-epochs 5000 --out-dir out/local_minima
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn import critical_points as cp
from functional_nn import neurons
from functional_nn._x64 import float64_mode


def main(*, seed: int = 0, num_seeds: int = 128, num_epochs: int = 5000, extra_epochs: int = 5000,
         learning_rate: float = 2.0, loss: str = "mse", out_dir: str = "out/local_minima") -> dict:
    """Train ``num_seeds`` XOR networks at once; print the table, write ``local_minima.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, t = neurons.xor_data()
    X = jnp.asarray(x, jnp.float32)
    Y = jnp.asarray(t, jnp.float32)[:, None]
    net = fnn.MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid")
    keys = jax.random.split(jax.random.key(seed), num_seeds)

    many = fnn.fit_many(net, X, Y, key=keys, loss=loss, learning_rate=learning_rate, num_epochs=num_epochs)
    params = many.members.params
    outputs = np.asarray(jax.vmap(lambda p: net.apply(p, X))(params))[..., 0]     # (seeds, 4)
    solved = np.all((outputs >= 0.5) == (t == 1), axis=1)
    final_loss = np.asarray(many.members.history["train_loss"])[:, -1]
    groups = [_pattern(o, t) if not s else "solved" for o, s in zip(outputs, solved)]

    print(f"XOR, 2-2-1 sigmoid, {loss}, full batch, α = {learning_rate}, {num_epochs} epochs, {num_seeds} seeds "
          f"(glorot_uniform init)")
    print(f"solved: {solved.sum()} / {num_seeds} = {solved.mean():.1%}\n")

    failed = np.flatnonzero(~solved)
    escaped = np.zeros(num_seeds, bool)
    if failed.size and extra_epochs > 0:
        stuck = jax.tree.map(lambda a: a[failed], params)
        more = fnn.fit_many(net, X, Y, key=keys[failed], params=stuck, loss=loss, learning_rate=learning_rate,
                            num_epochs=extra_epochs)
        later = np.asarray(jax.vmap(lambda p: net.apply(p, X))(more.members.params))[..., 0]
        escaped[failed] = np.all((later >= 0.5) == (t == 1), axis=1)

    objective = fnn.objective(net, loss)
    rows = {}
    for name, count in Counter(groups).most_common():
        members = [i for i, g in enumerate(groups) if g == name]
        i = members[0]
        with float64_mode():   # the Hessian's small eigenvalues need float64
            p64 = jax.tree.map(lambda a: jnp.asarray(a[i], jnp.float64), params)
            report = cp.classify_critical_point(lambda p: objective(p, X.astype(jnp.float64), Y.astype(jnp.float64)),
                                                p64, require_critical=False)
            lam = np.asarray(report.eigenvalues)
        rows[name] = dict(count=count, fraction=count / num_seeds, mean_loss=float(final_loss[members].mean()),
                          outputs=np.round(outputs[members].mean(axis=0), 3).tolist(),
                          escaped_later=int(escaped[members].sum()), gradient_norm=float(report.gradient_norm),
                          hessian_min=float(lam[0]), hessian_max=float(lam[-1]),
                          near_zero_eigenvalues=int(np.sum(np.abs(lam) < 1e-4 * np.abs(lam).max())),
                          kind=report.kind)
    head = (f"{'outcome':<28} {'seeds':>6} {'final J':>9} {'mean ŷ on 00,01,10,11':>26} {'escape':>7} "
            f"{'‖∇J‖':>8} {'λ_min':>10} {'λ_max':>8} {'λ≈0':>4}  Hessian says")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        outs = ", ".join(f"{v:.2f}" for v in r["outputs"])
        esc = "—" if name == "solved" else f"{r['escaped_later']}/{r['count']}"
        print(f"{name:<28} {r['count']:>6} {r['mean_loss']:>9.4f} {outs:>26} {esc:>7} {r['gradient_norm']:>8.1e} "
              f"{r['hessian_min']:>10.1e} {r['hessian_max']:>8.1e} {r['near_zero_eigenvalues']:>4}  {r['kind']}")
    print(f"\n'escape': of the stuck seeds, how many solve XOR within {extra_epochs} more epochs. "
          "λ: Hessian eigenvalues of J over the 9 parameters at one representative seed; "
          "λ≈0 counts |λ| < 1e-4 λ_max (flat directions).")

    figure = _plot(out / "local_minima.png", many, solved, groups, outputs, t)
    print(f"figure: {figure}")
    return {
        "fraction_solved": float(solved.mean()),
        "num_solved": int(solved.sum()),
        "outcomes": rows,
        "escaped_later": int(escaped.sum()),
        "figure": str(figure),
    }


def _pattern(outputs: np.ndarray, t: np.ndarray) -> str:
    """Name a failure by its outputs: which inputs sit near 0.5, or are wrong."""
    undecided = [k for k in range(4) if abs(outputs[k] - 0.5) < 0.1]
    if undecided:
        inputs = "/".join(f"{int(a)}{int(b)}" for a, b in ((k >> 1, k & 1) for k in undecided))
        return f"ŷ ≈ 0.5 on {inputs}" if len(undecided) < 3 else f"{len(undecided)} outputs near 0.5"
    wrong = [k for k in range(4) if (outputs[k] >= 0.5) != (t[k] == 1)]
    if len(wrong) == 3 or np.ptp(outputs[1:]) < 0.05:
        return f"3 outputs ≈ {outputs[1:].mean():.2f}"
    return f"{len(wrong)} wrong"


def _plot(path: Path, many, solved, groups, outputs, t) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.4), layout="constrained")
    ax_l, ax_h, ax_o = fig.subplots(1, 3)
    losses = np.asarray(many.members.history["train_loss"])
    epochs = np.arange(1, losses.shape[1] + 1)
    for i in range(losses.shape[0]):
        ax_l.loglog(epochs, losses[i], color="C2" if solved[i] else "C3", alpha=0.3, lw=0.8)
    ax_l.plot([], [], color="C2", label="solved")
    ax_l.plot([], [], color="C3", label="stuck")
    ax_l.set(xlabel="epoch", ylabel="training J", title="every seed's loss curve")
    ax_l.legend()
    final = losses[:, -1]
    bins = np.logspace(np.log10(max(final.min(), 1e-6)), np.log10(final.max() * 1.01), 40)
    ax_h.hist([final[solved], final[~solved]], bins=bins, stacked=True, color=["C2", "C3"],
              label=["solved", "stuck"])
    ax_h.set(xscale="log", xlabel="final training J", ylabel="seeds", title=f"{solved.mean():.0%} of seeds solve XOR")
    ax_h.legend()
    names = list(dict.fromkeys(groups))
    for j, name in enumerate(names):
        idx = [i for i, g in enumerate(groups) if g == name]
        for i in idx:
            ax_o.plot(np.arange(4) + 0.1 * (j - len(names) / 2), outputs[i], "o", ms=4, color=f"C{j}", alpha=0.4)
        ax_o.plot([], [], "o", color=f"C{j}", label=f"{name} ({len(idx)})")
    ax_o.plot(np.arange(4), t, "k_", ms=30, mew=2, label="target")
    ax_o.set(xticks=range(4), xticklabels=["00", "01", "10", "11"], xlabel="input", ylabel="final output ŷ",
             title="what each seed ends up computing")
    ax_o.legend(fontsize=7, loc="center left")
    fig.savefig(path, dpi=110)
    return path


def _parse_args(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-seeds", type=int, default=128)
    p.add_argument("--num-epochs", type=int, default=5000)
    p.add_argument("--extra-epochs", type=int, default=5000, help="more epochs for the stuck seeds (0: skip)")
    p.add_argument("--learning-rate", type=float, default=2.0)
    p.add_argument("--loss", default="mse", choices=["mse", "binary_cross_entropy"])
    p.add_argument("--out-dir", default="out/local_minima")
    a = p.parse_args(argv)
    return dict(seed=a.seed, num_seeds=a.num_seeds, num_epochs=a.num_epochs, extra_epochs=a.extra_epochs,
                learning_rate=a.learning_rate, loss=a.loss, out_dir=a.out_dir)


if __name__ == "__main__":
    main(**_parse_args())
