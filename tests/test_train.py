"""fit: batches, epochs, the update rule, engines, reproducibility, compilation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functional_nn as fnn
from functional_nn import _engine, _prepare
from functional_nn._batches import _mix, _unmix, epoch_orders
from functional_nn._x64 import float64_mode


def regression(key, m=20, n_in=3, n_out=2, dtype=jnp.float32):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (m, n_in), dtype)
    y = jnp.sin(x @ jax.random.normal(ky, (n_in, n_out), dtype))
    return x, y


NET = fnn.MLP((3, 5, 2), activation="tanh", output_activation="linear")


def standard(key):
    """One small problem and one set of static settings, shared by many tests so that
    they reuse one compiled program (params, data values, rate and key are traced)."""
    x, y = regression(key)
    return x, y, dict(learning_rate=0.1, batch_size=4, num_epochs=5, validation=(x[:5], y[:5]))


def hand_loop(net, loss, params, batches, learning_rate, method="manual"):
    """The lecture's loop written out: w ← w − α ∇J for each given batch (x, y, weights)."""
    f = jax.jit(fnn.value_and_grad(net, loss, method))
    for xb, yb, wb in batches:
        _, grads = f(params, xb, yb, wb)
        params = jax.tree_util.tree_map(lambda p, g: p - learning_rate * g, params, grads)
    return params


def assert_trees_close(a, b, **tol):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


