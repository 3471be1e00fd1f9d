"""Loaded arrays with their description, and the target-encoding rule they share."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from functional_nn._validate import check_key

#: Without ``task=``, integer-valued CSV targets with at most this many distinct
#: values are read as class labels; anything else is a regression target.
MAX_INFERRED_CLASSES = 32


class RawData(NamedTuple):
    """One data set before splitting (numpy, host memory)."""

    x: np.ndarray  # (m, n_features) float32
    y: np.ndarray  # (m,) int32 labels or (m, n_targets) float32
    task: str  # "classification" | "regression"
    num_classes: int | None
    feature_names: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None


def check_task(task) -> str | None:
    if task not in (None, "classification", "regression"):
        raise ValueError(
            f"task must be 'classification', 'regression' or None (infer), got {task!r}"
        )
    return task


def encode_targets(
    values: np.ndarray, task: str | None, where: str, *, integer_means_labels: bool = False
):
    """Targets as ``(y, task, num_classes, class_names)``.

    Classification labels that are non-negative integers are kept (``C = max + 1``);
    other values (negative, e.g. bipolar ±1, or strings) are renumbered ``0..C-1``
    in sorted order, and ``class_names`` records the original values.
    """
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1 and task != "regression":
        values = values[:, 0]
    is_text = values.dtype.kind in "USO"
    if task is None:
        if is_text:
            task = "classification"
        elif integer_means_labels:
            task = (
                "classification"
                if np.issubdtype(values.dtype, np.integer) and values.ndim == 1
                else "regression"
            )
        else:
            integral = (
                values.ndim == 1
                and np.all(np.isfinite(values))
                and np.all(values == np.round(values))
            )
            few = integral and np.unique(values).size <= MAX_INFERRED_CLASSES
            task = "classification" if few else "regression"
    if task == "regression":
        if is_text:
            raise ValueError(
                f"{where}: regression targets must be numbers, got text such as {values.flat[0]!r}"
            )
        y = values.astype(np.float32)
        y = y[:, None] if y.ndim == 1 else y.reshape(y.shape[0], -1)
        if not np.all(np.isfinite(y)):
            raise ValueError(
                f"{where}: targets must be finite, got {int(np.sum(~np.isfinite(y)))} non-finite"
            )
        return y, task, None, None
    if values.ndim != 1:
        raise ValueError(f"{where}: class labels must be one column, got shape {values.shape}")
    if not is_text:
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))[0]
            raise ValueError(
                f"{where}: class labels must be integers; row {bad} has {values[bad]!r}"
            )
        if values.size and values.min() >= 0:
            labels = values.astype(np.int64)
            return labels.astype(np.int32), task, int(labels.max()) + 1, None
    classes, labels = np.unique(values, return_inverse=True)
    names = tuple(str(int(c)) if not is_text else str(c) for c in classes)
    return labels.astype(np.int32), task, len(classes), names


def host_rng(key, where: str) -> np.random.Generator:
    """A NumPy generator seeded by the bits of a ``jax.random`` key (``where`` names the caller).

    Data are prepared once, on the host, in sizes that vary from call to call;
    drawing them with ``jax.random`` would compile a new program for every size.
    The generator is local to the call, so the result is a pure function of the key.
    """
    bits = np.asarray(jax.random.key_data(check_key(key, f"{where}: key")), np.uint32).ravel()
    return np.random.default_rng(np.random.SeedSequence(bits.tolist()))
