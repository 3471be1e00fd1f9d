r"""The McCulloch–Pitts neuron: binary inputs, a threshold, a binary output.

A unit has binary inputs ``x_i ∈ {0, 1}``; a connection with weight ``w_i > 0`` is
*excitatory*, ``w_i < 0`` *inhibitory*, ``w_i = 0`` absent. It fires (outputs 1)
once its input reaches the threshold ``θ`` and stays at 0 below it. The lecture
allows two readings of inhibition, selected by ``inhibition=``:

``"weighted"`` (the slide's reading: "excitatory connections have positive weights
    and inhibitory connections have negative weights")::

        y = 1[Σ_i w_i x_i ≥ θ]

    An active inhibitory input subtracts ``|w_i|`` and can be outvoted.

``"absolute"`` (McCulloch and Pitts, 1943: "the activity of any inhibitory synapse
    absolutely prevents excitation of the neuron")::

        y = 1[no input with w_i < 0 is active] · 1[Σ_{i: w_i > 0} w_i x_i ≥ θ]

    Only the sign of an inhibitory weight matters: any active one vetoes firing.

The readings agree on every input where no inhibitory input is active. Every
absolute unit is a weighted unit with large enough negative weights
(:func:`absolute_to_weighted`); the converse fails: an absolute unit is
non-decreasing in each excitatory input and fires only when all inhibitory inputs
are 0, so NAND (``1,0 → 1``, ``0,1 → 1`` but ``0,0 → 1 > 1,1 → 0``) is a single
unit only in the weighted reading; in the absolute reading it is
``NOT(AND(x1, x2))``, two layers.

Weights and thresholds are fixed by hand, as the lecture says ("cannot learn them");
the perceptron (:mod:`functional_nn.neurons.perceptron`) learns them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._validate import check_int
from functional_nn.neurons._checks import check_inputs, float_dtype

__all__ = [
    "McCullochPitts",
    "mcculloch_pitts",
    "fire",
    "fire_network",
    "all_binary_inputs",
    "truth_table",
    "and_gate",
    "or_gate",
    "not_gate",
    "nand_gate",
    "xor_network",
    "absolute_to_weighted",
    "find_unit",
]

Array = jax.Array

INHIBITION_READINGS = ("weighted", "absolute")


class McCullochPitts(NamedTuple):
    """A layer of McCulloch–Pitts units (a single unit is a layer with ``n_units = 1``)."""

    weights: Array  # (n_in, n_units): > 0 excitatory, < 0 inhibitory, 0 no connection
    threshold: Array  # (n_units,): unit j fires once its input reaches threshold[j]


def mcculloch_pitts(weights, threshold) -> McCullochPitts:
    """Build a checked layer of units.

    Args:
        weights: ``(n_in,)`` for one unit or ``(n_in, n_units)``; the sign of each
            entry makes the connection excitatory (> 0) or inhibitory (< 0).
        threshold: a number for one unit, or ``(n_units,)``.

    Examples:
        >>> and_unit = mcculloch_pitts([1, 1], 2)
        >>> fire(and_unit, [[1, 1], [1, 0]])   # [[1], [0]]
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[:, None]
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(
            f"weights must have shape (n_in,) or (n_in, n_units), got shape {np.shape(weights)}"
        )
    theta = np.asarray(threshold, dtype=np.float64).reshape(-1) if np.ndim(threshold) <= 1 else None
    if theta is None or theta.shape != (w.shape[1],):
        raise ValueError(
            f"threshold must be a number or have shape (n_units,) = ({w.shape[1]},), got shape {np.shape(threshold)}"
        )
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(theta))):
        raise ValueError("weights and threshold must be finite")
    dtype = float_dtype()
    return McCullochPitts(jnp.asarray(w, dtype), jnp.asarray(theta, dtype))


def fire(layer: McCullochPitts, x, *, inhibition: str = "weighted") -> Array:
    """Outputs of a layer of units on binary inputs.

    Args:
        layer: from :func:`mcculloch_pitts` or a gate constructor.
        x: binary inputs, ``(batch, n_in)``, every entry 0 or 1.
        inhibition: ``"weighted"`` (the slide) or ``"absolute"`` (1943 veto); see the module doc.
    Returns:
        ``(batch, n_units)`` int32 of 0/1.
    """
    _check_reading(inhibition)
    _check_layer(layer, "layer")
    x = check_inputs(x, "x", binary=True)
    n_in = layer.weights.shape[0]
    if x.shape[1] != n_in:
        raise ValueError(
            f"x must have shape (batch, {n_in}) for a layer with {n_in} inputs, got shape {x.shape}"
        )
    return _fire(layer, x, inhibition)


