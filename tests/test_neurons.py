"""McCulloch–Pitts units, the perceptron rule and Adaline (functional_nn.neurons).

Oracles: Python's own Boolean operators for truth tables, a plain numpy loop of
each learning rule, ``numpy.linalg.lstsq`` for Adaline, Novikoff's bound.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functional_nn as fnn
from functional_nn._x64 import float64_mode
from functional_nn.neurons import (
    INHIBITION_READINGS,
    absolute_to_weighted,
    adaline_classify,
    adaline_loss,
    adaline_output,
    all_binary_inputs,
    and_gate,
    find_unit,
    fire,
    fire_network,
    least_squares,
    margin,
    mcculloch_pitts,
    nand_gate,
    not_gate,
    novikoff_bound,
    or_gate,
    perceptron_output,
    separable_data,
    train_adaline,
    train_perceptron,
    truth_table,
    xor_data,
    xor_network,
)

BOTH = pytest.mark.parametrize("inhibition", INHIBITION_READINGS)
AND_TABLE = np.array([0, 0, 0, 1])
OR_TABLE = np.array([0, 1, 1, 1])
NAND_TABLE = np.array([1, 1, 1, 0])
XOR_TABLE = np.array([0, 1, 1, 0])


def test_exposed_as_fnn_neurons():
    assert fnn.neurons.train_perceptron is train_perceptron


# --- McCulloch–Pitts ------------------------------------------------------------------


def test_all_binary_inputs_counts_in_order():
    np.testing.assert_array_equal(all_binary_inputs(2), [[0, 0], [0, 1], [1, 0], [1, 1]])
    rows = all_binary_inputs(4)
    assert rows.shape == (16, 4) and len({tuple(r) for r in rows}) == 16


@BOTH
@pytest.mark.parametrize("n_in", [1, 2, 3, 4])
def test_and_or_gates_exhaustive(inhibition, n_in):
    inputs, and_out = truth_table(and_gate(n_in), inhibition=inhibition)
    _, or_out = truth_table(or_gate(n_in), inhibition=inhibition)
    np.testing.assert_array_equal(and_out[:, 0], [int(all(r)) for r in inputs])
    np.testing.assert_array_equal(or_out[:, 0], [int(any(r)) for r in inputs])


@BOTH
def test_not_gate_both_readings(inhibition):
    inputs, out = truth_table(not_gate(), inhibition=inhibition)
    np.testing.assert_array_equal(out[:, 0], 1 - inputs[:, 0])


@pytest.mark.parametrize("n_in", [2, 3, 4])
def test_nand_gate_weighted_reading_exhaustive(n_in):
    inputs, out = truth_table(nand_gate(n_in), inhibition="weighted")
    np.testing.assert_array_equal(out[:, 0], [int(not all(r)) for r in inputs])


def test_nand_unit_is_nor_under_absolute_inhibition():
    inputs, out = truth_table(nand_gate(2), inhibition="absolute")
    np.testing.assert_array_equal(out[:, 0], [int(not any(r)) for r in inputs])


def test_nand_in_absolute_reading_is_two_layers():
    _, out = truth_table([and_gate(2), not_gate()], inhibition="absolute")
    np.testing.assert_array_equal(out[:, 0], NAND_TABLE)


@BOTH
def test_xor_network_exhaustive(inhibition):
    inputs, out = truth_table(xor_network(), inhibition=inhibition)
    np.testing.assert_array_equal(out[:, 0], inputs[:, 0] ^ inputs[:, 1])
    hidden = fire(xor_network()[0], inputs, inhibition=inhibition)
    np.testing.assert_array_equal(
        hidden,
        np.stack([inputs[:, 0] & (1 - inputs[:, 1]), (1 - inputs[:, 0]) & inputs[:, 1]], axis=1),
    )


def test_readings_differ_when_inhibition_is_outvoted():
    unit = mcculloch_pitts([2, 2, -1], 3)  # two excitatory inputs outvote one inhibitory one
    x = [[1, 1, 1]]
    assert int(fire(unit, x, inhibition="weighted")[0, 0]) == 1
    assert int(fire(unit, x, inhibition="absolute")[0, 0]) == 0


def _all_two_input_tables():
    return [np.array(bits) for bits in itertools.product((0, 1), repeat=4)]


def test_one_weighted_unit_computes_all_two_input_functions_but_xor_and_xnor():
    missing = [
        tuple(tab)
        for tab in _all_two_input_tables()
        if find_unit(tab, inhibition="weighted") is None
    ]
    assert sorted(missing) == [(0, 1, 1, 0), (1, 0, 0, 1)]


def test_units_found_by_search_compute_their_tables():
    for inhibition in INHIBITION_READINGS:
        for table in _all_two_input_tables():
            unit = find_unit(table, inhibition=inhibition)
            if unit is not None:
                np.testing.assert_array_equal(
                    truth_table(unit, inhibition=inhibition)[1][:, 0], table
                )


def test_absolute_reading_has_no_single_unit_nand_xor_or_xnor():
    for table in (NAND_TABLE, XOR_TABLE, 1 - XOR_TABLE):
        assert (
            find_unit(
                table,
                inhibition="absolute",
                weight_values=range(-3, 4),
                threshold_values=range(-7, 8),
            )
            is None
        )
    for table in (
        AND_TABLE,
        OR_TABLE,
        np.array([1, 0, 0, 0]),
        np.array([0, 0, 1, 0]),
    ):  # ..., NOR, x1 ∧ ¬x2
        assert find_unit(table, inhibition="absolute") is not None


unit_weights = st.lists(st.integers(-3, 3), min_size=1, max_size=4)
small_ints = st.integers(-4, 6)


@settings(max_examples=30, deadline=None)
@given(
    w=st.lists(st.integers(-3, 3), min_size=6, max_size=6), theta=st.tuples(small_ints, small_ints)
)
def test_absolute_unit_is_a_weighted_unit_with_large_negative_weights(w, theta):
    layer = mcculloch_pitts(np.reshape(w, (3, 2)), theta)  # fixed shapes: one compilation
    _, absolute = truth_table(layer, inhibition="absolute")
    _, weighted = truth_table(absolute_to_weighted(layer), inhibition="weighted")
    np.testing.assert_array_equal(absolute, weighted)


@settings(max_examples=30, deadline=None)
@given(weights=st.lists(st.integers(-3, 3), min_size=3, max_size=3), threshold=small_ints)
def test_absolute_unit_is_vetoed_and_monotone(weights, threshold):
    # The two facts behind "no absolute unit computes NAND" (module doc), for any weights.
    w = np.array(weights)
    inputs, out = truth_table(mcculloch_pitts(w, threshold), inhibition="absolute")
    y = {tuple(row): int(v) for row, v in zip(inputs, out[:, 0])}
    for row in inputs:
        if np.any(row[w < 0] == 1):
            assert y[tuple(row)] == 0
        for i in np.flatnonzero((w > 0) & (row == 0)):
            raised = row.copy()
            raised[i] = 1
            assert y[tuple(raised)] >= y[tuple(row)]


@settings(max_examples=40, deadline=None)
@given(weights=unit_weights, threshold=st.integers(-4, 6))
def test_readings_agree_without_active_inhibition(weights, threshold):
    unit = mcculloch_pitts(weights, threshold)
    inputs, weighted = truth_table(unit, inhibition="weighted")
    _, absolute = truth_table(unit, inhibition="absolute")
    quiet = ~np.any(inputs[:, np.array(weights) < 0] == 1, axis=1)
    np.testing.assert_array_equal(weighted[quiet], absolute[quiet])
    # Oracle: the definition, written with Python integers.
    expected = [int(sum(w * xi for w, xi in zip(weights, row)) >= threshold) for row in inputs]
    np.testing.assert_array_equal(weighted[:, 0], expected)


def test_mcculloch_pitts_rejects_bad_input():
    unit = and_gate(2)
    with pytest.raises(ValueError, match="binary"):
        fire(unit, [[0.5, 1.0]])
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        fire(unit, [[1, 0, 1]])
    with pytest.raises(ValueError, match=r"shape \(batch, n_in\)"):
        fire(unit, [1, 0])
    with pytest.raises(ValueError, match="inhibition must be one of"):
        fire(unit, [[1, 0]], inhibition="shunting")
    with pytest.raises(ValueError, match="threshold"):
        mcculloch_pitts([[1, 1], [1, 1]], [1, 2, 3])
    with pytest.raises(TypeError, match="McCullochPitts"):
        fire((np.ones((2, 1)), np.ones(1)), [[1, 0]])
    with pytest.raises(ValueError, match=r"layers\[1\] has 3 inputs but receives 2"):
        fire_network([mcculloch_pitts(np.ones((2, 2)), [1, 1]), and_gate(3)], [[1, 0]])


# --- perceptron -----------------------------------------------------------------------


def _perceptron_oracle(x, t, alpha, epochs, orders=None):
    """Rosenblatt's rule as a plain loop in float64: the independent reference."""
    xa = np.concatenate([np.ones((len(x), 1)), np.asarray(x, np.float64)], axis=1)
    w = np.zeros(xa.shape[1])
    mistakes = []
    for e in range(epochs):
        wrong = 0
        for k in range(len(x)) if orders is None else orders[e]:
            y = float(xa[k] @ w >= 0)
            w = w + alpha * xa[k] * (t[k] - y)
            wrong += int(y != t[k])
        mistakes.append(wrong)
        if wrong == 0:
            break
    return w, mistakes


