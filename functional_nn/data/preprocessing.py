"""Targets, standardization and the lecture's train / validation / test split.

The lecture chooses a topology by training on the training part and comparing on
the validation part; the test part is looked at once, at the end. So everything
fitted from data (here: the standardizer's mean and scale) is fitted on the
training part only and then applied unchanged to the other two.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate
from functional_nn._validate import check_int, check_labels, check_number
from functional_nn.data._raw import host_rng

__all__ = [
    "one_hot",
    "binary_targets",
    "Standardizer",
    "standardize",
    "Split",
    "Dataset",
    "train_val_test_split",
]

Array = jax.Array

TASKS = ("classification", "regression")


def one_hot(labels, num_classes: int) -> Array:
    """Class labels ``0..C-1`` as one-hot rows (the lecture's C = 3 example).

    Class ``c`` becomes the vector with a 1 in position ``c``; the lecture numbers
    classes from 1, here they start at 0.

    Args:
        labels: ``(batch,)`` integer labels, each in ``0..num_classes-1`` (checked).
        num_classes: ``C >= 1``.
    Returns:
        ``(batch, C)`` float32.

    Examples:
        >>> one_hot(jnp.array([0, 2]), 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    num_classes = check_int("num_classes", num_classes, 1)
    values = check_labels(labels)
    bad = np.flatnonzero((values < 0) | (values >= num_classes))
    if bad.size:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1} for num_classes={num_classes}; "
            f"labels[{bad[0]}] = {values[bad[0]]} ({bad.size} out of range)"
        )
    return jnp.asarray(np.eye(num_classes, dtype=np.float32)[values])


def binary_targets(labels) -> Array:
    """0/1 labels as a ``(batch, 1)`` float32 column, the target of a single sigmoid output."""
    values = check_labels(labels)
    bad = np.flatnonzero((values != 0) & (values != 1))
    if bad.size:
        raise ValueError(f"binary labels must be 0 or 1; labels[{bad[0]}] = {values[bad[0]]}")
    return jnp.asarray(values.astype(np.float32)[:, None])


class Standardizer(NamedTuple):
    """Per-feature ``(x − mean) / scale``, fitted by :func:`standardize`."""

    mean: Array  # (n_features,)
    scale: Array  # (n_features,); 1 for constant features, so they map to 0

    def apply(self, x) -> Array:
        """``(batch, n_features) -> (batch, n_features)``, float32; works under ``jit`` too."""
        _check_features(x, self.mean.shape[0])
        return (jnp.asarray(x, jnp.float32) - self.mean) / self.scale

    def invert(self, z) -> Array:
        """The inverse of :meth:`apply` (e.g. to report regression predictions in data units)."""
        _check_features(z, self.mean.shape[0], name="z")
        return jnp.asarray(z, jnp.float32) * self.scale + self.mean


def standardize(x_train) -> Standardizer:
    """Fit a :class:`Standardizer` to the training inputs only.

    ``mean`` and ``scale`` (the population standard deviation) are computed per
    column in float64 and stored as float32. A column that is constant in the
    training part gets ``scale = 1``, so it maps to 0 instead of dividing by 0.

    Args:
        x_train: ``(batch, n_features)`` with ``batch >= 1``.

    Examples:
        >>> s = standardize(x_train)
        >>> x_train, x_val = s.apply(x_train), s.apply(x_val)
    """
    values = np.asarray(x_train, np.float64)
    if values.ndim != 2 or values.shape[0] < 1:
        raise ValueError(
            f"x_train must have shape (batch, n_features) with batch >= 1, got {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"x_train must be finite, got {int(np.sum(~np.isfinite(values)))} non-finite entries"
        )
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    # max == min is an exact test for constant columns; a std of 1e-17 from rounding is not
    constant = values.max(axis=0) == values.min(axis=0)
    scale = np.where(constant | (std == 0), 1.0, std)
    mean = np.where(constant, values[0], mean)
    return Standardizer(jnp.asarray(mean, jnp.float32), jnp.asarray(scale, jnp.float32))


class Split(NamedTuple):
    """The three parts of a data set (a pytree of arrays)."""

    x_train: Array  # (m_train, n_features)
    y_train: Array  # (m_train,) labels or (m_train, n_targets)
    x_val: Array  # (m_val, n_features); m_val may be 0
    y_val: Array
    x_test: Array  # (m_test, n_features); m_test may be 0
    y_test: Array


class Dataset(NamedTuple):
    """A split data set with what a training run needs to know about it.

    The arrays are float32 inputs and either ``(m,)`` int32 labels
    (``task="classification"``) or ``(m, n_targets)`` float32 (``"regression"``).
    The string fields make it a container, not something to pass through ``jit``;
    pass the arrays (or :attr:`split`) instead.
    """

    x_train: Array
    y_train: Array
    x_val: Array
    y_val: Array
    x_test: Array
    y_test: Array
    task: str  # "classification" | "regression"
    num_classes: int | None  # C for classification, else None
    feature_names: tuple[str, ...] | None = None
    name: str = ""
    class_names: tuple[str, ...] | None = (
        None  # original target values, when labels were renumbered
    )
    standardizer: Standardizer | None = (
        None  # fitted on x_train; already applied to all three parts
    )
    target_standardizer: Standardizer | None = None  # regression targets, when standardized

    @property
    def split(self) -> Split:
        return Split(*self[:6])

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])


