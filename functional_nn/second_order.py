r"""Second order by hand: Pearlmutter's R-operator for ``H v``, the Gauss–Newton ``G v``, Lanczos.

``R{·} = d/dε (·)(θ + ε v)|_{ε=0}`` applied to every line of the forward pass
and of the δ recursion (derivation: ``proofs/proof_hvp.py``). With
``V^l, c^l`` the direction's parts for ``w^l, b^l``:

    forward R-pass    R{a^0} = 0
                      R{o^l} = R{a^{l−1}} w^l + a^{l−1} V^l + c^l
                      R{a^l} = f_l'(o^l) ⊙ R{o^l}                    (softmax: s ⊙ (R{o} − ⟨R{o}, s⟩))
    backward R-pass   R{δ^L} from the loss/head (below)
                      R{δ^l} = (R{δ^{l+1}} w^{l+1ᵀ} + δ^{l+1} V^{l+1ᵀ}) ⊙ f_l'(o^l)
                               + (δ^{l+1} w^{l+1ᵀ}) ⊙ f_l''(o^l) ⊙ R{o^l}
                      (H v)_{w^l} = R{a^{l−1}}ᵀ δ^l + a^{l−1ᵀ} R{δ^l},   (H v)_{b^l} = Σ_k R{δ^l_k}

Heads: sigmoid + BCE and softmax + CCE have ``δ^L = ω (ŷ − y)``, so
``R{δ^L} = ω R{ŷ}``; mse has ``δ^L = ω (ŷ − y) ⊙ f'(o^L)``, so
``R{δ^L} = ω (R{ŷ} ⊙ f'(o^L) + (ŷ − y) ⊙ f''(o^L) ⊙ R{o^L})`` (softmax output:
the product rule through ``s ⊙ (g − ⟨g, s⟩)``).

The Gauss–Newton product ``G v = J_fᵀ H_ℓ J_f v`` splits ``J`` at the point
where the loss is convex: at the logits ``o^L`` for sigmoid + BCE and softmax +
CCE (``H_ℓ = ω ∂ŷ/∂o``), at the outputs ``ŷ`` for mse (``H_ℓ = ω I``). ``J_f v``
is the forward R-pass; ``J_fᵀ`` is the δ recursion run on ``H_ℓ J_f v``
instead of ``δ^L``, without the ``f''`` terms.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate, activations, backprop, losses
from functional_nn._gradcheck_report import GOOD, SUSPECT
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP, Dense, Params

__all__ = [
    "second_derivative",
    "hvp",
    "gauss_newton_vp",
    "HVPLeaf",
    "HVPReport",
    "max_abs_norm",
    "check_hvp",
    "random_direction",
    "hessian_extreme_eigenvalues",
]

Array = jax.Array


def second_derivative(act: activations.Activation, o: Array) -> Array:
    """``f''(o)`` by hand: σ'' = σ'(1 − 2σ), tanh'' = −2 tanh (1 − tanh²), 0 for piecewise-linear units."""
    if act.name == "sigmoid":
        s = activations.sigmoid(o)
        return activations.sigmoid_derivative(o) * (1 - 2 * s)
    if act.name == "tanh":
        t = jnp.tanh(o)
        return -2 * t * (1 - t * t)
    if act.name in ("linear", "relu", "leaky_relu", "threshold"):
        return jnp.zeros_like(o)
    raise ValueError(
        f"second_derivative: {act.name!r} is not elementwise (softmax has its own rule)"
    )


def _through(act, o, a, g):
    """``f'(o) ⊙ g`` or the softmax Jacobian applied to ``g``."""
    return activations.softmax_jvp(a, g) if act.name == "softmax" else g * act.derivative(o)


def _through_R(act, o, a, Ro, g, Rg):
    """``R{f'(o) ⊙ g}`` = f'(o) ⊙ R{g} + f''(o) ⊙ R{o} ⊙ g; softmax: the product rule through s ⊙ (g − ⟨g, s⟩)."""
    if act.name == "softmax":
        Rs = activations.softmax_jvp(a, Ro)
        inner = jnp.sum(g * a, axis=-1, keepdims=True)
        R_inner = jnp.sum(Rg * a + g * Rs, axis=-1, keepdims=True)
        return Rs * (g - inner) + a * (Rg - R_inner)
    return Rg * act.derivative(o) + g * second_derivative(act, o) * Ro


def _forward_R(net, params, v, trace):
    """``R{o^l}`` and ``R{a^l}``: the directional derivative of the forward pass along ``v``."""
    Ra = jnp.zeros_like(trace.activations[0])
    Ro_all, Ra_all = [], [Ra]
    for l, (layer, dlayer, act) in enumerate(zip(params, v, net.layer_activations)):
        Ro = Ra @ layer.w + trace.activations[l] @ dlayer.w + dlayer.b  # R{o^l}
        Ra = _through(
            act, trace.pre_activations[l], trace.activations[l + 1], Ro
        )  # R{a^l} = f'(o^l) R{o^l}
        Ro_all.append(Ro)
        Ra_all.append(Ra)
    return Ro_all, Ra_all


