r"""The compiled training engine behind ``fit`` and ``fit_many`` (inner code).

Everything here runs under ``jit`` and trusts what ``functional_nn._prepare``
checked at the public boundary. The lecture's loop

    while not trained: create a batch S_B, compute J and ∇J, w ← w − α ∇J

is three nested loops, each as lean as the hand-written one:

* a *step* is one update: ``J, ∇J`` by the chosen engine, then one
  ``optimizer.update``. Whether it stayed finite is read once per epoch with
  validation, once per segment without: ``w_new = w + u`` keeps an inf or NaN
  for good under any optimizer, so the step losses and the final params tell
  of a non-finite ``J`` or ``w_new``; under :func:`functional_nn.sgd` a
  non-finite ``∇J`` makes ``w − α·g`` non-finite too, while a caller's
  optimizer may turn one into a finite update (``optax.clip``,
  ``optax.zero_nans``), so there the reduction ``0·∇J`` is carried step by step
  (``0·w_new`` per step would cost W4xor a sixth of its time; ``0·∇J`` costs
  nothing measurable). A span that met a non-finite step hands back the state it
  started from — the last finite params — and after the run :func:`replay`
  finds the step, outside the loop;
* an *epoch* is a ``lax.scan`` over its ``B`` steps (a static trip count), then
  the epoch's record (training loss, and only what the run asked for:
  validation loss and accuracy, learning rate, gradient norms) and early stopping;
* a *segment* is ``C`` epochs whose shuffles are drawn in one call (``_batches.epoch_orders``);
  without validation its updates are one ``lax.scan``, with validation a scan over its
  epochs, and an epoch after the member stopped is skipped. A ``lax.while_loop`` (none when one segment is the whole run) runs segments until
  every member stopped or a stop epoch is reached, so early stopping and divergence end the run early.

:func:`run` is the whole run in one call: :func:`start` (the initial state, with the
initial params' validation loss) then :func:`run_from` up to ``num_epochs``. A run with
checkpoints or progress calls :func:`run_from` again and again with the stop epoch as a
traced argument — one compiled program for every call — and the host works between calls.

``fit_many`` vmaps the segment over members (the while loop stays outside the
vmap); ``fit`` runs the same functions without the vmap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from functional_nn import backprop, parallel
from functional_nn._batches import batch_rows, batch_weights, epoch_orders
from functional_nn._records import accuracy, empty_record, epoch_records, validation_loss
from functional_nn.diagnostics import gradient_norms
from functional_nn.network import MLP
from functional_nn.schedules import learning_rate_of

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

RUNNING, FINISHED, STOPPED_EARLY, DIVERGED = 0, 1, 2, 3  # Member.status


class Config(NamedTuple):
    """Everything static about a run (hashable: the jit cache key)."""

    net: MLP
    loss: str
    method: str  # "manual" | "autodiff"
    num_examples: int  # m
    batch_size: int  # K (the last batch padded to K when `padded`)
    num_batches: int  # B, updates per epoch
    shuffle: bool  # False for full batch: the order cannot change the sum
    padded: bool  # the last batch carries weight-0 padding
    num_epochs: int  # E, counted from the start of the whole run
    epochs_per_segment: int  # C
    patience: int | None
    has_validation: bool
    accuracy: str | None  # None, "threshold" (BCE, ŷ >= 0.5) or "argmax" (CCE)
    update: Callable  # the optimizer's update function (init runs at the boundary)
    probe_steps: bool  # each step's ∇J is probed (not fnn.sgd: an optimizer may hide a NaN ∇J)
    records_lr: bool  # the optimizer's state shows its learning rate
    record_grad_norms: bool
    mesh: Mesh | None
    use_masks: bool
    members: int | None  # None: fit (no vmap); n: fit_many
    first_epoch: int  # epochs completed before this call (resume); C divides E − first_epoch


class Data(NamedTuple):
    x: Array  # (m, n_0)
    y: Array  # (m, n_L)
    x_val: Array | None  # (m_val, n_0)
    y_val: Array | None  # (m_val, n_L)


class Hyper(NamedTuple):
    """Per-member traced values that are not optimizer state (``fit_many`` maps over them)."""

    seed: Array | np.ndarray  # (2,) uint32: the shuffle key's words (shuffle_seed)
    min_delta: Array | np.ndarray  # ()
    masks: tuple[Array, ...] | None  # one (n_l,) 0/1 vector per hidden layer


class Member(NamedTuple):
    """One run's carry between epochs."""

    params: Any
    opt_state: Any
    best_params: Any  # None without validation (best = final)
    best_val: Array  # () lowest validation loss so far (the initial params' before the first epoch)
    best_epoch: Array  # () int32, 1-based; first_epoch (0 for a fresh run) = the initial params
    bad_epochs: Array  # () int32, epochs since the last improvement
    status: Array  # () int32: RUNNING, FINISHED, STOPPED_EARLY or DIVERGED
    epochs_done: Array  # () int32, epochs completed (from the start of the whole run); DIVERGED:
    # those before the span (segment, or epoch with validation) that met the non-finite step


