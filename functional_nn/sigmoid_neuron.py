r"""The lecture's single sigmoid neuron, for regression (MSE) and classification (cross-entropy).

The neuron: ``z = Σ_{j=0}^n w_j x_j`` with ``x_0 = 1`` (the bias is ``w_0``, as in
``fnn.neurons``), ``h(x) = f(z) = σ(z)``. Weights are one vector ``w`` of shape
``(n_in + 1,)``; inputs ``x`` are ``(m, n_in)`` and targets ``t`` are ``(m,)``.

**Regression** (slide "Training neuron with sigmoid activation (regression)"):

    J(w) = 1/(2m) Σ_i (h(x^i) − t^i)²
    ∂J/∂w_j = (1/m) Σ_i (f(z^i) − t^i) · f(z^i)(1 − f(z^i)) · x^i_j

The slide writes the chain rule as three factors, ``∂J/∂f(z^i) = (1/m) Σ (f(z^i) − t^i)``,
``∂f/∂z = f(z)(1 − f(z))`` and ``∂z/∂w_j = x^j``; read per example (the sum goes
around the product, and ``x^j`` means ``x^i_j``) that is the formula above,
implemented as :func:`regression_gradient`.

**Classification** (slide "... (classification)"), with the slide's sum (no ``1/m``):

    J(w) = Σ_i [−t^i ln h(x^i) − (1 − t^i) ln(1 − h(x^i))]
    ∇J(w) = Σ_i x^i (h(x^i) − t^i)                          (correct: σ' cancels)

The slide prints ``∇J(w) = Σ_i t^i x^i (h(x^i) − t^i)``, with a spurious factor
``t^i``. That expression drops every example with ``t^i = 0``; for 0/1 targets it
is the gradient of ``−Σ_i t^i ln h(x^i)`` alone, so descending it pushes every
output towards 1. It is kept, clearly named, as
:func:`classification_gradient_as_written` so tests and proofs can show the
disagreement; :func:`classification_gradient` is the correct one. Derivations:
``proofs/proof_sigmoid_regression.py`` and ``proofs/proof_sigmoid_classification.py``.

**Saturation.** Per example ``∂ℓ/∂z`` is ``(σ(z) − t) σ'(z)`` for MSE but
``σ(z) − t`` for cross-entropy (:func:`output_delta`). A neuron that is confidently
wrong (``σ(z) ≈ 1``, ``t = 0``) has ``σ'(z) ≈ 0``: under MSE it barely learns,
under cross-entropy it gets the largest possible gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate

__all__ = [
    "NeuronTrajectory",
    "logits",
    "predict",
    "regression_cost",
    "regression_gradient",
    "classification_cost",
    "classification_gradient",
    "classification_gradient_as_written",
    "cost",
    "gradient",
    "output_delta",
    "train",
]

Array = jax.Array
LOSSES = ("mse", "cross_entropy")
METHODS = ("manual", "autodiff")


class NeuronTrajectory(NamedTuple):
    """A gradient-descent run of the neuron, the start included."""

    weights: Array  # (num_steps + 1, n_in + 1): w^(0), ..., w^(num_steps); w[:, 0] is the bias w_0
    costs: Array  # (num_steps + 1,): J(w^(k)) for the chosen loss


# --- forward -------------------------------------------------------------------------


def logits(w: Array, x: Array) -> Array:
    """``z^i = w_0 + Σ_{j≥1} w_j x^i_j``: ``w (n_in + 1,), x (m, n_in) -> (m,)``."""
    return w[0] + x @ w[1:]


def predict(w: Array, x: Array) -> Array:
    """``h(x^i) = σ(z^i)``: ``(m, n_in) -> (m,)``."""
    return jax.nn.sigmoid(logits(w, x))


def _augment(x: Array) -> Array:
    """``x̃ = [1, x]`` so the bias gradient is the ``j = 0`` column: ``(m, n_in) -> (m, n_in + 1)``."""
    return jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)


# --- regression (MSE) ----------------------------------------------------------------


def regression_cost(w: Array, x: Array, t: Array) -> Array:
    """``J(w) = 1/(2m) Σ_i (h(x^i) − t^i)²``: ``-> ()``."""
    w, x, t = _check(w, x, t)
    r = predict(w, x) - t
    return 0.5 * jnp.mean(r * r)


def regression_gradient(w: Array, x: Array, t: Array) -> Array:
    """The slide's chain rule, per example: ``(1/m) Σ_i (f(z^i) − t^i) f(z^i)(1 − f(z^i)) x̃^i``: ``-> (n_in + 1,)``."""
    w, x, t = _check(w, x, t)
    h = predict(w, x)
    dJ_dh = (h - t) / x.shape[0]  # ∂J/∂f(z^i) = (1/m)(f(z^i) − t^i)
    dh_dz = h * (1 - h)  # ∂f/∂z = f(z)(1 − f(z))
    return _augment(x).T @ (dJ_dh * dh_dz)  # ∂z^i/∂w_j = x^i_j, summed over i


