r"""The lecture's activation functions, each beside its hand-derived derivative.

Every derivative here is written out from the formula (not obtained with
``jax.grad``); ``tests/test_activations.py`` and ``proofs/proof_activations.py``
check them against autodiff and sympy.

Kink conventions (the lecture leaves them as "?"):

* ``relu'(0) = 0``, as ``jax.grad(jax.nn.relu)(0.)``.
* ``leaky_relu(x) = x`` for ``x >= 0`` and ``negative_slope * x`` for ``x < 0``,
  so ``leaky_relu'(0) = 1``, as ``jax.nn.leaky_relu``. The lecture writes the
  negative branch as ``-a x``; its ``a`` is ``-negative_slope`` here, so the
  usual small positive slope (0.01) is the lecture's ``a = -0.01``.
* ``threshold(x) = 1`` for ``x >= 0`` and ``0`` otherwise (the unit fires once its
  input reaches the threshold, as the McCulloch–Pitts neuron). Its derivative
  is ``0`` wherever it exists; the lecture's ``δ(0)`` at the origin is not a
  number, so networks refuse to train through a threshold layer
  (:func:`functional_nn.network.MLP` with ``trainable`` checks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "linear",
    "linear_derivative",
    "threshold",
    "threshold_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "tanh",
    "tanh_derivative",
    "relu",
    "relu_derivative",
    "leaky_relu",
    "leaky_relu_derivative",
    "softmax",
    "softmax_jvp",
    "softmax_jacobian",
    "Activation",
    "get_activation",
]

Array = jax.Array


def linear(x: Array) -> Array:
    """Identity ``f(x) = x``."""
    return x


def linear_derivative(x: Array) -> Array:
    """``f'(x) = 1``."""
    return jnp.ones_like(x)


def threshold(x: Array) -> Array:
    """Heaviside step ``U(x) = 1[x >= 0]`` in the dtype of ``x``."""
    return (x >= 0).astype(x.dtype)


def threshold_derivative(x: Array) -> Array:
    """``U'(x) = 0`` almost everywhere (the impulse at 0 is not representable)."""
    return jnp.zeros_like(x)


def sigmoid(x: Array) -> Array:
    r"""Logistic ``σ(x) = 1 / (1 + e^{-x})``, exact limits 0 and 1 at ``±inf``."""
    return jax.nn.sigmoid(x)


def sigmoid_derivative(x: Array) -> Array:
    r"""``σ'(x) = σ(x)(1 − σ(x))``, evaluated as ``σ(|x|) σ(−|x|)``.

    ``σ(x)(1 − σ(x))`` cancels catastrophically once ``σ(x)`` rounds to 1 and
    would make σ' zero (and asymmetric) long before the true value underflows.
    Writing ``1 − σ(x) = σ(−x)`` and using ``|x|`` keeps the derivative
    symmetric, ``σ'(x) = σ'(−x)``, and non-zero wherever it is representable.
    See ``proofs/proof_activations.py``.
    """
    ax = jnp.abs(x)
    return sigmoid(ax) * sigmoid(-ax)


def tanh(x: Array) -> Array:
    """``tanh(x) = 2σ(2x) − 1``."""
    return jnp.tanh(x)


def tanh_derivative(x: Array) -> Array:
    """``tanh'(x) = 1 − tanh(x)²``."""
    t = jnp.tanh(x)
    return 1 - t * t


def relu(x: Array) -> Array:
    """``max(0, x)``; ``jax.nn.relu``, whose autodiff rule gives ``relu'(0) = 0`` like :func:`relu_derivative`.

    (``jnp.maximum(x, 0)`` would differentiate to ``0.5`` at a tie, so the
    autodiff engine would disagree with the manual one at an exact zero.)
    """
    return jax.nn.relu(x)


def relu_derivative(x: Array) -> Array:
    """``1[x > 0]``; ``relu'(0) = 0`` as in JAX."""
    return (x > 0).astype(x.dtype)


