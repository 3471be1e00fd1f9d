"""One sigmoid neuron, trained for regression (MSE) and classification (cross-entropy): which gradient is right, and why does MSE learn slowly when the neuron saturates?

The slides derive ∂J/∂w for a sigmoid neuron twice. For regression the chain rule
gives (1/m) Σ (h − t) σ'(z) x; for classification the slide prints
∇J = Σ tⁱ xⁱ (h − t), whose factor tⁱ is a misprint: the correct gradient of the
cross-entropy is Σ xⁱ (h − t). This script (1) fits a regression neuron with the
hand gradient and with jax.grad and compares the trajectories, (2) trains a
classifier with the correct gradient and with the slide's as-written one (which
ignores every tⁱ = 0 example and ends up calling everything class 1), and (3)
shows the classic saturation contrast: a confidently wrong neuron (σ(z) ≈ 1,
t = 0) barely moves under MSE, whose gradient carries σ'(z) ≈ 0, and moves at
once under cross-entropy, where σ' cancels.

    python examples/sigmoid_neuron.py --seed 0 --num-steps 300 --out-dir out/sigmoid_neuron
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import sigmoid_neuron as sn
from functional_nn.flags import parse_flags


@partial(jax.jit, static_argnames="num_steps")
def train_as_written(w, x, t, learning_rate, num_steps):
    """Gradient descent with the slide's printed classification gradient Σ tⁱ xⁱ (h − t)."""

    def step(w, _):
        w = w - learning_rate * sn.classification_gradient_as_written(w, x, t)
        return w, sn.classification_cost(w, x, t)

    return jax.lax.scan(step, w, None, length=num_steps)


