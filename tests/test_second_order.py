"""Manual H v (R-operator) vs jax.jvp(jax.grad), Gauss–Newton vs J_fᵀ H_ℓ J_f v, Lanczos; per-example gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn import backprop, second_order
from functional_nn._x64 import float64_mode
from functional_nn.network import Dense

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax")
HEADS = [
    ("mse", "linear"),
    ("mse", "sigmoid"),
    ("mse", "tanh"),
    ("mse", "relu"),
    ("mse", "leaky_relu"),
    ("mse", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
    ("categorical_cross_entropy", "softmax"),
]


def _batch(net, loss, key, k=5):
    with float64_mode():
        params = tuple(
            Dense(
                l.w * 1.3,
                0.3 * jax.random.normal(jax.random.fold_in(key, i), l.b.shape, jnp.float64),
            )
            for i, l in enumerate(net.init(key, dtype=jnp.float64))
        )
        x = jax.random.normal(jax.random.fold_in(key, 7), (k, net.layer_sizes[0]), jnp.float64)
        n = net.layer_sizes[-1]
        y = (
            jax.random.randint(jax.random.fold_in(key, 8), (k,), 0, n)
            if loss == "categorical_cross_entropy"
            else jax.random.uniform(jax.random.fold_in(key, 8), (k, n), jnp.float64)
        )
    return params, x, y


@pytest.mark.parametrize("loss, head", HEADS)
def test_hvp_matches_jvp_of_grad_for_every_head(loss, head):
    # the hidden activations rotate so that, over the heads, every activation sits in every position
    i = HEADS.index((loss, head))
    hidden = (HIDDEN[i % 6], HIDDEN[(i + 3) % 6])
    net = fnn.MLP((3, 4, 3, 2 + i % 2), activation=hidden, output_activation=head)
    params, x, y = _batch(net, loss, jax.random.key(i))
    report = fnn.check_hvp(net, loss, params, x, y, key=jax.random.key(100 + i))
    assert report.ok, str(report)
    assert max(l.rel_autodiff for l in report.leaves) <= 1e-10
    assert report.symmetry_rel <= 1e-12 and report.gauss_newton_rel <= 1e-10


def test_a_planted_second_order_mistake_is_named():
    net = fnn.MLP((3, 4, 2), activation="tanh", output_activation="sigmoid")
    params, x, y = _batch(net, "binary_cross_entropy", jax.random.key(3))

    def no_curvature(net, loss, params, x, y, v):  # drops the f''(o) ⊙ R{o} term of R{δ^1}
        with_term = second_order.hvp(net, loss, params, x, y, v)
        trace = net.forward(params, x)
        Ro = trace.activations[0] @ v[0].w + v[0].b
        da = backprop.backward(net, loss, params, x, y).deltas[1] @ params[1].w.T
        term = (
            da
            * second_order.second_derivative(net.layer_activations[0], trace.pre_activations[0])
            * Ro
        )
        return (Dense(with_term[0].w - x.T @ term, with_term[0].b - term.sum(0)), with_term[1])

    report = fnn.check_hvp(net, "binary_cross_entropy", params, x, y, hvp_fn=no_curvature)
    assert [l.name for l in report.leaves if l.verdict != "good"] == ["params[0].w", "params[0].b"]
    assert not report.ok


@pytest.mark.parametrize(
    "loss, head", [("mse", "sigmoid"), ("categorical_cross_entropy", "softmax")]
)
def test_gauss_newton_is_jacobian_transpose_loss_hessian_jacobian(loss, head):
    net = fnn.MLP((2, 3, 2), activation="tanh", output_activation=head)
    params, x, y = _batch(net, loss, jax.random.key(5), k=3)
    with float64_mode():
        y_full = jax.nn.one_hot(y, 2, dtype=jnp.float64) if y.ndim == 1 else y
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        v = jax.random.normal(jax.random.key(6), flat.shape, jnp.float64)
        if loss == "mse":  # split at ŷ: H_ℓ = ω I
            out = lambda w: net.apply(unravel(w), x).ravel()
            ell = lambda f: fnn.losses.mse(f.reshape(3, 2), y_full)
        else:  # split at the logits
            out = lambda w: net.logits(unravel(w), x).ravel()
            ell = lambda f: fnn.losses.categorical_cross_entropy(f.reshape(3, 2), y_full)
        # jitted: op by op, the Jacobian and Hessian would compile each primitive eagerly
        Jf = jax.jit(jax.jacobian(out))(flat)
        H_ell = jax.jit(jax.hessian(ell))(jax.jit(out)(flat))
        expected = Jf.T @ H_ell @ Jf @ v
        got = jax.flatten_util.ravel_pytree(
            fnn.gauss_newton_vp(net, loss, params, x, y_full, unravel(v))
        )[0]
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-14)
        assert float(v @ got) >= 0  # G is positive semidefinite for these convex losses


def test_lanczos_extreme_eigenvalues_match_the_full_hessian():
    net = fnn.MLP((3, 4, 2), activation="tanh", output_activation="linear")
    params, x, y = _batch(net, "mse", jax.random.key(9))
    J = backprop.objective(net, "mse")
    with float64_mode():
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        eig = np.linalg.eigvalsh(
            np.asarray(jax.jit(jax.hessian(lambda w: J(unravel(w), x, y)))(flat))
        )
        manual = lambda p, v, x, y: fnn.hvp(net, "mse", p, x, y, v)
        lo, hi = fnn.hessian_extreme_eigenvalues(
            J, params, x, y, hvp_fn=manual, num_iterations=flat.size
        )
    assert lo == pytest.approx(eig[0], abs=1e-9) and hi == pytest.approx(eig[-1], rel=1e-9)
    with pytest.raises(ValueError, match="num_iterations must be >= 1, got 0"):
        fnn.hessian_extreme_eigenvalues(J, params, x, y, num_iterations=0)


# --- per example ------------------------------------------------------------------------


def test_per_example_gradients_match_vmap_grad_and_average_to_the_batch_gradient():
    net = fnn.MLP((3, 4, 3), activation="relu", output_activation="softmax")
    params, x, y = _batch(net, "categorical_cross_entropy", jax.random.key(12), k=6)
    report = fnn.check_per_example(net, "categorical_cross_entropy", params, x, y)
    assert report.ok, str(report)
    assert report.leaves[0].shape == (6, 3, 4)

    def missing_batch_factor(
        net, loss, params, x, y
    ):  # keeps δ's 1/K: each g_k is K times too small
        values, grads = backprop.per_example_backward(net, loss, params, x, y)
        return values, tuple(Dense(g.w / x.shape[0], g.b) for g in grads)

    bad = fnn.check_per_example(
        net, "categorical_cross_entropy", params, x, y, per_example_fn=missing_batch_factor
    )
    assert [l.name for l in bad.failures()] == ["params[0].w", "params[1].w"]
