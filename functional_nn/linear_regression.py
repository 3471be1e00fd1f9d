r"""Gradient descent on the lecture's linear regression, with its step-size threshold.

Model and cost (lecture, "Gradient based learning"):

    h(x) = w0 + w1 x                       w = (w0, w1)
    J(w) = 1/(2m) Σ_i (h(x_i) − t_i)²

With the design matrix ``X = [1, x]`` of shape ``(m, 2)``:

    ∇J(w) = (1/m) Xᵀ (X w − t)             (∂J/∂w0 = mean(h − t), ∂J/∂w1 = mean((h − t) x))
    H     = (1/m) Xᵀ X                      constant: J is quadratic
    w*    = (XᵀX)⁻¹ Xᵀ t                    the closed form (normal equations)

Gradient descent ``w ← w − α ∇J(w)`` moves the error ``e = w − w*`` by
``e ← (I − α H) e``. Along the eigenvector of eigenvalue ``λ`` the error is
multiplied by ``1 − α λ`` each step, so the iteration converges for every start
exactly when ``|1 − α λ| < 1`` for all ``λ``, i.e. when

    α < α* = 2 / λ_max.

Above ``α*`` the top mode flips sign and grows each step: the slide's
"big step size" overshooting becomes divergence. Far below it the slowest mode
``1 − α λ_min`` is close to 1: the slide's "small step size". Derivations: ``proofs/proof_gradient_descent.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._validate import (
    check_finite,
    check_int,
    check_key,
    check_number,
    is_concrete,
    real_dtype,
)

__all__ = [
    "Trajectory",
    "design_matrix",
    "predict",
    "cost",
    "gradient",
    "hessian",
    "hessian_eigenvalues",
    "divergence_threshold",
    "contraction_factor",
    "closed_form",
    "gradient_descent",
    "make_data",
]

Array = jax.Array
Schedule = Callable[[Array], Array]


class Trajectory(NamedTuple):
    """A gradient-descent run, the start included."""

    weights: Array  # (num_steps + 1, 2): w^(0), ..., w^(num_steps), each (w0, w1)
    costs: Array  # (num_steps + 1,): J(w^(k))
    learning_rates: Array  # (num_steps,): α_k used for the step k -> k + 1


# --- the model -------------------------------------------------------------------


def design_matrix(x: Array) -> Array:
    """``X = [1, x]``: ``(m,) -> (m, 2)``, so ``h = X @ w``."""
    return jnp.stack([jnp.ones_like(x), x], axis=1)


def predict(w: Array, x: Array) -> Array:
    """``h(x) = w0 + w1 x``: ``w (2,), x (m,) -> (m,)``."""
    return w[0] + w[1] * x


def cost(w: Array, x: Array, t: Array) -> Array:
    """``J(w) = 1/(2m) Σ (h(x_i) − t_i)²``: ``w (2,), x (m,), t (m,) -> ()``."""
    r = predict(w, x) - t
    return 0.5 * jnp.mean(r * r)


def gradient(w: Array, x: Array, t: Array) -> Array:
    """The hand gradient ``(∂J/∂w0, ∂J/∂w1) = (mean(h − t), mean((h − t) x))``: ``-> (2,)``."""
    r = predict(w, x) - t  # h(x_i) − t_i
    return jnp.stack([jnp.mean(r), jnp.mean(r * x)])


def hessian(x: Array) -> Array:
    """``H = (1/m) XᵀX = [[1, mean x], [mean x, mean x²]]``: ``(m,) -> (2, 2)``, independent of ``w`` and ``t``."""
    x = _check_x(x)
    return _hessian(x)


def _hessian(x: Array) -> Array:
    mx, mxx = jnp.mean(x), jnp.mean(x * x)
    return jnp.array([[1.0, mx], [mx, mxx]], dtype=x.dtype)


def hessian_eigenvalues(x: Array) -> Array:
    """Eigenvalues of ``H`` in ascending order, ``(2,)``; both positive when ``x`` is not constant."""
    return jnp.linalg.eigvalsh(hessian(x))


def divergence_threshold(x: Array) -> Array:
    """``α* = 2 / λ_max(H)``: constant-step gradient descent converges iff ``α < α*``."""
    return 2.0 / hessian_eigenvalues(x)[-1]


def contraction_factor(x: Array, learning_rate: float) -> Array:
    """``ρ = max_λ |1 − α λ|``: the error shrinks (``ρ < 1``) or grows (``ρ > 1``) by this per step."""
    learning_rate = check_number("learning_rate", learning_rate, strict=True)
    return jnp.max(jnp.abs(1.0 - learning_rate * hessian_eigenvalues(x)))


def closed_form(x: Array, t: Array) -> Array:
    """The least-squares solution ``w* = (XᵀX)⁻¹ Xᵀ t`` (normal equations): ``-> (2,)``."""
    x, t = _check_xt(x, t)
    X = design_matrix(x)
    return jnp.linalg.solve(X.T @ X, X.T @ t)


# --- gradient descent --------------------------------------------------------------


def gradient_descent(
    x: Array,
    t: Array,
    *,
    learning_rate: float | Schedule,
    num_steps: int,
    w_init: Array | None = None,
) -> Trajectory:
    """Full-batch gradient descent on ``J``, the whole trajectory in one compiled ``lax.scan``.

    ``w^(k+1) = w^(k) − α_k ∇J(w^(k))`` with the hand gradient of :func:`gradient`.

    Args:
        x: inputs ``(m,)``, at least two distinct values.
        t: targets ``(m,)``.
        learning_rate: a constant ``α > 0`` or a schedule ``k -> α_k`` (any optax
            schedule, e.g. the lecture's ``α_k = c1 / (k + c2)``); ``k`` counts from 0.
        num_steps: number of updates, ``>= 1``.
        w_init: the start ``(w0, w1)``, default ``(0, 0)``.
    Returns:
        :class:`Trajectory` with ``num_steps + 1`` weights and costs.

    Examples:
        >>> traj = gradient_descent(x, t, learning_rate=0.1, num_steps=100)
        >>> traj.weights[-1]      # close to closed_form(x, t)
    """
    x, t = _check_xt(x, t)
    num_steps = check_int("num_steps", num_steps, 1)
    if w_init is None:
        w_init = jnp.zeros(2, x.dtype)
    if tuple(np.shape(w_init)) != (2,):
        raise ValueError(
            f"w_init must have shape (2,) = (w0, w1), got shape {tuple(np.shape(w_init))}"
        )
    w_init = jnp.asarray(w_init, x.dtype)
    if callable(learning_rate):
        return _descend_schedule(x, t, w_init, learning_rate, num_steps)
    learning_rate = check_number("learning_rate", learning_rate, strict=True)
    return _descend_constant(x, t, w_init, jnp.asarray(learning_rate, x.dtype), num_steps)


@partial(jax.jit, static_argnames="num_steps")
def _descend_constant(x, t, w_init, learning_rate, num_steps):
    # The step size is traced, so a sweep over step sizes compiles once.
    return _descend(x, t, w_init, lambda k: learning_rate, num_steps)


@partial(jax.jit, static_argnames=("schedule", "num_steps"))
def _descend_schedule(x, t, w_init, schedule, num_steps):
    return _descend(x, t, w_init, schedule, num_steps)


def _descend(x, t, w_init, schedule, num_steps):
    def step(w, k):
        alpha = jnp.asarray(schedule(k), w.dtype)
        w_next = w - alpha * gradient(w, x, t)
        return w_next, (w_next, cost(w_next, x, t), alpha)

    _, (ws, js, alphas) = jax.lax.scan(step, w_init, jnp.arange(num_steps))
    weights = jnp.concatenate([w_init[None], ws])
    costs = jnp.concatenate([cost(w_init, x, t)[None], js])
    return Trajectory(weights, costs, alphas)


# --- data ------------------------------------------------------------------------------


def make_data(
    key: Array,
    num_examples: int = 50,
    *,
    w_true: tuple[float, float] = (1.0, 2.0),
    noise: float = 0.5,
    x_range: tuple[float, float] = (0.0, 3.0),
) -> tuple[Array, Array]:
    """``x ~ U(x_range)``, ``t = w0 + w1 x + noise · ε``, ``ε ~ N(0, 1)``: returns ``(x (m,), t (m,))``."""
    num_examples = check_int("num_examples", num_examples, 2)
    noise = check_number("noise", noise)
    kx, kn = jax.random.split(check_key(key))
    x = jax.random.uniform(kx, (num_examples,), minval=x_range[0], maxval=x_range[1])
    t = w_true[0] + w_true[1] * x + noise * jax.random.normal(kn, (num_examples,))
    return x, t


# --- checks ------------------------------------------------------------------------------


def _check_x(x) -> Array:
    shape = tuple(np.shape(x))
    if len(shape) != 1 or shape[0] < 2:
        raise ValueError(f"x must have shape (m,) with m >= 2, got shape {shape}")
    real_dtype(x, "x")
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.zeros(()).dtype)
    check_finite(x, "x")
    if is_concrete(x):
        host = np.asarray(x)  # numpy on the host: checking values must not compile anything
        if float(host.max() - host.min()) == 0.0:
            # XᵀX is singular: w0 and w1 cannot be told apart.
            raise ValueError(
                "x must hold at least two distinct values (constant x makes XᵀX singular)"
            )
    return x


def _check_xt(x, t) -> tuple[Array, Array]:
    x = _check_x(x)
    if tuple(np.shape(t)) != x.shape:
        raise ValueError(f"t must have the shape of x, {x.shape}, got shape {tuple(np.shape(t))}")
    real_dtype(t, "t")
    check_finite(t, "t")
    return x, jnp.asarray(t, x.dtype)