def main(
    *,
    seed: int = 0,
    num_examples: int = 100,
    num_steps: int = 300,
    learning_rate: float = 0.5,
    saturation_steps: int = 300,
    out_dir: str = "out/sigmoid_neuron",
) -> dict:
    """Run the three experiments, print their tables, write ``sigmoid_neuron.png``.

    Args:
        learning_rate: classification step per example (the slide's J is a sum); regression uses 8x
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k_reg, k_noise, k_cls, k_lab = jax.random.split(jax.random.key(seed), 4)

    # (1) Regression: t in (0, 1) from a sigmoid curve plus noise.
    x_reg = jax.random.uniform(k_reg, (num_examples, 1), minval=-3.0, maxval=3.0)
    t_reg = jnp.clip(
        jax.nn.sigmoid(1.5 * x_reg[:, 0] - 0.5)
        + 0.05 * jax.random.normal(k_noise, (num_examples,)),
        0.0,
        1.0,
    )
    w0 = jnp.zeros(2)
    manual = sn.train(
        w0, x_reg, t_reg, loss="mse", learning_rate=learning_rate * 8, num_steps=num_steps
    )
    auto = sn.train(
        w0,
        x_reg,
        t_reg,
        loss="mse",
        learning_rate=learning_rate * 8,
        num_steps=num_steps,
        method="autodiff",
    )
    reg_gap = float(jnp.max(jnp.abs(manual.weights - auto.weights)))
    w_reg = np.asarray(manual.weights[-1])
    print(
        f"(1) regression, MSE, {num_steps} steps: w = ({w_reg[0]:.3f}, {w_reg[1]:.3f}) "
        f"(data from w = (−0.5, 1.5)), J = {float(manual.costs[-1]):.5f}"
    )
    print(f"    hand gradient vs jax.grad: max |Δw| over the whole trajectory = {reg_gap:.1e}")

    # (2) Classification: two Gaussian blobs, labels 0/1; the slide's J is a sum, so α is per example.
    labels = (jax.random.uniform(k_lab, (num_examples,)) < 0.5).astype(jnp.float32)
    centers = jnp.where(labels[:, None] == 1, jnp.array([1.0, 1.0]), jnp.array([-1.0, -0.5]))
    x_cls = centers + 0.7 * jax.random.normal(k_cls, (num_examples, 2))
    alpha = learning_rate / num_examples
    w_start = jnp.zeros(3)
    correct = sn.train(
        w_start, x_cls, labels, loss="cross_entropy", learning_rate=alpha, num_steps=num_steps
    )
    w_bad, _ = train_as_written(w_start, x_cls, labels, alpha, num_steps)
    w_good = correct.weights[-1]
    rows = {}
    for name, w in (("correct  Σ xⁱ(h − t)", w_good), ("as written  Σ tⁱxⁱ(h − t)", w_bad)):
        h = sn.predict(w, x_cls)
        rows[name] = dict(
            cost=float(sn.classification_cost(w, x_cls, labels)),
            accuracy=float(jnp.mean((h >= 0.5) == (labels == 1))),
            predicted_class_1=float(jnp.mean(h >= 0.5)),
        )
    auto_gap = float(
        jnp.max(
            jnp.abs(
                sn.classification_gradient(w_good, x_cls, labels)
                - jax.grad(sn.classification_cost)(w_good, x_cls, labels)
            )
        )
    )
    slide_gap = float(
        jnp.max(
            jnp.abs(
                sn.classification_gradient_as_written(w_good, x_cls, labels)
                - jax.grad(sn.classification_cost)(w_good, x_cls, labels)
            )
        )
    )
    print(
        f"\n(2) classification, cross-entropy (the slide's sum), {num_steps} steps, α = {alpha:g}; "
        f"{float(jnp.mean(labels)):.0%} of labels are 1"
    )
    print(f"    {'gradient':<28} {'J':>9} {'accuracy':>9} {'says class 1':>13}")
    for name, r in rows.items():
        print(
            f"    {name:<28} {r['cost']:>9.3f} {r['accuracy']:>9.1%} {r['predicted_class_1']:>13.1%}"
        )
    print(
        f"    max |∇J − jax.grad| at the trained w: correct {auto_gap:.1e}, as written {slide_gap:.2f}"
    )

    # (3) Saturation: x = 1, t = 0, start w = (2, 2), so z = 4 and σ(z) ≈ 0.98 — confidently wrong.
    x1, t0, w_sat = jnp.ones((1, 1)), jnp.zeros(1), jnp.array([2.0, 2.0])
    curves = {
        loss: sn.train(w_sat, x1, t0, loss=loss, learning_rate=0.15, num_steps=saturation_steps)
        for loss in sn.LOSSES
    }
    outputs = {
        loss: np.asarray(jax.vmap(lambda w: sn.predict(w, x1)[0])(c.weights))
        for loss, c in curves.items()
    }
    checkpoints = [k for k in (0, 10, 50, 100, saturation_steps) if k <= saturation_steps]
    print("\n(3) saturated start (x = 1, t = 0, z = 4): the output σ(z) after k steps, α = 0.15")
    print(f"    {'k':>5} {'MSE':>8} {'cross-entropy':>14}")
    for k in checkpoints:
        print(f"    {k:>5} {outputs['mse'][k]:>8.4f} {outputs['cross_entropy'][k]:>14.4f}")
    zs = jnp.array([0.0, 2.0, 4.0, 6.0, 8.0])
    d_mse = np.abs(np.asarray(sn.output_delta("mse", zs, jnp.zeros(5))))
    d_ce = np.abs(np.asarray(sn.output_delta("cross_entropy", zs, jnp.zeros(5))))
    print(f"    |∂ℓ/∂z| for t = 0:  z = {', '.join(f'{z:g}' for z in np.asarray(zs))}")
    print(f"      MSE (σ − t)σ'(z): {', '.join(f'{v:.4f}' for v in d_mse)}")
    print(f"      cross-entropy σ − t: {', '.join(f'{v:.4f}' for v in d_ce)}")

    figure = _plot(
        out / "sigmoid_neuron.png", x_reg, t_reg, w_reg, x_cls, labels, w_good, w_bad, outputs
    )
    print(f"figure: {figure}")
    return {
        "regression_weights": w_reg.tolist(),
        "regression_manual_vs_autodiff": reg_gap,
        "classification": rows,
        "classification_manual_vs_autodiff": auto_gap,
        "classification_as_written_vs_autodiff": slide_gap,
        "saturation_outputs": {
            loss: {k: float(o[k]) for k in checkpoints} for loss, o in outputs.items()
        },
        "saturation_delta_mse": d_mse.tolist(),
        "saturation_delta_cross_entropy": d_ce.tolist(),
        "figure": str(figure),
    }


def _plot(path, x_reg, t_reg, w_reg, x_cls, labels, w_good, w_bad, outputs) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(18, 4.4), layout="constrained")
    ax_r, ax_c, ax_d, ax_s = fig.subplots(1, 4)
    ax_r.scatter(np.asarray(x_reg[:, 0]), np.asarray(t_reg), s=10, color="0.5", label="data")
    grid = np.linspace(-3, 3, 200)
    ax_r.plot(
        grid,
        np.asarray(sn.predict(jnp.asarray(w_reg), jnp.asarray(grid)[:, None])),
        "C0",
        lw=2,
        label="fitted σ(w0 + w1 x)",
    )
    ax_r.set(xlabel="x", ylabel="t", title="(1) regression neuron, MSE")
    ax_r.legend(fontsize=8)

    xc = np.asarray(x_cls)
    ax_c.scatter(
        xc[:, 0],
        xc[:, 1],
        c=np.asarray(labels),
        cmap="coolwarm",
        s=14,
        edgecolors="k",
        linewidths=0.3,
    )
    span = np.linspace(xc[:, 0].min(), xc[:, 0].max(), 10)
    for w, style, name in (
        (np.asarray(w_good), "k-", "correct gradient"),
        (np.asarray(w_bad), "C2--", "slide as written"),
    ):
        if abs(w[2]) > 1e-9:  # boundary w0 + w1 x1 + w2 x2 = 0
            ax_c.plot(span, -(w[0] + w[1] * span) / w[2], style, label=name)
    ax_c.set(
        xlabel="x1",
        ylabel="x2",
        ylim=(xc[:, 1].min() - 0.5, xc[:, 1].max() + 0.5),
        title="(2) classification boundaries",
    )
    ax_c.legend(fontsize=8)

    z = jnp.linspace(-6, 8, 300)
    for loss, name in (("mse", "MSE: (σ − t) σ'(z)"), ("cross_entropy", "cross-entropy: σ − t")):
        ax_d.plot(
            np.asarray(z),
            np.abs(np.asarray(sn.output_delta(loss, z, jnp.zeros_like(z)))),
            label=name,
        )
    ax_d.axvline(4.0, color="0.6", ls=":", label="start of (3)")
    ax_d.set(
        xlabel="z (target t = 0)", ylabel="|∂ℓ/∂z|", title="gradient vs how wrong the neuron is"
    )
    ax_d.legend(fontsize=8)

    for loss, name in (("mse", "MSE"), ("cross_entropy", "cross-entropy")):
        ax_s.plot(outputs[loss], label=name)
    ax_s.set(
        xlabel="step", ylabel="output σ(z) (target 0)", title="(3) learning from a saturated start"
    )
    ax_s.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
