"""MLP: construction, initializers, forward trace, boundary errors."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn.network import INIT_NAMES


def test_shapes_and_trace(key):
    net = fnn.MLP((3, 5, 4, 2), activation="tanh", output_activation="softmax")
    params = net.init(key)
    assert [(l.w.shape, l.b.shape) for l in params] == [
        ((3, 5), (5,)),
        ((5, 4), (4,)),
        ((4, 2), (2,)),
    ]
    x = jax.random.normal(key, (7, 3))
    trace = net.forward(params, x)
    assert [o.shape for o in trace.pre_activations] == [(7, 5), (7, 4), (7, 2)]
    assert trace.activations[0] is x
    np.testing.assert_allclose(
        trace.activations[1], jnp.tanh(x @ params[0].w + params[0].b), rtol=1e-6
    )
    np.testing.assert_array_equal(net.apply(params, x), trace.activations[-1])
    np.testing.assert_allclose(jnp.sum(net.apply(params, x), axis=1), 1.0, rtol=1e-6)


def test_network_is_static_under_jit(key):
    net = fnn.MLP([2, 3, 1])
    assert net == fnn.MLP((2, 3, 1)) and hash(net) == hash(fnn.MLP((2, 3, 1)))
    params = net.init(key)
    x = jnp.ones((4, 2))
    f = jax.jit(lambda n, p, x: n.apply(p, x), static_argnums=0)
    np.testing.assert_allclose(f(net, params, x), net.apply(params, x), rtol=1e-6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.layer_sizes = (1, 1)


def test_per_layer_activations():
    net = fnn.MLP((2, 3, 3, 1), activation=("relu", "tanh"), output_activation="linear")
    assert net.activation_names == ("relu", "tanh", "linear")
    with pytest.raises(ValueError, match="activation has 1 names for 2 hidden layers"):
        fnn.MLP((2, 3, 3, 1), activation=("relu",))


@pytest.mark.parametrize("name", INIT_NAMES)
def test_initializer_variance(name, key):
    n_in, n_out = 400, 300
    w = fnn.MLP((n_in, n_out), initializer=name).init(key)[0].w
    expected = {
        "glorot": 2 / (n_in + n_out),
        "xavier": 2 / (n_in + n_out),
        "he": 2 / n_in,
        "lecun": 1 / n_in,
        "normal": 0.01**2,
    }[name.split("_")[0]]
    assert float(jnp.var(w)) == pytest.approx(expected, rel=0.03)
    assert abs(float(jnp.mean(w))) < 0.01 * np.sqrt(expected) * 10


def test_init_scale_and_traced_scale(key):
    net = fnn.MLP((2, 8, 1), initializer="normal", init_scale=0.5)
    w = net.init(key)[0].w
    np.testing.assert_allclose(net.init(key, scale=3.0)[0].w, 3 * w, rtol=1e-6)
    scaled = jax.vmap(lambda s: net.init(key, scale=s)[0].w)(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(scaled[1], 2 * w, rtol=1e-6)


def test_masks_zero_hidden_units(key):
    net = fnn.MLP((2, 4, 1), activation="sigmoid")
    params = net.init(key)
    mask = (jnp.array([1.0, 1.0, 0.0, 0.0]),)
    trace = net.forward(params, jnp.ones((3, 2)), masks=mask)
    np.testing.assert_array_equal(trace.activations[1][:, 2:], 0.0)


@pytest.mark.parametrize(
    "sizes,match",
    [
        ((3,), "at least two"),
        ((3, 0, 1), "at least two positive"),
        ("3,1", "sequence of ints"),
        ((2, 1.5), "positive ints"),
    ],
)
def test_bad_layer_sizes(sizes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fnn.MLP(sizes)


def test_bad_names_list_known_ones():
    with pytest.raises(ValueError, match="known activations"):
        fnn.MLP((2, 1), output_activation="gelu")
    with pytest.raises(ValueError, match="known initializers: glorot_uniform"):
        fnn.MLP((2, 1), initializer="orthogonal")


def test_check_params_and_inputs_name_the_leaf(key):
    net = fnn.MLP((3, 4, 2))
    params = net.init(key)
    wrong = fnn.MLP((3, 5, 2)).init(key)
    with pytest.raises(ValueError, match=r"params\[0\].w has shape \(3, 5\), expected \(3, 4\)"):
        net.check_params(wrong)
    with pytest.raises(ValueError, match="tuple of 2 layers"):
        net.check_params(params[:1])
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 3\), got \(4,\)"):
        net.check_inputs(jnp.ones(4))


def test_params_that_pass_check_params_run_in_forward(key):
    net = fnn.MLP((3, 4, 2))
    params = net.init(key)
    x = jnp.ones((5, 3))
    accepted = {
        "tuple of Dense": params,
        "list of Dense": list(params),
        "numpy leaves": tuple(fnn.Dense(np.asarray(l.w), np.asarray(l.b)) for l in params),
        "float64 numpy": tuple(
            fnn.Dense(np.asarray(l.w, np.float64), np.asarray(l.b)) for l in params
        ),
    }
    for name, p in accepted.items():
        net.check_params(p)
        assert net.apply(p, x).shape == (5, 2), name
    # forward cannot take these: each is refused by check_params with the layer named
    w, b = params[1]
    refused = {
        "dict layer": ({"w": w, "b": b}, r"params\[1\] must be a Dense\(w, b\) layer \(convert"),
        "plain tuple": ((w, b), r"params\[1\] must be a Dense\(w, b\) layer, got tuple"),
        "list leaf": (
            fnn.Dense(np.asarray(w).tolist(), b),
            r"params\[1\]\.w must be a jax or numpy",
        ),
        "string leaf": (fnn.Dense(np.asarray(w).astype(str), b), r"params\[1\]\.w must hold real"),
    }
    for _name, (layer, match) in refused.items():
        bad = (params[0], layer)
        with pytest.raises(Exception):  # noqa: B017 (forward fails in its own way)
            net.apply(bad, x)
        with pytest.raises(TypeError, match=match):
            net.check_params(bad)


def test_threshold_network_runs_but_refuses_training(key):
    net = fnn.MLP((2, 2, 1), activation="threshold", output_activation="threshold")
    params = net.init(key)
    assert set(np.unique(net.apply(params, jnp.ones((3, 2))))) <= {0.0, 1.0}
    with pytest.raises(
        ValueError, match="cannot train through layer 1: its 'threshold' activation"
    ):
        fnn.value_and_grad(net, "mse")


def test_describe_round_trip():
    net = fnn.MLP(
        (2, 3, 3, 1), activation=("relu", "tanh"), output_activation="sigmoid", negative_slope=0.2
    )
    assert fnn.MLP(**net.describe()) == net
