"""Losses: the lecture's reduction, stability, hand gradients and output deltas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from functional_nn import activations as A
from functional_nn import losses as L
from functional_nn._x64 import float64_mode


def test_mse_single_output_is_lectures_cost():
    h = jnp.array([[1.0], [2.0], [4.0]])
    t = jnp.array([[0.0], [2.0], [1.0]])
    m = 3
    assert L.mse(h, t) == pytest.approx(
        sum((hi - ti) ** 2 for hi, ti in zip([1, 2, 4], [0, 2, 1])) / (2 * m)
    )


def test_reduction_sums_outputs_and_averages_examples():
    y_hat = jnp.array([[0.0, 1.0], [2.0, 2.0]])
    y = jnp.zeros((2, 2))
    # (1/K) Σ_k Σ_c ½ (ŷ − y)² = ½ (½ (0 + 1) + ½ (4 + 4)) = 2.25
    assert L.mse(y_hat, y) == pytest.approx(2.25)


def test_weights_generalise_the_batch_mean(key):
    o = jax.random.normal(key, (5, 3))
    y = jax.nn.one_hot(jnp.arange(5) % 3, 3)
    w = jnp.array([1.0, 1.0, 1.0, 0.0, 0.0])
    assert L.categorical_cross_entropy(o, y, w) == pytest.approx(
        float(L.categorical_cross_entropy(o[:3], y[:3]))
    )


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_cross_entropies_stay_finite_for_huge_logits(big):
    o = jnp.array([[big, -big, 0.0]])
    y = jnp.array([[0.0, 1.0, 0.0]])
    for loss in (L.binary_cross_entropy, L.categorical_cross_entropy):
        value, grad = jax.value_and_grad(loss)(o, y)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    # BCE: a confidently wrong logit costs |o|, exactly.
    assert L.binary_cross_entropy(
        jnp.array([[big]]), jnp.array([[0.0 if big > 0 else 1.0]])
    ) == pytest.approx(abs(big))


def test_shapes_must_match_exactly():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        L.mse(jnp.zeros((4, 1)), jnp.zeros((4,)))
    with pytest.raises(
        ValueError,
        match=r"targets y of shape \(4,\) do not match network outputs of shape \(4, 1\)",
    ):
        L.prepare_targets("mse", jnp.zeros((4,)), (4, 1), jnp.float32)
    with pytest.raises(ValueError, match="unknown loss 'l1'; known losses: mse"):
        L.get_loss("l1")


def test_integer_labels_are_one_hot_for_categorical():
    y = L.prepare_targets("categorical_cross_entropy", jnp.array([2, 0]), (2, 3), jnp.float32)
    np.testing.assert_array_equal(y, [[0, 0, 1], [1, 0, 0]])


def test_incompatible_output_activation_is_refused():
    with pytest.raises(ValueError, match="binary_cross_entropy.*'sigmoid'.*got 'linear'"):
        L.check_loss_output("binary_cross_entropy", "linear")


CASES = [
    ("mse", "sigmoid"),
    ("mse", "linear"),
    ("mse", "tanh"),
    ("mse", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
    ("categorical_cross_entropy", "softmax"),
]


@pytest.mark.parametrize("loss,out", CASES)
def test_output_delta_chain_and_fused_equal_autodiff(loss, out, key):
    with float64_mode():
        act = A.get_activation(out)
        o = jax.random.normal(key, (6, 3), jnp.float64)
        y = jax.nn.one_hot(jnp.arange(6) % 3, 3, dtype=jnp.float64)
        auto = jax.grad(lambda o: L.loss_from_logits(loss, act, o, y))(o)
        np.testing.assert_allclose(L.output_delta(loss, act, o, y), auto, rtol=1e-12, atol=1e-16)
        np.testing.assert_allclose(
            L.output_delta_chain(loss, act, o, y), auto, rtol=1e-12, atol=1e-16
        )


@pytest.mark.parametrize("loss,out", CASES)
def test_output_gradient_is_dJ_dyhat(loss, out, key):
    with float64_mode():
        act = A.get_activation(out)
        o = jax.random.normal(key, (4, 3), jnp.float64)
        y_hat = act.fn(o)
        y = jax.nn.one_hot(jnp.arange(4) % 3, 3, dtype=jnp.float64)
        value = {
            "mse": lambda p: L.mse(p, y),
            "binary_cross_entropy": lambda p: jnp.mean(
                jnp.sum(-y * jnp.log(p) - (1 - y) * jnp.log(1 - p), 1)
            ),
            "categorical_cross_entropy": lambda p: jnp.mean(jnp.sum(-y * jnp.log(p), 1)),
        }[loss]
        np.testing.assert_allclose(
            L.output_gradient(loss, y_hat, y), jax.grad(value)(y_hat), rtol=1e-12
        )


def test_fused_deltas_cancel_and_mse_keeps_sigma_prime():
    o = jnp.array([[8.0], [-8.0]])
    y = jnp.array([[0.0], [1.0]])
    sig = A.get_activation("sigmoid")
    bce = L.output_delta("binary_cross_entropy", sig, o, y)
    mse = L.output_delta("mse", sig, o, y)
    np.testing.assert_allclose(bce, (A.sigmoid(o) - y) / 2, rtol=1e-6)
    np.testing.assert_allclose(mse, (A.sigmoid(o) - y) * A.sigmoid_derivative(o) / 2, rtol=1e-6)
    # A saturated, wrong neuron: cross-entropy still learns, MSE barely moves.
    assert np.all(np.abs(mse) < 1e-3 * np.abs(bce))


# --- issue 13: infinite logits give the exact limit, never NaN (on main +inf gave NaN) ---

INF = jnp.inf
CCE_LIMITS = [
    # (logits row, one-hot row, loss, gradient softmax − y at the limit)
    ([INF, 0.0, 1.0], [1.0, 0, 0], 0.0, [0.0, 0, 0]),
    ([INF, 0.0, 1.0], [0, 1.0, 0], INF, [1.0, -1, 0]),
    ([INF, INF, 1.0], [1.0, 0, 0], np.log(2), [-0.5, 0.5, 0]),
    ([-INF, -INF, -INF], [1.0, 0, 0], np.log(3), [-2 / 3, 1 / 3, 1 / 3]),
    ([1.0, -INF, 2.0], [0, 1.0, 0], INF, [0.26894142, -1, 0.7310586]),
]


@pytest.mark.parametrize("logits, y, loss, gradient", CCE_LIMITS)
def test_categorical_cross_entropy_at_infinite_logits_is_the_limit(logits, y, loss, gradient):
    o, t = jnp.array([logits]), jnp.array([y])
    value, grad = jax.value_and_grad(L.categorical_cross_entropy)(o, t)
    delta = L.output_delta("categorical_cross_entropy", A.get_activation("softmax"), o, t)
    np.testing.assert_allclose(value, loss, rtol=1e-6)
    np.testing.assert_allclose(grad[0], gradient, rtol=1e-6, atol=1e-7)  # autodiff
    np.testing.assert_allclose(delta[0], gradient, rtol=1e-6, atol=1e-7)  # the hand-derived δ^L


@pytest.mark.parametrize("z", [INF, -INF])
@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_binary_cross_entropy_at_infinite_logits_is_the_limit(z, t):
    value, grad = jax.value_and_grad(L.binary_cross_entropy)(jnp.array([[z]]), jnp.array([[t]]))
    matched = (z > 0 and t == 1.0) or (z < 0 and t == 0.0)
    assert float(value) == (0.0 if matched else np.inf)
    np.testing.assert_allclose(grad[0, 0], (1.0 if z > 0 else 0.0) - t, rtol=1e-6)


def test_finite_logits_keep_their_cross_entropy_bits_and_second_derivatives():
    o = jnp.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    t = jnp.array([[0, 0, 1.0], [1.0, 0, 0]])
    reference = -jnp.sum(t * jax.nn.log_softmax(o)) / 2
    assert float(L.categorical_cross_entropy(o, t)) == float(reference)
    v = jnp.array([[0.3, -1.0, 0.5], [1.0, 0.2, -0.4]])
    hvp = lambda f: jax.jvp(jax.grad(f), (o,), (v,))[1]  # noqa: E731  (forward over reverse)
    reference_loss = lambda o: -jnp.sum(t * jax.nn.log_softmax(o)) / 2  # noqa: E731
    got = hvp(lambda o: L.categorical_cross_entropy(o, t))
    np.testing.assert_allclose(got, hvp(reference_loss), rtol=1e-5, atol=1e-7)
