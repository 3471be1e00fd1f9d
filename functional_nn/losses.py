r"""The lecture's losses over a batch, with hand-derived gradients and output deltas.

Reduction (DESIGN.md): ``J = (1/K) Σ_k Σ_c ℓ(ŷ_kc, y_kc)`` over ``K`` examples, with

* ``"mse"``: ``ℓ = ½ (ŷ − y)²``, so one output gives the lecture's ``1/(2m) Σ (h − t)²``;
* ``"binary_cross_entropy"``: ``ℓ = −y ln ŷ − (1 − y) ln(1 − ŷ)``, ``ŷ = σ(o)``;
* ``"categorical_cross_entropy"``: ``ℓ = −Σ_c y_c ln ŷ_c``, ``ŷ = softmax(o)``, one-hot ``y``
  (integer labels are accepted and one-hot encoded).

Cross-entropies are evaluated from the output pre-activations ``o^L`` with
log-sigmoid / log-softmax, never as ``log(sigmoid(o))``, so logits of ±1e4 give
finite losses and gradients.

Optional per-example ``weights`` (shape ``(K,)``) replace ``1/K`` with
``w_k / Σ w``; the training loops use them to keep a short last batch (its
padding gets weight 0).

Derivations: ``proofs/proof_output_delta.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from functional_nn import _validate, activations
from functional_nn.activations import Activation

__all__ = [
    "check_loss_name",
    "check_loss_output",
    "prepare_targets",
    "example_weights",
    "mse",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "loss_from_logits",
    "output_gradient",
    "output_delta_chain",
    "output_delta",
    "Loss",
    "get_loss",
]

Array = jax.Array

LOSS_NAMES = ("mse", "binary_cross_entropy", "categorical_cross_entropy")
# Output activations each loss accepts; the cross-entropies are defined on probabilities.
COMPATIBLE_OUTPUTS = {
    "mse": ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"),
    "binary_cross_entropy": ("sigmoid",),
    "categorical_cross_entropy": ("softmax",),
}


def check_loss_name(loss: str) -> str:
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a name (str), got {type(loss).__name__}: {loss!r}")
    if loss not in LOSS_NAMES:
        raise ValueError(f"unknown loss {loss!r}; known losses: {', '.join(LOSS_NAMES)}")
    return loss


def check_loss_output(loss: str, output_activation: str) -> None:
    """Refuse a loss that is not defined on the network's output activation."""
    check_loss_name(loss)
    if output_activation not in COMPATIBLE_OUTPUTS[loss]:
        raise ValueError(
            f"loss {loss!r} needs output_activation in {COMPATIBLE_OUTPUTS[loss]}, got {output_activation!r}"
        )


def prepare_targets(
    loss: str, y: ArrayLike, y_hat_shape: tuple[int, ...], dtype, name: str = "y"
) -> Array:
    """Return ``y`` with exactly ``y_hat``'s shape, or raise naming both shapes.

    Integer class labels ``(K,)`` are one-hot encoded for the categorical loss;
    nothing else is reshaped or broadcast. On concrete arrays the values are
    checked too (finite; labels in ``0..C-1``; cross-entropy targets in
    ``[0, 1]``; categorical rows summing to 1); under ``jit`` only shapes and
    dtypes are (see ``functional_nn._validate``).
    """
    y_dtype = _validate.real_dtype(y, name)
    shape = tuple(jnp.shape(y))
    k, n_out = y_hat_shape[0], y_hat_shape[-1]
    if loss == "categorical_cross_entropy" and len(shape) == 1:
        if y_dtype.kind not in "iu":
            raise TypeError(
                f"class labels {name} of shape {shape} must be integers 0..{n_out - 1}, got dtype "
                f"{y_dtype} (give one-hot rows of shape {(k, n_out)} for soft targets)"
            )
        if shape[0] != k:
            raise ValueError(f"integer labels {name} of shape {shape} do not match {k} examples")
        _validate.check_labels_in_range(y, name, n_out)
        return jax.nn.one_hot(jnp.asarray(y), n_out, dtype=dtype)
    if shape != tuple(y_hat_shape):
        raise ValueError(
            f"targets {name} of shape {shape} do not match network outputs of shape {tuple(y_hat_shape)}; "
            "shapes must match exactly (nothing is broadcast)"
        )
    _validate.check_finite(y, name)
    if loss == "binary_cross_entropy":
        _validate.check_unit_interval(y, name, loss)
    elif loss == "categorical_cross_entropy":
        _validate.check_probability_rows(y, name)
    return _validate.as_array(y, dtype)


