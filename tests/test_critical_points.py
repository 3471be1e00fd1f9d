"""The second-derivative test, and gradient descent stalling at / escaping from the lecture's saddle."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functional_nn import critical_points as cp
from functional_nn._x64 import float64_mode


def test_lecture_saddle_is_a_saddle():
    result = cp.classify_critical_point(cp.saddle, jnp.zeros(2))
    assert result.kind == "saddle"
    np.testing.assert_allclose(result.eigenvalues, [-2.0, 2.0])
    np.testing.assert_allclose(result.hessian, [[2.0, 0.0], [0.0, -2.0]])
    assert float(result.gradient_norm) == 0.0
    # and it is not a minimum: x = (0, ε) has a smaller value, as the slide says
    assert float(cp.saddle(jnp.array([0.0, 1e-3]))) < float(cp.saddle(jnp.zeros(2)))


@pytest.mark.parametrize(
    "f, kind",
    [
        (lambda x: jnp.sum(x**2), "minimum"),
        (lambda x: -jnp.sum(x**2) + 3.0, "maximum"),
        (lambda x: x[0] ** 2 - x[1] ** 2 + x[2] ** 2, "saddle"),
        (
            lambda x: x[0] ** 4 + x[1] ** 2 + x[2] ** 2,
            "degenerate",
        ),  # a minimum the test cannot see
        (lambda x: x[0] ** 3 - 3 * x[0] * x[1] ** 2 + x[2] ** 2, "degenerate"),  # monkey saddle
        (lambda x: x[0] ** 2 - x[1] ** 2 + x[2] ** 4, "saddle"),  # mixed signs decide despite a 0
    ],
)
def test_classification_at_the_origin(f, kind):
    assert cp.classify_critical_point(f, jnp.zeros(3)).kind == kind


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.floats(0.1, 10.0), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_diagonal_quadratics_in_a_rotated_frame(magnitudes, negative):
    # f(x) = ½ (Qx)ᵀ diag(λ) (Qx) with a fixed rotation Q: Hessian eigenvalues are exactly λ
    lam = np.array([-m if neg else m for m, neg in zip(magnitudes, negative)])
    c, s = math.cos(0.3), math.sin(0.3)
    q = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    with float64_mode():
        Q, L = jnp.asarray(q), jnp.asarray(lam)
        result = cp.classify_critical_point(lambda x: 0.5 * jnp.sum(L * (Q @ x) ** 2), jnp.zeros(3))
        np.testing.assert_allclose(result.eigenvalues, np.sort(lam), rtol=1e-10)
    expected = "saddle" if 0 < sum(negative) < 3 else ("maximum" if all(negative) else "minimum")
    assert result.kind == expected


def test_pytree_points_are_flattened():
    f = lambda p: p["a"] ** 2 - jnp.sum(p["b"] ** 2)
    result = cp.classify_critical_point(f, {"a": jnp.zeros(()), "b": jnp.zeros(2)})
    assert result.kind == "saddle" and result.eigenvalues.shape == (3,)


def test_a_non_critical_point_is_refused_or_reported():
    with pytest.raises(ValueError, match=r"not a critical point.*‖∇f\(x\)‖ = 2\.83"):
        cp.classify_critical_point(cp.saddle, jnp.array([1.0, 1.0]))
    report = cp.classify_critical_point(cp.saddle, jnp.array([1.0, 1.0]), require_critical=False)
    assert float(report.gradient_norm) == pytest.approx(math.sqrt(8.0))
    assert report.kind == "saddle"


def test_bad_inputs():
    with pytest.raises(ValueError, match="scalar"):
        cp.classify_critical_point(lambda x: x, jnp.zeros(2))
    with pytest.raises(TypeError, match="floating"):
        cp.classify_critical_point(cp.saddle, jnp.zeros(2, jnp.int32))
    with pytest.raises(TypeError, match="callable"):
        cp.classify_critical_point("f", jnp.zeros(2))
    with pytest.raises(ValueError, match="learning_rate"):
        cp.gradient_descent(cp.saddle, jnp.zeros(2), learning_rate=0.0, num_steps=3)
    with pytest.raises(ValueError, match="num_steps"):
        cp.gradient_descent(cp.saddle, jnp.zeros(2), learning_rate=0.1, num_steps=0)


def test_gradient_descent_on_the_stable_axis_stalls_at_the_saddle():
    path = cp.gradient_descent(cp.saddle, jnp.array([1.0, 0.0]), learning_rate=0.1, num_steps=200)
    assert path.shape == (201, 2)
    # x1 shrinks by (1 − 2α) = 0.8 per step; x2 stays exactly 0
    np.testing.assert_allclose(path[:5, 0], 0.8 ** np.arange(5), rtol=1e-6)
    assert np.all(np.asarray(path[:, 1]) == 0.0)
    assert float(jnp.linalg.norm(path[-1])) < 1e-15
    # the gradient vanishes there: plain gradient descent takes the saddle for a solution
    assert cp.classify_critical_point(cp.saddle, path[-1]).kind == "saddle"


@pytest.mark.parametrize("eps", [1e-3, 1e-6])
def test_a_tiny_perturbation_escapes_when_predicted(eps):
    alpha = 0.1
    path = cp.gradient_descent(cp.saddle, jnp.array([1.0, eps]), learning_rate=alpha, num_steps=150)
    # x2 grows by (1 + 2α) per step
    np.testing.assert_allclose(path[:4, 1], eps * 1.2 ** np.arange(4), rtol=1e-5)
    assert float(cp.saddle(path[-1])) < -1e3  # escaped downhill along x2
    exit_step = cp.first_exit(path, jnp.zeros(2), 1.0)
    predicted = cp.saddle_escape_steps(eps, alpha, radius=1.0)
    assert exit_step is not None and abs(exit_step - predicted) <= 1.5


def test_first_exit_none_when_the_path_never_leaves():
    path = cp.gradient_descent(cp.saddle, jnp.array([1.0, 0.0]), learning_rate=0.1, num_steps=20)
    assert cp.first_exit(path, jnp.zeros(2), 0.5) is None


# --- the search for a true critical point (find_critical_point) ----------------------------------


def _separable_logistic():
    # Logistic loss on linearly separable data: inf J = 0, approached only as ‖w‖ → ∞.
    x = jnp.array([[1.0, 2.0], [2.0, 1.0], [-1.0, -1.5], [-2.0, -0.5]])
    y = jnp.array([1.0, 1.0, -1.0, -1.0])
    return lambda w: jnp.mean(jnp.logaddexp(0.0, -y * (x @ w)))


def _strict_minimum(x):
    return (x[0] - 1.0) ** 2 + 3.0 * (x[1] + 0.5) ** 2 + 0.5 * x[0] ** 4


def _saddle_with_minima(x):
    # critical points: (0, 0) a saddle, (0, ±√2) minima; started near the saddle, Newton finds it
    return x[0] ** 2 - x[1] ** 2 + x[1] ** 4 / 4


LOGISTIC = (
    _separable_logistic()
)  # one function object: its compiled search is shared by the tests below


@pytest.mark.parametrize(
    "f, x0, kind",
    [
        (_strict_minimum, [0.3, -0.2], "minimum"),
        (_saddle_with_minima, [0.3, 0.2], "saddle"),
        (LOGISTIC, [0.0, 0.0], "none at finite weights"),
    ],
)
def test_search_labels_constructed_cases(f, x0, kind):
    with float64_mode():
        result = cp.find_critical_point(f, jnp.asarray(x0, jnp.float64))
    assert result.kind == kind
    if kind == "none at finite weights":
        # ‖∇J‖ kept falling while ‖w‖ grew past ‖x0‖ + 10; no Hessian verdict is given
        assert not result.converged and result.critical_point is None
        assert result.norm > 10.0 and result.gradient_norm < 1e-3 * result.start_gradient_norm
        assert result.last_step > 0.1  # the Newton step does not shrink: nothing to converge to
    else:
        assert result.converged and result.gradient_norm <= 1e-10
        assert result.critical_point.kind == kind


def test_search_at_infinity_is_not_fooled_by_a_tiny_gradient():
    # Far out, ‖∇J‖ of the logistic loss drops below any tolerance (1e-78 at ‖w‖ = 100); the Newton step
    # (≈ 1/margin) does not, so the point is still not called critical.
    with float64_mode():
        result = cp.find_critical_point(LOGISTIC, jnp.zeros(2, jnp.float64), max_norm=100.0)
    assert (
        result.kind == "none at finite weights"
        and result.gradient_norm < 1e-10
        and result.last_step > 0.1
    )


def test_search_exact_values():
    with float64_mode():
        minimum = cp.find_critical_point(_strict_minimum, jnp.array([0.3, -0.2]))
        saddle = cp.find_critical_point(_saddle_with_minima, jnp.array([0.3, 0.2]))
    # ∂f/∂x1 = 2(x1 − 1) + 2 x1³ = 0 has the single real root 0.6823278...; x2 = −0.5
    np.testing.assert_allclose(minimum.x, [0.6823278038280193, -0.5], rtol=1e-12)
    np.testing.assert_allclose(saddle.x, [0.0, 0.0], atol=1e-10)  # ‖∇f‖ <= 1e-10 there
    np.testing.assert_allclose(saddle.eigenvalues, [-2.0, 2.0], rtol=1e-9)


def test_search_bad_inputs():
    with pytest.raises(TypeError, match="x0 must be float64"):
        cp.find_critical_point(cp.saddle, jnp.zeros(2, jnp.float32))
    with float64_mode():
        x0 = jnp.array([1.0, 1.0])
        with pytest.raises(ValueError, match="grad_tol"):
            cp.find_critical_point(cp.saddle, x0, grad_tol=0.0)
        with pytest.raises(ValueError, match="max_iter"):
            cp.find_critical_point(cp.saddle, x0, max_iter=0)
        with pytest.raises(ValueError, match="max_norm"):
            cp.find_critical_point(cp.saddle, x0, max_norm=1.0)
        with pytest.raises(TypeError, match="callable"):
            cp.find_critical_point("f", x0)
