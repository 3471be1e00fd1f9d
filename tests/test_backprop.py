"""The manual backward pass against jax.grad, finite differences and the lecture's own slide."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import functional_nn as fnn
from functional_nn import activations as A
from functional_nn import backprop
from functional_nn._x64 import float64_mode

WIDTHS = [1, 2, 5]
HIDDEN = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
LOSS_OUTPUT = [
    ("mse", "linear"),
    ("mse", "sigmoid"),
    ("mse", "tanh"),
    ("mse", "relu"),
    ("mse", "leaky_relu"),
    ("mse", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
    ("categorical_cross_entropy", "softmax"),
]


@st.composite
def problems(draw):
    depth = draw(st.integers(1, 4))
    # Widths from a few values, so eager op compilations are shared between examples.
    sizes = tuple(draw(st.lists(st.sampled_from(WIDTHS), min_size=depth + 1, max_size=depth + 1)))
    hidden = tuple(draw(st.sampled_from(HIDDEN)) for _ in range(depth - 1))
    loss, out = draw(st.sampled_from(LOSS_OUTPUT))
    batch = draw(st.sampled_from([1, 3]))
    seed = draw(st.integers(0, 2**16))
    return (
        fnn.MLP(sizes, activation=hidden, output_activation=out, initializer="glorot_normal"),
        loss,
        batch,
        seed,
    )


def _data(net, loss, batch, seed, dtype):
    kp, kx, ky = jax.random.split(jax.random.key(seed), 3)
    params = net.init(kp, dtype=dtype)
    x = jax.random.normal(kx, (batch, net.layer_sizes[0]), dtype)
    n_out = net.layer_sizes[-1]
    if loss == "categorical_cross_entropy":
        y = jax.nn.one_hot(jax.random.randint(ky, (batch,), 0, n_out), n_out, dtype=dtype)
    elif loss == "binary_cross_entropy":
        y = jax.random.bernoulli(ky, 0.5, (batch, n_out)).astype(dtype)
    else:
        y = jax.random.normal(ky, (batch, n_out), dtype)
    return params, x, y


def _max_rel(a_tree, b_tree, floor):
    """Max of |a − b| / max(|a| + |b|, floor · largest |b|): coordinates far below the
    largest gradient are judged by their absolute error (as in compare_gradients)."""
    pairs = [
        (np.asarray(a, np.float64), np.asarray(b, np.float64))
        for a, b in zip(jax.tree.leaves(a_tree), jax.tree.leaves(b_tree))
    ]
    scale = max(np.max(np.abs(b)) for _, b in pairs)
    return max(
        np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor * scale + 1e-300))
        for a, b in pairs
    )


def _both_engines(net, loss, params, x, y):
    return fnn.value_and_grad(net, loss, "manual")(params, x, y), fnn.value_and_grad(
        net, loss, "autodiff"
    )(params, x, y)


# corner cases pinned, the rest drawn; derandomized so every run checks the same cases
# and their eager op compilations (few widths, few batch sizes) are shared between them
_ONE_LAYER = (fnn.MLP((1, 1), output_activation="sigmoid"), "binary_cross_entropy", 1, 0)
_SOFTMAX_HIDDEN = (
    fnn.MLP((2, 5, 2, 5), activation=("softmax", "relu"), output_activation="softmax"),
    "categorical_cross_entropy",
    3,
    1,
)


@settings(max_examples=8, derandomize=True)
@given(problems())
@example(_ONE_LAYER)
@example(_SOFTMAX_HIDDEN)
def test_manual_equals_autodiff_float64(problem):
    net, loss, batch, seed = problem
    with float64_mode():
        params, x, y = _data(net, loss, batch, seed, jnp.float64)
        (J_m, g_m), (J_a, g_a) = _both_engines(net, loss, params, x, y)
        chex.assert_trees_all_equal_shapes_and_dtypes(g_m, params)
        assert abs(float(J_m - J_a)) <= 1e-12 * max(1.0, abs(float(J_a)))
        assert _max_rel(g_m, g_a, 1e-6) <= 1e-10


@settings(max_examples=4, derandomize=True)
@given(problems())
@example(_SOFTMAX_HIDDEN)
def test_manual_equals_autodiff_float32(problem):
    net, loss, batch, seed = problem
    params, x, y = _data(net, loss, batch, seed, jnp.float32)
    (_, g_m), (_, g_a) = _both_engines(net, loss, params, x, y)
    chex.assert_trees_all_equal_shapes_and_dtypes(g_m, params)
    # float32 rounding is ~1e-7 of the largest gradient: judge coordinates below 1% of it absolutely.
    assert _max_rel(g_m, g_a, 1e-2) <= 1e-4


@settings(max_examples=3, derandomize=True)
@given(problems())
def test_manual_equals_finite_differences_float64(problem):
    net, loss, batch, seed = problem
    params, x, y = _data(net, loss, batch, seed, jnp.float32)
    report = fnn.compare_gradients(net, loss, params, x, y, max_fd_coords=32)
    fd = [leaf.rel_fd for leaf in report.leaves if leaf.name.startswith("params")]
    assert max(fd) <= 1e-6, str(report)


def test_lecture_slide_five_factors(key):
    """∂J/∂w_pj^{L−1} as the slide writes it: Σ_c Σ_s ∂ℓ/∂ŷ · σ'(o_c^L) · w_jc^L · σ'(o_j^{L−1}) · a_p^{L−2}."""
    with float64_mode():
        net = fnn.MLP(
            (3, 4, 5, 2),
            activation="sigmoid",
            output_activation="sigmoid",
            initializer="normal",
            init_scale=1.0,
        )
        k1, k2, k3 = jax.random.split(key, 3)
        params = net.init(k1, dtype=jnp.float64)
        x = jax.random.normal(k2, (6, 3), jnp.float64)
        y = jax.random.uniform(k3, (6, 2), jnp.float64)
        trace = net.forward(params, x)
        K, C = x.shape[0], 2
        o_L, o_Lm1 = trace.pre_activations[-1], trace.pre_activations[-2]
        a_Lm2, y_hat = trace.activations[-3], trace.activations[-1]
        w_L = params[-1].w
        p, j = 2, 3
        total = 0.0
        for c in range(C):
            for s in range(K):
                dl_dyhat = (y_hat[s, c] - y[s, c]) / K  # ∂ℓ(ŷ_cs, y_cs)/∂ŷ_cs (with 1/K)
                dyhat_do = A.sigmoid(o_L[s, c]) * (
                    1 - A.sigmoid(o_L[s, c])
                )  # σ(o_c^L)(1 − σ(o_c^L))
                do_da = w_L[j, c]  # ∂o_c^L/∂a_j^{L−1} = w_jc^L
                da_do = A.sigmoid(o_Lm1[s, j]) * (
                    1 - A.sigmoid(o_Lm1[s, j])
                )  # σ(o_j^{L−1})(1 − σ(o_j^{L−1}))
                do_dw = a_Lm2[s, p]  # ∂o_j^{L−1}/∂w_pj^{L−1} = a_p^{L−2}
                total += dl_dyhat * dyhat_do * do_da * da_do * do_dw
        _, manual = fnn.value_and_grad(net, "mse", "manual")(params, x, y)
        _, auto = fnn.value_and_grad(net, "mse", "autodiff")(params, x, y)
        assert float(total) == pytest.approx(float(manual[-2].w[p, j]), rel=1e-12)
        assert float(total) == pytest.approx(float(auto[-2].w[p, j]), rel=1e-12)


def _backward_without_hidden_sigma_prime(net, loss, params, x, y):
    """A deliberately wrong pass: the σ' factor of the first hidden layer is dropped."""
    trace = net.forward(params, x)
    acts = net.layer_activations
    delta = fnn.losses.output_delta(loss, acts[-1], trace.pre_activations[-1], y)
    grads, deltas = [], []
    for l in reversed(range(net.num_layers)):
        grads.append(fnn.Dense(trace.activations[l].T @ delta, delta.sum(0)))
        deltas.append(delta)
        if l == 0:
            break
        da = delta @ params[l].w.T
        delta = da if l == 1 else da * acts[l - 1].derivative(trace.pre_activations[l - 1])
    value = fnn.losses.loss_from_logits(loss, acts[-1], trace.pre_activations[-1], y)
    return backprop.Backward(value, tuple(reversed(grads)), tuple(reversed(deltas)))


