"""When backprop gets stuck on XOR, is it stuck in a local minimum?

The lecture: "Error function contains many local minima and there is no guarantee
of convergence." Tested on XOR. Many seeds of each network are trained by
full-batch gradient descent ``w ← w − α ∇J`` (a ``lax.scan`` over
``jax.vmap``-ed seeds), long enough to tell a stop from a slow drift: at
log-spaced steps up to ``--long-steps`` we record ``J``, ``‖∇J‖``, ``‖w‖`` and how
saturated each hidden unit is (``1 − mean_k 4 a(1 − a)``: 0 at ``a = ½``, → 1 when
σ' vanishes). A run is *stuck* when some output is still on the wrong side of ½
at the end.

Then, from every stuck endpoint (and a few solved ones, for comparison), a
Levenberg–Marquardt search for ``∇J = 0`` in float64
(``fnn.critical_points.find_critical_point``). The Hessian is classified only
where the search reaches ``‖∇J‖ <= 1e-10`` with a vanishing Newton step; a
search whose ``‖∇J‖`` keeps falling while ``‖w‖`` grows is reported as "none at
finite weights". Groups: 2-2-1, 2-3-1 and 2-1-1 with the inputs also wired to
the output (skip connections), each with MSE and binary cross-entropy, in
float32 and float64.

    python examples/local_minima.py --num-seeds 128 --long-steps 100000 --out-dir out/local_minima
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from pathlib import Path
from typing import Literal, NamedTuple, get_args

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import functional_nn as fnn
from functional_nn import critical_points as cp
from functional_nn import losses, neurons
from functional_nn._x64 import float64_mode
from functional_nn.flags import parse_flags

ArchitectureName = Literal["2-2-1", "2-3-1", "2-1-1-skip"]
LossName = Literal["mse", "binary_cross_entropy"]
DType = Literal["float32", "float64"]
ARCHITECTURES: tuple[ArchitectureName, ...] = get_args(ArchitectureName)
LOSSES: tuple[LossName, ...] = get_args(LossName)
DTYPES: tuple[DType, ...] = get_args(DType)
LEARNING_RATES = {"mse": 2.0, "binary_cross_entropy": 0.5}


class Architecture(NamedTuple):
    """A network over one flat parameter vector: ``logits(θ, x) -> (o (K, 1), hidden a (K, H))``."""

    name: str
    init: object  # key -> flat θ (float32)
    logits: object  # (θ, x) -> (o, a)


def architecture(name: str) -> Architecture:
    """The three networks of the study, each over a flat parameter vector."""
    if name in ("2-2-1", "2-3-1"):
        net = fnn.MLP((2, int(name[2]), 1), activation="sigmoid", output_activation="sigmoid")
        shapes = jax.eval_shape(net.init, jax.random.key(0))  # the params' layout, nothing computed
        _, unravel = ravel_pytree(jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), shapes))

        def logits(theta, x):
            params = unravel(theta)
            trace = net.forward(params, x)
            return trace.pre_activations[-1], trace.activations[1]

        return Architecture(name, lambda key: ravel_pytree(net.init(key))[0], logits)
    if name == "2-1-1-skip":
        return Architecture(name, _skip_init, skip_logits)
    raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {name!r}")


def skip_logits(theta, x):
    """The 2-1-1 XOR network with the inputs also connected to the output.

    ``θ = (w1 (2), b1, v, u (2), b2)``: ``a = σ(x w1 + b1)`` (one hidden unit),
    ``o = v a + x u + b2``. Shapes: ``x (K, 2) -> o (K, 1), a (K, 1)``.
    """
    w1, b1, v, u, b2 = theta[0:2], theta[2], theta[3], theta[4:6], theta[6]
    a = jax.nn.sigmoid(x @ w1 + b1)[:, None]
    o = v * a + (x @ u)[:, None] + b2
    return o, a


def _skip_init(key):
    # Glorot-uniform fan-in/fan-out per layer, biases 0, as fnn.MLP's default.
    k1, k2 = jax.random.split(key)
    w1 = jax.random.uniform(k1, (2,), minval=-1.0, maxval=1.0) * math.sqrt(6 / 3)
    vu = jax.random.uniform(k2, (3,), minval=-1.0, maxval=1.0) * math.sqrt(6 / 4)
    return jnp.concatenate([w1, jnp.zeros(1), vu[:1], vu[1:], jnp.zeros(1)])


def loss_function(arch: Architecture, loss: str, x, y):
    """``J(θ)`` on XOR: the library's MSE on ``σ(o)`` or its stable cross-entropy on ``o``."""

    def J(theta):
        o, _ = arch.logits(theta, x.astype(theta.dtype))
        target = y.astype(theta.dtype)
        if loss == "mse":
            return losses.mse(jax.nn.sigmoid(o), target)
        return losses.binary_cross_entropy(o, target)

    return J


