"""Input checks shared by the single-neuron models (the public boundary of ``fnn.neurons``).

Values are checked only on concrete arrays: under ``jit``/``vmap`` the inputs are
tracers whose values are unknown, so only their shapes can be checked there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def is_concrete(x) -> bool:
    """True when ``x`` has values we can look at (not a tracer inside ``jit``/``vmap``)."""
    return not isinstance(x, jax.core.Tracer)


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
    if is_concrete(x):
        values = np.asarray(x)
        if values.dtype == bool:
            values = values.astype(np.int32)
        if not (np.issubdtype(values.dtype, np.number)):
            raise TypeError(f"{name} must hold numbers, got dtype {values.dtype}")
        if binary:
            _check_binary(values, name)
        elif not np.all(np.isfinite(values)):
            raise ValueError(
                f"{name} must be finite, got {int(np.sum(~np.isfinite(values)))} non-finite entries"
            )
    return jnp.asarray(x, dtype=float_dtype())


def check_targets(t, batch: int, name: str = "t", *, binary: bool) -> Array:
    """``t`` as a ``(batch,)`` float array; 0/1 if ``binary``, else finite."""
    shape = _shape(t, name)
    if shape != (batch,):
        raise ValueError(
            f"{name} must have shape (batch,) = ({batch},) to match x, got shape {shape}"
        )
    if is_concrete(t):
        values = np.asarray(t)
        if values.dtype == bool:
            values = values.astype(np.int32)
        if not np.issubdtype(values.dtype, np.number):
            raise TypeError(f"{name} must hold numbers, got dtype {values.dtype}")
        if binary:
            _check_binary(values, name)
        elif not np.all(np.isfinite(values)):
            raise ValueError(
                f"{name} must be finite, got {int(np.sum(~np.isfinite(values)))} non-finite entries"
            )
    return jnp.asarray(t, dtype=float_dtype())


def check_augmented_weights(w, n_in: int, name: str = "w") -> Array:
    """``w`` as an ``(n_in + 1,)`` float array: ``w[0]`` is the bias weight ``w_0``."""
    shape = tuple(np.shape(w))
    if shape != (n_in + 1,):
        raise ValueError(
            f"{name} must have shape (n_in + 1,) = ({n_in + 1},) with {name}[0] the bias weight, got shape {shape}"
        )
    return jnp.asarray(w, dtype=float_dtype())


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_positive_float(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (np.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_key(key, name: str = "key") -> Array | None:
    """``None`` (keep the data order) or a ``jax.random`` key (typed or raw uint32[2])."""
    if key is None:
        return None
    if not isinstance(key, jax.Array):
        raise TypeError(f"{name} must be a jax.random key or None, got {type(key).__name__}")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"{name} must be a single key (shape ()), got shape {key.shape}")
        return key
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError(
            f"{name} must be a jax.random key, got an array of shape {key.shape} and dtype {key.dtype}"
        )
    return jax.random.wrap_key_data(key)


def add_bias_input(x: Array) -> Array:
    """Prepend the constant input ``x_0 = 1``: ``(batch, n_in) -> (batch, n_in + 1)``.

    With it the bias is the weight ``w_0`` and every rule reads ``w_j ← w_j + α x_j (t − y)``
    for ``j = 0 … n`` alike.
    """
    return jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)


def _check_binary(values: np.ndarray, name: str) -> None:
    bad = ~((values == 0) | (values == 1))
    if np.any(bad):
        first = values[np.unravel_index(np.argmax(bad), values.shape)]
        raise ValueError(
            f"{name} must be binary (every entry 0 or 1), got {int(np.sum(bad))} other entries, e.g. {first!r}"
        )