def test_wrong_backward_pass_is_caught_on_the_right_leaf(key):
    net = fnn.MLP((3, 4, 4, 2), activation="sigmoid", output_activation="sigmoid")
    params, x, y = _data(net, "binary_cross_entropy", 5, 7, jnp.float32)
    report = fnn.compare_gradients(
        net, "binary_cross_entropy", params, x, y, backward_fn=_backward_without_hidden_sigma_prime
    )
    assert not report.ok
    assert {leaf.name for leaf in report.failures()} == {"params[0].w", "params[0].b", "delta[0]"}
    assert all(leaf.verdict == "wrong" for leaf in report.failures())
    with pytest.raises(AssertionError, match=r"params\[0\].w \(w\^1\) is wrong"):
        report.assert_ok()


def test_jit_and_vmap(key):
    net = fnn.MLP((4, 6, 3), activation="relu", output_activation="softmax")
    params, x, y = _data(net, "categorical_cross_entropy", 8, 3, jnp.float32)
    for method in ("manual", "autodiff"):
        f = fnn.value_and_grad(net, "categorical_cross_entropy", method)
        eager = f(params, x, y)
        jitted = jax.jit(f)(params, x, y)
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        # Per-example gradients: vmap over single-example batches.
        per_example = jax.vmap(lambda xi, yi: f(params, xi[None], yi[None])[1])(x, y)  # noqa: B023
        mean = jax.tree.map(lambda g: jnp.mean(g, axis=0), per_example)
        for a, b in zip(jax.tree.leaves(mean), jax.tree.leaves(eager[1])):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_deltas_are_dJ_do(key):
    with float64_mode():
        net = fnn.MLP((3, 5, 2), activation="tanh", output_activation="linear")
        params, x, y = _data(net, "mse", 4, 1, jnp.float64)
        deltas = backprop.deltas(net, "mse", params, x, y)
        J_of_o2 = lambda o: fnn.losses.mse(o, y)
        np.testing.assert_allclose(
            deltas[-1], jax.grad(J_of_o2)(net.forward(params, x).pre_activations[-1]), rtol=1e-13
        )


