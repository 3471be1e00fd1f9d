"""Numerics at the extremes (issue 8, group 1), for both gradient engines.

Activations at ±1000 and ±1e9 reach their exact limits with finite derivatives;
binary cross-entropy from logits of ±1e9 gives the exact large loss and the
gradient σ(z) − t; infinite logits give the documented value (loss 0 or +inf,
finite gradient), never NaN; a −inf logit on a zero-label class is harmless;
float16 / bfloat16 keep their dtype and stay finite where float32 is.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn import activations, losses

METHODS = ("manual", "autodiff")
BIG = np.array([-1e9, -1000.0, 1000.0, 1e9], np.float32)

# name -> exact values at BIG and exact derivatives there
LIMITS = {
    "sigmoid": ([0, 0, 1, 1], [0, 0, 0, 0]),
    "tanh": ([-1, -1, 1, 1], [0, 0, 0, 0]),
    "relu": ([0, 0, 1000, 1e9], [0, 0, 1, 1]),
    "leaky_relu": ([-1e7, -10, 1000, 1e9], [0.01, 0.01, 1, 1]),
    "linear": ([-1e9, -1000, 1000, 1e9], [1, 1, 1, 1]),
    "threshold": ([0, 0, 1, 1], [0, 0, 0, 0]),
}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_activation_limits_and_derivatives_at_large_inputs(name):
    act = fnn.get_activation(name)
    x = jnp.asarray(BIG)
    value, deriv = LIMITS[name]
    np.testing.assert_array_equal(act.fn(x), np.asarray(value, np.float32))
    hand = act.derivative(x)
    auto = jax.vmap(jax.grad(act.fn))(x)
    assert np.all(np.isfinite(hand)) and np.all(np.isfinite(auto))
    np.testing.assert_allclose(hand, np.asarray(deriv, np.float32), rtol=1e-6)
    np.testing.assert_allclose(auto, np.asarray(deriv, np.float32), rtol=1e-6)


def test_activations_at_infinity_are_exact_limits():
    x = jnp.array([-jnp.inf, jnp.inf])
    np.testing.assert_array_equal(activations.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(activations.tanh(x), [-1.0, 1.0])
    np.testing.assert_array_equal(activations.sigmoid_derivative(x), [0.0, 0.0])
    np.testing.assert_array_equal(activations.tanh_derivative(x), [0.0, 0.0])


def test_softmax_large_logits_is_exact_one_hot_with_finite_jacobian():
    z = jnp.array([[1e9, 0.0, -1e9], [1000.0, -1000.0, 999.0]])
    s = activations.softmax(z)
    np.testing.assert_array_equal(s[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(
        s[1], [1 / (1 + np.exp(-1)), 0, np.exp(-1) / (1 + np.exp(-1))], rtol=1e-6
    )
    assert np.all(np.isfinite(activations.softmax_jacobian(s)))
    assert np.all(np.isfinite(jax.jacobian(lambda v: activations.softmax(v))(z[1])))


def test_softmax_at_infinite_logits_is_the_limit_and_the_network_output_too():
    z = jnp.array(
        [[jnp.inf, 0.0, -jnp.inf], [jnp.inf, jnp.inf, 5.0], [-jnp.inf, -jnp.inf, -jnp.inf]]
    )
    want = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(activations.softmax(z), want, rtol=1e-7)
    jac = jax.vmap(jax.jacobian(activations.softmax))(z)
    np.testing.assert_array_equal(jac, np.zeros_like(jac))  # saturated: the limit's derivative
    assert np.isnan(activations.softmax(jnp.array([jnp.inf, jnp.nan, 0.0]))).all()  # NaN stays
    # the network's prediction: logits of ±1e30·1e30 overflow to ±inf, the output is one-hot
    net = fnn.MLP((1, 2), output_activation="softmax")
    params = (fnn.Dense(jnp.array([[1e30, -1e30]]), jnp.zeros(2)),)
    out = net.apply(params, jnp.array([[1e30], [-1e30], [0.0]]))
    np.testing.assert_array_equal(out, [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])


def test_sigmoid_derivative_is_exactly_symmetric():
    x = jnp.concatenate([jnp.linspace(0.0, 120.0, 2001), jnp.array([1000.0, 1e9])])
    np.testing.assert_array_equal(
        activations.sigmoid_derivative(x), activations.sigmoid_derivative(-x)
    )
    # non-zero wherever representable: σ'(30) ≈ 9.4e-14 is far above float32's tiny
    assert activations.sigmoid_derivative(jnp.array(30.0)) > 0


def _one_unit(z_bias: float):
    """A 1→1 sigmoid net whose output pre-activation is ``z = 1·x + b`` with ``x = 0``."""
    net = fnn.MLP((1, 1), output_activation="sigmoid")
    params = (fnn.Dense(jnp.ones((1, 1)), jnp.array([z_bias], jnp.float32)),)
    return net, params, jnp.zeros((1, 1))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("z", [1e9, -1e9])
@pytest.mark.parametrize("t", [0.0, 1.0])
def test_bce_from_huge_logits_is_exact(method, z, t):
    net, params, x = _one_unit(z)
    f = fnn.value_and_grad(net, "binary_cross_entropy", method=method)
    J, grads = f(params, x, jnp.array([[t]]))
    wrong_side = (z > 0) != (t > 0)
    assert float(J) == (abs(z) if wrong_side else 0.0)  # −ln σ(∓1e9) = 1e9 exactly in float32
    expected = (1.0 if z > 0 else 0.0) - t  # σ(z) − t
    assert float(grads[0].b[0]) == expected
    assert float(grads[0].w[0, 0]) == 0.0  # x = 0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("z", [np.inf, -np.inf])
@pytest.mark.parametrize("t", [0.0, 0.25, 1.0])
def test_bce_at_infinite_logits_is_documented_never_nan(method, z, t):
    net, params, x = _one_unit(z)
    J, grads = fnn.value_and_grad(net, "binary_cross_entropy", method=method)(
        params, x, jnp.array([[t]])
    )
    target_side = 1.0 if z > 0 else 0.0
    assert float(J) == (0.0 if t == target_side else np.inf)
    assert float(grads[0].b[0]) == target_side - t  # σ(±inf) − t, finite
    assert np.all(np.isfinite(grads[0].w))


def test_bce_loss_function_at_infinite_logits():
    o = jnp.array([[jnp.inf, -jnp.inf, jnp.inf, -jnp.inf]])
    y = jnp.array([[1.0, 0.0, 0.0, 1.0]])
    assert float(losses.binary_cross_entropy(o[:, :2], y[:, :2])) == 0.0
    assert float(losses.binary_cross_entropy(o, y)) == np.inf
    g = jax.grad(losses.binary_cross_entropy)(o, y)
    np.testing.assert_array_equal(g, [[0.0, 0.0, 1.0, -1.0]])


@pytest.mark.parametrize("method", METHODS)
def test_cce_minus_inf_logit_on_zero_label_class(method):
    net = fnn.MLP((3, 3), output_activation="softmax")
    params = (fnn.Dense(jnp.eye(3), jnp.array([0.0, 0.0, -jnp.inf])),)
    x = jnp.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    J, grads = fnn.value_and_grad(net, "categorical_cross_entropy", method=method)(
        params, x, jnp.array([0, 1])
    )
    assert np.isfinite(float(J))
    # the masked class is out of the softmax: the loss is that of the two remaining logits
    two = jnp.array([[1.0, 2.0], [0.5, -1.0]])
    expected = -jnp.mean(jnp.array([jax.nn.log_softmax(two[0])[0], jax.nn.log_softmax(two[1])[1]]))
    np.testing.assert_allclose(float(J), float(expected), rtol=1e-6)
    for leaf in jax.tree.leaves(grads):
        assert np.all(np.isfinite(leaf))
    np.testing.assert_array_equal(grads[0].b[2], 0.0)  # a class with probability 0 gets no gradient


def test_cce_minus_inf_logit_on_labelled_class_is_inf_with_finite_gradient():
    o = jnp.array([[-jnp.inf, 0.0, 1.0]])
    y = jnp.array([[1.0, 0.0, 0.0]])
    assert float(losses.categorical_cross_entropy(o, y)) == np.inf
    g = jax.grad(losses.categorical_cross_entropy)(o, y)
    np.testing.assert_allclose(g, activations.softmax(o) - y, rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"])
def test_low_precision_activations_keep_dtype_and_stay_finite(dtype, name):
    act = fnn.get_activation(name)
    x32 = jnp.array([[-1000.0, -10.0, -0.5, 0.0, 0.5, 10.0, 1000.0]])
    x = x32.astype(dtype)
    out, ref = act.fn(x), act.fn(x32)
    assert out.dtype == dtype
    assert np.all(np.isfinite(np.asarray(out, np.float32))[np.isfinite(ref)])
    if act.derivative is not None:
        d = act.derivative(x)
        assert d.dtype == dtype
        assert np.all(np.isfinite(np.asarray(d, np.float32)))


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "loss,output",
    [
        ("mse", "tanh"),
        ("binary_cross_entropy", "sigmoid"),
        ("categorical_cross_entropy", "softmax"),
    ],
)
def test_low_precision_value_and_grad_keeps_dtype_and_stays_finite(
    key, dtype, method, loss, output
):
    net = fnn.MLP((3, 4, 2), activation="tanh", output_activation=output)
    params32 = net.init(key)
    x32 = jax.random.normal(jax.random.fold_in(key, 1), (5, 3)) * 30  # saturates tanh/sigmoid
    y = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    J32, g32 = fnn.value_and_grad(net, loss, method=method)(params32, x32, y)
    params = jax.tree.map(lambda a: a.astype(dtype), params32)
    J, grads = fnn.value_and_grad(net, loss, method=method)(
        params, x32.astype(dtype), y.astype(dtype)
    )
    assert J.dtype == dtype
    assert np.isfinite(float(J32)) and np.isfinite(float(J))
    for leaf, ref in zip(jax.tree.leaves(grads), jax.tree.leaves(g32)):
        assert leaf.dtype == dtype
        assert np.all(np.isfinite(np.asarray(leaf, np.float32))[np.isfinite(np.asarray(ref))])
