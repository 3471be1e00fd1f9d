"""Why can't one perceptron compute XOR, and what does a hidden layer change?

Minsky and Papert's point, checked four ways: (1) the perceptron rule on XOR never
reaches an epoch without mistakes; (2) an exact certificate that no line separates
XOR (four strict inequalities whose sum with multipliers λ = (1, 1, 1, 1) reads
0 > 0), plus the one an LP finds; (3) the slide's hand-set two-layer threshold
network (hidden OR and AND, output "OR and not AND") computes XOR; (4) a 2-2-1
sigmoid network learns it by gradient descent with the hand-written backward pass.
The figure shows the perceptron's last line, its mistakes per epoch, the hand-set
network's two hidden lines and the learned network's decision region.

    python examples/xor.py --seed 0 --out-dir out/xor
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn import neurons
from functional_nn.flags import parse_flags


def train_full_batch(
    net: fnn.MLP,
    loss: str,
    params,
    x,
    y,
    *,
    learning_rate: float,
    num_steps: int,
    method: str = "manual",
):
    """Full-batch gradient descent in one jitted ``lax.scan``; returns ``(params, losses (num_steps,))``."""
    value_and_grad = fnn.value_and_grad(net, loss, method=method)

    @jax.jit
    def run(params):
        def step(p, _):
            J, grads = value_and_grad(p, x, y)
            return jax.tree.map(lambda w, dw: w - learning_rate * dw, p, grads), J

        return jax.lax.scan(step, params, None, length=num_steps)

    return run(params)


def main(
    *,
    seed: int = 0,
    max_epochs: int = 20,
    mlp_steps: int = 3000,
    mlp_learning_rate: float = 1.0,
    loss: Literal["mse", "binary_cross_entropy"] = "binary_cross_entropy",
    method: Literal["manual", "autodiff"] = "manual",
    out_dir: str = "out/xor",
) -> dict:
    """Run the four XOR checks, print their tables and write ``xor.png``.

    Args:
        max_epochs: perceptron epochs
        mlp_steps: full-batch gradient steps for the sigmoid net
        method: backward pass
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, t = neurons.xor_data()
    key_order, key_init = jax.random.split(jax.random.key(seed))

    # (1) The perceptron rule, in data order and in a fresh random order each epoch.
    runs = {
        "data order": neurons.train_perceptron(x, t, max_epochs=max_epochs),
        "shuffled": neurons.train_perceptron(x, t, max_epochs=max_epochs, key=key_order),
    }
    print(f"(1) perceptron on XOR, {max_epochs} epochs")
    for name, r in runs.items():
        print(
            f"    {name:<10} converged = {bool(r.converged)}, mistakes per epoch {np.asarray(r.mistakes).tolist()}"
        )

    # (2) The certificate: λ_k · s_k (w · x̃_k) > 0 summed over k is 0 > 0.
    cert = neurons.xor_certificate()
    s = 2 * t - 1
    names = ("w0", "w1", "w2")
    print("\n(2) a separating w = (w0, w1, w2) would need, for each row s_k (w · x̃_k) > 0:")
    for k in range(4):
        lhs = _linear_form(s[k] * np.r_[1, x[k]], names)
        print(
            f"    x = {tuple(int(v) for v in x[k])}, t = {t[k]}:  {lhs:<16} > 0    × λ = {cert.multipliers[k]}"
        )
    combination = neurons.certificate_combination(cert.multipliers, x, t)
    verified = neurons.verify_certificate(cert, x, t)
    print(
        f"    λ-weighted sum: the coefficients of (w0, w1, w2) are {tuple(str(c) for c in combination)}, "
        f"so it reads {_linear_form(combination, names)} > 0; verified exactly: {verified}"
    )
    lp = neurons.separability_certificate(x, t)
    lp_verified = neurons.verify_certificate(lp, x, t)
    print(
        f"    LP certificate: λ = {tuple(str(v) for v in lp.multipliers)}, verified exactly: {lp_verified}"
    )

    # (3) The hand-set two-layer threshold network.
    net_u, params_u = neurons.xor_threshold_network()
    trace_u = net_u.forward(params_u, jnp.asarray(x, jnp.float32))
    hidden_u, out_u = np.asarray(trace_u.activations[1]), np.asarray(trace_u.activations[2])[:, 0]
    # (4) A learned 2-2-1 sigmoid network.
    net = fnn.MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid")
    xf, yf = jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.float32)[:, None]
    params, losses = train_full_batch(
        net,
        loss,
        net.init(key_init),
        xf,
        yf,
        learning_rate=mlp_learning_rate,
        num_steps=mlp_steps,
        method=method,
    )
    trace = net.forward(params, xf)
    hidden, y_hat = np.asarray(trace.activations[1]), np.asarray(trace.activations[2])[:, 0]
    solved = bool(np.array_equal((y_hat >= 0.5).astype(int), t))

    print(
        f"\n(3) hand-set threshold network and (4) learned sigmoid network "
        f"({mlp_steps} full-batch steps, α = {mlp_learning_rate}, {loss}, {method} backprop)"
    )
    print(f"{'x1 x2':<6} {'t':>2} | {'OR':>3} {'AND':>3} {'y':>2} | {'h1':>6} {'h2':>6} {'ŷ':>6}")
    for k in range(4):
        print(
            f"{x[k, 0]:>2} {x[k, 1]:>2}  {t[k]:>2} | {int(hidden_u[k, 0]):>3} {int(hidden_u[k, 1]):>3} "
            f"{int(out_u[k]):>2} | {hidden[k, 0]:>6.3f} {hidden[k, 1]:>6.3f} {y_hat[k]:>6.3f}"
        )
    print(
        f"threshold network correct: {bool(np.array_equal(out_u, t))}; sigmoid network solves XOR: {solved} "
        f"(final loss {float(losses[-1]):.4f})"
    )

    figure = _plot(out / "xor.png", x, t, runs["data order"], params_u, net, params)
    print(f"figure: {figure}")
    return {
        "perceptron_converged": {k: bool(r.converged) for k, r in runs.items()},
        "perceptron_mistakes": {k: np.asarray(r.mistakes).tolist() for k, r in runs.items()},
        "certificate": [str(v) for v in cert.multipliers],
        "certificate_combination": [str(v) for v in combination],
        "certificate_verified": verified,
        "lp_certificate_verified": lp_verified,
        "threshold_network_outputs": out_u.astype(int).tolist(),
        "mlp_outputs": y_hat.tolist(),
        "mlp_solved": solved,
        "mlp_final_loss": float(losses[-1]),
        "figure": str(figure),
    }