def assert_trees_equal(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_full_batch_equals_a_hand_written_loop_of_gradient_steps(getkey):
    x, y = regression(getkey())
    params = NET.init(getkey())
    result = fnn.fit(
        NET, params, x, y, learning_rate=0.3, batch_size=None, num_epochs=25, key=getkey()
    )
    want = hand_loop(NET, "mse", params, [(x, y, None)] * 25, 0.3)
    assert_trees_close(result.params, want, rtol=1e-6, atol=1e-6)
    assert result.num_updates == 25 and result.stopped_epoch == 25
    # train_loss of a full-batch epoch is J before its update
    j0, _ = fnn.value_and_grad(NET, "mse")(params, x, y)
    assert result.history["train_loss"][0] == pytest.approx(float(j0), rel=1e-6)
    # K = m is the same run as batch_size=None, bit for bit
    same = fnn.fit(NET, params, x, y, learning_rate=0.3, batch_size=20, num_epochs=25, key=getkey())
    assert_trees_equal(same.params, result.params)


@pytest.mark.parametrize("batch_size, per_epoch", [(50, 20), (1, 1000), (None, 1), (1000, 1)])
def test_lectures_example_m_1000_counts_updates(batch_size, per_epoch, getkey):
    net = fnn.MLP((2, 1), output_activation="linear")
    x = jax.random.normal(getkey(), (1000, 2))
    y = x[:, :1] - x[:, 1:]
    result = fnn.fit(
        net,
        net.init(getkey()),
        x,
        y,
        learning_rate=0.01,
        batch_size=batch_size,
        num_epochs=1,
        key=getkey(),
    )
    assert result.num_updates == per_epoch
    assert fnn.steps_per_epoch(1000, batch_size) == per_epoch


def test_manual_and_autodiff_give_the_same_trajectory_in_float64(getkey):
    with float64_mode():
        x, y = regression(getkey(), m=24, dtype=jnp.float64)
        params = NET.init(getkey(), dtype=jnp.float64)
        key = getkey()
        runs = [
            fnn.fit(
                NET,
                params,
                x,
                y,
                learning_rate=0.2,
                batch_size=8,
                num_epochs=100,
                key=key,
                method=method,
                validation=(x[:6], y[:6]),
            )
            for method in ("manual", "autodiff")
        ]
        manual, autodiff = runs
        assert manual.params[0].w.dtype == jnp.float64
        for name in ("train_loss", "val_loss"):
            np.testing.assert_allclose(manual.history[name], autodiff.history[name], rtol=1e-10)
        assert_trees_close(manual.params, autodiff.params, rtol=1e-10, atol=1e-12)


def test_same_key_is_bit_identical_and_other_keys_reorder_the_batches(getkey):
    x, y, kwargs = standard(getkey())
    params, key = NET.init(getkey()), getkey()
    a = fnn.fit(NET, params, x, y, key=key, **kwargs)
    b = fnn.fit(NET, params, x, y, key=key, **kwargs)
    assert_trees_equal(a.params, b.params)
    assert all(np.array_equal(a.history[k], b.history[k]) for k in a.history)
    other = fnn.fit(NET, params, x, y, key=getkey(), **kwargs)
    assert not np.array_equal(np.asarray(a.params[0].w), np.asarray(other.params[0].w))
    order_a, _ = fnn.batch_indices(key, 0, 20, 4)
    order_b, _ = fnn.batch_indices(getkey(), 0, 20, 4)
    assert not np.array_equal(order_a, order_b)


def test_every_epoch_is_a_fresh_permutation(key):
    orders = [np.asarray(fnn.batch_indices(key, e, 12, 4)[0]).ravel() for e in range(3)]
    for order in orders:
        assert sorted(order) == list(range(12))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


def _lowbias32(x):
    """The hash the shuffles sort by, in numpy: an oracle independent of the library's jnp code."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


@pytest.mark.parametrize("m", [1, 2, 5, 64, 1440])
def test_an_epochs_order_is_the_argsort_of_its_hash(m):
    # the library sorts the hash values alone and maps them back by the inverse hash;
    # the order must be the one sorting the (value, index) pairs gives
    rng = np.random.default_rng(m)
    seed, epochs = (
        rng.integers(0, 2**32, 2, dtype=np.uint64).astype(np.uint32),
        np.array([0, 7, 10**6]),
    )
    e = epochs.astype(np.uint32)[:, None]
    with np.errstate(over="ignore"):
        s = _lowbias32(_lowbias32(e * np.uint32(0x9E3779B9) ^ seed[0]) ^ seed[1])
        t = _lowbias32(s ^ np.uint32(0x85EBCA6B))
        h = _lowbias32(_lowbias32(np.arange(m, dtype=np.uint32)[None, :] ^ s) ^ t)
    got = np.asarray(epoch_orders(seed, epochs, m))
    np.testing.assert_array_equal(got, np.argsort(h, axis=-1, kind="stable"))


def test_the_shuffle_hash_is_inverted_exactly():
    x = np.concatenate(
        [
            np.arange(1000),
            2**32 - 1 - np.arange(1000),
            np.random.default_rng(0).integers(0, 2**32, 10**5),
        ]
    ).astype(np.uint32)
    np.testing.assert_array_equal(np.asarray(_unmix(_mix(jnp.asarray(x)))), x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(np.asarray(_mix(jnp.asarray(x))), _lowbias32(x))


def test_short_last_batch_is_kept_and_weighted_as_its_own_mean(getkey):
    x, y = regression(getkey(), m=10)
    params, key = NET.init(getkey()), getkey()
    result = fnn.fit(NET, params, x, y, learning_rate=0.2, batch_size=4, num_epochs=3, key=key)
    assert result.num_updates == 9  # 4 + 4 + 2 examples per epoch
    batches = []
    for epoch in range(3):  # the same orders, short last batch as a real batch of 2, no weights
        idx, w = fnn.batch_indices(key, epoch, 10, 4)
        assert np.asarray(w).sum() == 10 and np.asarray(w)[-1].tolist() == [1, 1, 0, 0]
        for rows, weights in zip(np.asarray(idx), np.asarray(w)):
            real = rows[weights > 0]
            batches.append((x[real], y[real], None))
    want = hand_loop(NET, "mse", params, batches, 0.2)
    assert_trees_close(result.params, want, rtol=2e-6, atol=2e-6)


def test_drop_last_skips_the_short_batch(getkey):
    x, y = regression(getkey(), m=10)
    params, key = NET.init(getkey()), getkey()
    result = fnn.fit(
        NET, params, x, y, learning_rate=0.2, batch_size=4, num_epochs=3, key=key, drop_last=True
    )
    assert result.num_updates == 6
    batches = []
    for epoch in range(3):
        idx, w = fnn.batch_indices(key, epoch, 10, 4, drop_last=True)
        assert idx.shape == (2, 4) and np.all(np.asarray(w) == 1)
        batches += [(x[rows], y[rows], None) for rows in np.asarray(idx)]
    assert_trees_close(
        result.params, hand_loop(NET, "mse", params, batches, 0.2), rtol=2e-6, atol=2e-6
    )


def test_learning_rate_is_optax_sgd_with_that_rate(getkey):
    x, y, kwargs = standard(getkey())
    params, key = NET.init(getkey()), getkey()
    plain = fnn.fit(NET, params, x, y, key=key, **kwargs)
    kwargs["optimizer"] = optax.sgd(kwargs.pop("learning_rate"))
    sgd = fnn.fit(NET, params, x, y, key=key, **kwargs)
    assert_trees_close(plain.params, sgd.params, rtol=1e-6, atol=1e-7)
    assert "learning_rate" not in sgd.history  # optax.sgd does not expose its rate
    np.testing.assert_allclose(plain.history["learning_rate"], 0.1)


def test_optax_optimizers_train_and_injected_rates_are_recorded(getkey):
    x, y, kwargs = standard(getkey())
    del kwargs["learning_rate"]
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=optax.exponential_decay(0.05, 1, 0.9))
    result = fnn.fit(NET, NET.init(getkey()), x, y, optimizer=adam, key=getkey(), **kwargs)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    np.testing.assert_allclose(
        result.history["learning_rate"], 0.05 * 0.9 ** (5 * np.arange(5)), rtol=1e-5
    )
    assert int(result.opt_state.count) == result.num_updates == 25


@pytest.mark.parametrize("per, k_of_epoch", [("update", lambda e: 5 * e), ("epoch", lambda e: e)])
def test_inverse_time_schedule_in_fit(per, k_of_epoch, getkey):
    x, y, kwargs = standard(getkey())
    kwargs["learning_rate"] = fnn.inverse_time_decay(2.0, 4.0, per=per)
    result = fnn.fit(NET, NET.init(getkey()), x, y, key=getkey(), **kwargs)
    want = [2.0 / (k_of_epoch(e) + 4.0) for e in range(5)]
    np.testing.assert_allclose(result.history["learning_rate"], want, rtol=1e-6)


def test_epoch_schedule_with_a_different_steps_per_epoch_is_refused(getkey):
    x, y = regression(getkey())
    schedule = fnn.inverse_time_decay(1.0, 1.0, per="epoch", steps_per_epoch=3)
    with pytest.raises(ValueError, match="steps_per_epoch=3"):
        fnn.fit(NET, NET.init(getkey()), x, y, learning_rate=schedule, batch_size=4, key=getkey())


def test_a_second_call_with_the_same_shapes_does_not_retrace(monkeypatch, getkey):
    traces = []
    original = _engine.update_step

    def counting(*args, **kwargs):  # runs only while JAX traces
        traces.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_engine, "update_step", counting)
    net = fnn.MLP(
        (3, 7, 2), activation="tanh", output_activation="linear"
    )  # shapes no other test uses
    x, y = regression(getkey(), m=19)
    fnn.fit(
        net, net.init(getkey()), x, y, learning_rate=0.1, batch_size=6, num_epochs=3, key=getkey()
    )
    first = len(traces)
    assert first >= 1
    x2, y2 = regression(getkey(), m=19)  # new data, params, rate and key: all traced
    fnn.fit(
        net, net.init(getkey()), x2, y2, learning_rate=0.7, batch_size=6, num_epochs=3, key=getkey()
    )
    assert len(traces) == first


def _jaxpr_text(getkey, **options):
    x, y = regression(getkey())
    settings = dict(
        members=False,
        params=NET.init(getkey()),
        key=getkey(),
        loss="mse",
        learning_rate=0.1,
        optimizer=None,
        batch_size=4,
        num_epochs=2,
        method="manual",
        validation=None,
        patience=None,
        min_delta=0.0,
        progress=False,
        record_grad_norms=False,
        mesh=None,
        drop_last=False,
        opt_state=None,
        initial_epoch=0,
    )
    run = _prepare.prepare(NET, x, y, **(settings | options))
    traced = jax.jit(_engine.run, static_argnames="config").trace(
        run.config, run.params, run.opt_state, run.data, run.hyper
    )
    return str(traced.jaxpr)


def test_progress_runs_nothing_host_side_inside_the_compiled_program(getkey):
    # the bar moves between segments, on the host: no callback is traced either way
    assert "callback" not in _jaxpr_text(getkey)
    assert "callback" not in _jaxpr_text(getkey, progress=True)


def test_nothing_is_traced_that_the_run_did_not_ask_for(getkey):
    # a lean run: no validation forward pass, no gradient norms, no callback
    plain = _jaxpr_text(getkey)
    assert "sqrt" not in plain and "callback" not in plain
    assert "sqrt" in _jaxpr_text(getkey, record_grad_norms=True)  # the per-layer norms
    x, y = regression(getkey())
    with_validation = _jaxpr_text(getkey, validation=(x[:5], y[:5]))
    assert with_validation.count("dot_general") > plain.count(
        "dot_general"
    )  # the validation forward pass


def test_progress_bar_shows_losses_and_changes_nothing(capsys, getkey):
    x, y, kwargs = standard(getkey())
    params, key = NET.init(getkey()), getkey()
    quiet = fnn.fit(NET, params, x, y, key=key, **kwargs)
    shown = fnn.fit(NET, params, x, y, key=key, progress=True, **kwargs)
    assert_trees_equal(quiet.params, shown.params)
    err = capsys.readouterr().err
    assert "5/5" in err and "val_loss" in err


def test_progress_without_tqdm_names_the_extra(monkeypatch, getkey):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    x, y = regression(getkey())
    with pytest.raises(ImportError, match=r"functional-nn\[progress\]"):
        fnn.fit(
            NET,
            NET.init(getkey()),
            x,
            y,
            learning_rate=0.1,
            num_epochs=2,
            key=getkey(),
            progress=True,
        )


def test_runs_clean_under_the_key_reuse_checker(getkey):
    x, y, kwargs = standard(getkey())
    with jax.debug_key_reuse(True):
        result = fnn.fit(NET, NET.init(getkey()), x, y, key=getkey(), **kwargs)
    assert result.num_updates == 25


def test_legacy_uint32_keys_are_accepted(getkey):
    x, y, kwargs = standard(getkey())
    params = NET.init(getkey())
    typed = fnn.fit(NET, params, x, y, key=jax.random.key(5), **kwargs)
    legacy = fnn.fit(NET, params, x, y, key=jax.random.PRNGKey(5), **kwargs)
    assert_trees_equal(typed.params, legacy.params)