def fire_network(layers: Sequence[McCullochPitts], x, *, inhibition: str = "weighted") -> Array:
    """Outputs of a feedforward network of units, layer after layer.

    Args:
        layers: one :class:`McCullochPitts` per layer; layer ``l + 1`` has as many
            inputs as layer ``l`` has units.
        x: binary inputs, ``(batch, n_in)``.
        inhibition: the reading used by every unit.
    Returns:
        ``(batch, n_units of the last layer)`` int32 of 0/1.
    """
    _check_reading(inhibition)
    layers = _as_layers(layers)
    x = check_inputs(x, "x", binary=True)
    width = x.shape[1]
    for l, layer in enumerate(layers):
        if layer.weights.shape[0] != width:
            raise ValueError(
                f"layers[{l}] has {layer.weights.shape[0]} inputs but receives {width} "
                f"({'x' if l == 0 else f'layers[{l - 1}]'} has {width} {'columns' if l == 0 else 'units'})"
            )
        width = layer.weights.shape[1]
    a = x
    for layer in layers:
        a = _fire(layer, a, inhibition).astype(x.dtype)
    return a.astype(jnp.int32)


def all_binary_inputs(n_in: int) -> np.ndarray:
    """Every binary input vector in counting order, ``x_1`` the most significant: ``(2**n_in, n_in)`` int32."""
    n_in = check_int("n_in", n_in, 1, 16)
    return np.array(list(itertools.product((0, 1), repeat=n_in)), dtype=np.int32)


def truth_table(layers: McCullochPitts | Sequence[McCullochPitts], *, inhibition: str = "weighted"):
    """Evaluate a unit, layer or network on all ``2**n_in`` binary inputs.

    Returns:
        ``(inputs, outputs)``: ``(2**n_in, n_in)`` and ``(2**n_in, n_out)`` numpy int32.
    """
    layers = _as_layers(layers)
    inputs = all_binary_inputs(layers[0].weights.shape[0])
    return inputs, np.asarray(fire_network(layers, inputs, inhibition=inhibition))


# --- the logic gates as single units ------------------------------------------------


def and_gate(n_in: int = 2) -> McCullochPitts:
    """``x_1 ∧ … ∧ x_n``: all excitatory, threshold ``n``. Same in both readings."""
    n_in = _gate_arity(n_in)
    return mcculloch_pitts(np.ones(n_in), n_in)


def or_gate(n_in: int = 2) -> McCullochPitts:
    """``x_1 ∨ … ∨ x_n``: all excitatory, threshold 1. Same in both readings."""
    n_in = _gate_arity(n_in)
    return mcculloch_pitts(np.ones(n_in), 1)


def not_gate() -> McCullochPitts:
    """``¬x``: one inhibitory input, threshold 0 (the unit fires unless inhibited). Same in both readings."""
    return mcculloch_pitts([-1], 0)


def nand_gate(n_in: int = 2) -> McCullochPitts:
    """``¬(x_1 ∧ … ∧ x_n)`` in the **weighted** reading: weights −1, threshold ``−(n − 1)``.

    ``−Σ x_i ≥ −(n − 1)`` holds unless every input is 1. In the absolute reading this
    unit is NOR (any active input vetoes) and no single unit computes NAND (module
    doc); use ``[and_gate(n), not_gate()]`` there.
    """
    n_in = _gate_arity(n_in)
    return mcculloch_pitts(-np.ones(n_in), -(n_in - 1))


def xor_network() -> tuple[McCullochPitts, McCullochPitts]:
    """``x_1 ⊕ x_2 = (x_1 ∧ ¬x_2) ∨ (¬x_1 ∧ x_2)`` as two layers of units; correct in both readings.

    Hidden unit 1 has ``x_1`` excitatory and ``x_2`` inhibitory, threshold 1, so it
    fires only on ``(1, 0)`` (weighted: ``x_1 − x_2 ≥ 1``; absolute: ``x_2`` vetoes);
    hidden unit 2 is its mirror image; the output unit is OR.
    """
    hidden = mcculloch_pitts([[1, -1], [-1, 1]], [1, 1])
    return hidden, or_gate(2)


