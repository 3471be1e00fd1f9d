"""Array checks for the public boundary: dtype, rank, finiteness and target values.

Each check raises a one-line ``TypeError`` / ``ValueError`` naming the argument,
what was expected and what was received. Shape and dtype checks work on traced
arrays too (they run while ``jit`` traces, before anything is compiled); checks
on *values* (NaN/inf, label ranges, one-hot rows) need concrete arrays and are
skipped when the value is a ``jax`` tracer, i.e. under ``jit``/``vmap``/``grad``.
Call the public functions eagerly once to have the values checked.
"""

from __future__ import annotations

import jax
import numpy as np


def is_concrete(a) -> bool:
    """False for a ``jax`` tracer (under ``jit``/``vmap``/``grad``): its values are unknown."""
    return not isinstance(a, jax.core.Tracer)


def real_dtype(a, name: str) -> np.dtype:
    """The dtype of ``a``; strings, objects and complex numbers are refused (ints, bools and floats pass)."""
    dtype = getattr(a, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(a).dtype
        except (TypeError, ValueError) as err:  # ragged nested lists
            raise TypeError(f"{name} must be an array of real numbers, got {type(a).__name__} ({err})") from err
    dtype = np.dtype(dtype)
    # bfloat16 has kind 'V' in numpy; jax.numpy's issubdtype knows it is a float
    if not (dtype.kind in "biuf" or jax.numpy.issubdtype(dtype, jax.numpy.floating)):
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype {dtype}")
    return dtype


def check_finite(a, name: str) -> None:
    """Refuse NaN / inf in a concrete array, naming how many and the first index; tracers pass."""
    if not is_concrete(a):
        return
    values = np.asarray(a)
    if values.dtype.kind in "biu":
        return
    bad = ~np.isfinite(values.astype(np.float32) if values.dtype.kind == "V" else values)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite, got {int(bad.sum())} NaN/inf values (first at index {first}: "
                         f"{float(values[first])})")


def check_matrix(a, name: str, n_columns: int | None = None) -> tuple[int, int]:
    """``a`` real, rank 2 ``(examples, columns)`` with at least one example (and ``n_columns`` columns)."""
    real_dtype(a, name)
    shape = tuple(np.shape(a))
    cols = "n" if n_columns is None else str(n_columns)
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1 or (n_columns is not None and shape[1] != n_columns):
        raise ValueError(f"{name} must have shape (examples >= 1, {cols}), got shape {shape}")
    return shape


def check_labels_in_range(labels, name: str, num_classes: int) -> None:
    """Integer labels of a concrete array lie in ``0..num_classes-1``; tracers pass."""
    if not is_concrete(labels):
        return
    values = np.asarray(labels)
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"{name} must hold integer labels in [0, {num_classes}), got min {values.min()} "
                         f"and max {values.max()}")


def check_unit_interval(y, name: str, loss: str) -> None:
    """Targets of a concrete array lie in ``[0, 1]`` (cross-entropies); tracers pass."""
    if not is_concrete(y):
        return
    values = np.asarray(y, np.float64)
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(f"{loss} needs targets {name} in [0, 1], got values in [{values.min()}, {values.max()}]")


def check_probability_rows(y, name: str, atol: float = 1e-3) -> None:
    """Each row of a concrete ``(K, C)`` array is a distribution (one-hot or soft); tracers pass."""
    if not is_concrete(y):
        return
    check_unit_interval(y, name, "categorical_cross_entropy")
    sums = np.asarray(y, np.float64).sum(axis=-1)
    bad = np.flatnonzero(np.abs(sums - 1) > atol)
    if bad.size:
        raise ValueError(f"categorical_cross_entropy needs each row of {name} to sum to 1 (one-hot or "
                         f"probabilities), got {bad.size} rows that do not (row {bad[0]} sums to {sums[bad[0]]})")
