r"""Critical points of any JAX function, classified by the eigenvalues of the Hessian.

At a critical point ``∇f(x*) = 0`` the second-order Taylor expansion
``f(x* + d) ≈ f(x*) + ½ dᵀ H d`` decides the shape (the second-derivative test):

* all eigenvalues of ``H`` positive  -> strict local **minimum**;
* all negative                      -> strict local **maximum**;
* some positive and some negative   -> **saddle** (the lecture's
  ``f(x) = x1² − x2²`` at ``(0, 0)``: up along ``x1``, down along ``x2``);
* otherwise (zero eigenvalues, no sign change) -> **degenerate**: the quadratic
  term cannot decide (``x1⁴ + x2⁴`` is a minimum, ``x1³`` is not).

Gradient descent near a saddle: for ``f = x1² − x2²`` one step maps
``(x1, x2) -> ((1 − 2α) x1, (1 + 2α) x2)``. Started exactly on the stable axis
``x2 = 0`` it converges to the saddle and stays; any perturbation ``ε`` of ``x2``
grows like ``(1 + 2α)^k ε`` and escapes after about
``log(r / ε) / log(1 + 2α)`` steps (:func:`saddle_escape_steps`).
Derivations: ``proofs/proof_saddle_point.py``.

The test says nothing where ``∇f ≠ 0``: a Hessian taken at the end of a slow
gradient-descent run classifies nothing. :func:`find_critical_point` first
searches for a true critical point near a given point (Levenberg–Marquardt on
``½‖∇f‖²``, float64) and classifies the Hessian only if it reaches one; an
infimum approached only as ``‖x‖ → ∞`` (a logistic loss on separable data, a
stuck XOR network) is reported as ``"none at finite weights"``. Used by
``examples/local_minima.py`` and ``proofs/proof_local_minima.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from functional_nn._validate import check_callable, check_finite, check_int, check_number
from functional_nn._x64 import float64_mode  # noqa: F401  (used in the docstring example)

__all__ = [
    "CriticalPoint",
    "saddle",
    "classify_critical_point",
    "gradient_descent",
    "first_exit",
    "saddle_escape_steps",
    "CriticalPointSearch",
    "find_critical_point",
]

Array = jax.Array
KINDS = ("minimum", "maximum", "saddle", "degenerate")


class CriticalPoint(NamedTuple):
    """The second-derivative test at a point."""

    kind: str  # "minimum" | "maximum" | "saddle" | "degenerate"
    eigenvalues: Array  # (n,) of the Hessian, ascending; n = number of scalars in x
    gradient_norm: Array  # () ‖∇f(x)‖₂ (≈ 0 at a critical point)
    hessian: Array  # (n, n), symmetrised, over the flattened x
    tolerance: float  # |λ| <= tolerance counts as zero


def saddle(x: Array) -> Array:
    """The lecture's ``f(x) = x1² − x2²``: ``(2,) -> ()``; ``(0, 0)`` is a saddle."""
    return x[0] ** 2 - x[1] ** 2


def classify_critical_point(
    f: Callable,
    x,
    *,
    tol: float | None = None,
    grad_tol: float | None = None,
    require_critical: bool = True,
) -> CriticalPoint:
    """Classify ``x`` by the eigenvalues of ``∇²f(x)``.

    Args:
        f: a scalar JAX function of one argument (an array or a pytree of arrays).
        x: the point.
        tol: eigenvalues with ``|λ| <= tol`` count as zero; default
            ``sqrt(eps) · max(1, max|λ|)`` in ``x``'s precision.
        grad_tol: ``x`` is critical when ``‖∇f(x)‖ <= grad_tol``; default
            ``sqrt(eps) · max(1, |f(x)|)``.
        require_critical: raise a ValueError at a non-critical point (default);
            with False the test is still reported, its ``gradient_norm`` shows
            how far from critical the point is.
    Returns:
        :class:`CriticalPoint`.

    Examples:
        >>> classify_critical_point(saddle, jnp.zeros(2)).kind
        'saddle'
    """
    check_callable("f", f)
    if grad_tol is not None:
        grad_tol = check_number("grad_tol", grad_tol, strict=True)
    flat, unravel = _flatten_point(x)
    g = lambda v: f(unravel(v))
    out_shape = jax.eval_shape(g, flat)
    if getattr(out_shape, "shape", None) != ():
        raise ValueError(f"f must return a scalar, got {out_shape}")
    # One compiled program for f, ∇f and ∇²f: far cheaper than running them op by op.
    value, grad, h = jax.jit(lambda v: (g(v), jax.grad(g)(v), jax.hessian(g)(v)))(flat)
    eps = float(jnp.finfo(flat.dtype).eps)
    grad_norm = jnp.linalg.norm(grad)
    if grad_tol is None:
        grad_tol = math.sqrt(eps) * max(1.0, abs(float(value)))
    if require_critical and not float(grad_norm) <= grad_tol:
        raise ValueError(
            f"x is not a critical point of f: ‖∇f(x)‖ = {float(grad_norm):.3g} > grad_tol = {grad_tol:.3g}; "
            "pass require_critical=False to inspect the Hessian anyway"
        )
    h = 0.5 * (h + h.T)  # exact Hessians are symmetric; remove rounding asymmetry
    eigenvalues = jnp.linalg.eigvalsh(h)
    if not np.all(np.isfinite(np.asarray(eigenvalues))):
        raise ValueError("the Hessian of f at x has non-finite entries")
    if tol is None:
        tol = math.sqrt(eps) * max(1.0, float(jnp.max(jnp.abs(eigenvalues))))
    return CriticalPoint(_kind(np.asarray(eigenvalues), tol), eigenvalues, grad_norm, h, float(tol))