def absolute_to_weighted(layer: McCullochPitts) -> McCullochPitts:
    """The weighted-reading layer that computes what ``layer`` computes in the absolute reading.

    Each inhibitory weight of unit ``j`` becomes ``min(w_ij, θ_j − P_j − 1)`` with
    ``P_j = Σ_{w_ij > 0} w_ij`` the largest possible excitation: one active
    inhibitory input then keeps the sum at most ``θ_j − 1 < θ_j``, a veto. (When
    ``θ_j > P_j`` the unit never fires in either reading and nothing changes.)
    """
    _check_layer(layer, "layer")
    w, theta = layer
    excitation_max = jnp.sum(jnp.maximum(w, 0), axis=0)  # P_j, (n_units,)
    veto = jnp.minimum(w, (theta - excitation_max - 1)[None, :])
    return McCullochPitts(jnp.where(w < 0, veto, w), theta)


def find_unit(
    outputs,
    *,
    inhibition: str = "weighted",
    weight_values: Sequence[float] = (0, 1, -1, 2, -2),
    threshold_values: Sequence[float] = (0, 1, -1, 2, -2, 3, -3, 4, -4),
) -> McCullochPitts | None:
    """Search a grid of integer weights and thresholds for one unit with a given truth table.

    An exhaustive search of the grid (not a proof beyond it; for XOR see
    :func:`functional_nn.neurons.xor_certificate`), used to list which Boolean
    functions one unit computes in each reading.

    Args:
        outputs: ``(2**n_in,)`` 0/1, the outputs in :func:`all_binary_inputs` order.
        inhibition: the reading.
        weight_values, threshold_values: the grid, tried in the order given (by
            default small magnitudes first, so the unit found is a simplest one).
    Returns:
        The first unit found, or ``None``.
    """
    _check_reading(inhibition)
    target = np.asarray(outputs)
    n_rows = target.shape[0] if target.ndim == 1 else 0
    n_in = int(np.log2(n_rows)) if n_rows >= 2 else 0
    if target.ndim != 1 or n_rows < 2 or 2**n_in != n_rows:
        raise ValueError(
            f"outputs must have shape (2**n_in,) with n_in >= 1, got shape {target.shape}"
        )
    if not np.all((target == 0) | (target == 1)):
        raise ValueError("outputs must be binary (every entry 0 or 1)")
    x = all_binary_inputs(n_in).astype(np.float64)
    weights = np.array(
        list(itertools.product(weight_values, repeat=n_in)), dtype=np.float64
    )  # (W, n_in)
    thresholds = np.asarray(threshold_values, dtype=np.float64)  # (T,)
    if inhibition == "weighted":
        drive = weights @ x.T  # (W, 2**n)
        vetoed = np.zeros_like(drive, dtype=bool)
    else:
        drive = np.maximum(weights, 0) @ x.T
        vetoed = ((weights < 0).astype(np.float64) @ x.T) > 0
    fires = (drive[:, None, :] >= thresholds[None, :, None]) & ~vetoed[:, None, :]  # (W, T, 2**n)
    match = np.all(fires == target.astype(bool)[None, None, :], axis=-1)
    if not match.any():
        return None
    i, j = np.unravel_index(np.argmax(match), match.shape)
    return mcculloch_pitts(weights[i], thresholds[j])


# --- internals -----------------------------------------------------------------------


def _fire(layer: McCullochPitts, x: Array, inhibition: str) -> Array:
    w, theta = layer
    if inhibition == "weighted":
        return (x @ w >= theta).astype(jnp.int32)
    excitation = x @ jnp.maximum(w, 0)
    vetoed = x @ (w < 0).astype(x.dtype) > 0
    return ((excitation >= theta) & ~vetoed).astype(jnp.int32)


def _check_reading(inhibition: str) -> None:
    if inhibition not in INHIBITION_READINGS:
        raise ValueError(f"inhibition must be one of {INHIBITION_READINGS}, got {inhibition!r}")


def _check_layer(layer, name: str) -> None:
    if not isinstance(layer, McCullochPitts):
        raise TypeError(
            f"{name} must be a McCullochPitts layer (see mcculloch_pitts()), got {type(layer).__name__}"
        )
    w, theta = layer
    if np.ndim(w) != 2 or np.shape(theta) != (np.shape(w)[1],):
        raise ValueError(
            f"{name} must have weights (n_in, n_units) and threshold (n_units,), "
            f"got shapes {np.shape(w)} and {np.shape(theta)}"
        )


def _as_layers(layers) -> tuple[McCullochPitts, ...]:
    if isinstance(layers, McCullochPitts):
        layers = (layers,)
    if not isinstance(layers, (tuple, list)) or len(layers) == 0:
        raise TypeError(
            f"layers must be a McCullochPitts layer or a non-empty sequence of them, got {layers!r}"
        )
    for l, layer in enumerate(layers):
        _check_layer(layer, f"layers[{l}]")
    return tuple(layers)


def _gate_arity(n_in) -> int:
    return check_int("n_in", n_in, 1)
