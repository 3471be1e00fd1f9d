"""Is a zero gradient a minimum? The lecture's saddle f(x) = x1² − x2² and gradient descent near it.

A critical point (∇f = 0) is classified by the eigenvalues of the Hessian: all
positive a minimum, all negative a maximum, mixed signs a saddle, zeros leave it
undecided (degenerate). This script classifies the origin for the lecture's saddle
and a few contrasting functions, then runs gradient descent on x1² − x2²: started
exactly on the stable axis x2 = 0 it converges to the saddle and stalls there (the
gradient vanishes, so it "looks trained"); started a tiny ε off the axis it escapes,
after about log(r/ε) / log(1 + 2α) steps — predicted and measured for several ε.

    python examples/saddle_point.py --learning-rate 0.1 --num-steps 200 --out-dir out/saddle_point
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from functional_nn import critical_points as cp
from functional_nn.flags import parse_flags

FUNCTIONS = {
    "x1² − x2²  (lecture)": cp.saddle,
    "x1² + x2²": lambda x: x[0] ** 2 + x[1] ** 2,
    "−x1² − x2²": lambda x: -(x[0] ** 2) - x[1] ** 2,
    "x1⁴ + x2²": lambda x: x[0] ** 4 + x[1] ** 2,
    "x1³ − 3 x1 x2²  (monkey)": lambda x: x[0] ** 3 - 3 * x[0] * x[1] ** 2,
}


def main(
    *,
    learning_rate: float = 0.1,
    num_steps: int = 200,
    perturbations: tuple[float, ...] = (1e-2, 1e-4, 1e-6),
    radius: float = 1.0,
    out_dir: str = "out/saddle_point",
) -> dict:
    """Classify the origin for each function, run the saddle experiment, write ``saddle_point.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    origin = jnp.zeros(2)

    print(f"{'f(x)':<26} {'λ(H) at 0':<18} {'‖∇f(0)‖':>8}  kind")
    kinds = {}
    for name, f in FUNCTIONS.items():
        r = cp.classify_critical_point(f, origin)
        kinds[name] = r.kind
        lam = ", ".join(f"{v:+.1f}" for v in np.asarray(r.eigenvalues))
        print(f"{name:<26} {lam:<18} {float(r.gradient_norm):>8.1g}  {r.kind}")

    stable = cp.gradient_descent(
        cp.saddle, jnp.array([1.0, 0.0]), learning_rate=learning_rate, num_steps=num_steps
    )
    end = np.asarray(stable[-1])
    grad_end = float(
        np.hypot(2 * end[0], 2 * end[1])
    )  # ∇f = (2 x1, −2 x2); numpy: no denormal flush
    print(
        f"\ngradient descent, α = {learning_rate}, {num_steps} steps, from (1, 0) on the stable axis:"
    )
    print(
        f"  ends at ({end[0]:.2e}, {end[1]:.2e}), ‖∇f‖ = {grad_end:.1e}, f = {float(cp.saddle(stable[-1])):.1e}: "
        f"stalled at the saddle ({cp.classify_critical_point(cp.saddle, stable[-1]).kind})"
    )

    print(f"\nfrom (1, ε): steps until ‖x‖ > {radius} again (after passing by the saddle)")
    print(f"{'ε':>8} {'predicted':>10} {'measured':>9} {'f at end':>10}")
    escapes = {}
    paths = {}
    for eps in perturbations:
        path = cp.gradient_descent(
            cp.saddle, jnp.array([1.0, eps]), learning_rate=learning_rate, num_steps=num_steps
        )
        predicted = cp.saddle_escape_steps(eps, learning_rate, radius)
        measured = cp.first_exit(path, origin, radius)
        escapes[eps] = dict(
            predicted=predicted, measured=measured, final_value=float(cp.saddle(path[-1]))
        )
        paths[eps] = np.asarray(path)
        shown = "never" if measured is None else str(measured)
        print(f"{eps:>8.0e} {predicted:>10.1f} {shown:>9} {float(cp.saddle(path[-1])):>10.2e}")

    figure = _plot(
        out / "saddle_point.png", np.asarray(stable), paths, escapes, learning_rate, radius
    )
    print(f"figure: {figure}")
    return {
        "kinds": kinds,
        "stable_axis_end": end.tolist(),
        "stable_axis_gradient_norm": grad_end,
        "escapes": escapes,
        "figure": str(figure),
    }


def _plot(path: Path, stable, paths, escapes, learning_rate, radius) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.6), layout="constrained")
    ax_c, ax_t, ax_e = fig.subplots(1, 3)
    g = np.linspace(-1.3, 1.3, 201)
    g1, g2 = np.meshgrid(g, g)
    cs = ax_c.contourf(g1, g2, g1**2 - g2**2, levels=21, cmap="RdBu_r", alpha=0.6)
    fig.colorbar(cs, ax=ax_c, label="f = x1² − x2²")
    ax_c.plot(stable[:40, 0], stable[:40, 1], "k.-", ms=4, lw=1, label="from (1, 0): stalls at 0")
    for i, (eps, p) in enumerate(paths.items()):
        inside = np.all(np.abs(p) < 1.3, axis=1)
        ax_c.plot(
            p[inside, 0],
            p[inside, 1],
            ".-",
            ms=3,
            lw=1,
            color=f"C{i + 2}",
            label=f"from (1, {eps:.0e})",
        )
    ax_c.plot(0, 0, "k*", ms=12)
    ax_c.set(xlabel="x1", ylabel="x2", title="gradient descent paths", aspect="equal")
    ax_c.legend(fontsize=7, loc="lower left")

    k = np.arange(len(stable))
    ax_t.semilogy(k, np.linalg.norm(stable, axis=1), "k", label="from (1, 0)")
    for i, (eps, p) in enumerate(paths.items()):
        ax_t.semilogy(k, np.linalg.norm(p, axis=1), color=f"C{i + 2}", label=f"from (1, {eps:.0e})")
    ax_t.axhline(radius, color="0.5", ls=":")
    ax_t.set(
        xlabel="step k",
        ylabel="‖x_k‖ (distance to the saddle)",
        ylim=(1e-12, 1e6),
        title="lingering near the saddle, then escaping",
    )
    ax_t.legend(fontsize=7)

    eps = np.array(sorted(escapes))
    dense = np.logspace(np.log10(eps.min()) - 1, np.log10(eps.max()), 50)
    ax_e.semilogx(
        dense,
        [cp.saddle_escape_steps(e, learning_rate, radius) for e in dense],
        "k-",
        label="predicted log(r/ε) / log(1 + 2α)",
    )
    measured = [escapes[e]["measured"] for e in eps]
    ax_e.semilogx(
        eps, [np.nan if m is None else m for m in measured], "o", color="C3", label="measured"
    )
    ax_e.set(
        xlabel="perturbation ε", ylabel="steps to escape", title=f"escape time, α = {learning_rate}"
    )
    ax_e.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