@pytest.mark.parametrize("table", [AND_TABLE, OR_TABLE, NAND_TABLE, np.array([0, 0, 1, 0])])
def test_perceptron_learns_separable_gates(table):
    x = all_binary_inputs(2)
    r = train_perceptron(x, table, max_epochs=50)
    assert bool(r.converged)
    n = int(r.num_epochs)
    assert int(r.mistakes[n - 1]) == 0 and np.all(np.asarray(r.mistakes[: n - 1]) > 0)
    assert np.all(np.asarray(r.mistakes[n:]) == 0)
    np.testing.assert_array_equal(perceptron_output(r.w, x), table)
    w_ref, mistakes_ref = _perceptron_oracle(x, table, 1.0, 50)
    np.testing.assert_array_equal(np.asarray(r.mistakes[:n]), mistakes_ref)
    np.testing.assert_allclose(r.w, w_ref)


def test_perceptron_never_separates_xor():
    x, t = xor_data()
    for key in (None, jax.random.key(0)):
        r = train_perceptron(x, t, max_epochs=50, key=key)
        assert not bool(r.converged) and int(r.num_epochs) == 50
        assert np.all(np.asarray(r.mistakes) >= 1)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    gamma=st.sampled_from([0.02, 0.05, 0.1, 0.2]),
    shuffle=st.booleans(),
)
def test_perceptron_converges_within_novikoff_bound(seed, gamma, shuffle):
    data = separable_data(jax.random.key(seed), 40, 2, margin=gamma)
    assert float(data.margin) >= gamma * (1 - 1e-5)
    np.testing.assert_allclose(np.linalg.norm(data.w), 1.0, rtol=1e-6)
    bound = novikoff_bound(data.w, data.x, data.t)
    np.testing.assert_allclose(bound, (float(data.radius) / float(data.margin)) ** 2, rtol=1e-4)
    key = jax.random.key(seed + 1) if shuffle else None
    r = train_perceptron(data.x, data.t, max_epochs=500, key=key)
    assert bool(r.converged)
    assert int(r.total_mistakes) <= bound
    np.testing.assert_array_equal(perceptron_output(r.w, data.x), data.t)


