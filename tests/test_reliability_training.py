"""Reliability, training faults (issue 8, group 3): a run that goes non-finite stops, keeps the
last finite params and names the step and leaf; no optimizer wrapper hides a NaN; early
stopping hands back the best params bit for bit; a run cut off by num_epochs warns once."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functional_nn as fnn

LINE = fnn.MLP((1, 1), output_activation="linear")
ONE = (fnn.Dense(jnp.ones((1, 1)), jnp.zeros((1,))),)
ZERO = (fnn.Dense(jnp.zeros((1, 1)), jnp.zeros((1,))),)


def leaves_finite(tree) -> bool:
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(tree))


def assert_trees_equal(a, b):
    for got, want in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def poisoned_data(m=8, bad_row=5):
    """y = x on small inputs, plus one example with x = 1e20: with w = 1 its z² overflows
    float32, so J and ∇J are inf exactly on the batch that holds that row."""
    x = jnp.linspace(-1.0, 1.0, m)[:, None].at[bad_row, 0].set(1e20)
    return x, 0.5 * jnp.where(jnp.abs(x) < 10, x, 0.0)


def gradient_poisoned_data(m=8, bad_row=5):
    """``poisoned_data``, but the bad example's J stays finite while its ∇J overflows:
    x = 1e25, y = x − 2⁶²: r = 2⁶² makes r² ≈ 2e37 but r·x ≈ 5e43 (inf in float32)."""
    big = np.float32(1e25)
    x = jnp.linspace(-1.0, 1.0, m)[:, None].at[bad_row, 0].set(big)
    return x, (0.5 * x).at[bad_row, 0].set(big - np.float32(2.0**62))


def first_bad_step(key, m, batch_size, bad_row):
    idx, _ = fnn.batch_indices(key, 0, m, batch_size)
    return int(np.flatnonzero(np.any(np.asarray(idx) == bad_row, axis=1))[0])  # 0-based


@pytest.mark.parametrize("method", ["manual", "autodiff"])
def test_a_non_finite_loss_mid_epoch_stops_at_that_step_with_the_params_before_it(method, key):
    x, y = poisoned_data()
    step = first_bad_step(key, 8, 2, 5)
    result = fnn.fit(
        LINE, ONE, x, y, learning_rate=0.1, batch_size=2, num_epochs=5, key=key, method=method
    )
    assert result.diverged and result.diverged_epoch == 1 and result.diverged_step == step + 1
    assert result.num_updates == step and result.stopped_epoch == 0
    assert result.diverged_leaf in ("loss", "grads[0].w", "grads[0].b")
    assert f"epoch 1, step {step + 1}" in result.message and "non-finite" in result.message
    assert leaves_finite(result.params)
    # the kept params are those after the `step` good batches, by the lecture's rule
    idx, _ = fnn.batch_indices(key, 0, 8, 2)
    f = jax.jit(fnn.value_and_grad(LINE, "mse", method))
    params = ONE
    for rows in np.asarray(idx)[:step]:
        _, grads = f(params, x[rows], y[rows])
        params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    for got, want in zip(
        jax.tree_util.tree_leaves(result.params), jax.tree_util.tree_leaves(params)
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("validated", [False, True])
def test_sgds_check_once_a_segment_finds_the_step_a_per_step_probe_finds(validated, key):
    # fnn.sgd's runs read a non-finite step off the losses and final params of a whole
    # segment (an epoch with validation) and replay it; a caller's optimizer's gradients
    # are probed at every step besides. Mid-segment divergences in fit and fit_many end
    # the same either way.
    x = jnp.linspace(-3, 3, 16)[:, None]
    common = dict(batch_size=4, num_epochs=60, key=key)
    if validated:
        common.update(validation=(x[::3], 3 * x[::3]))
    for rate in (1.3, 4.0):
        by_segment = fnn.fit(LINE, ZERO, x, 3 * x, learning_rate=rate, **common)
        by_step = fnn.fit(LINE, ZERO, x, 3 * x, optimizer=optax.sgd(rate), **common)
        assert by_segment.diverged and by_segment.diverged_epoch > 1, rate
        for name in ("diverged_epoch", "diverged_step", "num_updates", "best_epoch"):
            assert getattr(by_segment, name) == getattr(by_step, name), (rate, name)
        # the same words, but for how the step size is named
        named = by_step.message.replace("the optimizer's step size (learning rate)", "")
        assert by_segment.message.replace(f"learning_rate={rate:g}", "") == named
        assert_trees_equal(by_segment.params, by_step.params)
        np.testing.assert_array_equal(
            by_segment.history["train_loss"], by_step.history["train_loss"]
        )
    many = fnn.fit_many(
        LINE, x, 3 * x, params=ZERO, learning_rate=jnp.array([0.01, 1.3, 4.0]), **common
    )
    for i, rate in enumerate((0.01, 1.3, 4.0)):
        alone = fnn.fit(LINE, ZERO, x, 3 * x, optimizer=optax.sgd(rate), **common)
        assert many.member(i).diverged == alone.diverged == (rate > 1)
        assert many.member(i).num_updates == alone.num_updates, rate
        assert_trees_equal(many.member(i).params, alone.params)


def test_divergence_in_a_later_epoch_keeps_every_completed_epoch(key):
    x = jnp.linspace(-3, 3, 16)[:, None]
    result = fnn.fit(LINE, ZERO, x, 3 * x, learning_rate=4.0, num_epochs=300, key=key)
    assert result.diverged and result.diverged_epoch > 5  # it grew for a while first
    assert result.stopped_epoch == result.diverged_epoch - 1 == len(result.history["train_loss"])
    assert np.all(np.isfinite(result.history["train_loss"])) and leaves_finite(result.params)
    assert np.all(
        np.diff(result.history["train_loss"][1:]) > 0
    )  # the loss grew every epoch: overshoot


@pytest.mark.parametrize("learning_rate", [5.0, 50.0, fnn.inverse_time_decay(50.0, 1.0)])
def test_a_diverging_learning_rate_is_reported_as_the_cause(learning_rate, key):
    x = jnp.linspace(-3, 3, 16)[:, None]
    result = fnn.fit(LINE, ZERO, x, 3 * x, learning_rate=learning_rate, num_epochs=500, key=key)
    assert result.diverged
    assert "diverged" in result.message and "The likely cause is" in result.message
    assert ("learning_rate=" in result.message) or ("schedule" in result.message)
    assert "too high" in result.message


WRAPPERS = {
    "clip_by_global_norm": lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1)),
    "clip": lambda: optax.chain(optax.clip(0.5), optax.sgd(0.1)),
    "adam": lambda: optax.adam(0.01),
    "apply_if_finite": lambda: optax.apply_if_finite(optax.sgd(0.1), max_consecutive_errors=100),
    "zero_nans": lambda: optax.chain(optax.zero_nans(), optax.sgd(0.1)),
}


@pytest.mark.parametrize("name", sorted(WRAPPERS))
@pytest.mark.parametrize("overflows", ["loss", "gradient"])
def test_no_optimizer_wrapper_hides_a_non_finite_gradient(name, overflows, key):
    # global-norm clipping turns inf gradients into NaN updates, elementwise clipping into
    # finite ones; apply_if_finite and zero_nans would skip them and keep going: fit still
    # stops at the bad step, whatever the wrapper does, also where J itself stays finite.
    if overflows == "loss":
        bad_row = 5
        x, y = poisoned_data(bad_row=bad_row)
    else:  # in the first batch: no later step sees it, so only its ∇J tells
        bad_row = int(np.asarray(fnn.batch_indices(key, 0, 8, 2)[0])[0, 0])
        x, y = gradient_poisoned_data(bad_row=bad_row)
    step = first_bad_step(key, 8, 2, bad_row)
    result = fnn.fit(
        LINE, ONE, x, y, optimizer=WRAPPERS[name](), batch_size=2, num_epochs=1, key=key
    )
    assert result.diverged and (result.diverged_epoch, result.diverged_step) == (1, step + 1)
    assert (
        result.num_updates == step
        and leaves_finite(result.params)
        and leaves_finite(result.opt_state)
    )
    assert result.diverged_leaf in ("loss", "grads[0].w", "grads[0].b")


def test_a_clipped_run_on_finite_data_never_diverges(key):
    # the same wrapper on healthy data: clipping bounds each step, nothing is flagged
    x = jnp.linspace(-3, 3, 16)[:, None]
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.5))
    result = fnn.fit(LINE, ZERO, x, 3 * x, optimizer=opt, num_epochs=30, key=key)
    assert not result.diverged and result.diverged_leaf is None and result.diverged_step == 0


@pytest.mark.parametrize("batch_size", [None, 2])
def test_early_stopping_returns_the_best_epochs_params_bit_for_bit(batch_size, getkey):
    net = fnn.MLP((2, 6, 1), activation="tanh", output_activation="linear")
    x = jax.random.normal(getkey(), (16, 2))
    y = jnp.sin(3 * x[:, :1]) + 0.3 * jax.random.normal(getkey(), (16, 1))
    x_val, y_val = x[:6] + 0.05, jnp.sin(3 * x[:6, :1] + 0.15)
    params, key = net.init(getkey()), getkey()
    common = dict(learning_rate=0.3, batch_size=batch_size, key=key)
    # min_delta makes the stop certain: the validation loss cannot keep falling by 1e-4 an epoch forever.
    result = fnn.fit(
        net,
        params,
        x,
        y,
        num_epochs=500,
        validation=(x_val, y_val),
        patience=4,
        min_delta=1e-4,
        **common,
    )
    assert result.stopped_early and 0 < result.best_epoch < result.stopped_epoch
    # The oracle is the same program cut at best_epoch: validation and patience stay, so the
    # updates compile alike (XLA promises the same bits only for the same computation).
    with pytest.warns(fnn.ConvergenceWarning):  # best_epoch was still an improvement
        again = fnn.fit(
            net,
            params,
            x,
            y,
            num_epochs=result.best_epoch,
            validation=(x_val, y_val),
            patience=4,
            min_delta=1e-4,
            **common,
        )
    assert_trees_equal(result.best_params, again.params)
    best_val = np.asarray(result.history["val_loss"])[result.best_epoch - 1]
    assert (
        np.min(result.history["val_loss"]) <= best_val <= np.min(result.history["val_loss"]) + 1e-4
    )


def test_a_run_that_only_gets_worse_returns_the_initial_params_as_best_epoch_0(key):
    # issue 13: the initial params are validated before the first epoch and are the first
    # candidate for the best, so a run whose every epoch is worse returns them
    x = jnp.linspace(-1, 1, 8)[:, None]
    x_val, y_val = jnp.array([[1.0]]), jnp.array([[0.0]])  # every step moves w away from 0
    result = fnn.fit(
        LINE,
        ZERO,
        x,
        3 * x,
        learning_rate=0.1,
        num_epochs=20,
        key=key,
        validation=(x_val, y_val),
        patience=2,
    )
    assert result.best_epoch == 0 and result.stopped_epoch == 2 and result.stopped_early
    assert_trees_equal(result.best_params, ZERO)
    assert "at epoch 0" in result.message


@pytest.mark.parametrize("segmented", [False, True])
def test_a_run_at_the_epoch_limit_still_improving_warns_exactly_once(key, segmented):
    # segmented: the run called segment by segment (here for on_segment), as with checkpoints
    hook = {"on_segment": lambda state: None} if segmented else {}
    x = jnp.linspace(-1, 1, 8)[:, None]
    validation = (x, 3 * x)
    with pytest.warns(fnn.ConvergenceWarning, match="num_epochs=5") as record:
        result = fnn.fit(
            LINE,
            ZERO,
            x,
            3 * x,
            learning_rate=0.1,
            num_epochs=5,
            key=key,
            validation=validation,
            patience=3,
            **hook,
        )
    assert len([w for w in record if issubclass(w.category, fnn.ConvergenceWarning)]) == 1
    assert issubclass(fnn.ConvergenceWarning, UserWarning)
    assert record[0].filename == __file__  # points at the caller, not inside the library
    assert result.stopped_epoch == 5 and not result.stopped_early and result.best_epoch == 5


@pytest.mark.parametrize("case", ["no_patience", "stopped_early", "diverged"])
def test_runs_that_converged_stopped_or_diverged_do_not_warn(case, key):
    x = jnp.linspace(-1, 1, 8)[:, None]
    kwargs = {
        "no_patience": dict(learning_rate=0.1, num_epochs=5, validation=(x, 3 * x)),
        "stopped_early": dict(learning_rate=0.1, num_epochs=50, validation=(x, 0 * x), patience=2),
        "diverged": dict(learning_rate=80.0, num_epochs=50, validation=(x, 3 * x), patience=40),
    }[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fnn.fit(LINE, ZERO, x, 3 * x, key=key, **kwargs)
    assert result.diverged == (case == "diverged")
    assert result.stopped_early == (case == "stopped_early")
