"""Reliability, determinism (issue 8, group 4): the same key gives the same bits (params,
optimizer state, history) on one backend; a whole fit is clean under JAX's key-reuse
checker; predictions do not depend on how the inputs are batched or ordered."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functional_nn as fnn

NET = fnn.MLP((3, 6, 2), activation="tanh", output_activation="linear")


def problem(key, m=12):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (m, 3))
    return x, jnp.sin(x @ jax.random.normal(ky, (3, 2)))


def assert_trees_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for got, want in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def assert_runs_equal(a: fnn.FitResult, b: fnn.FitResult):
    assert_trees_equal(a.params, b.params)
    assert_trees_equal(a.best_params, b.best_params)
    assert_trees_equal(a.opt_state, b.opt_state)
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name])
    for name in ("best_epoch", "stopped_epoch", "num_updates", "diverged", "stopped_early"):
        np.testing.assert_array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)))
    assert a.message == b.message


@pytest.mark.parametrize(
    "batch_size, rate",
    [
        (1, dict(learning_rate=0.05)),  # SGD
        (4, dict(optimizer=optax.adam(0.01))),  # mini-batch, with optimizer state
        (5, dict(learning_rate=0.1)),  # mini-batch with a padded last batch
        (None, dict(optimizer=optax.sgd(0.1, momentum=0.9))),  # full batch
    ],
)
def test_the_same_key_gives_bit_identical_runs(batch_size, rate, getkey):
    x, y = problem(getkey())
    params, key = NET.init(getkey()), getkey()
    run = (
        lambda: fnn.fit(
            NET,
            params,
            x,
            y,
            batch_size=batch_size,
            num_epochs=3,
            key=key,  # noqa: E731
            validation=(x[:4], y[:4]),
            **rate,
        )
    )
    assert_runs_equal(run(), run())


def test_fit_many_with_the_same_keys_is_bit_identical(getkey):
    x, y = problem(getkey())
    keys = jax.random.split(getkey(), 3)
    run = (
        lambda: fnn.fit_many(
            NET,
            x,
            y,
            key=keys,
            batch_size=4,
            num_epochs=3,  # noqa: E731
            optimizer=optax.adam(0.01),
            validation=(x[:4], y[:4]),
        )
    )
    a, b = run(), run()
    assert a.best_index == b.best_index
    assert_runs_equal(a.members, b.members)


def test_the_same_seed_gives_the_same_initial_params_and_a_different_seed_does_not(getkey):
    key = getkey()
    assert_trees_equal(NET.init(key), NET.init(key))
    other = NET.init(getkey())
    assert not np.array_equal(np.asarray(NET.init(key)[0].w), np.asarray(other[0].w))


@pytest.mark.parametrize("batch_size", [1, 4, None])
def test_a_whole_fit_runs_clean_under_the_key_reuse_checker(batch_size, getkey):
    x, y = problem(getkey())
    params, key = NET.init(getkey()), getkey()
    with jax.debug_key_reuse(True):
        result = fnn.fit(
            NET,
            params,
            x,
            y,
            learning_rate=0.1,
            batch_size=batch_size,
            num_epochs=2,
            key=key,
            validation=(x[:4], y[:4]),
        )
        fnn.batch_indices(key, 0, 12, 4)
    assert result.stopped_epoch == 2


def test_fit_many_and_init_run_clean_under_the_key_reuse_checker(getkey):
    x, y = problem(getkey())
    with jax.debug_key_reuse(True):
        key = getkey()
        k_init, k_fit = jax.random.split(key)
        params = NET.init(k_init)
        many = fnn.fit_many(
            NET, x, y, key=jax.random.split(k_fit, 2), batch_size=4, num_epochs=2, learning_rate=0.1
        )
    assert all(leaf.shape[0] == 2 for leaf in jax.tree_util.tree_leaves(many.members.params))
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(NET.init(getkey()))


def test_the_key_reuse_checker_is_really_on(getkey):
    # the checker must catch a reuse here, or the tests above prove nothing
    key = getkey()
    with jax.debug_key_reuse(True):
        jax.random.normal(key, (2,))
        with pytest.raises(Exception, match="(?i)reuse"):
            jax.random.normal(key, (2,))


NETS = [
    fnn.MLP((3, 6, 2), activation="tanh", output_activation="linear"),
    fnn.MLP((3, 5, 4, 3), activation="relu", output_activation="softmax"),
    fnn.MLP((3, 4, 1), activation="sigmoid", output_activation="sigmoid"),
]


@pytest.mark.parametrize("net", NETS, ids=lambda n: "-".join(map(str, n.layer_sizes)))
@pytest.mark.parametrize("chunk", [1, 5, 16])
def test_predictions_do_not_depend_on_batching(net, chunk, getkey):
    params = net.init(getkey())
    x = jax.random.normal(getkey(), (37, 3))
    whole = np.asarray(net.apply(params, x))
    pieces = np.concatenate(
        [np.asarray(net.apply(params, x[i : i + chunk])) for i in range(0, 37, chunk)]
    )
    assert pieces.shape == whole.shape
    np.testing.assert_allclose(pieces, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("net", NETS, ids=lambda n: "-".join(map(str, n.layer_sizes)))
def test_predictions_do_not_depend_on_row_order(net, getkey):
    params = net.init(getkey())
    x = jax.random.normal(getkey(), (29, 3))
    perm = np.asarray(jax.random.permutation(getkey(), 29))
    whole = np.asarray(net.apply(params, x))
    shuffled = np.asarray(net.apply(params, x[perm]))
    np.testing.assert_allclose(shuffled, whole[perm], rtol=1e-5, atol=1e-6)
    back = np.empty_like(shuffled)
    back[perm] = shuffled
    np.testing.assert_allclose(back, whole, rtol=1e-5, atol=1e-6)


def test_full_batch_training_does_not_depend_on_row_order(getkey):
    # J is a mean over the batch: reordering the rows changes only float summation order
    x, y = problem(getkey())
    params, perm = NET.init(getkey()), np.asarray(jax.random.permutation(getkey(), 12))
    a = fnn.fit(NET, params, x, y, learning_rate=0.2, num_epochs=5, key=getkey())
    b = fnn.fit(NET, params, x[perm], y[perm], learning_rate=0.2, num_epochs=5, key=getkey())
    for got, want in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
