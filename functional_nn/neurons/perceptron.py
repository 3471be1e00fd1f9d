r"""Rosenblatt's perceptron: a threshold unit and the perceptron learning rule.

With the constant input ``x_0 = 1`` prepended (:func:`add_bias_input`) the bias is
the weight ``w_0`` and the unit is

    y = U(Σ_{j=0}^n w_j x_j),      U(z) = 1[z ≥ 0]

(the threshold convention of :func:`functional_nn.activations.threshold`: the unit
fires once its input reaches the threshold ``θ = −w_0``). After each example the
rule of the slide (Rosenblatt 1960) updates every weight

    w_j ← w_j + α x_j (t − y),        j = 0, …, n

which changes nothing when the answer is right (``t = y``) and adds or subtracts
``α x`` after a mistake.

Convergence (Novikoff 1962). Let every ``‖x̃_k‖ ≤ R`` (``x̃`` the augmented input)
and let a unit-norm ``w*`` separate the data with margin ``γ``:
``s_k (w* · x̃_k) ≥ γ > 0`` with ``s_k = 2 t_k − 1``. Starting from ``w = 0`` the
perceptron makes at most ``(R/γ)²`` mistakes in total, in any order of
presentation. A mistake means ``s_k (w · x̃_k) ≤ 0`` under either tie convention,
and each one adds at least ``αγ`` to ``w* · w`` but at most ``α²R²`` to ``‖w‖²``,
so after ``k`` mistakes ``kαγ ≤ ‖w‖ ≤ α√k R``: ``α`` cancels. From ``w = 0`` the
learning rate does not matter at all for 0/1 outputs: the weights after any
sequence of steps are ``α`` times those for ``α = 1``, so every prediction, every
mistake and the epoch of convergence are the same (exactly so in floating point
when ``α`` is a power of two).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._validate import check_int, check_key, check_number
from functional_nn.activations import threshold
from functional_nn.neurons._checks import (
    add_bias_input,
    check_augmented_weights,
    check_inputs,
    check_targets,
)

__all__ = ["PerceptronResult", "perceptron_output", "train_perceptron", "margin", "novikoff_bound"]

Array = jax.Array


class PerceptronResult(NamedTuple):
    """What :func:`train_perceptron` returns."""

    w: Array  # (n_in + 1,): final weights, w[0] the bias weight w_0 (x_0 = 1)
    mistakes: Array  # (max_epochs,) int32: mistakes made during epoch e; 0 for epochs not run
    num_epochs: Array  # () int32: epochs run; when converged the last of them made no mistake
    converged: Array  # () bool: an epoch ended without a mistake

    @property
    def total_mistakes(self) -> Array:
        """``()`` int32 (``(runs,)`` under ``vmap``): the number of updates, the quantity Novikoff's theorem bounds."""
        return jnp.sum(self.mistakes, axis=-1)


def perceptron_output(w, x) -> Array:
    """The unit's output ``y = U(w · x̃)``: ``(batch, n_in) -> (batch,)`` int32 of 0/1.

    Args:
        w: ``(n_in + 1,)``, ``w[0]`` the bias weight.
        x: ``(batch, n_in)`` inputs (without the constant ``x_0``).
    """
    x = check_inputs(x, "x")
    w = check_augmented_weights(w, x.shape[1])
    return threshold(add_bias_input(x) @ w).astype(jnp.int32)


