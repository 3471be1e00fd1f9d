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
import jax.numpy as jnp
import numpy as np


def is_concrete(a) -> bool:
    """False for a ``jax`` tracer (under ``jit``/``vmap``/``grad``): its values are unknown."""
    return not isinstance(a, jax.core.Tracer)


def as_array(a, dtype=None) -> jax.Array:
    """``a`` as a ``jax.Array`` (of ``dtype``); one that already is one comes back as it is,
    without the device call of ``jnp.asarray``."""
    if isinstance(a, jax.Array) and (dtype is None or a.dtype == dtype):
        return a
    return jnp.asarray(a, dtype)


def is_split(a) -> bool:
    """``a`` is a ``jax.Array`` whose values are split across processes (no process holds them all)."""
    return isinstance(a, jax.Array) and not a.is_fully_addressable and not a.is_fully_replicated


def host_values(a, dtype=None) -> np.ndarray:
    """``a``'s values on the host; of a ``jax.Array`` spread over processes, only this process's rows.

    Each process of a multi-process run checks the rows it holds (its addressable
    shards, each copy once, in row order); a fully replicated array is read whole.
    """
    if is_split(a):
        shards = {str(s.index): s for s in a.addressable_shards}.values()
        rows = sorted(shards, key=lambda s: s.index[0].start or 0 if s.index else 0)
        return np.concatenate([np.asarray(s.data, dtype) for s in rows])
    return np.asarray(a, dtype)


def to_host(tree):
    """``tree`` with its ``jax.Array`` leaves as numpy arrays (other leaves as they are).

    ``jax.device_get``, with one ``np.asarray`` per leaf on the CPU backend: there the
    asynchronous copy ``device_get`` starts per leaf costs about 15 µs more, most of what
    it takes to collect a small run's results. On an accelerator those copies overlap.
    """
    if jax.default_backend() != "cpu":
        return jax.device_get(tree)
    return jax.tree_util.tree_map(lambda a: np.asarray(a) if isinstance(a, jax.Array) else a, tree)


def real_dtype(a, name: str) -> np.dtype:
    """The dtype of ``a``; strings, objects and complex numbers are refused (ints, bools and floats pass)."""
    dtype = getattr(a, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(a).dtype
        except (TypeError, ValueError) as err:  # ragged nested lists
            raise TypeError(
                f"{name} must be an array of real numbers, got {type(a).__name__} ({err})"
            ) from err
    dtype = np.dtype(dtype)
    # bfloat16 has kind 'V' in numpy; jax.numpy's issubdtype knows it is a float
    if not (dtype.kind in "biuf" or jax.numpy.issubdtype(dtype, jax.numpy.floating)):
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype {dtype}")
    return dtype


def check_finite(a, name: str) -> None:
    """Refuse NaN / inf in a concrete array, naming how many and the first index; tracers pass."""
    if not is_concrete(a):
        return
    values = host_values(a)
    if values.dtype.kind in "biu":
        return
    bad = ~np.isfinite(values.astype(np.float32) if values.dtype.kind == "V" else values)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite, got {int(bad.sum())} NaN/inf values (first at index {first}: "
            f"{float(values[first])})"
        )


def check_labels_in_range(labels, name: str, num_classes: int) -> None:
    """Integer labels of a concrete array lie in ``0..num_classes-1``; tracers pass."""
    if not is_concrete(labels):
        return
    values = host_values(labels)
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(
            f"{name} must hold integer labels in [0, {num_classes}), got min {values.min()} "
            f"and max {values.max()}"
        )


def check_unit_interval(y, name: str, loss: str) -> None:
    """Targets of a concrete array lie in ``[0, 1]`` (cross-entropies); tracers pass."""
    if not is_concrete(y):
        return
    values = host_values(y, np.float64)
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(
            f"{loss} needs targets {name} in [0, 1], got values in [{values.min()}, {values.max()}]"
        )


def check_probability_rows(y, name: str, atol: float = 1e-3) -> None:
    """Each row of a concrete ``(K, C)`` array is a distribution (one-hot or soft); tracers pass."""
    if not is_concrete(y):
        return
    check_unit_interval(y, name, "categorical_cross_entropy")
    sums = host_values(y, np.float64).sum(axis=-1)
    bad = np.flatnonzero(np.abs(sums - 1) > atol)
    if bad.size:
        raise ValueError(
            f"categorical_cross_entropy needs each row of {name} to sum to 1 (one-hot or "
            f"probabilities), got {bad.size} rows that do not (row {bad[0]} sums to {sums[bad[0]]})"
        )


# --- scalars: the one set of basic argument checks -------------------------------------
# A wrong type is a TypeError, a right type with a wrong value a ValueError; the message
# names the argument, what was expected and what came.


def check_bool(name: str, value) -> bool:
    """``True`` or ``False`` (numpy bools too; ints and strings are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}: {value!r}")
    return bool(value)


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """A Python or numpy int in ``[low, high]`` (bools refused: ``True`` is not a count)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = (
            f"in [{low}, {high}]"
            if low is not None and high is not None
            else f">= {low}"
            if low is not None
            else f"<= {high}"
        )
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_number(
    name: str,
    value,
    *,
    low: float | None = 0.0,
    strict: bool = False,
    high: float | None = None,
    strict_high: bool = False,
) -> float:
    """A finite real number ``>= low`` (``> low`` when ``strict``) and ``<= high`` (``< high``
    when ``strict_high``); ``None`` leaves that side open. 0-d arrays pass; a 0-d real tracer
    (under ``jit``/``vmap``) is returned as it is, its value unchecked."""
    if (
        not is_concrete(value)
        and value.shape == ()
        and jax.numpy.issubdtype(value.dtype, jax.numpy.number)
    ):
        return value
    scalar = isinstance(value, (int, float, np.integer, np.floating)) or (
        isinstance(value, (np.ndarray, jax.Array))
        and np.shape(value) == ()
        and np.asarray(value).dtype.kind in "iuf"
    )
    if isinstance(value, (bool, np.bool_)) or not scalar:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    value = float(value)
    too_low = low is not None and (value < low or (strict and value == low))
    too_high = high is not None and (value > high or (strict_high and value == high))
    if not np.isfinite(value) or too_low or too_high:
        if low is not None and high is not None:
            left, right = "(" if strict else "[", ")" if strict_high else "]"
            expected = f"a finite number in {left}{low:g}, {high:g}{right}"
        elif low is not None:
            expected = f"finite and {'>' if strict else '>='} {low:g}"
        elif high is not None:
            expected = f"finite and {'<' if strict_high else '<='} {high:g}"
        else:
            expected = "finite"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_positive(
    name: str, value, *, per_member: bool = True, expected: str | None = None
) -> np.ndarray:
    """A finite number ``> 0`` as a float array: ``()``, or ``(members,)`` when ``per_member``
    allows one value per member. ``expected`` words the ``TypeError``'s "must be ...".
    """
    arr = np.asarray(value)
    if (
        isinstance(value, (bool, np.bool_))
        or arr.dtype.kind not in "iuf"
        or arr.ndim > int(per_member)
    ):
        if expected is None:
            expected = (
                "a number or a 1-D array of them (one per member)" if per_member else "a number"
            )
        raise TypeError(f"{name} must be {expected}, got {value!r}"[:400])
    if arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}"[:400])
    return arr.astype(float)