def _linear_form(coeffs, names) -> str:
    """``[-1, 1, 0]`` -> ``"−w0 + w1"``; all zeros -> ``"0"``."""
    terms = []
    for c, n in zip(coeffs, names):
        if c == 0:
            continue
        sign = "−" if c < 0 else "+"
        mag = "" if abs(c) == 1 else f"{abs(c)}·"
        terms.append(f"{sign} {mag}{n}")
    if not terms:
        return "0"
    text = " ".join(terms)
    return text[2:] if text.startswith("+ ") else "−" + text[2:]


def _plot(path: Path, x, t, perceptron, params_u, net, params) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(18, 4.4), layout="constrained")
    ax_p, ax_m, ax_u, ax_mlp = fig.subplots(1, 4)
    grid = np.linspace(-0.5, 1.5, 201)
    g1, g2 = np.meshgrid(grid, grid)
    plane = np.stack([g1.ravel(), g2.ravel()], axis=1)

    def points(ax, title):
        ax.scatter(
            x[:, 0], x[:, 1], c=t, cmap="coolwarm", vmin=0, vmax=1, s=160, edgecolors="k", zorder=3
        )
        ax.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="x1", ylabel="x2", aspect="equal")
        ax.set_title(title, fontsize=10)

    def lines(ax, w, b, style):
        for j in range(w.shape[1]):  # w_1j x1 + w_2j x2 + b_j = 0
            if abs(w[1, j]) > 1e-12:
                ax.plot(grid, -(b[j] + w[0, j] * grid) / w[1, j], style, lw=1.2)
            else:
                ax.axvline(-b[j] / w[0, j], ls=style[-2:], color=style[0])

    w = np.asarray(perceptron.w)
    fires = (plane @ w[1:] + w[0] >= 0).reshape(g1.shape)
    ax_p.contourf(g1, g2, fires.astype(float), levels=[0.5, 1.5], colors=["#f4c7c3"], alpha=0.6)
    if np.any(w[1:] != 0):
        lines(ax_p, w[1:, None], w[:1], "k--")
    points(ax_p, "perceptron's last line: still wrong")

    n = len(perceptron.mistakes)
    ax_m.bar(np.arange(1, n + 1), np.asarray(perceptron.mistakes), color="C3")
    ax_m.set(xlabel="epoch", ylabel="mistakes in the epoch")
    ax_m.set_title("perceptron rule on XOR: never 0 mistakes", fontsize=10)
    ax_m.xaxis.get_major_locator().set_params(integer=True)
    ax_m.yaxis.get_major_locator().set_params(integer=True)

    w1, b1 = np.asarray(params_u[0].w), np.asarray(params_u[0].b)
    net_u, _ = neurons.xor_threshold_network()
    region = np.asarray(net_u.apply(params_u, jnp.asarray(plane, jnp.float32)))[:, 0].reshape(
        g1.shape
    )
    ax_u.contourf(g1, g2, region, levels=[0.5, 1.5], colors=["#f4c7c3"], alpha=0.6)
    lines(ax_u, w1, b1, "k--")
    points(ax_u, "hand-set threshold net: OR and not AND")

    y_grid = np.asarray(net.apply(params, jnp.asarray(plane, jnp.float32)))[:, 0].reshape(g1.shape)
    cs = ax_mlp.contourf(g1, g2, y_grid, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.5)
    fig.colorbar(cs, ax=ax_mlp, label="ŷ")
    lines(ax_mlp, np.asarray(params[0].w), np.asarray(params[0].b), "k--")
    points(ax_mlp, "learned 2-2-1 sigmoid net; dashed: hidden units")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
