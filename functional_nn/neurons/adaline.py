r"""Adaline (Widrow and Hoff, 1960): a linear unit trained by the Widrow–Hoff (LMS) rule.

The unit is the perceptron's without the threshold, ``y = Σ_{j=0}^n w_j x_j`` with
``x_0 = 1``, and the rule has the same form as Rosenblatt's but uses the linear
output (so it also moves after a correct answer):

    w_j ← w_j + α (1/K) Σ_{k ∈ batch} x_kj (t_k − y_k)

``K = 1`` is the slide's online rule ``w_j ← w_j + α x_j (t − y)``; ``1 < K < m``
mini-batch; ``K = m`` full batch. It is gradient descent on

    J(w) = 1/(2m) Σ_k (t_k − y_k)²,     ∂J/∂w_j = −(1/m) Σ_k x_kj (t_k − y_k),

whose minimisers are the least-squares solutions (``numpy.linalg.lstsq`` on the
augmented inputs; :func:`least_squares`). Full batch converges to it for any
``α < 2/λ_max(X̃ᵀX̃/m)``. Online and mini-batch with a constant ``α`` settle in a
neighbourhood of it whose size grows with ``α`` and the residual (exactly on it
when the data are fitted without error); a decaying ``α_k = c1/(k + c2)`` (pass a
callable, e.g. an optax schedule) converges to it.

For classification with 0/1 targets the linear output is thresholded halfway,
``1[y ≥ 1/2]`` (:func:`adaline_classify`; use ``threshold=0`` for ±1 targets).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._validate import check_int, check_key, check_number
from functional_nn.neurons._checks import (
    add_bias_input,
    check_augmented_weights,
    check_inputs,
    check_targets,
)

__all__ = [
    "AdalineResult",
    "adaline_output",
    "adaline_classify",
    "adaline_loss",
    "least_squares",
    "train_adaline",
]

Array = jax.Array
Schedule = Callable[[Array], Array]


class AdalineResult(NamedTuple):
    """What :func:`train_adaline` returns."""

    w: Array  # (n_in + 1,): final weights, w[0] the bias weight w_0 (x_0 = 1)
    loss: Array  # (num_epochs + 1,): J(w) = 1/(2m) Σ (t − y)² on all of x; loss[0] at the initial weights


def adaline_output(w, x) -> Array:
    """The linear output ``y = w · x̃``: ``(batch, n_in) -> (batch,)``.

    Args:
        w: ``(n_in + 1,)``, ``w[0]`` the bias weight.
        x: ``(batch, n_in)`` inputs (without the constant ``x_0``).
    """
    x = check_inputs(x, "x")
    w = check_augmented_weights(w, x.shape[1])
    return add_bias_input(x) @ w


def adaline_classify(w, x, *, threshold: float = 0.5) -> Array:
    """Thresholded output ``1[w · x̃ ≥ threshold]``: ``(batch,)`` int32 of 0/1.

    ``threshold = 1/2`` halves the distance between 0/1 targets; use ``0`` for ±1 targets.
    """
    check_number("threshold", threshold, low=None)
    return (adaline_output(w, x) >= threshold).astype(jnp.int32)


def adaline_loss(w, x, t) -> Array:
    """``J(w) = 1/(2m) Σ_k (t_k − y_k)²``, the quantity the Widrow–Hoff rule descends: ``()``."""
    x = check_inputs(x, "x")
    t = check_targets(t, x.shape[0], "t", binary=False)
    w = check_augmented_weights(w, x.shape[1])
    return _loss(w, add_bias_input(x), t)


def least_squares(x, t) -> np.ndarray:
    """The least-squares weights ``argmin_w ‖X̃ w − t‖²`` by ``numpy.linalg.lstsq`` (float64): ``(n_in + 1,)``.

    Where the minimiser is not unique this is the minimum-norm one, which is also
    where gradient descent from ``w = 0`` goes.
    """
    check_inputs(x, "x")
    x = np.asarray(x, np.float64)
    check_targets(t, x.shape[0], "t", binary=False)
    xa = np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)
    return np.linalg.lstsq(xa, np.asarray(t, np.float64), rcond=None)[0]


def train_adaline(
    x,
    t,
    *,
    learning_rate: float | Schedule = 0.01,
    num_epochs: int = 100,
    batch_size: int | None = 1,
    key: Array | None = None,
    w_init=None,
) -> AdalineResult:
    r"""Train Adaline with the Widrow–Hoff rule in one compiled loop (``lax.scan`` over epochs and batches).

    Args:
        x: ``(batch, n_in)`` inputs.
        t: ``(batch,)`` real targets (0/1 for classification).
        learning_rate: ``α > 0``, or a schedule ``step -> α_step`` (jax-traceable,
            e.g. ``optax.polynomial_schedule`` or ``lambda k: c1 / (k + c2)``) where
            ``step`` counts updates from 0.
        num_epochs: passes over the data.
        batch_size: ``K``: 1 is online (the slide's rule), ``None`` or ``m`` full batch.
            When ``K`` does not divide ``m`` the last batch of each epoch is smaller.
        key: ``jax.random`` key to shuffle each epoch; ``None`` keeps the data order.
        w_init: ``(n_in + 1,)`` initial weights; default zeros.
    Returns:
        :class:`AdalineResult`.

    Examples:
        >>> x = jnp.linspace(-1, 1, 20)[:, None]
        >>> r = train_adaline(x, 3 * x[:, 0] + 1, learning_rate=0.5, num_epochs=200, batch_size=None)
        >>> r.w   # ≈ [1, 3]
    """
    x = check_inputs(x, "x")
    t = check_targets(t, x.shape[0], "t", binary=False)
    m, n_in = x.shape
    if callable(learning_rate):
        schedule, alpha = learning_rate, 0.0
    else:
        schedule, alpha = None, check_number("learning_rate", learning_rate, strict=True)
    num_epochs = check_int("num_epochs", num_epochs, 1)
    batch_size = m if batch_size is None else check_int("batch_size", batch_size, 1)
    if batch_size > m:
        raise ValueError(
            f"batch_size must be at most the number of examples ({m}) or None, got {batch_size}"
        )
    key = check_key(key, optional=True)
    w0 = (
        jnp.zeros(n_in + 1, x.dtype)
        if w_init is None
        else check_augmented_weights(w_init, n_in, "w_init")
    )
    shuffle = key is not None
    return _train_adaline(
        add_bias_input(x),
        t,
        w0,
        jnp.asarray(alpha, x.dtype),
        key if shuffle else jax.random.key(0),
        schedule=schedule,
        num_epochs=num_epochs,
        batch_size=batch_size,
        shuffle=shuffle,
    )


def _loss(w: Array, xa: Array, t: Array) -> Array:
    r = t - xa @ w
    return 0.5 * jnp.mean(r * r)


@partial(jax.jit, static_argnames=("schedule", "num_epochs", "batch_size", "shuffle"))
def _train_adaline(
    xa, t, w0, alpha, key, *, schedule, num_epochs: int, batch_size: int, shuffle: bool
):
    m = xa.shape[0]
    num_batches = -(-m // batch_size)
    pad = num_batches * batch_size - m
    # Fixed shapes for scan: pad the last batch with index 0 and mask it out of the sum.
    mask = jnp.concatenate([jnp.ones(m, xa.dtype), jnp.zeros(pad, xa.dtype)]).reshape(
        num_batches, batch_size
    )

    def update(carry, batch):
        w, step = carry
        idx, msk = batch
        xb, tb = xa[idx], t[idx]
        y = xb @ w  # linear output, (K,)
        rate = alpha if schedule is None else jnp.asarray(schedule(step), w.dtype)
        # w_j ← w_j + α (1/K) Σ_k x_kj (t_k − y_k)
        w = w + rate * ((msk * (tb - y)) @ xb) / jnp.sum(msk)
        return (w, step + 1), None

    def epoch(carry, e):
        order = jax.random.permutation(jax.random.fold_in(key, e), m) if shuffle else jnp.arange(m)
        idx = jnp.concatenate([order, jnp.zeros(pad, order.dtype)]).reshape(num_batches, batch_size)
        (w, step), _ = jax.lax.scan(update, carry, (idx, mask))
        return (w, step), _loss(w, xa, t)

    (w, _), losses = jax.lax.scan(epoch, (w0, jnp.int32(0)), jnp.arange(num_epochs))
    return AdalineResult(w, jnp.concatenate([_loss(w0, xa, t)[None], losses]))