def check_callable(name: str, fn, expected: str = "callable", *, optional: bool = False):
    """A callable (``None`` too when ``optional``); the message says what it should compute."""
    if fn is None and optional:
        return None
    if not callable(fn):
        what = f"{expected} or None" if optional else expected
        raise TypeError(f"{name} must be {what}, got {type(fn).__name__}")
    return fn


def check_choice(name: str, value, choices) -> str:
    """One of the names in ``choices`` (a ``ValueError`` lists them)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def check_dtype(name: str, dtype, choices) -> str:
    """A dtype given by name or object (``"float32"``, ``jnp.float32``, ``np.dtype``), as its
    name, which must be among ``choices``."""
    if isinstance(dtype, str) and dtype in choices:
        return dtype
    try:
        dtype_name = jax.numpy.dtype(dtype).name
    except TypeError:
        dtype_name = None
    if dtype_name not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {dtype!r}")
    return dtype_name


def check_labels(labels, name: str = "labels", num_classes: int | None = None) -> np.ndarray:
    """Concrete integer class labels of shape ``(batch,)`` as int64 numpy (floats are refused,
    not rounded; bools too), in ``0..num_classes-1`` when ``num_classes`` is given."""
    if not is_concrete(labels):
        raise TypeError(f"{name} must be concrete (prepare labels outside jit), got a traced array")
    dtype = real_dtype(labels, name)
    values = np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(
            f"{name} must have shape (batch,) of integer class labels, got shape {values.shape}"
        )
    if dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels 0..C-1, got dtype {dtype}")
    if num_classes is not None:
        check_labels_in_range(values, name, num_classes)
    return values.astype(np.int64)


def check_binary(a, name: str) -> None:
    """Every entry of a concrete array is 0 or 1 (bools pass); tracers pass."""
    if not is_concrete(a):
        return
    values = np.asarray(a)
    bad = ~((values == 0) | (values == 1))
    if np.any(bad):
        first = values[np.unravel_index(np.argmax(bad), values.shape)]
        raise ValueError(
            f"{name} must be binary (every entry 0 or 1), got {int(np.sum(bad))} other entries, "
            f"e.g. {first!r}"
        )


def check_key(
    key,
    name: str = "key",
    *,
    batched: bool = False,
    optional: bool = False,
    default_seed: int | None = None,
):
    """A typed ``jax.random`` key of shape ``()`` (or ``(members,)`` when ``batched``).

    Legacy ``uint32`` keys (``jax.random.PRNGKey``) are wrapped, not refused;
    ``None`` passes only when ``optional`` (returned as ``None``) or becomes
    ``jax.random.key(default_seed)`` when a default seed is given.
    """
    if key is None and default_seed is not None:
        return jax.random.key(default_seed)
    if key is None and optional:
        return None
    if key is None:
        raise TypeError(
            f"{name} must be a jax.random key such as jax.random.key(seed) (this call draws "
            "random numbers), got None"
        )
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        typed = key
    elif (
        isinstance(key, (jax.Array, np.ndarray))
        and key.dtype == np.uint32
        and key.ndim >= 1
        and key.shape[-1] == 2
    ):
        typed = jax.random.wrap_key_data(jax.numpy.asarray(key))
    else:
        raise TypeError(
            f"{name} must be a jax.random key such as jax.random.key(0), "
            f"got {type(key).__name__}: {key!r}"[:300]
        )
    if typed.ndim > (1 if batched else 0):
        expected = "() or (members,)" if batched else "() (one key)"
        raise ValueError(f"{name} must have shape {expected}, got {typed.shape}")
    return typed
