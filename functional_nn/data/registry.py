"""Data sets by name, and the one call that loads, splits and standardizes.

``load(name, key=...)`` returns ``(x, y)`` for any toy or bundled real set;
``load_dataset(source, key=...)`` takes a name or a ``.csv``/``.npz`` path and
returns a :class:`~functional_nn.data.Dataset` ready for training.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._validate import check_key
from functional_nn.data import toy
from functional_nn.data._raw import RawData, check_task
from functional_nn.data.files import read_csv, read_npz
from functional_nn.data.preprocessing import Dataset, train_val_test_split
from functional_nn.data.preprocessing import standardize as fit_standardizer
from functional_nn.data.real import SKLEARN_SETS, read_sklearn

__all__ = ["DatasetInfo", "names", "info", "load", "read", "load_dataset"]

Array = jax.Array


class DatasetInfo(NamedTuple):
    """What a named data set is, before loading it."""

    name: str
    task: str  # "classification" | "regression"
    num_classes: int | None  # C (the default for "blobs"); None for regression
    num_features: int
    source: str  # "toy" (generated from a key) or "scikit-learn" (bundled, fixed)
    description: str


_GATE_TEXT = "truth table of {} (4 rows; n= gives noisy copies)"

# name -> (generator, info without the name); the generators take n, noise, key
_TOY: dict[str, tuple[Callable, tuple]] = {
    **{
        gate: (
            functools.partial(toy.logic_gate, gate),
            ("classification", 2, 2, "toy", _GATE_TEXT.format(gate.upper())),
        )
        for gate in ("and", "or", "nand", "nor", "xor", "xnor")
    },
    "line": (
        toy.noisy_line,
        ("regression", None, 1, "toy", "noisy line t = w0 + w1 x (the lecture's h(x))"),
    ),
    "circle": (toy.circle, ("classification", 2, 2, "toy", "a disk (1) inside a ring (0)")),
    "xor_quadrants": (
        toy.xor_quadrants,
        ("classification", 2, 2, "toy", "XOR on the plane: 1 where the signs differ"),
    ),
    "blobs": (
        toy.blobs,
        ("classification", 3, 2, "toy", "Gaussian blobs, one per class (num_classes= to change C)"),
    ),
    "spirals": (toy.spirals, ("classification", 2, 2, "toy", "two interleaved spirals")),
    "moons": (toy.moons, ("classification", 2, 2, "toy", "two interleaving half circles")),
}

_REAL_FEATURES = {"iris": 4, "digits": 64, "breast_cancer": 30, "diabetes": 10}
_REAL_CLASSES = {"iris": 3, "digits": 10, "breast_cancer": 2, "diabetes": None}


def names() -> tuple[str, ...]:
    """Every name :func:`load` knows: the toy sets, then the scikit-learn ones."""
    return (*_TOY, *SKLEARN_SETS)


def info(name: str) -> DatasetInfo:
    """The description of a named set (loads nothing)."""
    name = _canonical(name)
    if name in _TOY:
        return DatasetInfo(name, *_TOY[name][1])
    loader, task, text = SKLEARN_SETS[name]
    return DatasetInfo(name, task, _REAL_CLASSES[name], _REAL_FEATURES[name], "scikit-learn", text)


def load(
    name: str,
    *,
    key: Array | None = None,
    n: int | None = None,
    noise: float | None = None,
    **options,
) -> tuple[Array, Array]:
    """``(x, y)`` for a named set: float32 ``(m, n_features)`` and int32 ``(m,)`` labels or ``(m, 1)`` targets.

    Args:
        name: one of :func:`names` (case-insensitive, ``-`` as ``_``).
        key: the toy sets' randomness (the real sets are fixed and ignore it).
        n, noise: toy sets only; ``None`` keeps each generator's default.
        options: further toy-generator arguments, e.g. ``num_classes=`` for ``"blobs"``.

    Examples:
        >>> x, y = load("moons", key=jax.random.key(0), n=100)
        >>> x.shape, y.shape
        ((100, 2), (100,))
    """
    raw = read(name, key=key, n=n, noise=noise, **options)
    return jnp.asarray(raw.x), jnp.asarray(raw.y)


def read(
    name: str,
    *,
    key: Array | None = None,
    n: int | None = None,
    noise: float | None = None,
    **options,
) -> RawData:
    """:func:`load` with the description (task, ``C``, feature and class names), as numpy arrays."""
    name = _canonical(name)
    if name in SKLEARN_SETS:
        given = {k: v for k, v in dict(n=n, noise=noise, **options).items() if v is not None}
        if given:
            raise ValueError(
                f"{name!r} is a fixed real data set; {', '.join(given)} apply to the toy sets only"
            )
        return read_sklearn(name)
    generate, (task, num_classes, *_) = _TOY[name]
    kwargs: dict[str, Any] = {k: v for k, v in dict(n=n, noise=noise).items() if v is not None}
    if key is not None:
        kwargs["key"] = key
    x, y = generate(**kwargs, **options)
    if name == "blobs":
        # C follows num_classes=/centers=; every blob has points (n >= C)
        num_classes = int(np.max(np.asarray(y))) + 1
    return RawData(
        np.asarray(x),
        np.asarray(y),
        task,
        num_classes,
        tuple(f"x{j + 1}" for j in range(x.shape[1])),
    )


def load_dataset(
    source: str | os.PathLike,
    *,
    key: Array,
    fractions: tuple[float, float, float] | None = None,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    stratify: bool | None = None,
    standardize: bool = True,
    standardize_targets: bool = False,
    n: int | None = None,
    noise: float | None = None,
    task: str | None = None,
    target: int | str = -1,
    **options,
) -> Dataset:
    """Load, split (default 60/20/20) and standardize a data set in one call.

    Args:
        source: a name from :func:`names`, or a path to a ``.csv``/``.tsv``/``.npz`` file.
        key: split into one key for generating a toy set and one for the split.
        fractions, val_fraction, test_fraction: see :func:`train_val_test_split`.
        stratify: keep class proportions in every part (default: for classification).
        standardize: fit a :class:`Standardizer` on ``x_train`` and apply it to all parts.
        standardize_targets: likewise for regression targets (predictions are then
            in standard units; ``dataset.target_standardizer.invert`` maps them back).
        n, noise, options: for toy sets, as in :func:`load`.
        task, target: for files, as in :func:`load_csv` (``target`` is CSV-only).
    Returns:
        A :class:`Dataset`.
    """
    key = check_key(key, "load_dataset: key")
    key_data, key_split = jax.random.split(key)
    label, raw = _read_source(
        source, key_data, n=n, noise=noise, task=task, target=target, **options
    )
    if stratify is None:
        stratify = raw.task == "classification"
    split = train_val_test_split(
        raw.x,
        raw.y,
        fractions,
        key=key_split,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        stratify=stratify,
    )
    x_parts, y_parts = list(split[0::2]), list(split[1::2])
    scaler = target_scaler = None
    if standardize:
        scaler = fit_standardizer(x_parts[0])
        x_parts = [scaler.apply(x) for x in x_parts]
    if standardize_targets:
        if raw.task != "regression":
            raise ValueError(
                f"standardize_targets=True applies to regression; {label!r} is {raw.task}"
            )
        target_scaler = fit_standardizer(y_parts[0])
        y_parts = [target_scaler.apply(y) for y in y_parts]
    (x_train, x_val, x_test), (y_train, y_val, y_test) = x_parts, y_parts
    return Dataset(
        x_train,
        y_train,
        x_val,
        y_val,
        x_test,
        y_test,
        task=raw.task,
        num_classes=raw.num_classes,
        feature_names=raw.feature_names,
        name=label,
        class_names=raw.class_names,
        standardizer=scaler,
        target_standardizer=target_scaler,
    )


def _read_source(source, key, *, n, noise, task, target, **options) -> tuple[str, RawData]:
    if isinstance(source, str) and _normalize(source) in names():
        if task is not None or target != -1:
            raise ValueError(f"task= and target= describe files; {source!r} is a named data set")
        name = _canonical(source)
        return name, read(name, key=key, n=n, noise=noise, **options)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source must be a data set name or a file path, got {type(source).__name__}"
        )
    path = Path(source)
    if not path.is_file():
        raise ValueError(_unknown_message(str(source)) + " (and no such file)")
    if n is not None or noise is not None or options:
        raise ValueError(
            f"n=, noise= and generator options apply to the toy sets, not to the file {path}"
        )
    check_task(task)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return path.stem, read_csv(
            path, target=target, task=task, delimiter="\t" if suffix == ".tsv" else ","
        )
    if suffix == ".npz":
        if target != -1:
            raise ValueError(
                "target= selects a CSV column; an .npz file holds arrays named 'x' and 'y'"
            )
        return path.stem, read_npz(path, task=task)
    raise ValueError(f"{path}: unknown file type {suffix!r}; expected .csv, .tsv or .npz")


def _normalize(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _canonical(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a data set name must be a str, got {type(name).__name__}")
    normalized = _normalize(name)
    if normalized not in names():
        raise ValueError(_unknown_message(name))
    return normalized


def _unknown_message(name: str) -> str:
    close = difflib.get_close_matches(_normalize(name), names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown data set {name!r}{hint}; known names: {', '.join(names())}"
