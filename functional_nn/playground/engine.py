r"""The playground's compiled programs: "advance N updates" and "draw a frame".

One :class:`Program` fixes what is static (the network, the loss, the gradient
engine, ``K``, the data sizes, the chunk length); everything a user turns while
the run goes on — the learning rate, the schedule's ``c1``, ``c2`` and whether it
is on — is traced state, so changing it reuses the compiled code.
:data:`TRACE_COUNTS` counts how often each program body was traced (a retrace
shows up there).

One update is the lecture's rule ``w ← w − α_k ∇J`` on a batch of ``K`` rows
(``optax.inject_hyperparams(optax.sgd)``, its ``learning_rate`` set every step to
``α`` or ``c1/(k + c2)``, ``k`` the update count). Batches walk through a fresh
permutation of the training rows each epoch; the short last batch gets zero
weights on its padding, so ``J`` is still its rows' mean.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import functional_nn as fnn

__all__ = [
    "Program",
    "TrainState",
    "Hyper",
    "Chunk",
    "optimizer",
    "init_state",
    "advance",
    "losses",
    "Frame",
    "frame",
]

Array = jax.Array

#: Updates per call of the compiled chunk; fewer are done by masking the rest.
CHUNK = 128

#: How often each compiled body was traced, by name ("advance", "frame").
TRACE_COUNTS: collections.Counter = collections.Counter()


@dataclasses.dataclass(frozen=True)
class Program:
    """What is compiled in: a change here compiles anew, anything else does not."""

    net: fnn.MLP
    loss: str
    method: str
    batch_size: int  # K
    num_train: int  # m
    num_test: int
    chunk: int = CHUNK

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.num_train // self.batch_size)


class TrainState(NamedTuple):
    params: tuple  # net's params, a tuple of Dense(w, b)
    opt_state: optax.OptState  # inject_hyperparams(sgd) state; hyperparams["learning_rate"]: ()
    key: Array  # shuffles the training rows, one permutation per epoch
    order: Array  # (steps_per_epoch * K,) int32: this epoch's rows, padded with row 0
    updates: Array  # (), int32: updates done so far (the schedule's k)
    diverged: Array  # (), bool: a step gave a non-finite loss or params; the run stops


class Hyper(NamedTuple):
    """Traced hyperparameters: turning them does not recompile."""

    learning_rate: Array  # (), the constant α
    schedule: fnn.InverseTimeDecay  # leaves c1, c2: α_k = c1/(k + c2)
    use_schedule: Array  # (), bool


class Chunk(NamedTuple):
    """What one chunk reports, one row per update slot ``(chunk,)``."""

    epoch_end: Array  # bool: this slot finished an epoch
    epoch: Array  # int32: the epoch it finished (1-based)
    train_loss: Array  # J on the whole training set after that epoch
    test_loss: Array  # J on the whole test set
    learning_rate: Array  # α used by this update


def optimizer() -> optax.GradientTransformation:
    return optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)


def init_state(program: Program, key: Array) -> TrainState:
    """Fresh params (``net.init``), optimizer state and shuffling key; one compiled call."""
    return _init_fn(program)(key)


@functools.lru_cache(maxsize=64)
def _init_fn(program: Program) -> Callable[[Array], TrainState]:
    def init(key: Array) -> TrainState:
        key_params, key_order = jax.random.split(key)
        params = program.net.init(key_params)
        order = jnp.zeros(
            (program.steps_per_epoch * program.batch_size,), jnp.int32
        )  # the first update draws it
        return TrainState(
            params,
            optimizer().init(params),
            key_order,
            order,
            jnp.zeros((), jnp.int32),
            jnp.zeros((), bool),
        )

    return jax.jit(init)  # one compile instead of a dozen eager ones


def advance(
    program: Program, state: TrainState, hyper: Hyper, data: tuple, n: int
) -> tuple[TrainState, Chunk]:
    """Do ``n <= program.chunk`` updates in one compiled call."""
    return _advance_fn(program)(state, hyper, data, jnp.asarray(n, jnp.int32))


def losses(program: Program, params: Any, data: tuple) -> tuple[Array, Array]:
    """``(J_train, J_test)`` on the whole sets."""
    return _losses_fn(program)(params, data)


@functools.lru_cache(maxsize=64)
def _advance_fn(program: Program) -> Callable[..., tuple[TrainState, Chunk]]:
    net, m, K = program.net, program.num_train, program.batch_size
    spe = program.steps_per_epoch
    pad = spe * K - m
    value_and_grad = fnn.value_and_grad(net, program.loss, method=program.method)
    J = fnn.objective(net, program.loss)
    opt = optimizer()
    # the padding of a short last batch: row 0 with weight 0, so J is the mean over the real rows
    weights = jnp.concatenate([jnp.ones((m,)), jnp.zeros((pad,))])

    def shuffled(key: Array, epoch: Array) -> Array:
        order = jax.random.permutation(jax.random.fold_in(key, epoch), m).astype(jnp.int32)
        return jnp.concatenate([order, jnp.zeros((pad,), jnp.int32)])

    def one_update(
        carry: TrainState, slot: Array, hyper: Hyper, data: tuple, n: Array
    ) -> tuple[TrainState, Any]:
        x_train, y_train, x_test, y_test = data
        k = carry.updates
        epoch, j = k // spe, k % spe
        if spe == 1:  # full batch: the order of the rows does not matter
            order = carry.order
            value, grads = value_and_grad(carry.params, x_train, y_train)
        else:
            # a new permutation at the first update of each epoch only (drawing one costs more than an update)
            order = jax.lax.cond(j == 0, lambda: shuffled(carry.key, epoch), lambda: carry.order)
            rows = jax.lax.dynamic_slice(order, (j * K,), (K,))
            w_rows = jax.lax.dynamic_slice(weights, (j * K,), (K,)).astype(x_train.dtype)
            value, grads = value_and_grad(
                carry.params, x_train[rows], y_train[rows], weights=w_rows
            )
        alpha = jnp.where(hyper.use_schedule, hyper.schedule(k), hyper.learning_rate)
        opt_state = carry.opt_state._replace(
            hyperparams={**carry.opt_state.hyperparams, "learning_rate": alpha}
        )
        step, opt_state = opt.update(grads, opt_state, carry.params)
        params = optax.apply_updates(carry.params, step)
        finite = jnp.isfinite(value) & jnp.all(
            jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(params)])
        )
        active = (slot < n) & ~carry.diverged
        take = active & finite
        new = TrainState(params, opt_state, carry.key, order, k + 1, carry.diverged)
        carry = jax.tree.map(lambda a, b: jnp.where(take, a, b), new, carry)
        carry = carry._replace(diverged=carry.diverged | (active & ~finite))
        epoch_end = take & (carry.updates % spe == 0)
        train_loss, test_loss = jax.lax.cond(
            epoch_end,
            lambda p: (J(p, x_train, y_train), J(p, x_test, y_test)),
            lambda p: (jnp.full((), jnp.nan, x_train.dtype),) * 2,
            carry.params,
        )
        report = Chunk(epoch_end, carry.updates // spe, train_loss, test_loss, alpha)
        return carry, report

    def run(state: TrainState, hyper: Hyper, data: tuple, n: Array) -> tuple[TrainState, Chunk]:
        TRACE_COUNTS["advance"] += 1
        return jax.lax.scan(
            lambda c, s: one_update(c, s, hyper, data, n), state, jnp.arange(program.chunk)
        )

    return jax.jit(run)


@functools.lru_cache(maxsize=64)
def _losses_fn(program: Program) -> Callable[[Any, tuple], tuple[Array, Array]]:
    J = fnn.objective(program.net, program.loss)

    def both(params: Any, data: tuple) -> tuple[Array, Array]:
        x_train, y_train, x_test, y_test = data
        return J(params, x_train, y_train), J(params, x_test, y_test)

    return jax.jit(both)


class Frame(NamedTuple):
    surface: Array  # (grid²,): the output's probability of class 1 on the grid
    units: tuple  # per hidden layer (unit_grid², n_l): each unit's output a_j^l
    train_pred: Array  # (m,) predicted class
    test_pred: Array  # (m_test,)


def frame(
    net: fnn.MLP, params: Any, grid: Array, unit_grid: Array, x_train: Array, x_test: Array
) -> Frame:
    """The decision surface, every hidden unit's map and the predicted classes."""
    return _frame_fn(net)(params, grid, unit_grid, x_train, x_test)


@functools.lru_cache(maxsize=64)
def _frame_fn(net: fnn.MLP) -> Callable[..., Frame]:
    def class_one(params: Any, x: Array) -> Array:
        y_hat = net.apply(params, x)
        return y_hat[:, 1] if net.layer_sizes[-1] == 2 else y_hat[:, 0]

    def draw(params: Any, grid: Array, unit_grid: Array, x_train: Array, x_test: Array) -> Frame:
        TRACE_COUNTS["frame"] += 1
        hidden = net.forward(params, unit_grid).activations[1:-1]
        return Frame(
            class_one(params, grid),
            tuple(hidden),
            (class_one(params, x_train) > 0.5).astype(jnp.int32),
            (class_one(params, x_test) > 0.5).astype(jnp.int32),
        )

    return jax.jit(draw)
