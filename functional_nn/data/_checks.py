"""Argument checks shared by ``fnn.data`` (its public boundary).

Data preparation runs eagerly on concrete arrays, outside ``jit``, so the checks
can look at values, not only at shapes.
"""

from __future__ import annotations

import math

import jax
import numpy as np


def check_key(key, where: str) -> jax.Array:
    """``key`` as a ``jax.random`` key (typed ``jax.random.key`` or raw ``PRNGKey``)."""
    if key is None:
        raise TypeError(
            f"{where} needs a key=jax.random.key(seed) for its randomness, got key=None"
        )
    if isinstance(key, jax.Array):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == np.uint32 and key.shape == (2,):
            return key
    raise TypeError(
        f"{where}: key must be a single jax.random key (jax.random.key(seed)), got "
        f"{type(key).__name__} with shape {getattr(key, 'shape', None)} and dtype {getattr(key, 'dtype', None)}"
    )


def host_rng(key, where: str) -> np.random.Generator:
    """A NumPy generator seeded by the bits of a ``jax.random`` key.

    Data are prepared once, on the host, in sizes that vary from call to call;
    drawing them with ``jax.random`` would compile a new program for every size.
    The generator is local to the call, so the result is a pure function of the key.
    """
    bits = np.asarray(jax.random.key_data(check_key(key, where)), np.uint32).ravel()
    return np.random.default_rng(np.random.SeedSequence(bits.tolist()))


def check_count(value, name: str, minimum: int = 1) -> int:
    """A Python int ``>= minimum`` (bools refused: ``True`` is not a size)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_nonnegative(value, name: str) -> float:
    """A finite float ``>= 0`` (noise levels, margins)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(value, name: str) -> float:
    """A number in ``[0, 1)``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (0.0 <= value < 1.0)
    ):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_labels(labels, name: str = "labels") -> np.ndarray:
    """Concrete integer class labels of shape ``(batch,)``, as int64 numpy (floats refused, not rounded)."""
    try:
        values = np.asarray(labels)
    except jax.errors.TracerArrayConversionError as err:
        raise TypeError(
            f"{name} must be concrete (prepare targets outside jit), got a traced array"
        ) from err
    if values.ndim != 1:
        raise ValueError(
            f"{name} must have shape (batch,) of integer class labels, got shape {values.shape}"
        )
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels 0..C-1, got dtype {values.dtype}")
    return values.astype(np.int64)