def example_weights(weights: Array | None, k: int, dtype) -> Array:
    """Per-example factors ``ω_k`` of ``J = Σ_k ω_k Σ_c ℓ_kc``: ``1/K`` or ``w_k / Σ w``."""
    if weights is None:
        return jnp.full((k,), 1.0 / k, dtype)
    weights = jnp.asarray(weights, dtype)
    return weights / jnp.sum(weights)


def _reduce(per_entry: Array, weights: Array | None) -> Array:
    omega = example_weights(weights, per_entry.shape[0], per_entry.dtype)
    return jnp.sum(omega * jnp.sum(per_entry.reshape(per_entry.shape[0], -1), axis=1))


# --- values -----------------------------------------------------------------


def mse(y_hat: Array, y: Array, weights: Array | None = None) -> Array:
    r"""``J = Σ_k ω_k Σ_c ½ (ŷ_kc − y_kc)²`` with ``ω_k = 1/K``; ``(K, C), (K, C) -> ()``."""
    _same_shape(y_hat, y)
    return _reduce(0.5 * (y_hat - y) ** 2, weights)


def binary_cross_entropy(logits: Array, y: Array, weights: Array | None = None) -> Array:
    r"""``J = Σ_k ω_k Σ_c [−y ln σ(o) − (1 − y) ln σ(−o)]`` from logits ``o``, stably.

    At infinite logits a term whose weight ``y`` or ``1 − y`` is exactly 0 counts
    as 0 (the limit), not ``0 · (−inf) = NaN``: ``o = +inf`` with ``y = 1`` gives
    loss 0 and gradient ``σ(o) − y = 0``; ``o = +inf`` with ``y < 1`` gives loss
    ``+inf`` with the finite gradient ``1 − y`` (and symmetrically at ``−inf``).
    """
    _same_shape(logits, y)
    pos = jnp.where(y == 0, 0, -y * jax.nn.log_sigmoid(logits))
    neg = jnp.where(y == 1, 0, -(1 - y) * jax.nn.log_sigmoid(-logits))
    return _reduce(pos + neg, weights)


def categorical_cross_entropy(logits: Array, y: Array, weights: Array | None = None) -> Array:
    r"""``J = Σ_k ω_k [−Σ_c y_kc ln softmax(o_k)_c]`` from logits ``o``, one-hot ``y``, stably.

    A class with ``y_kc = 0`` contributes exactly 0, so a ``−inf`` logit there
    (a masked class) gives a finite loss and gradient instead of ``0 · (−inf)``.
    A ``−inf`` logit on a class with ``y_kc > 0`` gives loss ``+inf`` with a
    finite gradient. Infinite logits give the limit, never NaN: a row with ``+inf``
    logits puts all of softmax's mass on them (shared equally, as equal logits
    would), so ``+inf`` on the target class gives loss 0 and gradient 0, and on
    another class loss ``+inf`` with the finite gradient ``softmax − y``; a row of
    only ``−inf`` logits counts as equal logits (uniform softmax).
    """
    _same_shape(logits, y)
    return _reduce(jnp.where(y == 0, 0, -y * _log_softmax(logits)), weights)


def _finite_limit(o: Array) -> Array:
    """Logits whose softmax is the limit of ``softmax(o)`` at infinite entries; finite rows unchanged.

    A row with ``+inf`` entries: 0 there and ``−inf`` elsewhere (the ``+inf`` classes
    share the mass); a row of only ``−inf``: zeros (equal logits). NaN stays NaN.
    """
    pos = o == jnp.inf
    has_pos = jnp.any(pos, axis=-1, keepdims=True)
    all_neg = jnp.all(o == -jnp.inf, axis=-1, keepdims=True)
    return jnp.where(has_pos, jnp.where(pos, 0, -jnp.inf), jnp.where(all_neg, 0, o)).astype(o.dtype)


@jax.custom_jvp
def _log_softmax(o: Array) -> Array:
    """``log softmax(o)`` with infinite logits at their limit; its derivative is ``do − Σ softmax·do``."""
    return jax.nn.log_softmax(_finite_limit(o), axis=-1)


@_log_softmax.defjvp
def _log_softmax_jvp(primals, tangents):
    (o,), (do,) = primals, tangents
    p = activations.softmax(o)  # the same limits; 0 at −inf entries, so their tangent adds nothing
    return _log_softmax(o), do - jnp.sum(p * jnp.where(p == 0, 0, do), axis=-1, keepdims=True)