def test_boundary_errors(key):
    net = fnn.MLP((3, 2))
    params = net.init(key)
    f = fnn.value_and_grad(net, "mse")
    with pytest.raises(
        ValueError,
        match=r"targets y of shape \(4,\) do not match network outputs of shape \(4, 2\)",
    ):
        f(params, jnp.ones((4, 3)), jnp.ones(4))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 3\), got \(4, 2\)"):
        f(params, jnp.ones((4, 2)), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="method must be one of"):
        fnn.value_and_grad(net, "mse", method="symbolic")
    with pytest.raises(TypeError, match="net must be a functional_nn.MLP"):
        fnn.value_and_grad((3, 2), "mse")
    with pytest.raises(ValueError, match="categorical_cross_entropy.*needs output_activation"):
        fnn.value_and_grad(net, "categorical_cross_entropy")


def test_weights_keep_a_short_batch_exact(key):
    net = fnn.MLP((2, 3, 1), activation="tanh", output_activation="linear")
    params, x, y = _data(net, "mse", 5, 2, jnp.float32)
    f = fnn.value_and_grad(net, "mse")
    padded_x = jnp.concatenate([x, jnp.zeros((3, 2))])
    padded_y = jnp.concatenate([y, jnp.zeros((3, 1))])
    weights = jnp.array([1.0] * 5 + [0.0] * 3)
    a = f(params, padded_x, padded_y, weights=weights)
    b = f(params, x, y)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
