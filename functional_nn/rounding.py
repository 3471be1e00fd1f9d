r"""A rounding-error bound for an MLP's gradient in float32 / bfloat16 / float16, and the check against it.

Instead of a fixed tolerance (``1e-4`` for float32), each gradient entry gets a
bound that follows from the computation, by forward error analysis (Higham,
*Accuracy and Stability of Numerical Algorithms*, ch. 3; derivation and checks
in ``proofs/proof_rounding_bound.py``). With unit roundoff ``u`` (float32
``2^-24``, bfloat16 ``2^-8``, float16 ``2^-11``) and ``γ_n = n u / (1 − n u)``:

* a computed sum of products of ``n`` terms is within ``γ_n Σ |x_p| |w_p|`` of
  the exact sum of the computed inputs (any summation order);
* inputs carry errors: the params and the batch are rounded to the dtype
  (``u |θ|``), and a product ``x̂ ŵ`` inherits ``E_x |w| + |x| E_w + E_x E_w``;
* an activation adds ``sup |f'| E_o`` over ``[o − E_o, o + E_o]`` plus ``c u |f|``
  for its own evaluation (``c = 8`` for exp-based functions, an accuracy
  assumption on XLA's kernels checked on a grid in the proof; ``0`` for relu);
  softmax moves each ``s_i`` by at most ``s_i (e^{2 max E_o} − 1)``;
* a derivative ``f'(ô)`` differs from ``f'(o)`` by ``sup |f''| E_o`` (a jump of
  ``1`` or ``1 − slope`` when the interval straddles a relu/leaky kink) plus its
  own evaluation error;
* the δ recursion, ``dw = aᵀ δ`` (a sum over the batch, ``γ_K``) and
  ``db = Σ_k δ_k`` repeat the same rules.

Everything is evaluated in float64 at the float64 reference values, as
magnitudes: the result bounds ``|ĝ − g|`` entry by entry for the δ recursion
of :func:`functional_nn.backprop.backward`. ``jax.grad`` performs the same
products and sums (the same bound is shown beside its error; it is not derived
for autodiff's own order of elementwise operations).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate, backprop
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP, Dense, Params

__all__ = ["gamma", "gradient_error_bound", "RoundingLeaf", "RoundingReport", "check_rounding"]

UNIT_ROUNDOFF = {"float32": 2.0**-24, "bfloat16": 2.0**-8, "float16": 2.0**-11}
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
EVAL_ULPS = 8.0  # c: accuracy of exp / log / tanh / logistic kernels, in units of u (XLA float32 tanh: 4.2 measured)
SIGMOID_D2_MAX = 1 / (6 * math.sqrt(3))  # max |σ''|
TANH_D2_MAX = 4 / (3 * math.sqrt(3))  # max |tanh''|


def gamma(n: int, u: float) -> float:
    """``γ_n = n u / (1 − n u)`` (infinite once ``n u ≥ 1``: no bound)."""
    return n * u / (1 - n * u) if n * u < 1 else math.inf


def _mul(x, ex, y, ey, u):
    """Error of a computed product ``x̂ ŷ`` against ``x y``: inherited plus one rounding."""
    ax, ay = np.abs(x), np.abs(y)
    return ex * ay + ax * ey + ex * ey + u * (ax + ex) * (ay + ey)


def _add(x, ex, y, ey, u):
    """Error of a computed ``x̂ + ŷ`` (either sign) against ``x + y``."""
    return ex + ey + u * (np.abs(x + y) + ex + ey)


def _matmul(a, ea, w, ew, u, extra=None):
    """Error of ``â @ ŵ (+ extra)``: inherited products plus ``γ_n Σ |â||ŵ|`` (n the inner size)."""
    n = a.shape[-1] + (extra is not None)
    aa, aw = np.abs(a) + ea, np.abs(w) + ew
    out = ea @ np.abs(w) + np.abs(a) @ ew + ea @ ew + gamma(n, u) * (aa @ aw)
    return out if extra is None else out + gamma(n, u) * np.abs(extra)


def _f_sup_derivative(name, o, e, slope):
    """``sup |f'|`` over ``[o − e, o + e]``."""
    near = np.maximum(np.abs(o) - e, 0.0)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-near))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(near) ** 2
    if name == "relu":
        return (o + e > 0).astype(float)
    if name == "leaky_relu":
        return np.where(o + e >= 0, 1.0, abs(slope))
    return np.ones_like(o)  # linear


def _derivative_error(name, o, e, d, u, slope):
    """Error of the computed ``f'(ô)`` against ``f'(o)``."""
    straddles = (o - e <= 0) & (o + e >= 0)
    if name == "sigmoid":
        return SIGMOID_D2_MAX * e + (2 * EVAL_ULPS + 1) * u * (np.abs(d) + SIGMOID_D2_MAX * e)
    if name == "tanh":
        return TANH_D2_MAX * e + (2 * EVAL_ULPS + 2) * u
    if name == "relu":
        return straddles.astype(float)
    if name == "leaky_relu":
        return straddles * (1 - abs(slope))
    return np.zeros_like(o)