def _same_shape(a: Array, y: Array) -> None:
    if a.shape != y.shape:
        raise ValueError(
            f"network outputs of shape {a.shape} and targets y of shape {y.shape} differ"
        )


def loss_from_logits(
    loss: str, output_activation: Activation, o: Array, y: Array, weights=None
) -> Array:
    """``J`` from the output pre-activations ``o^L`` (stable for the cross-entropies)."""
    if loss == "mse":
        return mse(output_activation.fn(o), y, weights)
    if loss == "binary_cross_entropy":
        return binary_cross_entropy(o, y, weights)
    return categorical_cross_entropy(o, y, weights)


# --- hand-derived gradients ----------------------------------------------------


def output_gradient(loss: str, y_hat: Array, y: Array, weights: Array | None = None) -> Array:
    r"""``∂J/∂ŷ_kc`` with the batch factor ``ω_k``: the slide's ``∂ℓ/∂ŷ`` (left as "?").

    * mse: ``ω_k (ŷ − y)``
    * binary cross-entropy: ``ω_k (ŷ − y) / (ŷ (1 − ŷ))``
    * categorical cross-entropy: ``−ω_k y / ŷ``

    The cross-entropy forms divide by ``ŷ`` and blow up as the output saturates;
    they are the chain form's first factor, kept for teaching and checking.
    Training uses the fused deltas of :func:`output_delta`.
    """
    omega = example_weights(weights, y_hat.shape[0], y_hat.dtype)[:, None]
    if loss == "mse":
        return omega * (y_hat - y)
    if loss == "binary_cross_entropy":
        return omega * (y_hat - y) / (y_hat * (1 - y_hat))
    return -omega * y / y_hat


def output_delta_chain(
    loss: str, output_activation: Activation, o: Array, y: Array, weights=None
) -> Array:
    r"""``δ^L = ∂J/∂o^L`` in the general chain form ``∂J/∂ŷ · ∂ŷ/∂o^L``.

    Elementwise activations multiply by ``f'(o^L)``; softmax applies its Jacobian
    (``softmax_jvp``). Correct wherever ``ŷ`` is not saturated; see
    :func:`output_delta` for the forms that stay exact when it is.
    """
    y_hat = output_activation.fn(o)
    g = output_gradient(loss, y_hat, y, weights)
    if output_activation.name == "softmax":
        return activations.softmax_jvp(y_hat, g)
    assert output_activation.derivative is not None  # every trainable output has one
    return g * output_activation.derivative(o)


def output_delta(
    loss: str, output_activation: Activation, o: Array, y: Array, weights=None
) -> Array:
    r"""``δ^L = ∂J/∂o^L``, fused where the activation's derivative cancels.

    * sigmoid + binary cross-entropy: ``ω_k (ŷ − y)`` (σ' cancels ``ŷ(1 − ŷ)``);
    * softmax + categorical cross-entropy: ``ω_k (ŷ − y)`` (one-hot rows sum to 1);
    * mse + any activation: ``ω_k (ŷ − y) ⊙ f'(o^L)`` — σ' does not cancel.

    Args:
        o: output pre-activations ``o^L``, ``(K, C)``.
        y: targets, ``(K, C)``, same shape.
    Returns:
        ``(K, C)``.
    """
    if loss == "mse":
        return output_delta_chain(loss, output_activation, o, y, weights)
    omega = example_weights(weights, o.shape[0], o.dtype)[:, None]
    if loss == "categorical_cross_entropy":  # softmax at infinite logits: its limit, not NaN
        return omega * (activations.softmax(o) - y)
    return omega * (output_activation.fn(o) - y)


class Loss(NamedTuple):
    """A loss by name: its value from outputs and its hand gradient ``∂J/∂ŷ``."""

    name: str
    value: Callable[..., Array]  # (y_hat or logits, y, weights=None) -> ()
    gradient: Callable[..., Array]  # (y_hat, y, weights=None) -> (K, C)


def get_loss(name: str) -> Loss:
    """Look a loss up by name; an unknown name lists the known ones.

    ``mse`` takes outputs ``ŷ``; the cross-entropies take logits ``o``.
    """
    check_loss_name(name)
    value = {
        "mse": mse,
        "binary_cross_entropy": binary_cross_entropy,
        "categorical_cross_entropy": categorical_cross_entropy,
    }[name]
    return Loss(
        name, value, lambda y_hat, y, weights=None: output_gradient(name, y_hat, y, weights)
    )
