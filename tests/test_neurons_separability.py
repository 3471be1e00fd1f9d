"""Linear separability and XOR (functional_nn.neurons.separability, functional_nn.neurons.xor).

Every certificate is checked in exact rational arithmetic; the perceptron is the
independent witness (it converges exactly on the separable labellings).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functional_nn.neurons import (
    InseparabilityCertificate,
    SeparatingHyperplane,
    all_binary_inputs,
    certificate_combination,
    linearly_separable,
    margin,
    separability_certificate,
    separable_data,
    train_perceptron,
    verify_certificate,
    xor_certificate,
    xor_data,
    xor_threshold_network,
)


def test_xor_certificate_is_exact_and_nonnegative():
    x, t = xor_data()
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(t, [0, 1, 1, 0])
    cert = xor_certificate()
    assert all(isinstance(v, Fraction) and v > 0 for v in cert.multipliers)
    assert certificate_combination(cert.multipliers, x, t) == (0, 0, 0)
    assert verify_certificate(cert, x, t)


def test_certificate_fails_on_wrong_multipliers_or_labels():
    x, t = xor_data()
    assert not verify_certificate(InseparabilityCertificate((1, 1, 1, 2)), x, t)
    assert not verify_certificate(InseparabilityCertificate((0, 0, 0, 0)), x, t)
    assert not verify_certificate(
        InseparabilityCertificate((-1, -1, -1, -1)), x, t
    )  # λ ≥ 0 is required
    assert not verify_certificate(xor_certificate(), x, np.array([0, 0, 0, 1]))  # AND is separable


def test_exactly_xor_and_xnor_are_inseparable_among_two_input_functions():
    x = all_binary_inputs(2)
    for bits in itertools.product((0, 1), repeat=4):
        t = np.array(bits)
        cert = separability_certificate(x, t)
        assert verify_certificate(cert, x, t)
        separable = isinstance(cert, SeparatingHyperplane)
        assert separable == (bits not in {(0, 1, 1, 0), (1, 0, 0, 1)})
        # The perceptron is the witness: it converges exactly on the separable ones.
        assert bool(train_perceptron(x, t, max_epochs=50).converged) == separable


def test_found_separator_has_small_exact_coefficients():
    cert = separability_certificate(all_binary_inputs(2), np.array([0, 0, 0, 1]))
    assert isinstance(cert, SeparatingHyperplane)
    assert all(isinstance(v, Fraction) and v.denominator <= 10 for v in cert.w)
    assert margin([float(v) for v in cert.w], all_binary_inputs(2), [0, 0, 0, 1]) > 0


def test_one_dimensional_alternating_labels_are_inseparable():
    x = np.array([[-1.0], [0.1], [0.7], [2.5]])
    t = np.array([0, 1, 0, 1])
    cert = separability_certificate(x, t)
    assert isinstance(cert, InseparabilityCertificate)
    assert certificate_combination(cert.multipliers, x, t) == (0, 0)
    assert linearly_separable(x, np.array([0, 0, 1, 1]))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_in=st.sampled_from([2, 3]))
def test_separable_data_is_separable_with_its_margin(seed, n_in):
    data = separable_data(jax.random.key(seed), 30, n_in, margin=0.05)
    assert float(data.margin) >= 0.05 * (1 - 1e-5)
    np.testing.assert_allclose(margin(data.w, data.x, data.t), data.margin, rtol=1e-4)
    cert = separability_certificate(data.x, data.t)
    assert isinstance(cert, SeparatingHyperplane) and verify_certificate(cert, data.x, data.t)
    # Swapping the two classes keeps the data separable (by −w).
    assert linearly_separable(data.x, 1 - np.asarray(data.t))


def test_a_negative_between_two_positives_gives_a_verified_inseparability_certificate():
    data = separable_data(jax.random.key(0), 60, 2, margin=0.05)
    x = np.asarray(data.x, np.float64)  # float32 values: their float64 midpoint is exact
    t = np.asarray(data.t)
    a, b = np.flatnonzero(t == 1)[:2]
    # Any linear unit that outputs 1 at x_a and x_b also outputs 1 at their midpoint.
    x = np.vstack([x, (x[a] + x[b]) / 2])
    t = np.append(t, 0)
    cert = separability_certificate(x, t)
    assert isinstance(cert, InseparabilityCertificate)
    assert verify_certificate(cert, x, t)
    # By hand: x̃_a + x̃_b − 2 x̃_mid = 0, so λ = 1, 1, 2 on a, b, mid (a multiplier 1 on mid fails).
    by_hand = {a: 1, b: 1, 60: 2}
    assert verify_certificate(
        InseparabilityCertificate(tuple(by_hand.get(k, 0) for k in range(61))), x, t
    )
    by_hand[60] = 1
    assert not verify_certificate(
        InseparabilityCertificate(tuple(by_hand.get(k, 0) for k in range(61))), x, t
    )
    assert not bool(train_perceptron(x, t, max_epochs=50).converged)


def test_separability_rejects_bad_input():
    x, t = xor_data()
    with pytest.raises(ValueError, match="t must be binary"):
        separability_certificate(x, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, n_in\)"):
        linearly_separable(np.zeros(4), t)
    with pytest.raises(ValueError, match="multipliers must have 4 entries"):
        certificate_combination((1, 1, 1), x, t)
    with pytest.raises(TypeError, match="SeparatingHyperplane or an InseparabilityCertificate"):
        verify_certificate((1, 1, 1, 1), x, t)
    with pytest.raises(ValueError, match="margin must be finite and > 0"):
        separable_data(jax.random.key(0), 10, 2, margin=0.0)


def test_hand_set_threshold_network_computes_xor():
    x, t = xor_data()
    net, params = xor_threshold_network()
    xf = jnp.asarray(x, jnp.float32)
    np.testing.assert_array_equal(net.apply(params, xf)[:, 0], t)
    hidden = net.forward(params, xf).activations[1]
    np.testing.assert_array_equal(
        hidden, np.stack([x[:, 0] | x[:, 1], x[:, 0] & x[:, 1]], axis=1)
    )  # OR, AND
    with pytest.raises(ValueError, match="cannot train through layer 1"):
        net.check_trainable()
