"""Gradient descent on h(x) = w0 + w1 x: hand gradient, closed form, and the α* = 2/λ_max threshold."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functional_nn import linear_regression as lr
from functional_nn._x64 import float64_mode


@pytest.fixture
def data(key):
    with float64_mode():
        x, t = lr.make_data(key, 40, w_true=(1.0, 2.0), noise=0.3)
    return x, t


def test_cost_matches_the_lecture_formula():
    x = jnp.array([0.0, 1.0, 2.0])
    t = jnp.array([1.0, 2.0, 5.0])
    w = jnp.array([1.0, 1.0])  # h = 1, 2, 3 -> residuals 0, 0, -2
    assert float(lr.cost(w, x, t)) == pytest.approx(4.0 / 6.0)


def test_hand_gradient_and_hessian_match_autodiff(data):
    x, t = data
    with float64_mode():
        w = jnp.array([-0.7, 0.4])
        np.testing.assert_allclose(lr.gradient(w, x, t), jax.grad(lr.cost)(w, x, t), rtol=1e-12)
        np.testing.assert_allclose(lr.hessian(x), jax.hessian(lr.cost)(w, x, t), rtol=1e-12)


def test_closed_form_matches_numpy_lstsq(data):
    x, t = data
    with float64_mode():
        w_star = lr.closed_form(x, t)
    X = np.stack([np.ones(len(x)), np.asarray(x)], axis=1)
    expected, *_ = np.linalg.lstsq(X, np.asarray(t), rcond=None)
    np.testing.assert_allclose(w_star, expected, rtol=1e-10)


def test_closed_form_recovers_noiseless_line():
    x = jnp.linspace(-1.0, 2.0, 7)
    w_star = lr.closed_form(x, 0.5 - 3.0 * x)
    np.testing.assert_allclose(w_star, [0.5, -3.0], rtol=1e-5, atol=1e-5)


def test_gradient_descent_trajectory_reaches_the_closed_form(data):
    x, t = data
    with float64_mode():
        alpha = 0.5 * float(lr.divergence_threshold(x))
        traj = lr.gradient_descent(x, t, learning_rate=alpha, num_steps=2000)
        w_star = lr.closed_form(x, t)
    assert traj.weights.shape == (2001, 2) and traj.costs.shape == (2001,)
    np.testing.assert_allclose(traj.weights[0], [0.0, 0.0])
    np.testing.assert_allclose(traj.weights[-1], w_star, rtol=1e-8)
    # a quadratic under α < α*: the cost never goes up
    assert np.all(np.diff(np.asarray(traj.costs)) <= 1e-12)


def test_trajectory_is_the_update_rule_step_by_step(data):
    x, t = data
    with float64_mode():
        traj = lr.gradient_descent(
            x, t, learning_rate=0.1, num_steps=5, w_init=jnp.array([1.0, -1.0])
        )
        w = jnp.array([1.0, -1.0])
        for k in range(5):
            w = w - 0.1 * lr.gradient(w, x, t)
            np.testing.assert_allclose(traj.weights[k + 1], w, rtol=1e-12)
        np.testing.assert_allclose(traj.costs[3], lr.cost(traj.weights[3], x, t), rtol=1e-12)


def test_error_follows_the_linear_recursion(data):
    # e_{k+1} = (I − αH) e_k exactly, for a quadratic cost
    x, t = data
    with float64_mode():
        alpha = 0.3
        traj = lr.gradient_descent(x, t, learning_rate=alpha, num_steps=10)
        e = traj.weights - lr.closed_form(x, t)
        m = jnp.eye(2) - alpha * lr.hessian(x)
        np.testing.assert_allclose(e[1:], e[:-1] @ m.T, atol=1e-12)


def test_divergence_threshold_predicted_and_confirmed(data):
    x, t = data
    with float64_mode():
        a_star = float(lr.divergence_threshold(x))
        lam = lr.hessian_eigenvalues(x)
        assert a_star == pytest.approx(2.0 / float(lam[-1]))
        w_star = lr.closed_form(x, t)
        start = jnp.array([3.0, -2.0])
        d0 = float(jnp.linalg.norm(start - w_star))
        below = lr.gradient_descent(x, t, learning_rate=0.98 * a_star, num_steps=1500, w_init=start)
        above = lr.gradient_descent(x, t, learning_rate=1.02 * a_star, num_steps=1500, w_init=start)
        assert (
            float(lr.contraction_factor(x, 0.98 * a_star))
            < 1
            < float(lr.contraction_factor(x, 1.02 * a_star))
        )
        d_below = float(jnp.linalg.norm(below.weights[-1] - w_star))
        d_above = float(jnp.linalg.norm(above.weights[-1] - w_star))
    assert d_below < 1e-6 * d0
    assert d_above > 1e6 * d0


def test_schedule_learning_rate(data):
    x, t = data
    with float64_mode():
        traj = lr.gradient_descent(x, t, learning_rate=lambda k: 1.0 / (k + 4.0), num_steps=4)
    np.testing.assert_allclose(traj.learning_rates, [1 / 4, 1 / 5, 1 / 6, 1 / 7], rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(w0=st.floats(-3, 3), w1=st.floats(-3, 3), scale=st.floats(0.1, 10.0))
def test_threshold_scales_inversely_with_input_scale_squared(w0, w1, scale):
    # λ_max of H for x·s with zero-mean x is s² mean(x²) (when that exceeds 1), so α* ∝ 1/s²
    x = jnp.array([-2.0, -1.0, 1.0, 2.0]) * scale
    lam = lr.hessian_eigenvalues(x)
    np.testing.assert_allclose(sorted(np.asarray(lam)), sorted([1.0, 2.5 * scale**2]), rtol=1e-4)
    assert float(lr.cost(jnp.array([w0, w1]), x, w0 + w1 * x)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(x=jnp.ones(5)), "distinct"),
        (dict(x=jnp.ones((5, 1))), "shape"),
        (dict(t=jnp.zeros(4)), "t must have the shape"),
        (dict(learning_rate=-0.1), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(num_steps=0), "num_steps"),
        (dict(w_init=jnp.zeros(3)), "w_init"),
    ],
)
def test_bad_inputs_are_refused(bad, match):
    args = dict(x=jnp.linspace(0, 1, 5), t=jnp.zeros(5), learning_rate=0.1, num_steps=3)
    args.update(bad)
    x, t = args.pop("x"), args.pop("t")
    with pytest.raises(ValueError, match=match):
        lr.gradient_descent(x, t, **args)


def test_learning_rate_type_is_checked():
    with pytest.raises(TypeError, match="learning_rate"):
        lr.gradient_descent(jnp.linspace(0, 1, 5), jnp.zeros(5), learning_rate="0.1", num_steps=3)
