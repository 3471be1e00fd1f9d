"""Two hand-written JAX training loops, the yardsticks for ``functional_nn.fit``.

* ``loop``: one jitted step (``fnn.value_and_grad`` + optax) called from a
  Python ``for`` loop: one dispatch per update.
* ``scan``: the whole run in one jitted ``lax.scan`` over every update of every
  epoch: one dispatch per run. ``fit`` adds to this what a library needs
  (per-epoch history, divergence checks, early stopping); this is the bare
  minimum it is measured against. It is given the orders.
* ``scan_shuffle``: the same scan drawing every epoch's order inside its run, as
  ``fit`` does (``functional_nn._batches.epoch_orders``, every epoch in one call).

Both gather batch ``i`` from the shared order ``problem.orders`` inside the
compiled code; full batch uses ``x`` as it is (no gather). Several models run
one after another (``sequential``) or vmapped over the stacked initial params.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
import optax

import functional_nn as fnn
from functional_nn._batches import epoch_orders, shuffle_seed

from workloads import Problem, Spec, to_jax


def optimizer(spec: Spec) -> optax.GradientTransformation:
    return (
        optax.adam(spec.learning_rate)
        if spec.optimizer == "adam"
        else optax.sgd(spec.learning_rate)
    )


def make_step(spec: Spec, method: str = "manual") -> Callable:
    """``step(params, opt_state, xb, yb) -> (params, opt_state, J)``, pure and jittable."""
    value_and_grad = fnn.value_and_grad(spec.net, spec.loss, method)
    opt = optimizer(spec)

    def step(params, opt_state, xb, yb):
        J, grads = value_and_grad(params, xb, yb)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, J

    return step


def batch_indices(problem: Problem) -> np.ndarray:
    """``(num_updates, K)``: the rows of every update, epoch after epoch."""
    spec = problem.spec
    return problem.orders.reshape(-1, spec.batch).astype(np.int32)


def _gather(spec: Spec, x, y, idx):
    if spec.batch_size is None:
        return x, y  # full batch: the whole set in its stored order
    return x[idx], y[idx]


def whole_run(spec: Spec, method: str = "manual") -> Callable:
    """``run(params, x, y, idx) -> (params, losses (num_updates,))``: the whole run as one ``lax.scan``."""
    step, opt = make_step(spec, method), optimizer(spec)

    def run(params, x, y, idx):
        def body(carry, rows):
            params, opt_state = carry
            params, opt_state, J = step(params, opt_state, *_gather(spec, x, y, rows))
            return (params, opt_state), J

        (params, _), Js = jax.lax.scan(body, (params, opt.init(params)), idx)
        return params, Js

    return run


def whole_run_shuffled(spec: Spec, method: str = "manual") -> Callable:
    """``run(params, x, y, key) -> (params, losses)``: :func:`whole_run` with the orders drawn in the run."""
    run = whole_run(spec, method)

    def shuffled(params, x, y, seed):
        m = x.shape[0]
        orders = epoch_orders(seed, jax.numpy.arange(spec.num_epochs, dtype=jax.numpy.int32), m)
        return run(params, x, y, orders.reshape(-1, spec.batch))

    return shuffled


def prepare_scan_shuffled(problem: Problem, method: str = "manual"):
    """``run() -> params``: every model by the one-scan loop that shuffles inside its run."""
    one, inits = jax.jit(whole_run_shuffled(problem.spec, method)), model_params(problem)
    x, y = jax.device_put(problem.x), jax.device_put(problem.y)
    seed = shuffle_seed(problem.shuffle_key)
    return lambda: jax.block_until_ready([one(params, x, y, seed)[0] for params in inits])


def device_data(problem: Problem) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``x``, ``y`` and the batch indices on the device, put there once (setup, not timed)."""
    return (
        jax.device_put(problem.x),
        jax.device_put(problem.y),
        jax.device_put(batch_indices(problem)),
    )


def model_params(problem: Problem) -> list:
    """The initial params, one ``fnn`` params tuple per model."""
    return [to_jax(init) for init in problem.init]


def prepare_scan(problem: Problem, *, vmapped: bool = False, method: str = "manual"):
    """``run() -> params``: every model by the one-scan loop, one after another or vmapped."""
    run, data = whole_run(problem.spec, method), device_data(problem)
    if vmapped:
        many = jax.jit(jax.vmap(run, in_axes=(0, None, None, None)))
        return lambda: jax.block_until_ready(many(problem.init_jax, *data)[0])
    one, inits = jax.jit(run), model_params(problem)
    return lambda: jax.block_until_ready([one(params, *data)[0] for params in inits])


def prepare_loop(problem: Problem, method: str = "manual"):
    """``run() -> params``: a jitted step per update, called from Python."""
    spec = problem.spec
    step, opt = make_step(spec, method), optimizer(spec)
    x, y, idx = device_data(problem)

    @jax.jit
    def update(params, opt_state, x, y, idx, i):
        rows = jax.lax.dynamic_index_in_dim(idx, i, keepdims=False)
        return step(params, opt_state, *_gather(spec, x, y, rows))

    inits, num_updates = model_params(problem), idx.shape[0]

    def run():
        out = []
        for params in inits:
            opt_state = opt.init(params)
            for i in range(num_updates):
                params, opt_state, _ = update(params, opt_state, x, y, idx, i)
            out.append(params)
        return jax.block_until_ready(out)

    return run
