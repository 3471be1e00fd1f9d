r"""The lecture's toy problems as pure functions of a ``jax.random`` key.

Every generator returns ``(x, y)`` batch-first: ``x`` of shape ``(n, n_features)``
float32; for classification ``y`` is ``(n,)`` int32 labels ``0..C-1`` (encode
with :func:`functional_nn.data.one_hot` or :func:`~functional_nn.data.binary_targets`),
for regression ``(n, 1)`` float32. Classes are balanced (sizes differ by at most
one) and the rows are shuffled with the key, so any prefix is a fair sample.
The same key gives the same data; nothing reads a global random state (the key
seeds a NumPy generator local to the call: data are drawn once, on the host, and
``jax.random`` would compile anew for every data size).

The 2-D sets are those of the lecture's demo, in the TensorFlow-playground style: circle,
XOR quadrants, Gaussian blobs and two spirals, plus scikit-learn's moons.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._validate import check_int, check_number
from functional_nn.data._raw import host_rng

__all__ = [
    "logic_gate",
    "xor",
    "noisy_line",
    "circle",
    "xor_quadrants",
    "blobs",
    "spirals",
    "moons",
]

Array = jax.Array

#: The four inputs of a two-input gate, in truth-table order.
GATE_INPUTS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))

#: Outputs of each gate for :data:`GATE_INPUTS`. XOR and XNOR are the ones a
#: single perceptron cannot represent (Minsky and Papert).
TRUTH_TABLES: dict[str, tuple[int, int, int, int]] = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
    "xnor": (1, 0, 0, 1),
}


def logic_gate(
    name: str, *, n: int | None = None, noise: float = 0.0, key: Array | None = None
) -> tuple[Array, Array]:
    """A two-input logic gate: its truth table, or ``n`` noisy copies of it.

    Args:
        name: one of ``"and", "or", "nand", "nor", "xor", "xnor"``.
        n: ``None`` gives the four truth-table rows in order; an int gives ``n``
            rows cycling through the table (balanced), shuffled with ``key``.
        noise: standard deviation of Gaussian noise added to the inputs.
        key: required when the result is random (``n`` given or ``noise > 0``).
    Returns:
        ``x`` ``(n, 2)`` float32 inputs in {0, 1} (plus noise), ``y`` ``(n,)`` int32.

    Examples:
        >>> x, y = logic_gate("xor")
        >>> y.tolist()
        [0, 1, 1, 0]
    """
    if name not in TRUTH_TABLES:
        raise ValueError(f"unknown gate {name!r}; known gates: {', '.join(TRUTH_TABLES)}")
    noise = check_number("noise", noise)
    inputs = np.asarray(GATE_INPUTS, np.float32)
    outputs = np.asarray(TRUTH_TABLES[name], np.int32)
    if n is None and noise == 0.0:
        return jnp.asarray(inputs), jnp.asarray(outputs)
    rng = host_rng(key, f"logic_gate({name!r}) with n={n!r}, noise={noise}")
    rows = np.arange(4) if n is None else rng.permutation(np.arange(check_int("n", n, 1)) % 4)
    x = inputs[rows] + noise * rng.standard_normal((rows.size, 2))
    return jnp.asarray(x, jnp.float32), jnp.asarray(outputs[rows])


def xor(
    *, n: int | None = None, noise: float = 0.0, key: Array | None = None
) -> tuple[Array, Array]:
    """The XOR truth table (``n=None``) or ``n`` noisy copies; see :func:`logic_gate`."""
    return logic_gate("xor", n=n, noise=noise, key=key)


def noisy_line(
    n: int = 50,
    *,
    key: Array,
    noise: float = 0.1,
    w0: float = 1.0,
    w1: float = 2.0,
    low: float = -1.0,
    high: float = 1.0,
) -> tuple[Array, Array]:
    r"""Regression data for the lecture's hypothesis :math:`h(x) = w_0 + w_1 x`.

    ``x ~ Uniform(low, high)`` and ``t = w0 + w1 x + noise · ε`` with ``ε ~ N(0, 1)``,
    so least squares recovers ``(w0, w1)`` as ``n`` grows.

    Returns:
        ``x`` ``(n, 1)`` float32, ``y`` ``(n, 1)`` float32.
    """
    n = check_int("n", n, 1)
    noise = check_number("noise", noise)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got low={low!r}, high={high!r}")
    rng = host_rng(key, "noisy_line")
    x = rng.uniform(low, high, (n, 1)).astype(np.float32)
    y = w0 + w1 * x + noise * rng.standard_normal((n, 1))
    return jnp.asarray(x), jnp.asarray(y, jnp.float32)


def circle(n: int = 200, *, key: Array, noise: float = 0.05) -> tuple[Array, Array]:
    """A disk inside a ring: label 1 for radius in ``[0, 0.5]``, 0 for ``[0.7, 1]``.

    Not linearly separable; one hidden layer of a few units separates it.

    Returns:
        ``x`` ``(n, 2)`` float32, ``y`` ``(n,)`` int32.
    """
    n, noise = check_int("n", n, 2), check_number("noise", noise)
    rng = host_rng(key, "circle")
    y = _balanced_labels(n, 2)
    u = rng.uniform(size=n)
    radius = np.where(y == 1, 0.5 * u, 0.7 + 0.3 * u)
    angle = rng.uniform(0.0, 2 * math.pi, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return _noisy_shuffled(x, y, noise, rng)


def xor_quadrants(
    n: int = 200, *, key: Array, noise: float = 0.0, margin: float = 0.05
) -> tuple[Array, Array]:
    """XOR on the plane: label 1 where the two coordinates have different signs.

    Points are uniform within their quadrant of ``[-1, 1]²`` and at least
    ``margin`` away from the axes (as in the playground), so the classes are
    separable before noise; half the points are in each class.

    Returns:
        ``x`` ``(n, 2)`` float32, ``y`` ``(n,)`` int32.
    """
    n, noise = check_int("n", n, 2), check_number("noise", noise)
    margin = check_number("margin", margin)
    if margin >= 1.0:
        raise ValueError(f"margin must be < 1, got {margin!r}")
    rng = host_rng(key, "xor_quadrants")
    y = _balanced_labels(n, 2)
    # |coordinates| uniform, pushed off the axes; the sign pattern picks a quadrant of the point's class
    magnitude = margin + (1.0 - margin) * rng.uniform(size=(n, 2))
    sign_0 = rng.choice([-1.0, 1.0], n)
    sign_1 = np.where(y == 1, -sign_0, sign_0)
    x = magnitude * np.stack([sign_0, sign_1], axis=1)
    return _noisy_shuffled(x, y, noise, rng)


def blobs(
    n: int = 300, *, key: Array, num_classes: int | None = None, noise: float = 0.5, centers=None
) -> tuple[Array, Array]:
    """Gaussian blobs, one per class, with standard deviation ``noise``.

    Args:
        n: number of points, split evenly over the classes (``n >= C``).
        num_classes: ``C``; defaults to ``len(centers)``, or 3 without centers.
        noise: each blob's standard deviation.
        centers: ``(C, n_features)`` centers; by default ``C`` points evenly on a
            circle of radius 2 in the plane.
    Returns:
        ``x`` ``(n, n_features)`` float32, ``y`` ``(n,)`` int32 in ``0..C-1``.
    """
    n, noise = check_int("n", n, 1), check_number("noise", noise)
    if centers is None:
        num_classes = check_int("num_classes", 3 if num_classes is None else num_classes, 2)
        angle = 2 * math.pi * np.arange(num_classes) / num_classes
        centers = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    centers = np.asarray(centers, np.float32)
    if (
        centers.ndim != 2
        or centers.shape[0] < 2
        or centers.shape[1] < 1
        or not np.all(np.isfinite(centers))
    ):
        raise ValueError(
            f"centers must be a finite (num_classes >= 2, n_features) array, got shape {centers.shape}"
        )
    if num_classes is not None and num_classes != centers.shape[0]:
        raise ValueError(
            f"num_classes={num_classes!r} disagrees with len(centers) = {centers.shape[0]}"
        )
    num_classes = centers.shape[0]
    if n < num_classes:
        raise ValueError(
            f"n must be at least num_classes = {num_classes} so every class appears, got n={n}"
        )
    rng = host_rng(key, "blobs")
    y = _balanced_labels(n, num_classes)
    return _noisy_shuffled(centers[y], y, noise, rng)


def spirals(
    n: int = 200, *, key: Array, noise: float = 0.0, turns: float = 1.75
) -> tuple[Array, Array]:
    """Two interleaved spirals (label 0 and 1), the playground's hardest set.

    Point ``i`` of a class of ``m`` sits at radius ``r = i/m`` and angle
    ``2π · turns · i/m`` (plus ``π`` for class 1), scaled into ``[-1, 1]²``.

    Returns:
        ``x`` ``(n, 2)`` float32, ``y`` ``(n,)`` int32.
    """
    n, noise = check_int("n", n, 2), check_number("noise", noise)
    turns = check_number("turns", turns)
    rng = host_rng(key, "spirals")
    y = _balanced_labels(n, 2)
    # position of each point along its own spiral, in [0, 1)
    counts = np.asarray([(n + 1) // 2, n // 2])
    s = np.concatenate([np.arange(counts[0]), np.arange(counts[1])]) / counts[y]
    angle = 2 * math.pi * turns * s + math.pi * y
    x = np.stack([s * np.sin(angle), s * np.cos(angle)], axis=1)
    return _noisy_shuffled(x, y, noise, rng)


def moons(n: int = 200, *, key: Array, noise: float = 0.1) -> tuple[Array, Array]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``).

    Class 0 is the upper arc ``(cos t, sin t)``, class 1 the lower arc
    ``(1 − cos t, 0.5 − sin t)``, ``t`` evenly spaced on ``[0, π]``.

    Returns:
        ``x`` ``(n, 2)`` float32, ``y`` ``(n,)`` int32.
    """
    n, noise = check_int("n", n, 2), check_number("noise", noise)
    rng = host_rng(key, "moons")
    t_upper = np.linspace(0.0, math.pi, (n + 1) // 2)
    t_lower = np.linspace(0.0, math.pi, n // 2)
    x = np.concatenate(
        [
            np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1),
            np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1),
        ]
    )
    return _noisy_shuffled(x, _balanced_labels(n, 2), noise, rng)


def _balanced_labels(n: int, num_classes: int) -> np.ndarray:
    """``(n,)`` labels in blocks: class ``c`` gets ``n // C`` rows, the first ``n % C`` classes one more."""
    counts = [n // num_classes + (c < n % num_classes) for c in range(num_classes)]
    return np.repeat(np.arange(num_classes, dtype=np.int32), counts)


def _noisy_shuffled(
    x: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator
) -> tuple[Array, Array]:
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(x.shape[0])
    return jnp.asarray(x[order], jnp.float32), jnp.asarray(y[order], jnp.int32)