def _kind(eigenvalues: np.ndarray, tol: float) -> str:
    positive = bool(np.any(eigenvalues > tol))
    negative = bool(np.any(eigenvalues < -tol))
    if positive and negative:
        return "saddle"
    if np.all(np.abs(eigenvalues) > tol):
        return "minimum" if positive else "maximum"
    return "degenerate"


def _flatten_point(x):
    leaves = jax.tree_util.tree_leaves(x)
    if not leaves:
        raise ValueError("x must hold at least one array")
    flat, unravel = ravel_pytree(x)
    if not jnp.issubdtype(flat.dtype, jnp.floating):
        raise TypeError(f"x must hold floating-point arrays, got dtype {flat.dtype}")
    check_finite(flat, "x")
    return flat, unravel


# --- gradient descent near a critical point ----------------------------------------


def gradient_descent(f: Callable, x0: Array, *, learning_rate: float, num_steps: int) -> Array:
    """Plain gradient descent ``x ← x − α ∇f(x)``, the path in one compiled ``lax.scan``.

    Args:
        f: a scalar JAX function of an array.
        x0: the start, any shape ``s``.
        learning_rate: ``α > 0``.
        num_steps: updates, ``>= 1``.
    Returns:
        The path ``(num_steps + 1, *s)``, the start included.
    """
    check_callable("f", f)
    x0 = jnp.asarray(x0)
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        raise TypeError(f"x0 must be a floating-point array, got dtype {x0.dtype}")
    learning_rate = check_number("learning_rate", learning_rate, strict=True)
    num_steps = check_int("num_steps", num_steps, 1)
    return _descend(f, x0, jnp.asarray(learning_rate, x0.dtype), num_steps)


@partial(jax.jit, static_argnames=("f", "num_steps"))
def _descend(f, x0, learning_rate, num_steps):
    grad = jax.grad(f)

    def step(x, _):
        x = x - learning_rate * grad(x)
        return x, x

    _, path = jax.lax.scan(step, x0, None, length=num_steps)
    return jnp.concatenate([x0[None], path])


def first_exit(path: Array, center: Array, radius: float) -> int | None:
    """The first step ``k`` with ``‖x_k − center‖ > radius`` after the path came within ``radius``.

    Measures how long gradient descent lingers near a critical point; None if it
    never leaves (or never arrives).
    """
    path = jnp.asarray(path)
    d = np.asarray(jnp.linalg.norm((path - jnp.asarray(center)).reshape(path.shape[0], -1), axis=1))
    inside = np.flatnonzero(d <= radius)
    if inside.size == 0:
        return None
    outside = np.flatnonzero((d > radius) & (np.arange(d.size) > inside[0]))
    return int(outside[0]) if outside.size else None


def saddle_escape_steps(perturbation: float, learning_rate: float, radius: float = 1.0) -> float:
    """Predicted steps for ``x2`` of :func:`saddle` to grow from ``ε`` past ``radius``: ``log(r/ε) / log(1 + 2α)``."""
    if not perturbation > 0 or not learning_rate > 0 or not radius > perturbation:
        raise ValueError(
            "need 0 < perturbation < radius and learning_rate > 0, got "
            f"perturbation={perturbation!r}, radius={radius!r}, learning_rate={learning_rate!r}"
        )
    return math.log(radius / perturbation) / math.log(1 + 2 * learning_rate)


# --- searching for a true critical point -------------------------------------------------------

SEARCH_KINDS = KINDS + ("none at finite weights", "none found")