def _activation(name, o, eo, a, u, slope):
    """Error of the computed ``f(ô)`` against ``f(o)``; softmax along the last axis."""
    if name == "softmax":
        spread = np.expm1(2 * np.max(eo, axis=-1, keepdims=True))
        rho = (2 * EVAL_ULPS + 1) * u + gamma(o.shape[-1], u)
        return a * (spread + rho + spread * rho)
    inherited = _f_sup_derivative(name, o, eo, slope) * eo
    c = {"linear": 0.0, "relu": 0.0, "leaky_relu": 1.0}.get(name, EVAL_ULPS)
    return inherited + c * u * (np.abs(a) + inherited)


def _softmax_vjp(s, es, g, eg, u):
    """Error of ``s ⊙ (g − ⟨g, s⟩)`` computed from ``ŝ, ĝ``."""
    n = s.shape[-1]
    inner = np.sum(g * s, axis=-1, keepdims=True)
    e_inner = np.sum(eg * np.abs(s) + np.abs(g) * es + eg * es, axis=-1, keepdims=True) + gamma(
        n, u
    ) * np.sum((np.abs(g) + eg) * (np.abs(s) + es), axis=-1, keepdims=True)
    diff = g - inner
    e_diff = _add(g, eg, -inner, e_inner, u)
    return _mul(s, es, diff, e_diff, u)


def gradient_error_bound(
    net: MLP, loss: str, params: Params, x, y, dtype: str = "float32"
) -> Params:
    """Entrywise bound on ``|ĝ − g|`` for the manual gradient computed in ``dtype``; same tree as ``params``.

    ``g`` is the exact gradient at ``params`` (as given, e.g. float64) and ``ĝ``
    the δ recursion run on ``params``, ``x``, ``y`` rounded to ``dtype``.
    """
    dtype = _validate.check_dtype("dtype", dtype, UNIT_ROUNDOFF)
    return _bound(net, loss, _exact(net, loss, params, x, y), dtype)


class _Exact(NamedTuple):
    """The float64 inputs and passes both the bound and ``check_rounding`` start from."""

    params: Params
    x: jax.Array
    y: jax.Array
    trace: Any  # net.forward's Trace
    back: backprop.Backward
    derivatives: list  # f_l'(o^l) per layer, None for softmax


def _exact(net: MLP, loss: str, params: Params, x, y) -> _Exact:
    with float64_mode():
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x, y = backprop.check_batch(net, loss, params, jnp.asarray(np.asarray(x), jnp.float64), y)
        return _Exact(params, x, y, *_exact_pass(net, loss, params, x, y))


def _bound(net: MLP, loss: str, exact: _Exact, dtype: str) -> Params:
    u = UNIT_ROUNDOFF[dtype]
    slope = net.negative_slope
    params, x, y64, trace, back, derivatives = exact
    deltas = back.deltas
    P = [(np.asarray(l.w), np.asarray(l.b)) for l in params]
    A = [np.asarray(a) for a in trace.activations]
    O = [np.asarray(o) for o in trace.pre_activations]
    D = [np.asarray(d) for d in deltas]
    names = net.activation_names
    y = np.asarray(y64)
    K = x.shape[0]

    EA = [u * np.abs(A[0])]  # x rounded to dtype
    EO = []
    for l, (w, b) in enumerate(P):
        eo = _matmul(A[l], EA[l], w, u * np.abs(w), u, extra=b) + u * np.abs(b)
        EO.append(eo)
        EA.append(_activation(names[l], O[l], eo, A[l + 1], u, slope))

    omega, e_omega = 1.0 / K, u / K
    head = names[-1]
    y_hat, e_y_hat = A[-1], EA[-1]
    e_diff = _add(y_hat, e_y_hat, -y, u * np.abs(y), u)
    diff = y_hat - y
    if loss == "mse":
        g, eg = omega * diff, _mul(omega, e_omega, diff, e_diff, u)
        if head == "softmax":
            e_delta = _softmax_vjp(A[-1], EA[-1], g, eg, u)
        else:
            fd = np.asarray(derivatives[-1])
            e_delta = _mul(g, eg, fd, _derivative_error(head, O[-1], EO[-1], fd, u, slope), u)
    else:
        e_delta = _mul(omega, e_omega, diff, e_diff, u)

    bounds: list[Any] = [None] * len(P)  # filled from the last layer down
    for l in reversed(range(len(P))):
        a, ea, delta = A[l], EA[l], D[l]
        ew = _matmul(a.T, ea.T, delta, e_delta, u)  # aᵀ δ over the batch
        eb = np.sum(e_delta, axis=0) + gamma(max(K - 1, 1), u) * np.sum(
            np.abs(delta) + e_delta, axis=0
        )
        bounds[l] = Dense(ew, eb)
        if l == 0:
            break
        w = P[l][0]
        da = delta @ w.T
        e_da = _matmul(delta, e_delta, w.T, u * np.abs(w.T), u)
        if names[l - 1] == "softmax":
            e_delta = _softmax_vjp(A[l], EA[l], da, e_da, u)
        else:
            fd = np.asarray(derivatives[l - 1])
            e_delta = _mul(
                da, e_da, fd, _derivative_error(names[l - 1], O[l - 1], EO[l - 1], fd, u, slope), u
            )
    return tuple(bounds)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _exact_pass(net: MLP, loss: str, params, x, y):
    """The float64 forward trace, backward pass and ``f_l'(o^l)`` (None for softmax layers),
    one compiled program (called in float64 mode)."""
    trace = net.forward(params, x)
    derivatives = [
        None if act.derivative is None else act.derivative(o)  # softmax: none elementwise
        for act, o in zip(net.layer_activations, trace.pre_activations)
    ]
    return trace, backprop.backward(net, loss, params, x, y), derivatives


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _low_precision_grads(net: MLP, loss: str, manual: bool, params, x, y):
    """The manual (None unless ``manual``) and the autodiff gradient in the inputs' dtype."""
    grads = backprop.backward(net, loss, params, x, y).grads if manual else None
    return grads, jax.grad(backprop.objective(net, loss))(params, x, y)


