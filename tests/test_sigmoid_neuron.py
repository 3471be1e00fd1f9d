"""The single sigmoid neuron: the slides' formulas against autodiff, the slide's misprint, saturation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functional_nn import losses
from functional_nn import sigmoid_neuron as sn
from functional_nn._x64 import float64_mode


def problem(getkey, m=12, n_in=3):
    with float64_mode():
        x = jax.random.normal(getkey(), (m, n_in), jnp.float64)
        t = (jax.random.uniform(getkey(), (m,)) > 0.5).astype(jnp.float64)
        t = t.at[0].set(0.0).at[1].set(1.0)  # both classes present
        w = 0.7 * jax.random.normal(getkey(), (n_in + 1,), jnp.float64)
    return w, x, t


def test_forward_uses_w0_as_the_bias():
    w = jnp.array([1.0, 2.0, -1.0])
    x = jnp.array([[0.0, 0.0], [1.0, 3.0]])
    np.testing.assert_allclose(sn.logits(w, x), [1.0, 0.0])
    np.testing.assert_allclose(sn.predict(w, x), [1 / (1 + np.exp(-1.0)), 0.5], rtol=1e-6)


@pytest.mark.parametrize("loss", sn.LOSSES)
def test_manual_gradient_equals_autodiff(getkey, loss):
    w, x, t = problem(getkey)
    with float64_mode():
        manual = sn.gradient(loss, w, x, t, method="manual")
        auto = sn.gradient(loss, w, x, t, method="autodiff")
    np.testing.assert_allclose(manual, auto, rtol=1e-12, atol=1e-14)


@jax.jit
def _both_engines(w, x, t):
    # one compile per shape instead of one per eager operation
    return {
        loss: (sn.gradient(loss, w, x, t), sn.gradient(loss, w, x, t, method="autodiff"))
        for loss in sn.LOSSES
    }


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_manual_gradients_equal_autodiff_for_all_shapes(m, n_in, seed):
    rng = np.random.default_rng(seed)  # numpy draws: no per-shape compilation
    x, w = rng.normal(size=(m, n_in)), rng.normal(size=n_in + 1)
    t = rng.uniform(size=m)  # soft targets in [0, 1] are fine too
    with float64_mode():
        for manual, auto in _both_engines(w, x, t).values():
            np.testing.assert_allclose(manual, auto, rtol=1e-10, atol=1e-13)


def test_regression_cost_is_the_lecture_formula_and_the_library_mse(getkey):
    w, x, t = problem(getkey)
    with float64_mode():
        h = sn.predict(w, x)
        expected = float(jnp.sum((h - t) ** 2) / (2 * x.shape[0]))
        assert float(sn.regression_cost(w, x, t)) == pytest.approx(expected, rel=1e-12)
        assert float(sn.regression_cost(w, x, t)) == pytest.approx(
            float(losses.mse(h[:, None], t[:, None])), rel=1e-12
        )


def test_classification_cost_is_the_slides_sum(getkey):
    w, x, t = problem(getkey)
    with float64_mode():
        h = sn.predict(w, x)
        by_hand = float(-jnp.sum(t * jnp.log(h) + (1 - t) * jnp.log(1 - h)))
        mean = float(losses.binary_cross_entropy(sn.logits(w, x)[:, None], t[:, None]))
        assert float(sn.classification_cost(w, x, t)) == pytest.approx(by_hand, rel=1e-12)
        assert float(sn.classification_cost(w, x, t)) == pytest.approx(x.shape[0] * mean, rel=1e-12)


def test_classification_cost_is_finite_when_saturated():
    w = jnp.array([0.0, 200.0])
    x = jnp.array([[1.0], [-1.0]])
    cost = sn.classification_cost(w, x, jnp.array([0.0, 1.0]))  # both confidently wrong
    assert float(cost) == pytest.approx(400.0, rel=1e-6)
    np.testing.assert_allclose(
        sn.classification_gradient(w, x, jnp.array([0.0, 1.0])), [0.0, 2.0], atol=1e-6
    )


def test_slide_classification_gradient_as_written_disagrees(getkey):
    w, x, t = problem(getkey)
    with float64_mode():
        correct = sn.classification_gradient(w, x, t)
        as_written = sn.classification_gradient_as_written(w, x, t)
        auto = jax.grad(sn.classification_cost)(w, x, t)
        np.testing.assert_allclose(correct, auto, rtol=1e-12)
        assert float(jnp.max(jnp.abs(as_written - auto))) > 1e-3
        # The spurious t^i drops the t = 0 examples: it is the gradient of −Σ t ln h alone.
        positives_only = jax.grad(lambda v: -jnp.sum(t * jax.nn.log_sigmoid(sn.logits(v, x))))(w)
        np.testing.assert_allclose(as_written, positives_only, rtol=1e-12)
        # and the two agree when every target is 1
        ones = jnp.ones_like(t)
        np.testing.assert_allclose(
            sn.classification_gradient_as_written(w, x, ones),
            sn.classification_gradient(w, x, ones),
            rtol=1e-12,
        )


def test_descending_the_misprinted_gradient_pushes_every_output_to_one(getkey):
    w, x, t = problem(getkey)
    step = jax.jit(lambda v: v - 0.1 * sn.classification_gradient_as_written(v, x, t))
    with float64_mode():
        w_bad = w
        for _ in range(200):
            w_bad = step(w_bad)
        negatives_before = sn.predict(w, x)[t == 0]
        negatives_after = sn.predict(w_bad, x)[t == 0]
        assert float(jnp.mean(negatives_after)) > float(jnp.mean(negatives_before))
        assert float(sn.classification_cost(w_bad, x, t)) > float(sn.classification_cost(w, x, t))


def test_saturation_mse_gradient_vanishes_cross_entropy_does_not():
    z = jnp.array([0.0, 2.0, 5.0, 10.0])  # ever more confidently wrong for t = 0
    t = jnp.zeros(4)
    mse = jnp.abs(sn.output_delta("mse", z, t))
    ce = jnp.abs(sn.output_delta("cross_entropy", z, t))
    assert np.all(
        np.diff(np.asarray(mse)[1:]) < 0
    )  # MSE: the worse the error, the smaller the step
    assert np.all(np.diff(np.asarray(ce)) > 0)  # CE: grows with the error, to |σ − t| -> 1
    assert float(mse[-1]) < 1e-4 and float(ce[-1]) > 0.99
    # the two differ by exactly σ'(z)
    s = jax.nn.sigmoid(z)
    np.testing.assert_allclose(mse, ce * s * (1 - s), rtol=1e-6)


def test_saturated_neuron_learns_slowly_with_mse_fast_with_cross_entropy():
    # Nielsen's classic: one input x = 1, target 0, start w = (2, 2) so σ(4) ≈ 0.98
    x, t, w0 = jnp.ones((1, 1)), jnp.zeros(1), jnp.array([2.0, 2.0])
    mse = sn.train(w0, x, t, loss="mse", learning_rate=0.15, num_steps=60)
    ce = sn.train(w0, x, t, loss="cross_entropy", learning_rate=0.15, num_steps=60)
    out_mse = sn.predict(mse.weights[-1], x)[0]
    out_ce = sn.predict(ce.weights[-1], x)[0]
    assert float(out_mse) > 0.9 and float(out_ce) < 0.2
    assert mse.weights.shape == (61, 2) and ce.costs.shape == (61,)


@pytest.mark.parametrize("loss", sn.LOSSES)
def test_train_manual_and_autodiff_agree_and_decrease(getkey, loss):
    w, x, t = problem(getkey)
    with float64_mode():
        a = sn.train(w, x, t, loss=loss, learning_rate=0.05, num_steps=50, method="manual")
        b = sn.train(w, x, t, loss=loss, learning_rate=0.05, num_steps=50, method="autodiff")
        np.testing.assert_allclose(a.weights, b.weights, rtol=1e-10, atol=1e-12)
        assert float(a.costs[-1]) < float(a.costs[0])
        np.testing.assert_allclose(a.costs[7], sn.cost(loss, a.weights[7], x, t), rtol=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: sn.regression_cost(jnp.zeros(3), jnp.zeros((4, 3)), jnp.zeros(4)),
            r"w must have shape \(n_in \+ 1,\)",
        ),
        (
            lambda: sn.regression_cost(jnp.zeros(4), jnp.zeros((4, 3)), jnp.zeros(5)),
            "t must have shape",
        ),
        (lambda: sn.regression_cost(jnp.zeros(4), jnp.zeros(4), jnp.zeros(4)), "x must have shape"),
        (
            lambda: sn.classification_cost(jnp.zeros(2), jnp.zeros((2, 1)), jnp.array([0.0, 2.0])),
            r"\[0, 1\]",
        ),
        (
            lambda: sn.cost("hinge", jnp.zeros(2), jnp.zeros((2, 1)), jnp.zeros(2)),
            "loss must be one of",
        ),
        (
            lambda: sn.gradient("mse", jnp.zeros(2), jnp.zeros((2, 1)), jnp.zeros(2), method="fd"),
            "method",
        ),
        (
            lambda: sn.train(
                jnp.zeros(2),
                jnp.zeros((2, 1)),
                jnp.zeros(2),
                loss="mse",
                learning_rate=-1.0,
                num_steps=3,
            ),
            "learning_rate",
        ),
        (
            lambda: sn.regression_cost(jnp.zeros(2), jnp.full((2, 1), jnp.nan), jnp.zeros(2)),
            "x must be finite",
        ),
    ],
)
def test_bad_inputs_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