def hvp(net: MLP, loss: str, params: Params, x, y, v: Params) -> Params:
    """``H v``, ``H = ∇²J(params)``, by the R-operator (no autodiff), same tree as ``params``.

    Args:
        net, loss, params, x, y: as for :func:`functional_nn.value_and_grad` (``y`` in the outputs' shape).
        v: a direction with the params' structure.
    Returns:
        ``H v`` with the params' structure.
    """
    acts = net.layer_activations
    trace = net.forward(params, x)
    Ro, Ra = _forward_R(net, params, v, trace)
    o_out, y_hat = trace.pre_activations[-1], trace.activations[-1]
    omega = losses.example_weights(None, x.shape[0], o_out.dtype)[:, None]
    delta = losses.output_delta(loss, acts[-1], o_out, y)
    if loss == "mse":  # δ^L = ω (ŷ − y) ⊙ f'(o^L)
        R_delta = _through_R(acts[-1], o_out, y_hat, Ro[-1], omega * (y_hat - y), omega * Ra[-1])
    else:  # δ^L = ω (ŷ − y): R{δ^L} = ω R{ŷ}
        R_delta = omega * Ra[-1]
    out = []
    for l in reversed(range(net.num_layers)):
        a_prev, Ra_prev = trace.activations[l], Ra[l]
        out.append(
            Dense(
                Ra_prev.T @ delta + a_prev.T @ R_delta,  # R{a^{l−1ᵀ} δ^l}
                jnp.sum(R_delta, axis=0),
            )
        )  # R{Σ_k δ^l_k}
        if l == 0:
            break
        da = delta @ params[l].w.T  # ∂J/∂a^{l−1}
        R_da = R_delta @ params[l].w.T + delta @ v[l].w.T  # R{δ^l w^lᵀ}
        o, a = trace.pre_activations[l - 1], trace.activations[l]
        delta, R_delta = (
            _through(acts[l - 1], o, a, da),
            _through_R(acts[l - 1], o, a, Ro[l - 1], da, R_da),
        )
    return tuple(reversed(out))


def gauss_newton_vp(net: MLP, loss: str, params: Params, x, y, v: Params) -> Params:
    """``G v = J_fᵀ H_ℓ J_f v`` (see the module docstring for the split), same tree as ``params``."""
    acts = net.layer_activations
    trace = net.forward(params, x)
    Ro, Ra = _forward_R(net, params, v, trace)
    o_out, y_hat = trace.pre_activations[-1], trace.activations[-1]
    omega = losses.example_weights(None, x.shape[0], o_out.dtype)[:, None]
    if loss == "mse":  # f = ŷ, H_ℓ = ω I, pulled back through f_L
        g = _through(acts[-1], o_out, y_hat, omega * Ra[-1])
    else:  # f = o^L, H_ℓ = ω ∂ŷ/∂o^L
        g = omega * Ra[-1]
    out = []
    for l in reversed(range(net.num_layers)):
        out.append(Dense(trace.activations[l].T @ g, jnp.sum(g, axis=0)))
        if l == 0:
            break
        g = _through(
            acts[l - 1], trace.pre_activations[l - 1], trace.activations[l], g @ params[l].w.T
        )
    return tuple(reversed(out))


# --- checks -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HVPLeaf:
    name: str
    rel_autodiff: float  # max |m − r| / max(|m| + |r|, floor) vs jax.jvp(jax.grad(J))
    rel_fd: float  # vs central differences of the manual gradient along v
    index: tuple

    @property
    def verdict(self) -> str:
        worst = max(
            self.rel_autodiff, self.rel_fd / 1e3
        )  # differences of a gradient: ~1e-10 accurate
        return "good" if worst <= GOOD else "suspect" if worst <= SUSPECT else "wrong"