def checkpoints(long_steps: int, num_checkpoints: int) -> np.ndarray:
    """Log-spaced step counts ``1 .. long_steps`` (distinct, increasing)."""
    return np.unique(
        np.round(np.logspace(0, math.log10(long_steps), num_checkpoints)).astype(np.int64)
    )


def train(
    arch: Architecture, loss: str, x, y, theta0, learning_rate: float, steps: np.ndarray
) -> dict:
    """Full-batch gradient descent on every seed at once; metrics at each step count in ``steps``.

    Returns arrays ``(seeds, checkpoints)`` for ``J, grad_norm, weight_norm``,
    ``saturation (seeds, checkpoints, hidden)``, ``outputs (seeds, checkpoints, 4)``
    and the end points ``theta (seeds, n)``.
    """
    J = loss_function(arch, loss, x, y)
    value_and_grad = jax.vmap(jax.value_and_grad(J))
    alpha = jnp.asarray(learning_rate, theta0.dtype)
    between = jnp.asarray(np.diff(np.concatenate([[0], steps])), jnp.int32)

    def metrics(theta):
        value, grad = value_and_grad(theta)
        o, a = jax.vmap(arch.logits, in_axes=(0, None))(theta, x.astype(theta.dtype))
        saturation = 1.0 - jnp.mean(4.0 * a * (1.0 - a), axis=1)  # (seeds, hidden)
        return dict(
            J=value,
            grad_norm=jnp.linalg.norm(grad, axis=1),
            weight_norm=jnp.linalg.norm(theta, axis=1),
            saturation=saturation,
            outputs=jax.nn.sigmoid(o)[..., 0],
        )

    @jax.jit
    def run(theta):
        def segment(theta, n):
            theta = jax.lax.fori_loop(0, n, lambda _, t: t - alpha * value_and_grad(t)[1], theta)
            return theta, metrics(theta)

        return jax.lax.scan(segment, theta, between)

    theta, history = run(theta0)
    out = {k: np.moveaxis(np.asarray(v), 0, 1) for k, v in history.items()}
    out["theta"] = np.asarray(theta)
    return out


