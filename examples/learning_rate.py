"""How should the learning rate be chosen? Too high diverges, too low is slow, and α_k = c1/(k + c2) gets both.

The lecture: "If α is too high, the algorithm diverges. If α is too low, makes the
algorithm slow to converge. A common practice is to make α_k a decreasing function
of the iteration number k, e.g. α_k = c1/(k + c2). The first iterations cause large
changes in the w, while the later ones do only fine-tuning." One problem, side by
side: stochastic gradient descent (K = 1) on the lecture's linear regression
h(x) = w0 + w1 x (an MLP with no hidden layer and a linear output, trained with
fnn.fit), from w = 0, with four step-size rules. The distance to the optimum is
measured exactly as J(w) − J(w*) with w* from the closed form. A constant α small
enough to be stable keeps bouncing around w* (SGD's noise floor grows with α);
the decreasing schedule starts as fast as the large constant and then fine-tunes.

    python examples/learning_rate.py --seed 0 --num-epochs 40 --out-dir out/learning_rate
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn import linear_regression as lr
from functional_nn.flags import parse_flags


def main(
    *,
    seed: int = 0,
    num_examples: int = 50,
    num_epochs: int = 40,
    too_high: float = 0.5,
    too_low: float = 0.0005,
    constant: float = 0.1,
    c1: float = 10.0,
    c2: float = 60.0,
    out_dir: str = "out/learning_rate",
) -> dict:
    """Train with the four rules; print the table, write ``learning_rate.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k_data, k_order = jax.random.split(jax.random.key(seed))
    x, t = lr.make_data(k_data, num_examples, w_true=(1.0, 2.0), noise=0.5)
    w_star = lr.closed_form(x, t)
    j_star = float(lr.cost(w_star, x, t))
    # SGD on one example x̃ = (1, x) is stable for α < 2/‖x̃‖²; the worst example decides
    per_example = 2.0 / float(jnp.max(1.0 + x**2))

    net = fnn.MLP((1, 1), output_activation="linear")  # h(x) = w0 + w1 x: b is w0, w[0, 0] is w1
    start = (fnn.Dense(jnp.zeros((1, 1)), jnp.zeros(1)),)
    start_excess = float(lr.cost(jnp.zeros(2), x, t)) - j_star
    rules = {
        f"too high, α = {too_high:g}": too_high,
        f"too low, α = {too_low:g}": too_low,
        f"constant, α = {constant:g}": constant,
        f"α_k = {c1:g}/(k + {c2:g})": fnn.inverse_time_decay(c1, c2),
    }
    print(
        f"SGD (batch_size=1) on h(x) = w0 + w1 x, m = {num_examples}, {num_epochs} epochs "
        f"({num_epochs * num_examples} updates), same shuffles for every rule"
    )
    print(
        f"closed form w* = ({float(w_star[0]):.4f}, {float(w_star[1]):.4f}), J(w*) = {j_star:.4f}; "
        f"largest α stable on every single example: {per_example:.3f}\n"
    )
    head = f"{'rule':<24} {'diverged':>9} {'J − J* after 1 epoch':>21} {'final J − J*':>13} {'final w':>20}"
    print(head)
    print("-" * len(head))
    runs = {}
    for name, rate in rules.items():
        # validation on the training set itself: val_loss is exactly J(w) after each epoch
        result = fnn.fit(
            net,
            start,
            x[:, None],
            t[:, None],
            loss="mse",
            learning_rate=rate,
            batch_size=1,
            num_epochs=num_epochs,
            key=k_order,
            validation=(x[:, None], t[:, None]),
        )
        w = jnp.array([result.params[0].b[0], result.params[0].w[0, 0]])
        final = float(lr.cost(w, x, t)) - j_star if not result.diverged else float("inf")
        curve = np.asarray(result.history["val_loss"]) - j_star
        after_one = float(curve[0]) if curve.size else float("inf")
        # diverged: a non-finite loss (fit stops the run) or ending further from w* than the start
        diverged = bool(result.diverged or not final < start_excess)
        runs[name] = dict(
            diverged=diverged,
            final_excess=final,
            first_epoch_excess=after_one,
            curve=curve,
            weights=np.asarray(w).tolist(),
            message=result.message,
            learning_rates=np.asarray(result.history.get("learning_rate", [])),
        )
        shown_w = "—" if diverged else f"({float(w[0]):.3f}, {float(w[1]):.3f})"
        print(f"{name:<24} {str(diverged):>9} {after_one:>21.3e} {final:>13.3e} {shown_w:>20}")

    names = list(rules)
    schedule_best = runs[names[3]]["final_excess"] < min(
        runs[names[1]]["final_excess"], runs[names[2]]["final_excess"]
    )
    print(
        f"\ntoo high diverged: {runs[names[0]]['diverged']}; too low still far after "
        f"{num_epochs} epochs: {runs[names[1]]['final_excess']:.2e}; the schedule ends closest to w*: {schedule_best}"
    )
    figure = _plot(
        out / "learning_rate.png", runs, fnn.inverse_time_decay(c1, c2), num_epochs * num_examples
    )
    print(f"figure: {figure}")
    return {
        "alpha_stable_per_example": per_example,
        "runs": {
            k: {n: v for n, v in r.items() if n not in ("curve", "learning_rates")}
            for k, r in runs.items()
        },
        "schedule_best": bool(schedule_best),
        "figure": str(figure),
    }


def _plot(path: Path, runs, schedule, num_updates: int) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ax_l, ax_a = fig.subplots(1, 2)
    for i, (name, r) in enumerate(runs.items()):
        c = r["curve"]
        epochs = np.arange(1, len(c) + 1)
        ax_l.semilogy(
            epochs,
            np.where(np.isfinite(c) & (c > 0), c, np.nan),
            "o-" if len(c) < 8 else "-",
            ms=3,
            color=f"C{i}",
            label=name + (" (diverged)" if r["diverged"] else ""),
        )
    ax_l.set(
        xlabel="epoch", ylabel="J(w) − J(w*) after the epoch", title="too high, too low, decreasing"
    )
    ax_l.legend(fontsize=8)
    ax_l.grid(alpha=0.3)
    k = np.arange(num_updates)
    ax_a.semilogy(k, np.asarray(schedule(k)), "C3", label="α_k = c1/(k + c2)")
    for i, name in enumerate(list(runs)[:3]):
        rate = float(name.split("= ")[-1])
        ax_a.axhline(rate, color=f"C{i}", ls="--", lw=1, label=name)
    ax_a.set(xlabel="update k", ylabel="α", title="step sizes: large first, fine-tuning later")
    ax_a.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