def train_val_test_split(
    x,
    y,
    fractions: tuple[float, float, float] | None = None,
    *,
    key: Array,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    stratify: bool = False,
) -> Split:
    """Shuffle with ``key`` and cut into training, validation and test parts.

    Give either ``fractions=(train, val, test)`` summing to 1, or ``val_fraction``
    and ``test_fraction`` (the rest is training); the default is ``(0.6, 0.2, 0.2)``.
    Part sizes are ``round(m · fraction)`` (at least 1 for a positive fraction),
    the training part takes the remainder. The same key gives the same split
    (the key seeds a NumPy generator local to the call).

    Args:
        x: ``(m, ...)`` inputs.
        y: ``(m,)`` labels or ``(m, ...)`` targets.
        key: a ``jax.random`` key.
        stratify: split each class separately (``y`` must be integer labels), so
            every part keeps the class proportions (up to rounding per class;
            a class too small for a part stays in training).
    Returns:
        A :class:`Split` of jax arrays with the dtypes of ``x`` and ``y``.
    Raises:
        TypeError: ``x`` or ``y`` not real numbers (strings, objects, complex).
        ValueError: NaN/inf values, no rows or features, mismatched rows, bad
            fractions, or a part with a positive fraction left empty.
    """
    val, test = _fractions(fractions, val_fraction, test_fraction)
    rng = host_rng(key, "train_val_test_split")
    for name, arr in (("x", x), ("y", y)):
        _validate.real_dtype(arr, name)
        _validate.check_finite(arr, name)
    x_np, y_np = np.asarray(x), np.asarray(y)
    if x_np.ndim < 1 or y_np.ndim < 1 or x_np.shape[0] != y_np.shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows, got shapes {x_np.shape} and {y_np.shape}"
        )
    m = x_np.shape[0]
    if m == 0 or (x_np.ndim > 1 and 0 in x_np.shape[1:]):
        raise ValueError(f"x must have at least one row and one feature, got shape {x_np.shape}")
    if stratify:
        labels = check_labels(y_np, "y (stratify=True needs integer labels)")
        parts: list[list[np.ndarray]] = [[], [], []]
        for c in np.unique(labels):
            # no "at least one row" per class: a rare class should stay in training
            rows = rng.permutation(np.flatnonzero(labels == c))
            for part, chunk in zip(parts, _cut(rows, val, test, at_least_one=False)):
                part.append(chunk)
        # shuffle again so the classes are interleaved within each part
        pieces = [rng.permutation(np.concatenate(part)) for part in parts]
    else:
        pieces = _cut(rng.permutation(m), val, test)
        for part_name, fraction, rows in (
            ("validation", val, pieces[1]),
            ("test", test, pieces[2]),
        ):
            if fraction > 0 and rows.size == 0:
                raise ValueError(
                    f"the {part_name} part is empty: {m} rows are too few for fractions val={val}, "
                    f"test={test} (each part with a positive fraction needs a row)"
                )
    if pieces[0].size == 0:
        raise ValueError(f"the training part is empty: {m} rows with val={val}, test={test}")
    out = []
    for rows in pieces:
        out += [jnp.asarray(x_np[rows]), jnp.asarray(y_np[rows])]
    return Split(*out)


def _fractions(fractions, val_fraction, test_fraction) -> tuple[float, float]:
    if fractions is not None:
        if val_fraction is not None or test_fraction is not None:
            raise ValueError(
                "give either fractions=(train, val, test) or val_fraction/test_fraction, not both"
            )
        if isinstance(fractions, (str, bytes)) or len(fractions) != 3:
            raise ValueError(f"fractions must be (train, val, test), got {fractions!r}")
        train, val, test = (float(f) for f in fractions)
        if min(train, val, test) < 0 or train <= 0 or abs(train + val + test - 1.0) > 1e-6:
            raise ValueError(
                f"fractions must be >= 0 with train > 0 and sum to 1, got {fractions!r}"
            )
        return val, test
    val = check_number(
        "val_fraction", 0.2 if val_fraction is None else val_fraction, high=1, strict_high=True
    )
    test = check_number(
        "test_fraction", 0.2 if test_fraction is None else test_fraction, high=1, strict_high=True
    )
    if val + test >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val} + {test}")
    return val, test


def _cut(
    rows: np.ndarray, val: float, test: float, *, at_least_one: bool = True
) -> list[np.ndarray]:
    """Training, validation and test rows from already shuffled ``rows``."""
    m = rows.size
    n_val = max(round(m * val), 1 if val > 0 and at_least_one else 0)
    n_test = max(round(m * test), 1 if test > 0 and at_least_one else 0)
    n_val, n_test = min(n_val, m), min(n_test, max(m - n_val, 0))
    n_train = m - n_val - n_test
    return [rows[:n_train], rows[n_train : n_train + n_val], rows[n_train + n_val :]]


def _check_features(x, n_features: int, name: str = "x") -> None:
    shape = tuple(np.shape(x))
    if len(shape) != 2 or shape[1] != n_features:
        raise ValueError(
            f"{name} must have shape (batch, {n_features}) like the fitted data, got {shape}"
        )
