"""fit's stopping rules: early stopping on validation, and divergence (non-finite values)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functional_nn as fnn

# A constructed case: a 1-1 linear unit from w = b = 0, trained by full-batch gradient
# descent towards y = 2x; the validation targets are y = x, so the validation loss
# falls until w passes 1 and rises after. With α = 0.2, w_t = 2 (1 − 0.875^t).
LINE = fnn.MLP((1, 1), output_activation="linear")
X = jnp.array([[-1.0], [-0.5], [0.5], [1.0]])
Y = 2 * X
X_VAL = jnp.array([[-1.0], [1.0]])
Y_VAL = X_VAL
ZERO = (fnn.Dense(jnp.zeros((1, 1)), jnp.zeros((1,))),)


def expected_stop(patience, min_delta, num_epochs=40, alpha=0.2):
    """The stopping rule replayed in float64: (best epoch, stopped epoch, validation losses)."""
    w, best, best_epoch, bad, val = 0.0, np.inf, 0, 0, []
    for epoch in range(1, num_epochs + 1):
        w -= alpha * (w - 2.0) * np.mean(np.asarray(X) ** 2)  # ∂J/∂w; b stays 0 (mean x = 0)
        val.append(0.5 * (w - 1.0) ** 2)  # J_val = (1/2)(1/2) Σ (w x − x)², x = ±1
        if val[-1] < best - min_delta:
            best, best_epoch, bad = val[-1], epoch, 0
        else:
            bad += 1
        if bad >= patience:
            return best_epoch, epoch, val
    return best_epoch, num_epochs, val


@pytest.mark.parametrize("patience, min_delta, best, stop", [(3, 0.0, 5, 8), (2, 0.1, 4, 6)])
def test_early_stopping_stops_at_the_right_epoch(patience, min_delta, best, stop, key):
    assert expected_stop(patience, min_delta)[:2] == (best, stop)
    result = fnn.fit(
        LINE,
        ZERO,
        X,
        Y,
        learning_rate=0.2,
        num_epochs=40,
        key=key,
        validation=(X_VAL, Y_VAL),
        patience=patience,
        min_delta=min_delta,
    )
    assert (result.best_epoch, result.stopped_epoch) == (best, stop)
    assert result.stopped_early and not result.diverged
    assert len(result.history["val_loss"]) == stop and result.num_updates == stop
    np.testing.assert_allclose(
        result.history["val_loss"],
        expected_stop(patience, min_delta)[2][:stop],
        rtol=1e-5,
        atol=1e-7,
    )
    assert f"did not improve for {patience} epochs" in result.message


def test_best_params_are_the_best_epochs_params_bit_for_bit(key):
    result = fnn.fit(
        LINE,
        ZERO,
        X,
        Y,
        learning_rate=0.2,
        num_epochs=40,
        key=key,
        validation=(X_VAL, Y_VAL),
        patience=3,
    )
    again = fnn.fit(LINE, ZERO, X, Y, learning_rate=0.2, num_epochs=result.best_epoch, key=key)
    for got, want in zip(
        jax.tree_util.tree_leaves(result.best_params), jax.tree_util.tree_leaves(again.params)
    ):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert float(result.params[0].w[0, 0]) > float(
        result.best_params[0].w[0, 0]
    )  # it trained past the best


def test_without_patience_it_runs_every_epoch_and_still_tracks_the_best(key):
    result = fnn.fit(
        LINE, ZERO, X, Y, learning_rate=0.2, num_epochs=12, key=key, validation=(X_VAL, Y_VAL)
    )
    assert result.stopped_epoch == 12 and not result.stopped_early
    assert result.best_epoch == 5 == int(np.argmin(result.history["val_loss"])) + 1


def test_patience_needs_validation(key):
    with pytest.raises(ValueError, match="validation"):
        fnn.fit(LINE, ZERO, X, Y, learning_rate=0.2, key=key, patience=3)


def test_a_diverging_rate_stops_with_the_last_finite_params_and_names_the_rate(key):
    x = jnp.linspace(-3, 3, 16)[:, None]
    result = fnn.fit(LINE, ZERO, x, 3 * x, learning_rate=5.0, num_epochs=500, key=key)
    assert result.diverged and not result.stopped_early
    assert all(
        bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(result.params)
    )
    # full batch: the bad step is the first of its epoch, and every earlier epoch completed
    assert result.diverged_step == 1 and result.stopped_epoch == result.diverged_epoch - 1
    assert result.num_updates == result.stopped_epoch == len(result.history["train_loss"])
    assert np.all(np.isfinite(result.history["train_loss"]))
    assert "The likely cause is learning_rate=5:" in result.message
    assert result.diverged_leaf is not None
    again = fnn.fit(
        LINE, ZERO, x, 3 * x, learning_rate=5.0, num_epochs=result.stopped_epoch, key=key
    )
    for got, want in zip(
        jax.tree_util.tree_leaves(result.params), jax.tree_util.tree_leaves(again.params)
    ):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_mini_batch_divergence_reports_epoch_step_and_update_count(getkey):
    net = fnn.MLP((3, 8, 2), activation="tanh", output_activation="linear")
    x = 3 * jax.random.normal(getkey(), (40, 3))
    y = jax.random.normal(getkey(), (40, 2))
    result = fnn.fit(
        net,
        net.init(getkey()),
        x,
        y,
        learning_rate=50.0,
        batch_size=8,
        num_epochs=50,
        key=getkey(),
        validation=(x[:8], y[:8]),
    )
    assert result.diverged
    assert result.num_updates == 5 * (result.diverged_epoch - 1) + result.diverged_step - 1
    assert result.stopped_epoch == result.diverged_epoch - 1
    assert result.diverged_leaf.startswith(("grads[", "params[")) or result.diverged_leaf == "loss"
    assert f"epoch {result.diverged_epoch}, step {result.diverged_step}" in result.message


def test_an_overflowing_update_is_named_by_its_leaf(key):
    x, y = jnp.array([[10.0]]), jnp.array([[100.0]])  # J = 5000 and ∇J = (−1000, −100): finite
    result = fnn.fit(LINE, ZERO, x, y, learning_rate=1e37, num_epochs=3, key=key)
    assert result.diverged and result.num_updates == 0 and result.diverged_step == 1
    assert result.diverged_leaf == "params[0].w"
    assert "the update made params[0].w non-finite" in result.message
    np.testing.assert_array_equal(np.asarray(result.params[0].w), 0.0)


def test_an_optimizer_that_diverges_is_named(key):
    x = jnp.linspace(-3, 3, 16)[:, None]
    result = fnn.fit(LINE, ZERO, x, 3 * x, optimizer=optax.sgd(5.0), num_epochs=500, key=key)
    assert result.diverged and "optimizer" in result.message
