"""fit_many: every member is exactly a lone fit; masked widths are narrow networks."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn.network import Dense

NET = fnn.MLP((3, 6, 2), activation="tanh", output_activation="linear")


def regression(key, m=20):
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (m, 3))
    return x, jnp.sin(x @ jax.random.normal(kw, (3, 2)))


def assert_trees_close(a, b, tol=1e-5):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def test_members_equal_lone_fits_over_seeds_and_learning_rates(getkey):
    x, y = regression(getkey())
    keys = jax.random.split(getkey(), 3)
    rates = jnp.array([0.05, 0.2, 0.5])
    common = dict(batch_size=4, num_epochs=6, validation=(x[:5], y[:5]))
    many = fnn.fit_many(NET, x, y, key=keys, learning_rate=rates, **common)
    assert many.members.params[0].w.shape == (3, 3, 6)
    assert many.members.history["train_loss"].shape == (3, 6)
    for i in range(3):
        k_init, k_fit = jax.random.split(keys[i])
        alone = fnn.fit(
            NET, NET.init(k_init), x, y, key=k_fit, learning_rate=float(rates[i]), **common
        )
        member = many.member(i)
        assert_trees_close(member.params, alone.params)
        for name in alone.history:
            np.testing.assert_allclose(
                member.history[name], alone.history[name], rtol=1e-5, atol=1e-6
            )
        assert (member.best_epoch, member.num_updates) == (alone.best_epoch, alone.num_updates)
    best_vals = [np.min(many.member(i).history["val_loss"]) for i in range(3)]
    assert many.best_index == int(np.argmin(best_vals))
    assert many.best.params[0].w.shape == (3, 6)


def test_masked_widths_train_exactly_like_unmasked_narrow_networks(getkey):
    x, y = regression(getkey())
    params, key = NET.init(getkey()), getkey()
    widths = [2, 4, 6]
    common = dict(learning_rate=0.3, batch_size=5, num_epochs=8, validation=(x[:5], y[:5]))
    many = fnn.fit_many(NET, x, y, key=key, params=params, hidden_widths=widths, **common)
    for i, width in enumerate(widths):
        narrow = fnn.MLP((3, width, 2), activation="tanh", output_activation="linear")
        sliced = (
            Dense(params[0].w[:, :width], params[0].b[:width]),
            Dense(params[1].w[:width], params[1].b),
        )
        alone = fnn.fit(narrow, sliced, x, y, key=key, **common)
        got = many.member(i)
        kept = (
            Dense(got.params[0].w[:, :width], got.params[0].b[:width]),
            Dense(got.params[1].w[:width], got.params[1].b),
        )
        assert_trees_close(kept, alone.params, tol=1e-6)
        np.testing.assert_allclose(
            got.history["val_loss"], alone.history["val_loss"], rtol=1e-6, atol=1e-7
        )
        # the masked units never moved: their gradients are exactly 0
        np.testing.assert_array_equal(
            np.asarray(got.params[0].w[:, width:]), np.asarray(params[0].w[:, width:])
        )


def test_each_member_stops_early_on_its_own(getkey):
    x, y = regression(getkey())
    params, key = NET.init(getkey()), getkey()
    rates = jnp.array([0.01, 0.5, 2.0])
    common = dict(batch_size=4, num_epochs=40, validation=(x[:5], y[:5]), patience=3)
    with pytest.warns(
        fnn.ConvergenceWarning, match="fit_many: 1 of 3 members reached num_epochs=40"
    ):
        many = fnn.fit_many(NET, x, y, key=key, params=params, learning_rate=rates, **common)
    for i in range(3):
        with warnings.catch_warnings():  # the slow member legitimately runs to num_epochs
            warnings.simplefilter("ignore", fnn.ConvergenceWarning)
            alone = fnn.fit(NET, params, x, y, key=key, learning_rate=float(rates[i]), **common)
        member = many.member(i)
        assert (member.stopped_epoch, member.best_epoch, member.stopped_early) == (
            alone.stopped_epoch,
            alone.best_epoch,
            alone.stopped_early,
        )
        assert_trees_close(member.best_params, alone.best_params)
    stopped = many.members.stopped_epoch
    assert len(set(stopped.tolist())) > 1  # they really stopped at different epochs
    # after a member stops, its history repeats its last value
    i = int(np.argmin(stopped))
    tail = many.members.history["val_loss"][i, stopped[i] - 1 :]
    assert np.all(tail == tail[0])


def test_init_scale_and_schedule_constants_are_swept(getkey):
    x, y = regression(getkey())
    key = getkey()
    scales = jnp.array([0.5, 1.0, 2.0])
    schedule = fnn.inverse_time_decay(jnp.array([1.0, 2.0, 3.0]), jnp.array([5.0, 10.0, 20.0]))
    common = dict(batch_size=4, num_epochs=4)
    many = fnn.fit_many(NET, x, y, key=key, init_scale=scales, learning_rate=schedule, **common)
    k_init, k_fit = jax.random.split(key)
    for i in range(3):
        alone = fnn.fit(
            NET,
            NET.init(k_init, scale=float(scales[i])),
            x,
            y,
            key=k_fit,
            learning_rate=fnn.inverse_time_decay(float(schedule.c1[i]), float(schedule.c2[i])),
            **common,
        )
        assert_trees_close(many.member(i).params, alone.params)
        np.testing.assert_allclose(
            many.member(i).history["learning_rate"], alone.history["learning_rate"], rtol=1e-6
        )


def test_a_diverging_member_leaves_the_others_alone(getkey):
    x, y = regression(getkey())
    params, key = NET.init(getkey()), getkey()
    many = fnn.fit_many(
        NET,
        3 * x,
        y,
        key=key,
        params=params,
        learning_rate=jnp.array([0.05, 80.0]),
        batch_size=4,
        num_epochs=6,
    )
    assert many.members.diverged.tolist() == [False, True]
    assert "learning_rate=80" in many.members.message[1]
    assert many.best_index == 0
    alone = fnn.fit(NET, params, 3 * x, y, key=key, learning_rate=0.05, batch_size=4, num_epochs=6)
    assert_trees_close(many.member(0).params, alone.params)
    assert np.all(np.isfinite(np.asarray(many.members.params[0].w)))


def test_same_key_gives_bit_identical_members(getkey):
    x, y = regression(getkey())
    keys = jax.random.split(
        getkey(), 3
    )  # the settings of the first test: its compiled program is reused
    runs = [
        fnn.fit_many(
            NET,
            x,
            y,
            key=keys,
            learning_rate=jnp.array([0.05, 0.2, 0.5]),
            batch_size=4,
            num_epochs=6,
            validation=(x[:5], y[:5]),
        )
        for _ in range(2)
    ]
    for a, b in zip(
        jax.tree_util.tree_leaves(runs[0].members), jax.tree_util.tree_leaves(runs[1].members)
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_progress_bar_under_fit_many(capsys, getkey):
    x, y = regression(getkey())
    fnn.fit_many(
        NET,
        x,
        y,
        key=jax.random.split(getkey(), 2),
        learning_rate=0.1,
        batch_size=4,
        num_epochs=3,
        validation=(x[:5], y[:5]),
        progress=True,
    )
    err = capsys.readouterr().err
    assert "3/3" in err and "running" in err


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(learning_rate=0.1), ValueError, "at least one per-member argument"),
        (
            dict(learning_rate=jnp.array([0.1, 0.2]), init_scale=jnp.array([1.0, 2.0, 3.0])),
            ValueError,
            "disagree",
        ),
        (dict(learning_rate=0.1, hidden_widths=[0, 3]), ValueError, "hidden_widths"),
        (dict(learning_rate=0.1, hidden_widths=[3, 7]), ValueError, "hidden_widths"),
        (dict(learning_rate=0.1, hidden_widths=[1.5, 2.0]), TypeError, "ints"),
        (dict(learning_rate=jnp.array([0.1, -1.0])), ValueError, "learning_rate"),
        (dict(learning_rate=0.1, init_scale=jnp.array([1.0, 0.0])), ValueError, "init_scale"),
    ],
)
def test_bad_member_arguments_are_refused(kwargs, error, match, key):
    x, y = regression(key)
    with pytest.raises(error, match=match):
        fnn.fit_many(NET, x, y, key=key, num_epochs=2, **kwargs)


def test_init_scale_with_given_params_is_refused(key):
    x, y = regression(key)
    with pytest.raises(ValueError, match="init_scale"):
        fnn.fit_many(
            NET,
            x,
            y,
            key=jax.random.split(key, 2),
            params=NET.init(key),
            init_scale=jnp.ones(2),
            learning_rate=0.1,
        )
