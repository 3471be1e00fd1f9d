"""The lecture's α_k = c1 / (k + c2): values, optax use, epoch counting, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functional_nn as fnn
from functional_nn.schedules import InverseTimeDecay


def test_equals_c1_over_k_plus_c2_inside_jit_for_k_up_to_ten_thousand():
    c1, c2 = 3.0, 7.0
    schedule = fnn.inverse_time_decay(c1, c2)
    k = jnp.arange(10_001)
    got = np.asarray(jax.jit(jax.vmap(schedule))(k))
    want = c1 / (np.arange(10_001, dtype=np.float64) + c2)  # float64 oracle
    np.testing.assert_allclose(got, want, rtol=2e-7)
    assert got[0] == np.float32(c1 / c2)  # k starts at 0: α_0 = c1 / c2


def test_is_an_optax_schedule_for_sgd():
    schedule = fnn.inverse_time_decay(0.5, 2.0)
    opt = optax.sgd(schedule)
    params = {"w": jnp.zeros(())}
    state = opt.init(params)
    steps = []
    for _ in range(5):  # a unit gradient makes each update −α_k
        updates, state = opt.update({"w": jnp.ones(())}, state, params)
        steps.append(-float(updates["w"]))
    np.testing.assert_allclose(steps, [0.5 / (k + 2.0) for k in range(5)], rtol=1e-6)


def test_epoch_counting_holds_alpha_within_an_epoch():
    schedule = fnn.inverse_time_decay(1.0, 1.0, per="epoch", steps_per_epoch=20)
    counts = jnp.arange(60)
    got = np.asarray(jax.vmap(schedule)(counts))
    np.testing.assert_allclose(got, 1.0 / (np.arange(60) // 20 + 1.0), rtol=1e-7)


def test_epoch_schedule_without_steps_per_epoch_cannot_be_called_by_optax():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        fnn.inverse_time_decay(1.0, 1.0, per="epoch")(3)


def test_constants_are_pytree_leaves_so_vmap_sweeps_them():
    schedule = fnn.inverse_time_decay(jnp.array([1.0, 2.0, 4.0]), jnp.array([1.0, 2.0, 4.0]))
    leaves = jax.tree_util.tree_leaves(schedule)
    assert len(leaves) == 2
    alphas = jax.vmap(lambda s: s(6))(schedule)
    np.testing.assert_allclose(alphas, [1 / 7, 2 / 8, 4 / 10], rtol=1e-6)


def test_steps_per_epoch_matches_the_lectures_example():
    assert fnn.steps_per_epoch(1000, 1) == 1000
    assert fnn.steps_per_epoch(1000, 50) == 20
    assert fnn.steps_per_epoch(1000, None) == 1
    assert fnn.steps_per_epoch(1000, 300) == 4
    assert fnn.steps_per_epoch(1000, 300, drop_last=True) == 3


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(c1=0.0, c2=1.0), ValueError, "c1"),
        (dict(c1=1.0, c2=-1.0), ValueError, "c2"),
        (dict(c1=float("nan"), c2=1.0), ValueError, "c1"),
        (dict(c1="1", c2=1.0), TypeError, "c1"),
        (dict(c1=1.0, c2=1.0, per="batch"), ValueError, "per"),
        (dict(c1=1.0, c2=1.0, steps_per_epoch=5), ValueError, "steps_per_epoch"),
        (dict(c1=1.0, c2=1.0, per="epoch", steps_per_epoch=0), ValueError, "steps_per_epoch"),
        (dict(c1=np.ones(3), c2=np.ones(2)), ValueError, "same length"),
    ],
)
def test_bad_constants_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        fnn.inverse_time_decay(**kwargs)


def test_returns_the_public_type():
    assert isinstance(fnn.inverse_time_decay(1, 2), InverseTimeDecay)