# --- classification (cross-entropy) ---------------------------------------------------------


def classification_cost(w: Array, x: Array, t: Array) -> Array:
    """The slide's ``J(w) = Σ_i [−t^i ln h(x^i) − (1 − t^i) ln(1 − h(x^i))]`` (a sum), from ``z`` stably.

    Equal to ``m`` times ``fnn.losses.binary_cross_entropy`` (which averages).
    """
    w, x, t = _check(w, x, t, probabilities=True)
    z = logits(w, x)
    # ln σ(z) and ln(1 − σ(z)) = ln σ(−z) without forming σ(z): finite for |z| ≫ 1.
    return -jnp.sum(t * jax.nn.log_sigmoid(z) + (1 - t) * jax.nn.log_sigmoid(-z))


def classification_gradient(w: Array, x: Array, t: Array) -> Array:
    """The correct ``∇J(w) = Σ_i x̃^i (h(x^i) − t^i)``: ``-> (n_in + 1,)``."""
    w, x, t = _check(w, x, t, probabilities=True)
    return _augment(x).T @ (predict(w, x) - t)


def classification_gradient_as_written(w: Array, x: Array, t: Array) -> Array:
    """The slide's printed ``Σ_i t^i x̃^i (h(x^i) − t^i)`` — wrong: the factor ``t^i`` is spurious.

    It ignores every example with ``t^i = 0``; see the module docstring. Kept so
    tests and proofs can show it disagrees with :func:`classification_gradient`.
    """
    w, x, t = _check(w, x, t, probabilities=True)
    return _augment(x).T @ (t * (predict(w, x) - t))


# --- either loss, either engine --------------------------------------------------------------


def cost(loss: str, w: Array, x: Array, t: Array) -> Array:
    """``J`` for ``loss`` in ``("mse", "cross_entropy")``."""
    _validate.check_choice("loss", loss, LOSSES)
    return regression_cost(w, x, t) if loss == "mse" else classification_cost(w, x, t)


def gradient(loss: str, w: Array, x: Array, t: Array, method: str = "manual") -> Array:
    """``∇J(w)`` by the hand formula (``"manual"``) or ``jax.grad`` (``"autodiff"``): ``-> (n_in + 1,)``."""
    _validate.check_choice("loss", loss, LOSSES)
    _validate.check_choice("method", method, METHODS)
    if method == "autodiff":
        return jax.grad(lambda v: cost(loss, v, x, t))(jnp.asarray(w))
    return regression_gradient(w, x, t) if loss == "mse" else classification_gradient(w, x, t)


