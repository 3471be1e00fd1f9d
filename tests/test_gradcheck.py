"""compare_gradients: verdicts, kinks, sampling of large leaves, the printed table."""

import jax
import jax.numpy as jnp
import pytest

import functional_nn as fnn
from functional_nn import backprop


def test_good_report_prints_a_table(key):
    net = fnn.MLP((3, 4, 2), activation="tanh", output_activation="softmax")
    params = net.init(key)
    x = jax.random.normal(key, (5, 3))
    report = fnn.compare_gradients(
        net, "categorical_cross_entropy", params, x, jnp.array([0, 1, 1, 0, 1])
    )
    assert report.ok and report.max_rel_autodiff < 1e-12 and report.max_rel_fd < 1e-7
    text = str(report)
    assert "params[0].w" in text and "δ^2" in text and text.endswith("finite differences")
    assert [leaf.name for leaf in report.leaves] == [
        "params[0].w",
        "params[0].b",
        "params[1].w",
        "params[1].b",
        "delta[0]",
        "delta[1]",
    ]
    assert fnn.assert_gradients_match(
        net, "categorical_cross_entropy", params, x, jnp.array([0, 1, 1, 0, 1])
    ).ok


def test_kink_crossing_is_flagged_not_failed(key):
    # One hidden ReLU unit sits 1e-9 from its kink for the first example.
    net = fnn.MLP((1, 1, 1), activation="relu", output_activation="linear")
    params = (
        fnn.Dense(jnp.array([[1.0]]), jnp.array([1e-9])),
        fnn.Dense(jnp.array([[2.0]]), jnp.array([0.0])),
    )
    x = jnp.array([[0.0], [1.0]])
    y = jnp.array([[1.0], [0.0]])
    report = fnn.compare_gradients(net, "mse", params, x, y)
    by_name = {leaf.name: leaf for leaf in report.leaves}
    assert by_name["params[0].b"].kinks == 1 and by_name["params[0].w"].kinks == 0
    assert report.ok, str(report)


def test_large_leaves_are_sampled(key):
    net = fnn.MLP((20, 30, 1), activation="sigmoid", output_activation="linear")
    params = net.init(key)
    x = jax.random.normal(key, (4, 20))
    report = fnn.compare_gradients(net, "mse", params, x, jnp.zeros((4, 1)), max_fd_coords=50)
    w1 = report.leaves[0]
    assert w1.shape == (20, 30) and 49 <= w1.fd_coords <= 50
    assert report.leaves[1].fd_coords == 30  # small leaves are exhaustive
    assert report.ok


def test_runs_in_float64_whatever_the_callers_dtype(key):
    net = fnn.MLP((2, 3, 1), activation="sigmoid", output_activation="sigmoid")
    params = net.init(key, dtype=jnp.float32)
    x = jax.random.normal(key, (4, 2), jnp.float32)
    report = fnn.compare_gradients(net, "binary_cross_entropy", params, x, jnp.ones((4, 1)))
    assert "float64" in report.title
    # float32 arithmetic could not reach these agreements.
    assert report.max_rel_autodiff < 1e-13 and report.max_rel_fd < 1e-9
    assert jnp.zeros(()).dtype == jnp.float32  # the x64 context did not leak


def test_a_scaled_gradient_is_named(key):
    net = fnn.MLP((2, 3, 2), activation="tanh", output_activation="linear")
    params = net.init(key)
    x = jax.random.normal(key, (3, 2))

    def off_by_factor(*args):
        result = backprop.backward(*args)
        grads = list(result.grads)
        grads[1] = grads[1]._replace(b=grads[1].b * 2)
        return result._replace(grads=tuple(grads))

    report = fnn.compare_gradients(
        net, "mse", params, x, jnp.zeros((3, 2)), backward_fn=off_by_factor
    )
    assert [leaf.name for leaf in report.failures()] == ["params[1].b"]
    assert "MISMATCH: params[1].b" in str(report)


def test_bad_arguments(key):
    net = fnn.MLP((2, 1))
    with pytest.raises(ValueError, match="max_fd_coords must be >= 1, got 0"):
        fnn.compare_gradients(
            net, "mse", net.init(key), jnp.ones((1, 2)), jnp.ones((1, 1)), max_fd_coords=0
        )
    with pytest.raises(ValueError, match=r"targets y of shape \(1,\)"):
        fnn.compare_gradients(net, "mse", net.init(key), jnp.ones((1, 2)), jnp.ones(1))