class CriticalPointSearch(NamedTuple):
    """Where a Levenberg–Marquardt search for ``∇f = 0`` ended, and what it found there.

    ``kind`` is a Hessian verdict (one of ``KINDS``) only when the search converged
    (``‖∇f‖ <= grad_tol`` *and* the last Newton step was negligible); otherwise
    ``"none at finite weights"`` (``‖∇f‖`` kept falling while ``‖x‖`` grew past
    ``max_norm``: the infimum of ``‖∇f‖`` lies at infinity along the search) or
    ``"none found"`` (the search stalled at bounded ``x`` with ``‖∇f‖ > grad_tol``).
    """

    kind: str  # one of SEARCH_KINDS
    converged: bool  # a true critical point was reached (the Hessian was classified)
    x: Array  # (n,) flattened end point of the search
    gradient_norm: float  # ‖∇f‖ at the end
    start_gradient_norm: float  # ‖∇f‖ at x0
    norm: float  # ‖x‖ at the end
    start_norm: float  # ‖x0‖
    distance: float  # ‖x − x0‖
    last_step: float  # length of the last Newton / LM step
    iterations: int  # accepted steps
    eigenvalues: Array | None  # (n,) Hessian eigenvalues at the end, ascending
    critical_point: CriticalPoint | None  # the second-derivative test, only when converged