def test_perceptron_matches_plain_loop_with_shuffling():
    data = separable_data(jax.random.key(3), 40, 2, margin=0.02)
    key = jax.random.key(7)
    orders = [
        np.asarray(jax.random.permutation(jax.random.fold_in(key, e), 40)) for e in range(500)
    ]
    r = train_perceptron(data.x, data.t, learning_rate=0.5, max_epochs=500, key=key)
    w_ref, mistakes_ref = _perceptron_oracle(
        np.asarray(data.x), np.asarray(data.t), 0.5, 500, orders
    )
    assert int(r.num_epochs) == len(mistakes_ref)
    np.testing.assert_array_equal(np.asarray(r.mistakes[: len(mistakes_ref)]), mistakes_ref)
    np.testing.assert_allclose(r.w, w_ref, rtol=1e-5, atol=1e-5)


def test_perceptron_vmaps_over_data_sets_and_keys():
    keys = jax.random.split(jax.random.key(5), 3)
    data = jax.vmap(lambda k: separable_data(k, 40, 2, margin=0.02))(keys)
    runs = jax.vmap(lambda x, t, k: train_perceptron(x, t, max_epochs=500, key=k))(
        data.x, data.t, keys
    )
    assert runs.total_mistakes.shape == (3,)
    for i in range(3):
        single = train_perceptron(data.x[i], data.t[i], max_epochs=500, key=keys[i])
        np.testing.assert_array_equal(runs.mistakes[i], single.mistakes)
        assert int(runs.num_epochs[i]) == int(single.num_epochs) and bool(runs.converged[i])