@dataclasses.dataclass(frozen=True)
class RoundingLeaf:
    name: str
    bound: float  # max entrywise bound
    manual: float  # max |ĝ_manual − g|
    autodiff: float  # max |ĝ_autodiff − g|
    ratio_manual: float  # max_i |ĝ_i − g_i| / bound_i
    ratio_autodiff: float

    @property
    def within(self) -> bool:
        return self.ratio_manual <= 1 and self.ratio_autodiff <= 1


@dataclasses.dataclass(frozen=True)
class RoundingReport:
    title: str
    dtype: str
    leaves: tuple[RoundingLeaf, ...]

    @property
    def ok(self) -> bool:
        return all(l.within for l in self.leaves)

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "dtype": self.dtype,
            "ok": self.ok,
            "leaves": [{**dataclasses.asdict(l), "within": l.within} for l in self.leaves],
        }

    def __str__(self) -> str:
        rows = [("leaf", "bound", "|manual-f64|", "ratio", "|autodiff-f64|", "ratio", "within")] + [
            (
                l.name,
                f"{l.bound:.1e}",
                f"{l.manual:.1e}",
                f"{l.ratio_manual:.2f}",
                f"{l.autodiff:.1e}",
                f"{l.ratio_autodiff:.2f}",
                "yes" if l.within else "NO",
            )
            for l in self.leaves
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        end = (
            f"OK: every {self.dtype} error is within its derived bound"
            if self.ok
            else "OUTSIDE THE BOUND: " + ", ".join(l.name for l in self.leaves if not l.within)
        )
        return "\n".join([self.title, *lines, end])


def check_rounding(
    net: MLP, loss: str, params: Params, x, y, *, dtype: str = "float32", backward_fn=None
) -> RoundingReport:
    """Observed ``dtype`` errors of the manual and autodiff gradients vs float64, beside the derived bound.

    ``backward_fn(net, loss, params, x, y) -> Backward`` replaces the manual pass under test.
    """
    backprop.check_setup(net, loss)
    dtype = _validate.check_dtype("dtype", dtype, UNIT_ROUNDOFF)
    exact64 = _exact(net, loss, params, x, y)
    bounds = _bound(net, loss, exact64, dtype)
    low, p64, x64, y64, exact = (
        DTYPES[dtype],
        exact64.params,
        exact64.x,
        exact64.y,
        exact64.back.grads,
    )
    p_low = jax.tree.map(lambda a: a.astype(low), p64)
    x_low, y_low = x64.astype(low), y64.astype(low)
    manual, auto = _low_precision_grads(net, loss, backward_fn is None, p_low, x_low, y_low)
    if backward_fn is not None:  # a pass under test runs as given (it may not be jittable)
        manual = backward_fn(net, loss, p_low, x_low, y_low).grads
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    leaves = []
    for p, b, g, m, a in zip(
        paths,
        jax.tree.leaves(bounds),
        jax.tree.leaves(exact),
        jax.tree.leaves(manual),
        jax.tree.leaves(auto),
    ):
        b, g = np.asarray(b), np.asarray(g, np.float64)
        em, ea = np.abs(np.asarray(m, np.float64) - g), np.abs(np.asarray(a, np.float64) - g)
        ratio = lambda e, b=b: float(
            np.max(np.where(e == 0, 0.0, e / np.maximum(b, np.finfo(np.float64).tiny)))
        )
        leaves.append(
            RoundingLeaf(
                f"params{p}", float(b.max()), float(em.max()), float(ea.max()), ratio(em), ratio(ea)
            )
        )
    title = (
        f"Rounding check: MLP {net.layer_sizes} {'/'.join(net.activation_names)}, loss {loss}, "
        f"batch {x64.shape[0]}, {dtype} vs float64 (bound: γ_n forward error analysis)"
    )
    return RoundingReport(title, dtype, tuple(leaves))
