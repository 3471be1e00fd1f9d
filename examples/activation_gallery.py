"""What does each of the lecture's activation functions look like, and is its hand-written derivative right?

Every activation of the lecture (linear, threshold, sigmoid, tanh, ReLU, leaky ReLU,
softmax) is drawn with its hand-derived derivative from fnn.activations, overlaid
with jax.grad's derivative at sample points. The table lists the properties the
lecture asks of an activation — output range, zero-centred (f(0) = 0 and odd),
non-vanishing gradient (how small f' gets on [−5, 5]) — and the largest
disagreement between the hand derivative and jax.grad away from the kink at 0. It
also evaluates the slide's softmax example, softmax([1.60, 0.55, 0.98]), which the
slide gives as [0.51, 0.18, 0.31]; the exact values are [0.530, 0.185, 0.285].
Softmax is vector-valued; it is drawn for z = (x, 0), where softmax(z)_1 = σ(x).

    python examples/activation_gallery.py --x-max 5 --out-dir out/activation_gallery
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import activations
from functional_nn.flags import parse_flags

ELEMENTWISE = ("linear", "threshold", "sigmoid", "tanh", "relu", "leaky_relu")


def softmax_first(x):
    """``softmax((x, 0))_1`` — equal to ``σ(x)``; the 2-class softmax as a curve."""
    return activations.softmax(jnp.stack([x, jnp.zeros_like(x)], axis=-1))[..., 0]


def softmax_first_derivative(x):
    """``∂ softmax((x, 0))_1 / ∂x`` from the hand Jacobian ``diag(s) − s sᵀ``, entry (1, 1)."""
    s = activations.softmax(jnp.stack([x, jnp.zeros_like(x)], axis=-1))
    return activations.softmax_jacobian(s)[..., 0, 0]


def main(
    *,
    x_max: float = 5.0,
    num_points: int = 1001,
    negative_slope: float = 0.1,
    out_dir: str = "out/activation_gallery",
) -> dict:
    """Tabulate and draw every activation; write ``activation_gallery.png``.

    Args:
        negative_slope: leaky ReLU slope (0.1 so it is visible)
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xs = jnp.linspace(-x_max, x_max, num_points)
    away = np.abs(np.asarray(xs)) > 1e-3  # derivatives are compared off the kink at 0
    curves = {}
    for name in ELEMENTWISE:
        act = activations.get_activation(name, negative_slope=negative_slope)
        curves[name] = (act.fn, act.derivative)
    curves["softmax (z = (x, 0))"] = (softmax_first, softmax_first_derivative)

    print(
        f"{'activation':<21} {'range on [−x,x]':<18} {'f(0)':>6} {'zero-centred':>12} {'min f′':>9} "
        f"{'max f′':>7} {'max |hand − jax.grad|':>22}"
    )
    rows, autodiff = {}, {}
    for name, (fn, d_hand) in curves.items():
        f = np.asarray(fn(xs))
        hand = np.asarray(d_hand(xs))
        auto = autodiff[name] = np.asarray(jax.vmap(jax.grad(fn))(xs))
        err = float(np.max(np.abs(hand - auto)[away]))
        odd = bool(np.allclose(np.asarray(fn(-xs)), -f, atol=1e-6))
        rows[name] = dict(
            min=float(f.min()),
            max=float(f.max()),
            f0=float(fn(jnp.zeros(()))),
            zero_centred=odd,
            min_derivative=float(hand.min()),
            max_derivative=float(hand.max()),
            max_error=err,
            derivative_at_0=float(d_hand(jnp.zeros(()))),
        )
        r = rows[name]
        print(
            f"{name:<21} [{r['min']:+.2f}, {r['max']:+.2f}]{'':<4} {r['f0']:>6.2f} {str(odd):>12} "
            f"{r['min_derivative']:>9.2e} {r['max_derivative']:>7.3f} {err:>22.1e}"
        )

    z = jnp.array([1.60, 0.55, 0.98])
    s = np.asarray(activations.softmax(z))
    slide = np.array([0.51, 0.18, 0.31])
    slide_ok = bool(np.allclose(np.round(s, 2), slide))
    print(
        f"\nsoftmax([1.60, 0.55, 0.98]) = [{', '.join(f'{v:.4f}' for v in s)}]; the slide prints "
        f"[0.51, 0.18, 0.31]: {'matches' if slide_ok else 'does NOT match'} to two decimals "
        f"(largest difference {np.max(np.abs(s - slide)):.3f})"
    )
    print(
        "kinks (the lecture's '?'): relu'(0) = "
        f"{rows['relu']['derivative_at_0']:g}, leaky_relu'(0) = {rows['leaky_relu']['derivative_at_0']:g}, "
        f"threshold'(x) = 0 everywhere it exists (δ(0) at 0 is not a number)"
    )

    figure = _plot(out / "activation_gallery.png", xs, curves, autodiff)
    print(f"figure: {figure}")
    return {
        "activations": rows,
        "softmax_slide_example": s.tolist(),
        "softmax_slide_matches": slide_ok,
        "figure": str(figure),
    }


def _plot(path: Path, xs, curves, autodiff) -> Path:
    from matplotlib.figure import Figure

    cols = 4
    rows = -(-len(curves) // cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows), layout="constrained")
    axes = np.ravel(fig.subplots(rows, cols))
    x = np.asarray(xs)
    dots = np.linspace(0, len(x) - 1, 16).round().astype(int)
    dots = dots[np.abs(x[dots]) > 1e-3]  # jax.grad's dots, off the kink at 0
    for ax, (name, (fn, d_hand)) in zip(axes, curves.items()):
        f, d = np.asarray(fn(xs)), np.asarray(d_hand(xs))
        jumps = np.abs(np.diff(f)) > 0.5  # draw a step as a gap, not a vertical line
        f = f.astype(float)
        f[1:][jumps] = np.nan
        ax.plot(x, f, "C0", label="f(x)")
        ax.plot(x, d, "C1--", label="f′(x) by hand")
        ax.plot(x[dots], autodiff[name][dots], "k.", ms=5, label="jax.grad")
        ax.axhline(0, color="0.75", lw=0.6)
        ax.axvline(0, color="0.75", lw=0.6)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(curves) :]:
        ax.set_visible(False)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