@dataclasses.dataclass(frozen=True)
class HVPReport:
    """Manual ``H v`` per leaf vs ``jax.jvp(jax.grad(J))`` and differences of the manual gradient; symmetry."""

    title: str
    leaves: tuple[HVPLeaf, ...]
    symmetry: tuple[float, float]  # (uᵀ H v, vᵀ H u) with the manual H
    gauss_newton_rel: float  # manual G v vs jax.jvp/vjp J_fᵀ H_ℓ J_f v

    @property
    def symmetry_rel(self) -> float:
        a, b = self.symmetry
        return abs(a - b) / max(abs(a) + abs(b), 1e-300)

    @property
    def ok(self) -> bool:
        return (
            all(l.verdict == "good" for l in self.leaves)
            and self.symmetry_rel <= GOOD
            and self.gauss_newton_rel <= GOOD
        )

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "ok": self.ok,
            "symmetry": list(self.symmetry),
            "symmetry_rel": self.symmetry_rel,
            "gauss_newton_rel": self.gauss_newton_rel,
            "leaves": [{**dataclasses.asdict(l), "verdict": l.verdict} for l in self.leaves],
        }

    def __str__(self) -> str:
        rows = [("leaf", "rel vs jvp(grad)", "rel vs diff of grad", "at", "verdict")] + [
            (l.name, f"{l.rel_autodiff:.1e}", f"{l.rel_fd:.1e}", str(l.index), l.verdict)
            for l in self.leaves
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        u_hv, v_hu = self.symmetry
        return "\n".join(
            [
                self.title,
                *lines,
                f"symmetry: uᵀHv = {u_hv:.12g}, vᵀHu = {v_hu:.12g} (rel {self.symmetry_rel:.1e})",
                f"Gauss–Newton G v vs J_fᵀ H_ℓ J_f v (autodiff): rel {self.gauss_newton_rel:.1e}",
                "OK: the R-operator matches" if self.ok else "MISMATCH in the second-order check",
            ]
        )


def _rel_tree(m, r):
    m, r = [np.asarray(a) for a in jax.tree.leaves(m)], [np.asarray(a) for a in jax.tree.leaves(r)]
    floor = 1e-6 * max(float(np.max(np.abs(a), initial=0)) for a in r) + np.finfo(np.float64).tiny
    return [np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor) for a, b in zip(m, r)]


@functools.lru_cache(maxsize=32)
def _oracles(net: MLP, loss: str, hvp_fn, gn_fn):
    J = backprop.objective(net, loss)
    grad_manual = lambda p, x, y: backprop.backward(net, loss, p, x, y).grads
    head = net.layer_activations[-1]

    def all_of(params, x, y, u, v):
        Hv = hvp_fn(net, loss, params, x, y, v)
        Hv_ad = jax.jvp(lambda p: jax.grad(J)(p, x, y), (params,), (v,))[1]
        eps = 1e-4 * max_abs_norm(params)
        plus = grad_manual(jax.tree.map(lambda p, d: p + eps * d, params, v), x, y)
        minus = grad_manual(jax.tree.map(lambda p, d: p - eps * d, params, v), x, y)
        plus2 = grad_manual(jax.tree.map(lambda p, d: p + 2 * eps * d, params, v), x, y)
        minus2 = grad_manual(jax.tree.map(lambda p, d: p - 2 * eps * d, params, v), x, y)
        Hv_fd = jax.tree.map(
            lambda a, b, c, d: (-a + 8 * b - 8 * c + d) / (12 * eps), plus2, plus, minus, minus2
        )
        Hu = hvp_fn(net, loss, params, x, y, u)
        dot = lambda a, b: sum(
            jnp.vdot(p, q) for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(b))
        )
        # Gauss–Newton oracle: J_f by jvp, H_ℓ by jax.hessian-vector of the loss at the split point, J_fᵀ by vjp
        if loss == "mse":
            out_fn, ell = (lambda p: net.apply(p, x)), (lambda yh: losses.mse(yh, y))
        else:
            out_fn, ell = (
                (lambda p: net.logits(p, x)),
                (lambda o: losses.loss_from_logits(loss, head, o, y)),
            )
        f_out, Jv = jax.jvp(out_fn, (params,), (v,))
        HJv = jax.jvp(jax.grad(ell), (f_out,), (Jv,))[1]
        Gv_ad = jax.vjp(out_fn, params)[1](HJv)[0]
        Gv = gn_fn(net, loss, params, x, y, v)
        return Hv, Hv_ad, Hv_fd, dot(u, Hv), dot(v, Hu), Gv, Gv_ad

    return jax.jit(all_of)


def max_abs_norm(params):
    return jnp.maximum(
        1.0, jnp.max(jnp.stack([jnp.max(jnp.abs(l)) for l in jax.tree.leaves(params)]))
    )