def solved(outputs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(seeds,)``: every output on the right side of ½."""
    return np.all((outputs >= 0.5) == (t == 1), axis=-1)


def check_skip_gradient(x, y) -> float:
    """Largest relative gap between ``jax.grad`` and central differences of the skip network's J (float64)."""
    with float64_mode():
        arch = architecture("2-1-1-skip")
        theta = np.array([0.7, -1.3, 0.4, 2.1, -0.6, 0.9, -0.2])
        h = 1e-6
        shifted = np.concatenate(
            [theta + h * np.eye(theta.size), theta - h * np.eye(theta.size)]
        )  # (2n, n)
        worst = 0.0
        for loss in LOSSES:
            J = loss_function(arch, loss, jnp.asarray(x, jnp.float64), jnp.asarray(y, jnp.float64))
            g, values = jax.jit(lambda t, s: (jax.grad(J)(t), jax.vmap(J)(s)))(theta, shifted)  # noqa: B023
            g, values = np.asarray(g), np.asarray(values)
            fd = (values[: theta.size] - values[theta.size :]) / (2 * h)
            worst = max(worst, float(np.max(np.abs(g - fd)) / max(1e-12, np.max(np.abs(g)))))
    return worst


def _long_run_verdict(run: dict, i: int, steps: np.ndarray) -> str:
    """What the last decade of steps shows for seed ``i``: drifting to infinity, or settled."""
    last = steps[-1]
    j = int(np.searchsorted(steps, max(1, last // 10)))
    w0, w1 = run["weight_norm"][i, j], run["weight_norm"][i, -1]
    g0, g1 = run["grad_norm"][i, j], run["grad_norm"][i, -1]
    if w1 > 1.01 * w0 and g1 < g0:
        return "‖w‖ grows, ‖∇J‖ decays"
    if abs(w1 - w0) <= 0.01 * w0:
        return "‖w‖ settled"
    return "other"


def main(
    *,
    seed: int = 0,
    num_seeds: int = 128,
    num_epochs: int = 5000,
    long_steps: int = 100_000,
    num_checkpoints: int = 60,
    learning_rate: float | None = None,
    architectures: tuple[ArchitectureName, ...] = ARCHITECTURES,
    loss_names: tuple[LossName, ...] = LOSSES,
    dtypes: tuple[DType, ...] = DTYPES,
    num_solved_searched: int = 2,
    search_iter: int = 1000,
    out_dir: str = "out/local_minima",
) -> dict:
    """Train every group, follow and search every stuck run; print the table, write ``local_minima.png``.

    Args:
        num_epochs: the usual training length (marked in the table)
        long_steps: full-batch steps for every run (10^5–10^6)
        num_checkpoints: log-spaced steps where J, ‖∇J‖, ‖w‖ are kept
        learning_rate: default: 2.0 for mse, 0.5 for bce
        num_solved_searched: solved runs also searched, for comparison
        search_iter: Levenberg–Marquardt steps at most
    """
    for name, value, low in (
        ("num_seeds", num_seeds, 1),
        ("num_epochs", num_epochs, 1),
        ("long_steps", long_steps, 1),
        ("num_checkpoints", num_checkpoints, 2),
        ("num_solved_searched", num_solved_searched, 0),
        ("search_iter", search_iter, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if long_steps < num_epochs:
        raise ValueError(f"long_steps must be >= num_epochs = {num_epochs}, got {long_steps!r}")
    if learning_rate is not None and (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, (int, float))
        or not learning_rate > 0
    ):
        raise ValueError(f"learning_rate must be a positive number or None, got {learning_rate!r}")
    for name, values, known in (
        ("architectures", architectures, ARCHITECTURES),
        ("loss_names", loss_names, LOSSES),
        ("dtypes", dtypes, DTYPES),
    ):
        bad = [v for v in values if v not in known]
        if bad or not values:
            raise ValueError(f"{name} must be a non-empty subset of {known}, got {tuple(values)!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    x_np, t = neurons.xor_data()
    y_np = np.asarray(t, np.float64)[:, None]
    steps = np.unique(np.concatenate([checkpoints(long_steps, num_checkpoints), [num_epochs]]))
    at_epochs = int(np.searchsorted(steps, num_epochs))
    skip_gap = check_skip_gradient(x_np, y_np)
    print(
        f"2-1-1-skip gradient: jax.grad vs central differences (float64), max relative gap {skip_gap:.1e}\n"
    )

    groups = {}
    for arch_name in architectures:
        arch = architecture(arch_name)
        keys = jax.random.split(jax.random.key(seed), num_seeds)
        theta32 = jax.jit(jax.vmap(arch.init))(keys)
        for loss in loss_names:
            alpha = LEARNING_RATES[loss] if learning_rate is None else float(learning_rate)
            for dtype in dtypes:
                with float64_mode() if dtype == "float64" else contextlib.nullcontext():
                    x, y = jnp.asarray(x_np, dtype), jnp.asarray(y_np, dtype)
                    run = train(arch, loss, x, y, jnp.asarray(theta32, dtype), alpha, steps)
                groups[(arch_name, loss, dtype)] = _study_group(
                    arch,
                    loss,
                    x_np,
                    y_np,
                    t,
                    run,
                    steps,
                    at_epochs,
                    alpha,
                    num_solved_searched,
                    search_iter,
                )

    _print_table(groups, num_seeds, num_epochs, long_steps)
    conclusion = _conclusion(groups)
    print("\n" + conclusion)
    figure = _plot(out / "local_minima.png", groups, steps)
    print(f"figure: {figure}")
    return {
        "groups": {"/".join(k): _public(g) for k, g in groups.items()},
        "conclusion": conclusion,
        "skip_gradient_gap": skip_gap,
        "figure": str(figure),
        "steps": steps.tolist(),
    }


def _study_group(
    arch, loss, x_np, y_np, t, run, steps, at_epochs, alpha, num_solved_searched, search_iter
) -> dict:
    n = run["theta"].shape[0]
    final_ok = solved(run["outputs"][:, -1], t)
    early_ok = solved(run["outputs"][:, at_epochs], t)
    stuck = np.flatnonzero(~final_ok)
    with float64_mode():
        J64 = loss_function(arch, loss, jnp.asarray(x_np), jnp.asarray(y_np))
        searched = list(stuck) + list(np.flatnonzero(final_ok)[:num_solved_searched])
        searches = {
            int(i): cp.find_critical_point(
                J64, jnp.asarray(run["theta"][i], jnp.float64), max_iter=search_iter
            )
            for i in searched
        }
    verdicts = {i: _long_run_verdict(run, i, steps) for i in range(n)}
    return dict(
        arch=arch.name,
        loss=loss,
        alpha=alpha,
        run=run,
        solved=final_ok,
        solved_early=early_ok,
        stuck=stuck,
        searches=searches,
        long_run=verdicts,
        steps=steps,
    )


def _public(g: dict) -> dict:
    stuck = g["stuck"]
    return {
        "num_seeds": int(g["solved"].size),
        "num_solved": int(g["solved"].sum()),
        "num_solved_at_num_epochs": int(g["solved_early"].sum()),
        "num_stuck": int(stuck.size),
        "stuck_search": dict(Counter(g["searches"][int(i)].kind for i in stuck)),
        "solved_search": dict(Counter(s.kind for i, s in g["searches"].items() if g["solved"][i])),
        "stuck_outputs": dict(_output_patterns(g)),
        "stuck_long_run": dict(Counter(g["long_run"][int(i)] for i in stuck)),
        "stuck_final_grad_norm": [float(g["run"]["grad_norm"][i, -1]) for i in stuck],
        "stuck_final_weight_norm": [float(g["run"]["weight_norm"][i, -1]) for i in stuck],
        "stuck_final_J": [float(g["run"]["J"][i, -1]) for i in stuck],
        "stuck_search_gradient_norm": [
            (g["searches"][int(i)].start_gradient_norm, g["searches"][int(i)].gradient_norm)
            for i in stuck
        ],
        "stuck_search_norm": [
            (g["searches"][int(i)].start_norm, g["searches"][int(i)].norm) for i in stuck
        ],
        "critical_points": [
            dict(
                seed=i,
                kind=s.kind,
                gradient_norm=s.gradient_norm,
                distance=s.distance,
                eigenvalues=np.asarray(s.eigenvalues).tolist(),
            )
            for i, s in g["searches"].items()
            if s.converged
        ],
    }


def _median(values) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def _print_table(groups, num_seeds, num_epochs, long_steps):
    print(
        f"XOR by full-batch gradient descent, {num_seeds} seeds per group (glorot-uniform init, biases 0), "
        f"{long_steps} steps; the stuck runs' numbers are medians at the last step.\n"
    )
    head = (
        f"{'network':<11} {'loss':<5} {'dtype':<7} {'α':>4} {'solved@E':>8} {'solved':>7} {'stuck':>5} {'J':>8} {'‖∇J‖':>8} "
        f"{'‖w‖':>6} {'‖w‖×/dec':>9} {'sat':>5}  {'long run (stuck)':<28} search from stuck endpoints"
    )
    print(head)
    print("-" * (len(head) + 20))
    for (arch, loss, dtype), g in groups.items():
        run, stuck = g["run"], g["stuck"]
        last = len(g["steps"]) - 1
        before = int(np.searchsorted(g["steps"], max(1, g["steps"][-1] // 10)))
        growth = [run["weight_norm"][i, -1] / run["weight_norm"][i, before] for i in stuck]
        sat = [float(np.max(run["saturation"][i, -1])) for i in stuck]
        long_run = Counter(g["long_run"][int(i)] for i in stuck)
        search = Counter(g["searches"][int(i)].kind for i in stuck)
        ends = [g["searches"][int(i)] for i in stuck]
        g0, g1 = [e.start_gradient_norm for e in ends], [e.gradient_norm for e in ends]
        n0, n1 = [e.start_norm for e in ends], [e.norm for e in ends]
        cells = [
            (run["J"][stuck, last], ".4f", 8),
            (run["grad_norm"][stuck, last], ".1e", 8),
            (run["weight_norm"][stuck, last], ".1f", 6),
            (growth, ".3f", 9),
            (sat, ".2f", 5),
        ]
        numbers = " ".join(
            f"{_median(v):>{w}{spec}}" if len(v) else f"{'—':>{w}}" for v, spec, w in cells
        )
        evidence = (
            f" (‖∇J‖ {_median(g0):.0e} → {_median(g1):.0e}, ‖w‖ {_median(n0):.0f} → {_median(n1):.0f})"
            if stuck.size
            else ""
        )
        print(
            f"{arch:<11} {'mse' if loss == 'mse' else 'bce':<5} {dtype:<7} {g['alpha']:>4.1f} "
            f"{int(g['solved_early'].sum()):>8} {int(g['solved'].sum()):>7} {stuck.size:>5} {numbers}  "
            f"{_counts(long_run) or '—':<28} {_counts(search) or '—'}{evidence}"
        )
    print(
        f"\n'solved@E': solved after {num_epochs} steps; 'solved', 'stuck': after {long_steps}. "
        "'‖w‖×/dec': ‖w‖ at the end over ‖w‖ ten times fewer steps earlier. 'sat': the most saturated hidden unit,"
        " 1 − mean 4a(1 − a). Search: Levenberg–Marquardt on ‖∇J‖² in float64 from the endpoint; a Hessian "
        "verdict only where ‖∇J‖ <= 1e-10 and the Newton step vanished."
    )
    print(
        "\nwhat the stuck runs compute at the end, ŷ on (00, 01, 10, 11) rounded to 0.1 (XOR is 0, 1, 1, 0):"
    )
    for (arch, loss, dtype), g in groups.items():
        if g["stuck"].size:
            print(
                f"  {arch}/{'mse' if loss == 'mse' else 'bce'}/{dtype}: {_counts(_output_patterns(g))}"
            )
    compared = Counter(
        s.kind for g in groups.values() for i, s in g["searches"].items() if g["solved"][i]
    )
    if compared:
        print(
            f"\nfor comparison, searches from solved endpoints (J → 0 only as ‖w‖ → ∞ with sigmoid outputs): "
            f"{_counts(compared)}"
        )
    found = [(k, i, s) for k, g in groups.items() for i, s in g["searches"].items() if s.converged]
    if found:
        print(
            "\ntrue critical points found (group, seed, solved?, kind, ‖∇J‖, distance from endpoint, λ_min, λ_max):"
        )
        for (arch, loss, dtype), i, s in found:
            lam = np.asarray(s.eigenvalues)
            ok = bool(groups[(arch, loss, dtype)]["solved"][i])
            print(
                f"  {arch}/{loss}/{dtype} seed {i} solved={ok}: {s.kind}, {s.gradient_norm:.1e}, "
                f"{s.distance:.2f}, {lam[0]:.2e}, {lam[-1]:.2e}"
            )


def _output_patterns(g: dict) -> Counter:
    outputs = g["run"]["outputs"][g["stuck"], -1]
    return Counter("(" + ", ".join(f"{v:.1f}" for v in np.round(o, 1)) + ")" for o in outputs)


def _counts(counter: Counter) -> str:
    return ", ".join(f"{v} {k}" for k, v in counter.most_common())


def _conclusion(groups) -> str:
    stuck_total = sum(g["stuck"].size for g in groups.values())
    kinds = Counter(g["searches"][int(i)].kind for g in groups.values() for i in g["stuck"])
    minima = kinds.get("minimum", 0)
    drifting = sum(
        1
        for g in groups.values()
        for i in g["stuck"]
        if g["long_run"][int(i)].startswith("‖w‖ grows")
    )
    return (
        f"{stuck_total} stuck runs in all; long runs: {drifting} drift (‖w‖ grows while ‖∇J‖ decays); "
        f"searches from their endpoints: {_counts(kinds) or 'none'}. "
        + (
            f"{minima} strict local minima at finite weights were found."
            if minima
            else "No strict local minimum at finite weights was found from any stuck run."
        )
    )


def _plot(path: Path, groups, steps) -> Path:
    from matplotlib.figure import Figure

    names = list(groups)
    fig = (
        Figure(figsize=(4.2 * len(names) / 2, 7), layout="constrained")
        if len(names) > 1
        else Figure(figsize=(5, 7), layout="constrained")
    )
    axes = fig.subplots(2, len(names), squeeze=False)
    for col, key in enumerate(names):
        g = groups[key]
        run = g["run"]
        order = list(np.flatnonzero(g["solved"])) + list(g["stuck"])  # stuck runs drawn on top
        for i in order:
            style = (
                dict(color="C2", alpha=0.2, lw=0.7)
                if g["solved"][i]
                else dict(color="C3", alpha=0.8, lw=1.2)
            )
            axes[0, col].loglog(steps, run["J"][i], **style)
            axes[1, col].semilogx(steps, run["weight_norm"][i], **style)
        axes[0, col].set_title(
            "/".join((key[0], "mse" if key[1] == "mse" else "bce", key[2])), fontsize=8
        )
        axes[1, col].set_xlabel("steps")
    axes[0, 0].set_ylabel("J (green solved, red stuck)")
    axes[1, 0].set_ylabel("‖w‖")
    fig.savefig(path, dpi=90)
    return path


if __name__ == "__main__":
    main(**parse_flags(main, flag_names={"loss_names": "losses"}))
