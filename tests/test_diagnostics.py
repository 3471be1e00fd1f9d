"""Per-example gradients (vmap of grad) and per-layer gradient norms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn

NET = fnn.MLP((3, 4, 2), activation="sigmoid", output_activation="softmax")


def data(key, m=6):
    kx, ky = jax.random.split(key)
    return jax.random.normal(kx, (m, 3)), jax.random.randint(ky, (m,), 0, 2)


@pytest.mark.parametrize("method", ["manual", "autodiff"])
def test_per_example_gradients_average_to_the_batch_gradient(method, getkey):
    x, labels = data(getkey())
    params = NET.init(getkey())
    values, grads = fnn.per_example_gradients(
        NET, "categorical_cross_entropy", params, x, labels, method=method
    )
    assert values.shape == (6,) and grads[0].w.shape == (6, 3, 4) and grads[1].b.shape == (6, 2)
    J, batch = fnn.value_and_grad(NET, "categorical_cross_entropy", method)(params, x, labels)
    np.testing.assert_allclose(jnp.mean(values), J, rtol=1e-6)
    for per, whole in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(batch)):
        np.testing.assert_allclose(jnp.mean(per, axis=0), whole, rtol=1e-5, atol=1e-7)


def test_each_per_example_gradient_is_that_examples_batch_of_one(getkey):
    x, labels = data(getkey())
    params = NET.init(getkey())
    _, grads = fnn.per_example_gradients(NET, "categorical_cross_entropy", params, x, labels)
    f = fnn.value_and_grad(NET, "categorical_cross_entropy")
    for k in (0, 3, 5):
        _, one = f(params, x[k : k + 1], labels[k : k + 1])
        for per, want in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(one)):
            np.testing.assert_allclose(per[k], want, rtol=1e-5, atol=1e-7)


def test_gradient_norms_per_layer_and_with_leading_axes(getkey):
    x, labels = data(getkey())
    params = NET.init(getkey())
    _, grads = fnn.value_and_grad(NET, "categorical_cross_entropy")(params, x, labels)
    norms = fnn.gradient_norms(grads)
    want = [np.sqrt(np.sum(np.asarray(g.w) ** 2) + np.sum(np.asarray(g.b) ** 2)) for g in grads]
    np.testing.assert_allclose(norms, want, rtol=1e-6)
    _, per = fnn.per_example_gradients(NET, "categorical_cross_entropy", params, x, labels)
    assert fnn.gradient_norms(per).shape == (6, 2)
    with pytest.raises(TypeError, match="grads"):
        fnn.gradient_norms({"w": 1})


def test_fit_records_gradient_norms_per_epoch(getkey):
    x, labels = data(getkey(), m=8)
    params = NET.init(getkey())
    result = fnn.fit(
        NET,
        params,
        x,
        labels,
        loss="categorical_cross_entropy",
        learning_rate=0.5,
        num_epochs=3,
        key=getkey(),
        record_grad_norms=True,
    )
    assert result.history["grad_norms"].shape == (3, 2)
    _, grads = fnn.value_and_grad(NET, "categorical_cross_entropy")(params, x, labels)
    np.testing.assert_allclose(
        result.history["grad_norms"][0], fnn.gradient_norms(grads), rtol=1e-5
    )


def test_sigmoid_gradients_shrink_towards_the_input(key):
    """The vanishing gradient: with σ' <= 1/4 per layer, early layers get smaller gradients."""
    net = fnn.MLP((4, 16, 16, 16, 16, 1), activation="sigmoid", output_activation="sigmoid")
    x = jax.random.normal(key, (64, 4))
    y = (x[:, :1] > 0).astype(jnp.float32)
    _, grads = fnn.value_and_grad(net, "binary_cross_entropy")(net.init(jax.random.key(0)), x, y)
    w_norms = [float(jnp.linalg.norm(g.w)) for g in grads]
    assert w_norms[0] < w_norms[1] < w_norms[2] < w_norms[3]