def check_hvp(
    net: MLP,
    loss: str,
    params: Params,
    x,
    y,
    *,
    key: jax.Array | None = None,
    hvp_fn: Callable = hvp,
    gauss_newton_fn: Callable = gauss_newton_vp,
) -> HVPReport:
    """Manual ``H v`` (``hvp_fn``) against ``jax.jvp(jax.grad(J))`` and differences of the manual gradient, per leaf.

    Also the symmetry ``uᵀ H v = vᵀ H u`` for a second random ``u``, and the
    Gauss–Newton product against ``J_fᵀ H_ℓ J_f v`` built from ``jax.jvp`` / ``jax.vjp``.
    Runs in float64. ``key`` draws ``u`` and ``v`` (default ``jax.random.key(0)``).
    """
    backprop.check_setup(net, loss)
    key = _validate.check_key(key, default_seed=0)
    with float64_mode():
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x, y = backprop.check_batch(net, loss, params, jnp.asarray(np.asarray(x), jnp.float64), y)
        ku, kv = jax.random.split(key)
        u, v = random_direction(ku, params), random_direction(kv, params)
        Hv, Hv_ad, Hv_fd, uHv, vHu, Gv, Gv_ad = _oracles(net, loss, hvp_fn, gauss_newton_fn)(
            params, x, y, u, v
        )
        rel_ad, rel_fd = _rel_tree(Hv, Hv_ad), _rel_tree(Hv, Hv_fd)
        paths = [
            jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]
        ]
        leaves = []
        for p, ra, rf in zip(paths, rel_ad, rel_fd):
            i = int(np.argmax(ra)) if ra.size else 0
            leaves.append(
                HVPLeaf(
                    f"params{p}",
                    float(np.max(ra, initial=0)),
                    float(np.max(rf, initial=0)),
                    tuple(int(j) for j in np.unravel_index(i, ra.shape)),
                )
            )
        gn = max(float(np.max(r, initial=0)) for r in _rel_tree(Gv, Gv_ad))
        title = (
            f"Hessian-vector check (R-operator): MLP {net.layer_sizes} {'/'.join(net.activation_names)}, "
            f"loss {loss}, batch {x.shape[0]}, float64"
        )
        return HVPReport(title, tuple(leaves), (float(uHv), float(vHu)), gn)


def random_direction(key, params):
    """A standard-normal pytree shaped like ``params``."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(
        treedef, [jax.random.normal(k, l.shape, l.dtype) for k, l in zip(keys, leaves)]
    )


# --- Lanczos ------------------------------------------------------------------------------


def hessian_extreme_eigenvalues(
    f: Callable,
    params,
    *args,
    hvp_fn: Callable | None = None,
    num_iterations: int = 30,
    key: jax.Array | None = None,
) -> tuple[float, float]:
    """``(λ_min, λ_max)`` of ``∇²f(params)`` by Lanczos with full reorthogonalisation, from products only.

    Never forms the Hessian, so it works for networks whose ``n × n`` Hessian
    does not fit in memory. The extreme Ritz values of the ``m``-step Krylov
    space converge to the extreme eigenvalues first (Kaniel–Paige); ``m =
    num_iterations`` (capped at ``n``) products are used.

    Args:
        f: ``f(params, *args) -> ()``.
        params: any pytree of float arrays.
        hvp_fn: ``hvp_fn(params, v, *args) -> H v`` (e.g. the manual R-operator,
            ``lambda p, v, x, y: fnn.hvp(net, loss, p, x, y, v)``); default
            ``jax.jvp(jax.grad(f))``.
        num_iterations: Lanczos steps ``m``.
        key: the start vector (default ``jax.random.key(0)``).
    Returns:
        ``(λ_min, λ_max)`` as floats (Ritz values: inner bounds that tighten with ``m``).

    Examples:
        >>> lo, hi = hessian_extreme_eigenvalues(J, params, x, y, num_iterations=40)
    """
    from functional_nn.gradcheck import check_params_tree

    check_params_tree(params)
    _validate.check_callable("f", f, "callable f(params, *args) -> scalar")
    num_iterations = _validate.check_int("num_iterations", num_iterations, 1)
    key = _validate.check_key(key, default_seed=0)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    if hvp_fn is None:
        product = lambda p, v, *a: jax.jvp(lambda q: jax.grad(f)(q, *a), (p,), (v,))[1]
    else:
        product = hvp_fn
    matvec = jax.jit(
        lambda w, *a: jax.flatten_util.ravel_pytree(product(params, unravel(w), *a))[0]
    )
    n = flat.size
    m = min(num_iterations, n)
    q = np.asarray(jax.random.normal(key, (n,), flat.dtype), np.float64)
    Q = np.zeros((m, n))
    alphas, betas = [], []
    Q[0] = q / np.linalg.norm(q)
    for j in range(m):
        w = np.asarray(matvec(jnp.asarray(Q[j], flat.dtype), *args), np.float64)
        alphas.append(float(Q[j] @ w))
        w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)  # full reorthogonalisation (twice is enough)
        w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)
        beta = float(np.linalg.norm(w))
        if j + 1 == m or beta <= 1e-12 * max(1.0, abs(alphas[-1])):
            break
        betas.append(beta)
        Q[j + 1] = w / beta
    T = (
        np.diag(alphas)
        + np.diag(betas[: len(alphas) - 1], 1)
        + np.diag(betas[: len(alphas) - 1], -1)
    )
    ritz = np.linalg.eigvalsh(T)
    return float(ritz[0]), float(ritz[-1])
