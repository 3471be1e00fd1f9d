"""Taylor orders over random architectures (float64 and float32); float32/bfloat16 errors within the derived bound."""

import jax
import jax.numpy as jnp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functional_nn as fnn
from functional_nn import backprop, rounding, taylor
from functional_nn.network import Dense

SMOOTH = ("sigmoid", "tanh", "linear")


def _flip_sign(layer):
    def backward(net, loss, params, x, y, *_):
        res = backprop.backward(net, loss, params, x, y)
        grads = list(res.grads)
        grads[layer] = Dense(-grads[layer].w, grads[layer].b)
        return res._replace(grads=tuple(grads))

    return backward


@settings(max_examples=4, deadline=None, derandomize=True)
@given(
    hidden=st.sampled_from(SMOOTH + ("relu",)),
    width=st.sampled_from((3, 5)),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(("float64", "float32")),
)
def test_taylor_order_two_when_right_one_when_wrong(hidden, width, seed, dtype):
    if dtype == "float32" and hidden == "relu":
        hidden = "tanh"  # in float32 a relu net's nearest kink can sit inside the rounding floor
    net = fnn.MLP((3, width, 2), activation=hidden, output_activation="sigmoid")
    key = jax.random.key(seed)
    params = net.init(key)
    x = jax.random.normal(jax.random.fold_in(key, 1), (4, 3))
    y = jax.random.uniform(jax.random.fold_in(key, 2), (4, 2))
    right = taylor.taylor_test_mlp(net, "binary_cross_entropy", params, x, y, dtype=dtype)
    wrong = taylor.taylor_test_mlp(
        net, "binary_cross_entropy", params, x, y, dtype=dtype, backward_fn=_flip_sign(1)
    )
    for leaf in right.leaves:  # the band, in float32 as in float64
        assert abs(leaf.order - 2) <= 0.2, (str(right), leaf.name)
    assert abs(wrong.leaf("params[1].w").order - 1) <= 0.2, str(wrong)
    assert [l.name for l in wrong.failures()] == ["params[1].w"]


def test_taylor_report_prints_and_draws(tmp_path):
    pytest.importorskip("matplotlib")
    from functional_nn import taylor_plots

    f = lambda p: jnp.sum(jnp.sin(p["w"]))
    report = fnn.taylor_test(f, {"w": jnp.linspace(0, 1, 4)}, grad=lambda p: {"w": jnp.sin(p["w"])})
    assert report.failures() and report.leaf("params['w']").verdict == "wrong"
    assert "MISMATCH: params['w'] (order 1.00)" in str(report)
    taylor_plots.taylor_sweep(report, path=tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000


@settings(max_examples=3, deadline=None, derandomize=True)
@given(
    hidden=st.sampled_from(("sigmoid", "tanh", "relu", "leaky_relu")),
    width=st.sampled_from((4, 16)),
    seed=st.integers(0, 2**16),
)
def test_float32_and_bfloat16_errors_lie_within_the_derived_bound(hidden, width, seed):
    net = fnn.MLP((5, width, 3), activation=hidden, output_activation="softmax")
    key = jax.random.key(seed)
    params = net.init(key)
    x = jax.random.normal(jax.random.fold_in(key, 1), (6, 5))
    y = jax.random.randint(jax.random.fold_in(key, 2), (6,), 0, 3)
    for dtype in ("float32", "bfloat16"):
        report = fnn.check_rounding(net, "categorical_cross_entropy", params, x, y, dtype=dtype)
        assert report.ok, str(report)


def test_a_gradient_perturbed_by_three_bounds_exceeds_it():
    net = fnn.MLP((4, 6, 2), activation="tanh", output_activation="linear")
    key = jax.random.key(4)
    params = net.init(key)
    x, y = jax.random.normal(key, (5, 4)), jnp.zeros((5, 2))
    bound = fnn.gradient_error_bound(net, "mse", params, x, y, "float32")

    def perturbed(net, loss, params, x, y):
        res = backprop.backward(net, loss, params, x, y)
        grads = list(res.grads)
        grads[1] = Dense(grads[1].w + 3 * bound[1].w.astype(grads[1].w.dtype), grads[1].b)
        return res._replace(grads=tuple(grads))

    report = fnn.check_rounding(net, "mse", params, x, y, dtype="float32", backward_fn=perturbed)
    assert [l.name for l in report.leaves if not l.within] == ["params[1].w"], str(report)
    assert "OUTSIDE THE BOUND: params[1].w" in str(report)
    assert rounding.gamma(10, 2.0**-24) == pytest.approx(10 * 2.0**-24, rel=1e-6)
    with pytest.raises(
        ValueError, match="dtype must be one of float32, bfloat16, float16, got 'int8'"
    ):
        fnn.check_rounding(net, "mse", params, x, y, dtype="int8")