def init_member(config: Config, params, opt_state, data: Data, hyper: Hyper) -> Member:
    """The state before the first epoch; with validation the initial params are the first candidate
    for the best ones, so a run that only gets worse returns them (``best_epoch = first_epoch``)."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    best_val = jnp.asarray(jnp.inf, dtype)
    if config.has_validation:
        best_val = validation_loss(config, params, data, hyper)[0]
        best_val = jnp.where(jnp.isnan(best_val), jnp.inf, best_val)  # NaN never counts as a best
    return Member(
        params=params,
        opt_state=opt_state,
        best_params=params if config.has_validation else None,
        best_val=best_val,
        best_epoch=i32(config.first_epoch),
        bad_epochs=i32(0),
        status=i32(RUNNING),
        epochs_done=i32(config.first_epoch),
    )


def _value_and_grad(config: Config) -> Callable:
    net, loss = config.net, config.loss
    if config.method == "manual":

        def f(params, x, y, weights, masks):
            value, grads, _ = backprop.backward(net, loss, params, x, y, weights, masks)
            return value, grads

        return f
    return jax.value_and_grad(backprop.objective(net, loss))


def _on_mesh(config: Config, tree, spec: PartitionSpec):
    if config.mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, NamedSharding(config.mesh, spec))


def update_step(config: Config, params, opt_state, xb: Array, yb: Array, wb: Array | None, masks):
    """One update on one batch: ``(J, ∇J, new params, new optimizer state)``."""
    # split over "data" (XLA all-reduces ∇J over it); fit_many's vmap adds "members"
    xb, yb = _on_mesh(config, (xb, yb), parallel.batch_spec(config.mesh))
    value, grads = _value_and_grad(config)(params, xb, yb, wb, masks)
    updates, new_opt = config.update(grads, opt_state, params)
    new_params = _on_mesh(config, optax.apply_updates(params, updates), PartitionSpec())
    return value, grads, new_params, new_opt


def _finite(tree) -> Array:
    """Whether every entry of ``tree`` is finite (``0·v`` is 0, or NaN), read leaf by leaf.

    Leaf by leaf inside a step, so the probe leaves the step's arithmetic, and its bits,
    as they are: the replay of a diverged run ends on the run's bits.
    """
    return jnp.isfinite(sum(jnp.sum(leaf * 0) for leaf in jax.tree_util.tree_leaves(tree)))


def _scan_steps(
    config: Config, params, opt_state, rows: Array, data: Data, hyper: Hyper, find: bool = False
):
    """Updates on the batches ``rows`` ``(S, K)``, steps ``i = 0 .. S−1``: ``((params, opt_state, flag), out)``.

    In the run (``find=False``) every update is applied and ``flag`` says whether
    all of them stayed finite — ``J`` of every step, ``∇J`` of every step where
    ``config.probe_steps``, and the final params, which a non-finite step's ``w_new``
    leaves non-finite (see the module's docstring); the caller restores its start
    state when not. :func:`replay` (``find=True``) probes each step, stops applying
    updates at the first non-finite one and ``flag`` is its index (``S`` if none).
    """
    n, b = rows.shape[0], config.num_batches
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    masks = hyper.masks if config.use_masks else None
    weights = batch_weights(config.num_examples, b, config.batch_size, config.padded)
    probe = find or config.probe_steps

    def step(carry, xs):
        params, opt_state, flag = carry
        i, r = xs
        xb, yb = (
            (data.x[r], data.y[r]) if config.shuffle else (data.x, data.y)
        )  # full batch: no gather
        wb = None if weights is None else jnp.asarray(weights, dtype)[i % b]
        value, grads, new_params, new_opt = update_step(
            config, params, opt_state, xb, yb, wb, masks
        )
        if find:
            keep = (flag == n) & _finite((value, grads, new_params))
            new_params, new_opt = _select(keep, (new_params, new_opt), (params, opt_state))
            flag = jnp.where((flag == n) & ~keep, i, flag)
        elif probe:
            flag = flag & _finite(grads)
        out = {"loss": value}
        if config.records_lr:
            out["learning_rate"] = jnp.asarray(learning_rate_of(new_opt), dtype)
        if config.record_grad_norms:
            out["grad_norms"] = gradient_norms(grads)
        return (new_params, new_opt, flag), out

    flag = jnp.asarray(n, jnp.int32) if find else jnp.asarray(True)
    (params, opt_state, flag), out = jax.lax.scan(
        step, (params, opt_state, flag), (jnp.arange(n, dtype=jnp.int32), rows)
    )
    if not find:  # a non-finite J or w_new leaves its mark on the losses or the final params
        # one reduction over one vector, not one per leaf: each is a kernel for XLA to
        # compile (a fifth of the W2 benchmark's compile time)
        leaves = jax.tree_util.tree_leaves((out["loss"], params))
        flag = flag & _finite(jnp.concatenate([jnp.ravel(leaf) for leaf in leaves]))
    return (params, opt_state, flag), out


def _select(pred: Array, on_true, on_false):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _pick(pred: Array, on_true, on_false):
    """:func:`_select` of whole trees by one scalar: a ``cond`` that forwards one tree, no
    kernel per leaf for XLA to compile (under ``fit_many``'s vmap it is the select again)."""
    return jax.lax.cond(pred, lambda: on_true, lambda: on_false)


def _status(cases: list[tuple[Array, int]]) -> Array:
    """The status of the first case whose condition holds, else RUNNING: nested selects that
    XLA fuses into one kernel (``jnp.select`` adds a reduction over the conditions)."""
    status = jnp.asarray(RUNNING, jnp.int32)
    for condition, value in reversed(cases):
        status = jnp.where(condition, jnp.int32(value), status)
    return status


def _segment_rows(config: Config, orders: Array | None, epochs: int) -> Array:
    if not config.shuffle:
        return jnp.zeros((epochs * config.num_batches, 0), jnp.int32)
    rows = jax.vmap(lambda o: batch_rows(o, config.num_batches, config.batch_size))(orders)
    return rows.reshape(epochs * config.num_batches, config.batch_size)


def run_segment(config: Config, member: Member, data: Data, hyper: Hyper, first_epoch: Array):
    """Epochs ``first_epoch .. first_epoch + C − 1`` of one member: ``(member, records (C, ...))``.

    Without validation every step of the segment is one ``lax.scan`` and the epochs'
    records are read off its outputs; with validation each epoch is a scan of its
    steps followed by validation and early stopping, and an epoch after the member
    stopped is skipped. A segment (an epoch, with validation) that meets a non-finite
    step hands back the state it started from; :func:`replay` advances it to that step.
    """
    c, b = config.epochs_per_segment, config.num_batches
    dtype = jax.tree_util.tree_leaves(member.params)[0].dtype
    epochs = first_epoch + jnp.arange(c, dtype=jnp.int32)
    orders = epoch_orders(hyper.seed, epochs, config.num_examples) if config.shuffle else None
    if not config.has_validation:
        (params, opt_state, finite), out = _scan_steps(
            config, member.params, member.opt_state, _segment_rows(config, orders, c), data, hyper
        )
        records = epoch_records(
            config, jax.tree_util.tree_map(lambda a: a.reshape((c, b) + a.shape[1:]), out), dtype
        )
        diverged = ~finite
        params, opt_state = _pick(diverged, (member.params, member.opt_state), (params, opt_state))
        after = member._replace(
            params=params,
            opt_state=opt_state,
            status=_status(
                [(diverged, DIVERGED), (first_epoch + c >= config.num_epochs, FINISHED)]
            ),
            epochs_done=jnp.where(diverged, first_epoch, first_epoch + c).astype(jnp.int32),
        )
        if config.members is None:  # run_from runs a segment only while its one member runs
            return after, records
        return _select(member.status == RUNNING, after, member), records

    empty = empty_record(config, dtype)

    def epoch_or_skip(m: Member, xs):
        epoch, order = xs
        run = lambda m: _epoch_with_validation(config, m, epoch, order, data, hyper)  # noqa: E731
        return jax.lax.cond(m.status == RUNNING, run, lambda m: (m, empty), m)

    return jax.lax.scan(epoch_or_skip, member, (epochs, orders))


def _epoch_with_validation(
    config: Config, member: Member, epoch: Array, order, data: Data, hyper: Hyper
):
    dtype = jax.tree_util.tree_leaves(member.params)[0].dtype
    rows = _segment_rows(config, None if order is None else order[None], 1)
    (params, opt_state, finite), out = _scan_steps(
        config, member.params, member.opt_state, rows, data, hyper
    )
    record = epoch_records(config, out, dtype)
    diverged = ~finite
    params, opt_state = _pick(diverged, (member.params, member.opt_state), (params, opt_state))
    val_loss, logits = validation_loss(config, params, data, hyper)
    record["val_loss"] = val_loss
    if config.accuracy is not None:
        assert data.y_val is not None
        record["val_accuracy"] = accuracy(config.accuracy, logits, data.y_val)
    # an improvement beats the best by more than min_delta; a tie, or NaN, is none
    improved = ~diverged & (val_loss < member.best_val - hyper.min_delta)
    bad_epochs = jnp.where(improved, 0, member.bad_epochs + 1).astype(jnp.int32)
    early = bad_epochs >= config.patience if config.patience is not None else jnp.asarray(False)
    status = _status(
        [(diverged, DIVERGED), (early, STOPPED_EARLY), (epoch + 1 >= config.num_epochs, FINISHED)]
    )
    return Member(
        params=params,
        opt_state=opt_state,
        best_params=_pick(improved, params, member.best_params),
        best_val=jnp.where(improved, val_loss, member.best_val),
        best_epoch=jnp.where(improved, epoch + 1, member.best_epoch).astype(jnp.int32),
        bad_epochs=bad_epochs,
        status=status,
        epochs_done=jnp.where(diverged, epoch, epoch + 1).astype(jnp.int32),
    ), record


def start(config: Config, params, opt_state, data: Data, hyper: Hyper):
    """The state before the first epoch (stacked for ``fit_many``): ``(member, history of zeros)``,
    history ``(..., E − first_epoch)`` per name."""
    init = lambda p, o, h: init_member(config, p, o, data, h)  # noqa: E731
    lead: tuple[int, ...] = ()
    if config.members is not None:
        init, lead = jax.vmap(init), (config.members,)
    member = init(params, opt_state, hyper)
    empty = empty_record(config, jax.tree_util.tree_leaves(member.params)[0].dtype)
    length = config.num_epochs - config.first_epoch  # a multiple of C
    history = {name: jnp.zeros(lead + (length,) + z.shape, z.dtype) for name, z in empty.items()}
    return member, history


def _segment(config: Config) -> Callable:
    """:func:`run_segment` of every member: ``(member, data, hyper, epoch) -> (member, records)``."""
    segment = lambda m, d, h, e: run_segment(config, m, d, h, e)  # noqa: E731
    if config.members is None:
        return segment
    members_axis = parallel.members_axis(config.mesh)  # members split over a "members" axis
    return jax.vmap(segment, in_axes=(0, None, 0, None), spmd_axis_name=members_axis)


def run_from(config: Config, member: Member, history: dict, data: Data, hyper: Hyper, epoch, stop):
    """Segments from epoch ``epoch`` (a segment boundary) until every member stopped or ``stop``
    (a segment boundary, traced: one program serves every call) is reached: ``(member, history)``."""
    c = config.epochs_per_segment
    segment = _segment(config)
    axis = 0 if config.members is None else 1

    def running(carry):
        e, m, _ = carry
        return (e < stop) & jnp.any(m.status == RUNNING)

    def body(carry):
        e, m, hist = carry
        m, records = segment(m, data, hyper, e)
        hist = {
            name: jax.lax.dynamic_update_slice_in_dim(
                hist[name], records[name], e - config.first_epoch, axis
            )
            for name in hist
        }
        return e + c, m, hist

    epoch = jnp.asarray(epoch, jnp.int32)
    _, member, history = jax.lax.while_loop(running, body, (epoch, member, history))
    return member, history


def run(config: Config, params, opt_state, data: Data, hyper: Hyper):
    """The whole run from the initial params and optimizer state, in one call: ``(member, history)``."""
    member, history = start(config, params, opt_state, data, hyper)
    if config.epochs_per_segment == config.num_epochs - config.first_epoch:
        # one segment is the whole run: no loop around it (W2: a fifth of the lowering time)
        first = jnp.asarray(config.first_epoch, jnp.int32)
        return _segment(config)(member, data, hyper, first)
    return run_from(config, member, history, data, hyper, config.first_epoch, config.num_epochs)


def replay(config: Config, member: Member, data: Data, hyper: Hyper):
    """One diverged member's state just before its non-finite step, and the steps that led there.

    The run handed back the state at the start of the span (the segment, or the epoch
    with validation) that met the step, at epoch ``member.epochs_done``; this runs the
    span again, probing every step, up to that step: ``(member, losses (S,), index)``,
    the span's ``index``-th step (0-based) the first non-finite one and
    ``losses[:index]`` the ``J`` of the finite steps before it (``index = S``: none
    was found). Runs once after a diverged run, outside the training loop, so a
    healthy run never compiles it.
    """
    config = config._replace(members=None, mesh=None)
    count = 1 if config.has_validation else config.epochs_per_segment
    epochs = member.epochs_done + jnp.arange(count, dtype=jnp.int32)
    orders = epoch_orders(hyper.seed, epochs, config.num_examples) if config.shuffle else None
    (params, opt_state, index), out = _scan_steps(
        config,
        member.params,
        member.opt_state,
        _segment_rows(config, orders, count),
        data,
        hyper,
        find=True,
    )
    return member._replace(params=params, opt_state=opt_state), out["loss"], index