def test_learning_rate_does_not_matter_from_zero_weights():
    data = separable_data(jax.random.key(11), 40, 2, margin=0.02)
    base = train_perceptron(data.x, data.t, learning_rate=1.0, max_epochs=500)
    for alpha in (0.25, 8.0):  # powers of two: scaling is exact in floating point
        r = train_perceptron(data.x, data.t, learning_rate=alpha, max_epochs=500)
        np.testing.assert_array_equal(r.mistakes, base.mistakes)
        np.testing.assert_array_equal(r.w, alpha * base.w)


def test_margin_and_bound_refuse_a_non_separator():
    x, t = all_binary_inputs(2), AND_TABLE
    assert margin([-1.5, 1.0, 1.0], x, t) > 0
    assert margin([0.0, 1.0, 1.0], x, t) < 0
    with pytest.raises(ValueError, match="does not separate"):
        novikoff_bound([0.0, 1.0, 1.0], x, t)


def test_perceptron_rejects_bad_input():
    x = all_binary_inputs(2)
    with pytest.raises(ValueError, match="t must be binary"):
        train_perceptron(x, [0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"t must have shape \(batch,\) = \(4,\)"):
        train_perceptron(x, [0, 1, 1])
    with pytest.raises(ValueError, match="learning_rate must be finite and > 0"):
        train_perceptron(x, AND_TABLE, learning_rate=0.0)
    with pytest.raises(ValueError, match="max_epochs must be >= 1, got 0"):
        train_perceptron(x, AND_TABLE, max_epochs=0)
    with pytest.raises(TypeError, match="key must be a jax.random key"):
        train_perceptron(x, AND_TABLE, key=3)
    with pytest.raises(ValueError, match=r"w_init must have shape \(n_in \+ 1,\) = \(3,\)"):
        train_perceptron(x, AND_TABLE, w_init=np.zeros(2))
    with pytest.raises(ValueError, match="x must be finite"):
        train_perceptron(np.full((4, 2), np.nan), AND_TABLE)
    with pytest.raises(ValueError, match="x must be a rectangular array"):
        train_perceptron([[0, 1], [1]], [0, 1])


# --- Adaline --------------------------------------------------------------------------


def _regression_data(seed=0, m=30, noise=0.1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, 3))
    return x, x @ np.array([1.0, -2.0, 0.5]) + 0.3 + noise * rng.normal(size=m)


def _adaline_oracle(x, t, alpha, epochs, batch_size):
    """The Widrow–Hoff rule as a plain loop in data order: the independent reference."""
    xa = np.concatenate([np.ones((len(x), 1)), x], axis=1)
    w = np.zeros(xa.shape[1])
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            xb, tb = xa[start : start + batch_size], t[start : start + batch_size]
            w = w + alpha * xb.T @ (tb - xb @ w) / len(xb)
    return w