def output_delta(loss: str, z: Array, t: Array) -> Array:
    """Per-example ``∂ℓ/∂z``: MSE ``(σ(z) − t) σ'(z)``, cross-entropy ``σ(z) − t``; elementwise.

    The MSE form carries ``σ'(z) = σ(z)(1 − σ(z))``, which vanishes when the
    neuron saturates; in the cross-entropy form it has cancelled.
    """
    _validate.check_choice("loss", loss, LOSSES)
    z, t = jnp.asarray(z), jnp.asarray(t)
    if z.shape != t.shape:
        raise ValueError(f"z and t must have the same shape, got {z.shape} and {t.shape}")
    h = jax.nn.sigmoid(z)
    if loss == "mse":
        return (h - t) * h * (1 - h)
    return h - t


def train(
    w_init: Array,
    x: Array,
    t: Array,
    *,
    loss: str,
    learning_rate: float,
    num_steps: int,
    method: str = "manual",
) -> NeuronTrajectory:
    """Full-batch gradient descent ``w ← w − α ∇J(w)``, the trajectory in one compiled ``lax.scan``.

    Args:
        w_init: ``(n_in + 1,)``, ``w_init[0]`` the bias.
        x: ``(m, n_in)``.
        t: ``(m,)``; in ``[0, 1]`` for ``"cross_entropy"``.
        loss: ``"mse"`` or ``"cross_entropy"``.
        learning_rate: ``α > 0``.
        num_steps: updates, ``>= 1``.
        method: ``"manual"`` (the slides' formulas) or ``"autodiff"``.
    Returns:
        :class:`NeuronTrajectory`.
    """
    _validate.check_choice("loss", loss, LOSSES)
    _validate.check_choice("method", method, METHODS)
    w, x, t = _check(w_init, x, t, probabilities=loss == "cross_entropy")
    learning_rate = _validate.check_number("learning_rate", learning_rate, strict=True)
    num_steps = _validate.check_int("num_steps", num_steps, 1)
    return _train(w, x, t, jnp.asarray(learning_rate, w.dtype), loss, method, num_steps)


@partial(jax.jit, static_argnames=("loss", "method", "num_steps"))
def _train(w, x, t, learning_rate, loss, method, num_steps):
    grad: Callable = partial(gradient, loss, method=method)

    def step(w, _):
        w = w - learning_rate * grad(w, x, t)
        return w, (w, cost(loss, w, x, t))

    _, (ws, js) = jax.lax.scan(step, w, None, length=num_steps)
    return NeuronTrajectory(
        jnp.concatenate([w[None], ws]), jnp.concatenate([cost(loss, w, x, t)[None], js])
    )


# --- checks ------------------------------------------------------------------------------------


def _check(w, x, t, *, probabilities: bool = False) -> tuple[Array, Array, Array]:
    """Shapes always; finiteness and ``t ∈ [0, 1]`` only on concrete values (not under jit)."""
    x_shape, w_shape, t_shape = tuple(np.shape(x)), tuple(np.shape(w)), tuple(np.shape(t))
    if len(x_shape) != 2 or min(x_shape) < 1:
        raise ValueError(f"x must have shape (m, n_in) with m, n_in >= 1, got shape {x_shape}")
    m, n_in = x_shape
    if w_shape != (n_in + 1,):
        raise ValueError(
            f"w must have shape (n_in + 1,) = ({n_in + 1},) with w[0] the bias, got shape {w_shape}"
        )
    if t_shape != (m,):
        raise ValueError(f"t must have shape (m,) = ({m},) to match x, got shape {t_shape}")
    for name, a in (("w", w), ("x", x), ("t", t)):
        _validate.real_dtype(a, name)
        _validate.check_finite(a, name)
    if probabilities:
        _validate.check_unit_interval(t, "t", "the cross-entropy")
    w = jnp.asarray(w)
    dtype = w.dtype if jnp.issubdtype(w.dtype, jnp.floating) else jnp.zeros(()).dtype
    return w.astype(dtype), jnp.asarray(x, dtype), jnp.asarray(t, dtype)