def find_critical_point(
    f: Callable,
    x0,
    *,
    grad_tol: float = 1e-10,
    step_tol: float = 1e-8,
    max_iter: int = 200,
    max_norm: float | None = None,
) -> CriticalPointSearch:
    r"""Search for a true critical point of ``f`` near ``x0``: minimise ``½‖∇f‖²`` by Levenberg–Marquardt.

    The residual is ``r(x) = ∇f(x)`` with Jacobian ``H = ∇²f(x)`` (symmetric), so
    each step solves ``(H² + μ I) d = −H ∇f`` in ``H``'s eigenbasis, with ``μ``
    relative to ``max λ²`` and adapted: divided by 10 after a step that lowers
    ``‖∇f‖``, multiplied by 10 until one does. With ``μ → 0`` this is Newton's
    method on ``∇f = 0``, quadratically convergent at a nondegenerate critical point.

    A point counts as critical only if ``‖∇f‖ <= grad_tol`` *and* both the Newton
    step from it (``−H⁺∇f``, flat directions dropped so a degenerate point can
    qualify) and the last step taken are at most ``step_tol · max(1, ‖x‖)``; or if
    ``‖∇f‖ <= grad_tol``, the Newton step is that small and no step lowers ``‖∇f‖``
    any more (float64's floor). The step conditions separate a critical point from
    an infimum at infinity: for a logistic loss on separable data ``‖∇f‖`` falls
    below any tolerance as ``‖w‖`` grows, but the steps stay of order
    ``1/margin`` forever, whereas near a true critical point they shrink with the
    distance to it.

    Args:
        f: a scalar JAX function of one argument (array or pytree), in float64.
        x0: the start (float64: the tolerances need it).
        grad_tol: the gradient norm below which a point may count as critical.
        step_tol: the relative Newton step below which it does.
        max_iter: accepted steps at most.
        max_norm: the search stops, verdict ``"none at finite weights"``, once
            ``‖x‖`` exceeds it (every accepted step lowered ``‖∇f‖`` on the way);
            default ``‖x0‖ + 10``: far enough for ``‖∇f‖`` to fall by orders of
            magnitude on a path to infinity, near enough that float64 sigmoids
            have not rounded to exact 0/1 (where ``∇f = 0`` would be an artefact).
    Returns:
        :class:`CriticalPointSearch`.

    Examples:
        >>> with float64_mode():
        ...     find_critical_point(saddle, jnp.array([0.3, -0.2])).kind
        'saddle'
    """
    check_callable("f", f)
    flat, unravel = _flatten_point(x0)
    if flat.dtype != jnp.float64:
        raise TypeError(
            f"x0 must be float64 (run under functional_nn._x64.float64_mode()), got {flat.dtype}"
        )
    grad_tol = check_number("grad_tol", grad_tol, strict=True)
    step_tol = check_number("step_tol", step_tol, strict=True)
    max_iter = check_int("max_iter", max_iter, 1)
    start_norm = float(jnp.linalg.norm(flat))
    # max_norm must exceed ‖x0‖, or the search would stop before its first step
    max_norm = check_number(
        "max_norm", start_norm + 10.0 if max_norm is None else max_norm, low=start_norm, strict=True
    )

    # A flat array is passed to f as is, so repeated searches on one f share one compiled program.
    g_of = (
        f
        if not isinstance(x0, dict | list | tuple) and jnp.ndim(x0) == 1
        else (lambda v: f(unravel(v)))
    )
    if getattr(jax.eval_shape(g_of, flat), "shape", None) != ():
        raise ValueError("f must return a scalar")
    grad_hess = lambda v: _grad_hess(g_of, jnp.asarray(v))
    grad_only = lambda v: _grad(g_of, jnp.asarray(v))

    x = np.asarray(flat)
    g, h = (np.asarray(a) for a in grad_hess(x))
    start_gn = gn = float(np.linalg.norm(g))
    nu, iterations, last_step, kind = 1e-3, 0, math.inf, None
    while True:
        lam, q = np.linalg.eigh(0.5 * (h + h.T))
        if not (np.all(np.isfinite(lam)) and np.isfinite(gn)):
            kind = "none found"
            break
        scale = step_tol * max(1.0, float(np.linalg.norm(x)))
        small = gn <= grad_tol and float(np.linalg.norm(_newton_step(lam, q, g))) <= scale
        if small and (iterations == 0 or last_step <= scale):
            break
        if float(np.linalg.norm(x)) > max_norm:
            kind = "none at finite weights"
            break
        if iterations >= max_iter:
            kind = "none found"
            break
        accepted = False
        while nu <= 1e12:
            d = _lm_step(lam, q, g, nu)
            g_new = np.asarray(grad_only(x + d))
            gn_new = float(np.linalg.norm(g_new))
            if np.isfinite(gn_new) and gn_new < gn:
                accepted = True
                break
            nu *= 10.0
        if not accepted:
            if not small:  # stalled above the tolerance; a small one is float64's floor: critical
                kind = "none found"
            break
        x, last_step, nu, iterations = (
            x + d,
            float(np.linalg.norm(d)),
            max(nu / 10.0, 1e-15),
            iterations + 1,
        )
        g, h = (np.asarray(a) for a in grad_hess(x))
        gn = float(np.linalg.norm(g))

    x_end = jnp.asarray(x)
    norm = float(np.linalg.norm(x))
    fields: dict[str, Any] = dict(
        x=x_end,
        gradient_norm=gn,
        start_gradient_norm=start_gn,
        norm=norm,
        start_norm=start_norm,
        distance=float(np.linalg.norm(x - np.asarray(flat))),
        last_step=last_step,
        iterations=iterations,
    )
    if kind is not None:
        lam = np.linalg.eigvalsh(0.5 * (h + h.T))
        return CriticalPointSearch(
            kind=kind, converged=False, eigenvalues=jnp.asarray(lam), critical_point=None, **fields
        )
    # The second-derivative test of classify_critical_point, on the Hessian already in hand.
    h = 0.5 * (h + h.T)
    lam = np.linalg.eigvalsh(h)
    tol = math.sqrt(float(np.finfo(np.float64).eps)) * max(1.0, float(np.max(np.abs(lam))))
    report = CriticalPoint(_kind(lam, tol), jnp.asarray(lam), jnp.asarray(gn), jnp.asarray(h), tol)
    return CriticalPointSearch(
        kind=report.kind,
        converged=True,
        eigenvalues=report.eigenvalues,
        critical_point=report,
        **fields,
    )


@partial(jax.jit, static_argnames="f")
def _grad_hess(f, v):
    return jax.grad(f)(v), jax.hessian(f)(v)


@partial(jax.jit, static_argnames="f")
def _grad(f, v):
    return jax.grad(f)(v)


def _newton_step(lam: np.ndarray, q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``d = −H⁺ g``, the pseudo-inverse dropping ``|λ| <= sqrt(eps) · max |λ|`` (flat directions of a degenerate point)."""
    cut = math.sqrt(float(np.finfo(np.float64).eps)) * float(np.max(np.abs(lam), initial=0.0))
    keep = np.abs(lam) > cut
    coefficient = np.divide(1.0, lam, out=np.zeros_like(lam), where=keep)
    return -q @ (coefficient * (q.T @ g))


def _lm_step(lam: np.ndarray, q: np.ndarray, g: np.ndarray, nu: float) -> np.ndarray:
    """``d = −(H² + μ I)⁺ H g`` with ``H = q diag(lam) qᵀ`` and ``μ = nu · max λ²``."""
    mu = nu * float(np.max(lam**2))
    denominator = lam**2 + mu
    coefficient = np.divide(lam, denominator, out=np.zeros_like(lam), where=denominator > 0)
    return -q @ (coefficient * (q.T @ g))