def train_perceptron(
    x,
    t,
    *,
    learning_rate: float = 1.0,
    max_epochs: int = 100,
    key: Array | None = None,
    w_init=None,
) -> PerceptronResult:
    r"""Train a perceptron with Rosenblatt's rule, epoch by epoch, in one compiled loop.

    Each epoch presents every example once (in data order, or in a fresh random order
    per epoch when ``key`` is given) and updates after each one. Training stops after
    the first epoch without a mistake (the data are then separated) or after
    ``max_epochs``. The whole loop is a ``lax.while_loop`` over epochs around a
    ``lax.scan`` over examples. Shapes are checked eagerly and values when concrete,
    so the function can be ``jax.vmap``-ed over data sets and keys.

    Args:
        x: ``(batch, n_in)`` inputs.
        t: ``(batch,)`` targets, 0 or 1.
        learning_rate: ``α > 0``; irrelevant from ``w = 0`` (module doc).
        max_epochs: the most epochs to run.
        key: ``jax.random`` key for shuffling each epoch; ``None`` keeps the data order.
        w_init: ``(n_in + 1,)`` initial weights; default zeros (Novikoff's start).
    Returns:
        :class:`PerceptronResult`.

    Examples:
        >>> x = jnp.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
        >>> r = train_perceptron(x, jnp.array([0, 0, 0, 1]))      # AND
        >>> bool(r.converged), perceptron_output(r.w, x)          # True, [0 0 0 1]
    """
    x = check_inputs(x, "x")
    t = check_targets(t, x.shape[0], "t", binary=True)
    alpha = check_number("learning_rate", learning_rate, strict=True)
    max_epochs = check_int("max_epochs", max_epochs, 1)
    key = check_key(key, optional=True)
    n_in = x.shape[1]
    w0 = (
        jnp.zeros(n_in + 1, x.dtype)
        if w_init is None
        else check_augmented_weights(w_init, n_in, "w_init")
    )
    shuffle = key is not None
    return _train_perceptron(
        add_bias_input(x),
        t,
        w0,
        jnp.asarray(alpha, x.dtype),
        key if shuffle else jax.random.key(0),
        max_epochs=max_epochs,
        shuffle=shuffle,
    )


@partial(jax.jit, static_argnames=("max_epochs", "shuffle"))
def _train_perceptron(xa, t, w0, alpha, key, *, max_epochs: int, shuffle: bool) -> PerceptronResult:
    m = xa.shape[0]

    def step(w, k):
        y = threshold(xa[k] @ w)
        w = w + alpha * xa[k] * (t[k] - y)  # w_j ← w_j + α x_j (t − y)
        return w, (y != t[k]).astype(jnp.int32)

    def epoch(carry):
        e, w, mistakes, _ = carry
        order = jax.random.permutation(jax.random.fold_in(key, e), m) if shuffle else jnp.arange(m)
        w, wrong = jax.lax.scan(step, w, order)
        n_wrong = jnp.sum(wrong, dtype=jnp.int32)  # int32 in x64 mode too (the carry's dtype)
        return e + 1, w, mistakes.at[e].set(n_wrong), n_wrong

    def not_done(carry):
        e, _, _, last = carry
        return (e < max_epochs) & (last != 0)

    init = (jnp.int32(0), w0, jnp.zeros(max_epochs, jnp.int32), jnp.int32(-1))
    e, w, mistakes, last = jax.lax.while_loop(not_done, epoch, init)
    return PerceptronResult(w, mistakes, e, last == 0)


def margin(w, x, t) -> float:
    r"""Geometric margin ``γ = min_k s_k (w · x̃_k) / ‖w‖`` of an augmented separator (``s_k = 2t_k − 1``).

    Positive exactly when ``w`` puts every example strictly on its side. Computed in
    float64 numpy, so it is the reference for :func:`novikoff_bound`.

    Args:
        w: ``(n_in + 1,)``, ``w[0]`` the bias weight.
        x: ``(batch, n_in)``; t: ``(batch,)`` of 0/1.
    """
    xa, s, w = _margin_inputs(w, x, t)
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError("w must be non-zero to define a margin")
    return float(np.min(s * (xa @ w)) / norm)


def novikoff_bound(w, x, t) -> float:
    r"""Novikoff's bound ``(R/γ)²`` on the perceptron's total mistakes from ``w = 0``.

    ``R = max_k ‖x̃_k‖`` over the augmented inputs and ``γ`` the :func:`margin` of the
    given separator ``w`` (any separator gives a valid bound; a larger margin a tighter one).

    Raises:
        ValueError: if ``w`` does not separate the data (``γ ≤ 0``).
    """
    xa, _, _ = _margin_inputs(w, x, t)
    gamma = margin(w, x, t)
    if gamma <= 0:
        raise ValueError(
            f"w does not separate (x, t): its margin is {gamma!r} <= 0, so there is no Novikoff bound"
        )
    radius = float(np.max(np.linalg.norm(xa, axis=1)))
    return (radius / gamma) ** 2


def _margin_inputs(w, x, t):
    # check at the boundary, then compute on the caller's values in float64 (not JAX's default float32)
    check_inputs(x, "x")
    x = np.asarray(x, np.float64)
    check_targets(t, x.shape[0], "t", binary=True)
    check_augmented_weights(w, x.shape[1])
    t, w = np.asarray(t, np.float64), np.asarray(w, np.float64)
    xa = np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)
    return xa, 2 * t - 1, w