def leaky_relu(x: Array, negative_slope: float = 0.01) -> Array:
    """``x`` for ``x >= 0``, ``negative_slope · x`` below (lecture: ``a = −negative_slope``)."""
    return jnp.where(x >= 0, x, negative_slope * x)


def leaky_relu_derivative(x: Array, negative_slope: float = 0.01) -> Array:
    """``1`` for ``x >= 0`` (so ``1`` at the kink, as ``jax.nn.leaky_relu``), ``negative_slope`` below."""
    return jnp.where(x >= 0, jnp.ones_like(x), jnp.full_like(x, negative_slope))


def softmax(z: Array, axis: int = -1) -> Array:
    r"""``a_i = e^{z_i} / Σ_k e^{z_k}`` along ``axis``, shifted by the max so ±1e4 stays finite.

    Infinite logits give the limit, not NaN: a row with ``+inf`` entries shares the
    mass among them (``[inf, 0] → [1, 0]``), a row of only ``−inf`` is uniform (equal
    logits); the derivative there is 0. A NaN stays NaN.
    """
    top = jax.lax.stop_gradient(jnp.max(z, axis=axis, keepdims=True))
    infinite = jnp.isinf(top)
    limit = jnp.where(top > 0, z == top, True).astype(z.dtype)  # used only where top = ±inf
    e = jnp.where(infinite, limit, jnp.exp(jnp.where(infinite, 0, z - top)))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def softmax_jvp(s: Array, g: Array) -> Array:
    r"""Apply the softmax Jacobian to ``g``: ``J g = s ⊙ (g − ⟨g, s⟩)``, row by row.

    The Jacobian is symmetric, so this is also the vector-Jacobian product.

    Args:
        s: softmax outputs, ``(..., n)``.
        g: a vector per row, ``(..., n)``.
    """
    return s * (g - jnp.sum(g * s, axis=-1, keepdims=True))


def softmax_jacobian(s: Array) -> Array:
    r"""Full Jacobian ``∂s_i/∂z_j = diag(s) − s sᵀ``: ``(..., n) -> (..., n, n)``."""
    return (
        jnp.einsum("...i,ij->...ij", s, jnp.eye(s.shape[-1], dtype=s.dtype))
        - s[..., :, None] * s[..., None, :]
    )


class Activation(NamedTuple):
    """An activation by name: its function, hand derivative and whether it has a kink."""

    name: str
    fn: Callable[[Array], Array]  # elementwise (softmax: along the last axis)
    derivative: (
        Callable[[Array], Array] | None
    )  # elementwise f'(o); None for softmax (use softmax_jvp)
    has_kink: bool  # non-differentiable at 0 (finite differences may cross it)
    trainable: bool  # False: zero derivative almost everywhere


def get_activation(name: str, *, negative_slope: float = 0.01) -> Activation:
    """Look an activation up by name; an unknown name lists the known ones.

    Examples:
        >>> act = get_activation("sigmoid")
        >>> act.derivative(jnp.zeros(()))   # 0.25
    """
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name (str), got {type(name).__name__}: {name!r}")
    if name == "leaky_relu":
        slope = float(negative_slope)
        return Activation(
            "leaky_relu",
            lambda x: leaky_relu(x, slope),
            lambda x: leaky_relu_derivative(x, slope),
            True,
            True,
        )
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; known activations: {', '.join(ACTIVATION_NAMES)}"
        )
    return _ACTIVATIONS[name]


_ACTIVATIONS = {
    "linear": Activation("linear", linear, linear_derivative, False, True),
    "threshold": Activation("threshold", threshold, threshold_derivative, True, False),
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_derivative, False, True),
    "tanh": Activation("tanh", tanh, tanh_derivative, False, True),
    "relu": Activation("relu", relu, relu_derivative, True, True),
    "softmax": Activation("softmax", softmax, None, False, True),
}
ACTIVATION_NAMES = ("linear", "threshold", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
