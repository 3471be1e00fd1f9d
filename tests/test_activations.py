"""Hand derivatives against jax.grad, limits, kink conventions, look-up."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from functional_nn import activations as A
from functional_nn._x64 import float64_mode

ELEMENTWISE = ["linear", "threshold", "sigmoid", "tanh", "relu", "leaky_relu"]


def _points(dtype):
    # Away from the kink at 0 (relu, leaky_relu, threshold).
    return jnp.concatenate([jnp.linspace(-8, -0.05, 41), jnp.linspace(0.05, 8, 41)]).astype(dtype)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hand_derivative_equals_autodiff(name, dtype):
    with float64_mode():
        act = A.get_activation(name, negative_slope=0.2)
        x = _points(dtype)
        auto = jax.vmap(jax.grad(act.fn))(x)
        hand = act.derivative(x)
        assert hand.dtype == x.dtype
        # 1 − σ and 1 − tanh² cancel in either form; both are within a few ulps of 1.
        eps = float(jnp.finfo(x.dtype).eps)
        np.testing.assert_allclose(hand, auto, rtol=10 * eps, atol=4 * eps)


def test_kink_conventions():
    zero = jnp.zeros(())
    assert A.relu_derivative(zero) == 0 == jax.grad(jax.nn.relu)(zero)
    assert (
        A.leaky_relu_derivative(zero, 0.1)
        == 1
        == jax.grad(lambda x: jax.nn.leaky_relu(x, 0.1))(zero)
    )
    assert A.threshold(zero) == 1 and A.threshold(-1e-30 * jnp.ones(())) == 0
    assert A.threshold_derivative(zero) == 0


def test_leaky_relu_sign_against_lecture_form():
    # The lecture writes -a x for x < 0; negative_slope = -a.
    a = -0.01
    x = jnp.array([-3.0, -0.5, 2.0])
    lecture = jnp.where(x > 0, x, -a * x)
    np.testing.assert_array_equal(A.leaky_relu(x, negative_slope=-a), lecture)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_and_tanh_saturate_exactly(dtype):
    with float64_mode():
        x = jnp.array([-1000.0, 1000.0], dtype)
        np.testing.assert_array_equal(A.sigmoid(x), [0.0, 1.0])
        np.testing.assert_array_equal(A.tanh(x), [-1.0, 1.0])
        for d in (A.sigmoid_derivative(x), A.tanh_derivative(x), jax.vmap(jax.grad(A.sigmoid))(x)):
            assert np.all(np.isfinite(d))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_derivative_symmetric_and_nonzero_where_representable(dtype):
    with float64_mode():
        x = jnp.linspace(0, 80 if dtype == "float32" else 700, 2001).astype(dtype)
        d = A.sigmoid_derivative(x)
        np.testing.assert_array_equal(d, A.sigmoid_derivative(-x))
        # σ'(x) ≈ e^{-x} for large x: representable (a normal number) here, so it must not be 0.
        assert np.all(d > 0)
        # The naive σ(1 − σ) is exactly 0 there already: the reason for the σ(|x|)σ(−|x|) form.
        naive = A.sigmoid(x) * (1 - A.sigmoid(x))
        assert np.any(naive == 0)


def test_tanh_is_shifted_sigmoid():
    x = jnp.linspace(-5, 5, 101)
    np.testing.assert_allclose(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_rows_sum_to_one(scale, key):
    z = scale * jax.random.normal(key, (5, 7))
    s = A.softmax(z)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(jnp.sum(s, axis=-1), 1.0, rtol=1e-6)


def test_softmax_jvp_and_jacobian_match_autodiff(key):
    with float64_mode():
        z = jax.random.normal(key, (4, 6), jnp.float64)
        g = jax.random.normal(jax.random.fold_in(key, 1), (4, 6), jnp.float64)
        s = A.softmax(z)
        auto_jac = jax.vmap(jax.jacobian(A.softmax))(z)
        np.testing.assert_allclose(A.softmax_jacobian(s), auto_jac, atol=1e-15)
        _, vjp = jax.vjp(A.softmax, z)
        np.testing.assert_allclose(A.softmax_jvp(s, g), vjp(g)[0], atol=1e-15)


def test_lecture_softmax_example():
    # The slide states [0.51, 0.18, 0.31]; the softmax of its input rounds to this
    # (erratum, see proofs/README.md).
    s = A.softmax(jnp.array([1.60, 0.55, 0.98]))
    np.testing.assert_array_equal(np.round(np.asarray(s, np.float64), 2), [0.53, 0.19, 0.28])


def test_lookup_errors_list_known_names():
    with pytest.raises(ValueError, match="known activations: linear, threshold, sigmoid"):
        A.get_activation("swish")
    with pytest.raises(TypeError, match="activation must be a name"):
        A.get_activation(3)
    assert not A.get_activation("threshold").trainable
    assert A.get_activation("relu").has_kink and not A.get_activation("tanh").has_kink
