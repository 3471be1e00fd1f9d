"""Input checks shared by the single-neuron models (the public boundary of ``fnn.neurons``).

Values are checked only on concrete arrays: under ``jit``/``vmap`` the inputs are
tracers whose values are unknown, so only their shapes can be checked there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate

Array = jax.Array


def float_dtype():
    """JAX's default float dtype right now (float64 inside ``float64_mode``)."""
    return jnp.zeros(()).dtype


def _shape(x, name: str) -> tuple[int, ...]:
    try:
        return tuple(np.shape(x))
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array, got ragged input: {err}") from err


def check_inputs(x, name: str = "x", *, binary: bool = False) -> Array:
    """``x`` as a ``(batch, n_in)`` float array with ``batch, n_in >= 1``; finite, and 0/1 if ``binary``."""
    shape = _shape(x, name)
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (batch, n_in) with batch >= 1 and n_in >= 1, got shape {shape}"
        )
    _check_values(x, name, binary)
    return jnp.asarray(x, dtype=float_dtype())


def check_targets(t, batch: int, name: str = "t", *, binary: bool) -> Array:
    """``t`` as a ``(batch,)`` float array; 0/1 if ``binary``, else finite."""
    shape = _shape(t, name)
    if shape != (batch,):
        raise ValueError(
            f"{name} must have shape (batch,) = ({batch},) to match x, got shape {shape}"
        )
    _check_values(t, name, binary)
    return jnp.asarray(t, dtype=float_dtype())


def check_augmented_weights(w, n_in: int, name: str = "w") -> Array:
    """``w`` as an ``(n_in + 1,)`` float array: ``w[0]`` is the bias weight ``w_0``."""
    shape = tuple(np.shape(w))
    if shape != (n_in + 1,):
        raise ValueError(
            f"{name} must have shape (n_in + 1,) = ({n_in + 1},) with {name}[0] the bias weight, got shape {shape}"
        )
    return jnp.asarray(w, dtype=float_dtype())


def add_bias_input(x: Array) -> Array:
    """Prepend the constant input ``x_0 = 1``: ``(batch, n_in) -> (batch, n_in + 1)``.

    With it the bias is the weight ``w_0`` and every rule reads ``w_j ← w_j + α x_j (t − y)``
    for ``j = 0 … n`` alike.
    """
    return jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)


def _check_values(a, name: str, binary: bool) -> None:
    """Real numbers; 0/1 if ``binary``, else finite (values only on concrete arrays)."""
    _validate.real_dtype(a, name)
    if binary:
        _validate.check_binary(a, name)
    else:
        _validate.check_finite(a, name)