@pytest.mark.parametrize("batch_size", [1, 7, None])
def test_adaline_matches_plain_loop(batch_size):
    x, t = _regression_data()
    with float64_mode():
        r = train_adaline(x, t, learning_rate=0.05, num_epochs=5, batch_size=batch_size)
        w_ref = _adaline_oracle(x, t, 0.05, 5, batch_size or len(x))
        np.testing.assert_allclose(r.w, w_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(r.loss[-1], adaline_loss(w_ref, x, t), rtol=1e-12)


def test_adaline_full_batch_converges_to_lstsq():
    x, t = _regression_data()
    w_ls = np.linalg.lstsq(np.c_[np.ones(len(x)), x], t, rcond=None)[0]
    with float64_mode():
        xa = np.c_[np.ones(len(x)), x]
        alpha = 1.0 / np.linalg.eigvalsh(xa.T @ xa / len(x)).max()
        r = train_adaline(x, t, learning_rate=alpha, num_epochs=400, batch_size=None)
        np.testing.assert_allclose(r.w, w_ls, atol=1e-9)
        assert np.all(np.diff(np.asarray(r.loss)) <= 1e-15)  # descent, never up
        np.testing.assert_allclose(r.loss[0], 0.5 * np.mean(t**2))
    np.testing.assert_allclose(least_squares(x, t), w_ls)


def _decaying_rate(k):
    # α_k = c1/(k + c2) with c1 λ_min(X̃ᵀX̃/m) > 1: Σα_k diverges, Σα_k² converges (Robbins–Monro).
    return 4.0 / (k + 80.0)


def test_adaline_online_and_minibatch_reach_lstsq_with_decaying_rate():
    x, t = _regression_data(noise=0.3)
    w_ls = least_squares(x, t)
    with float64_mode():
        online = train_adaline(
            x, t, learning_rate=_decaying_rate, num_epochs=300, batch_size=1, key=jax.random.key(1)
        )
        minibatch = train_adaline(
            x, t, learning_rate=_decaying_rate, num_epochs=300, batch_size=4, key=jax.random.key(4)
        )
        constant = train_adaline(
            x, t, learning_rate=0.05, num_epochs=300, batch_size=1, key=jax.random.key(1)
        )
    online_error = np.abs(np.asarray(online.w) - w_ls).max()
    assert online_error < 5e-4
    assert np.abs(np.asarray(minibatch.w) - w_ls).max() < 5e-3
    # A constant rate leaves LMS jitter around the solution (here ~3e-2); the decaying one removes it.
    assert np.abs(np.asarray(constant.w) - w_ls).max() > 10 * online_error


def test_adaline_online_constant_rate_is_exact_on_noise_free_data():
    x, t = _regression_data(noise=0.0)
    with float64_mode():
        r = train_adaline(
            x, t, learning_rate=0.05, num_epochs=300, batch_size=1, key=jax.random.key(0)
        )
        np.testing.assert_allclose(r.w, [0.3, 1.0, -2.0, 0.5], atol=1e-8)


def test_adaline_thresholded_for_classification():
    x = all_binary_inputs(2)
    w = least_squares(x, AND_TABLE)
    np.testing.assert_allclose(w, [-0.25, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(adaline_output(w, x), [-0.25, 0.25, 0.25, 0.75], atol=1e-6)
    np.testing.assert_array_equal(adaline_classify(w, x), AND_TABLE)
    r = train_adaline(x, AND_TABLE, learning_rate=0.1, num_epochs=200, batch_size=1)
    np.testing.assert_array_equal(adaline_classify(r.w, x), AND_TABLE)
    np.testing.assert_array_equal(
        adaline_classify(2 * w - np.array([1, 0, 0]), x, threshold=0.0), AND_TABLE
    )


def test_adaline_rejects_bad_input():
    x, t = _regression_data()
    with pytest.raises(ValueError, match="batch_size must be at most"):
        train_adaline(x, t, batch_size=31)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        train_adaline(x, t, batch_size=0)
    with pytest.raises(ValueError, match="learning_rate must be finite and > 0"):
        train_adaline(x, t, learning_rate=-0.1)
    with pytest.raises(ValueError, match="t must be finite"):
        train_adaline(x, np.full(30, np.inf))
    with pytest.raises(ValueError, match=r"w must have shape \(n_in \+ 1,\) = \(4,\)"):
        adaline_output(np.zeros(3), x)
    with pytest.raises(ValueError, match="threshold must be finite, got nan"):
        adaline_classify(np.zeros(4), x, threshold=float("nan"))
