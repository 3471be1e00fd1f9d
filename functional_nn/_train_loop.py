r"""The compiled training loop shared by ``fit`` and ``fit_many`` (inner code).

Everything here runs under ``jit`` and trusts what ``functional_nn._train_checks``
validated at the public boundary. One run is a ``lax.while_loop`` whose
iterations are epochs (so early stopping and divergence end it without paying
for the remaining epochs) around a loop over the epoch's batches — the
lecture's "while not trained: create a batch S_B, compute J, ∇J, w ← w − α∇J".

Divergence costs a healthy run nothing but a scalar probe per step: each step
folds ``0 · (J, ∇J, w_new)`` into one number, which is NaN iff any of them is
not finite. An epoch that saw a NaN is run again from its start, stopping just
before the first bad step (the same compiled step, so the same bits), which
leaves the last finite params.

``fit_many`` vmaps the per-member iteration while the while loop stays outside
the vmap: the loop runs until every member is done, and a member that is done
keeps its state (each member has its own early stopping and epoch counter).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from functional_nn import _progress, backprop, losses
from functional_nn.diagnostics import gradient_norms
from functional_nn.network import MLP
from functional_nn.schedules import InverseTimeDecay

Array = jax.Array


class LoopConfig(NamedTuple):
    """Everything static about a run (hashable: the jit cache key)."""

    net: MLP
    loss: str
    method: str                   # "manual" | "autodiff"
    num_examples: int             # m
    batch_size: int               # K (the last batch is padded to K when `padded`)
    num_batches: int              # updates per epoch
    shuffle: bool                 # False for full batch: order cannot change the sum's value
    padded: bool                  # the last batch carries weight-0 padding
    num_epochs: int
    patience: int | None
    has_validation: bool
    accuracy: str | None          # None, "threshold" (BCE, ŷ >= 0.5) or "argmax" (CCE)
    lr_kind: str                  # "constant" | "inverse_time" | "schedule" | "optimizer"
    schedule_per: str             # "update" | "epoch" for lr_kind="inverse_time"
    schedule: Callable | None     # an opaque optax schedule for lr_kind="schedule"
    optimizer: optax.GradientTransformation | None
    records_lr: bool              # False for an optimizer whose learning rate is not visible
    record_grad_norms: bool
    progress: bool
    mesh: Mesh | None
    use_masks: bool


class Data(NamedTuple):
    x: Array                      # (m, n_0)
    y: Array                      # (m, n_L)
    x_val: Array | None           # (m_val, n_0)
    y_val: Array | None           # (m_val, n_L)


class Hyper(NamedTuple):
    """Per-member traced values (``fit_many`` maps over their leading axis)."""

    key: Array                    # () shuffle key
    learning_rate: Array          # () α for lr_kind="constant"
    c1: Array                     # () for lr_kind="inverse_time"
    c2: Array                     # ()
    min_delta: Array              # ()
    masks: tuple[Array, ...] | None  # one (n_l,) 0/1 vector per hidden layer


class MemberState(NamedTuple):
    params: Any
    opt_state: Any
    best_params: Any              # None without validation (best = final)
    best_val: Array               # () best validation loss so far (+inf before the first epoch)
    best_epoch: Array             # () 1-based; 0 = the initial params
    bad_epochs: Array             # () epochs since the last improvement
    done: Array                   # () bool
    stopped_early: Array          # () bool
    diverged: Array               # () bool
    diverged_epoch: Array         # () 1-based, 0 = no divergence
    diverged_step: Array          # () 1-based step within that epoch, 0 = none
    diverged_rows: Array          # (K,) the example indices of that step's batch
    num_updates: Array            # () updates applied
    epochs_run: Array             # () epochs completed = 0-based index of the next epoch
    replay_limit: Array           # () steps to run; < updates per epoch while replaying a bad epoch
    history: dict                 # name -> (num_epochs,) or (num_epochs, L)


def epoch_order(key: Array, epoch: Array, num_examples: int) -> Array:
    """Epoch ``epoch``'s shuffle: ``permutation(fold_in(key, epoch), m)``, ``(m,)``."""
    return jax.random.permutation(jax.random.fold_in(key, epoch), num_examples)


def epoch_batches(key: Array, epoch: Array, num_examples: int, batch_size: int, num_batches: int, *,
                  shuffle: bool, padded: bool, dtype) -> tuple[Array, Array | None]:
    """Example indices ``(B, K)`` of one epoch and 0/1 weights ``(B, K)`` (None unpadded).

    The epoch's order is ``permutation(fold_in(key, epoch), m)``: a fresh
    shuffle per epoch without reusing a key. A short last batch is filled up
    to ``K`` with examples from the start of the order, weighted 0, so
    ``J = Σ w_k ℓ_k / Σ w_k`` is that batch's true mean loss.
    """
    m, k, b = num_examples, batch_size, num_batches
    order = epoch_order(key, epoch, m) if shuffle else jnp.arange(m)
    total = b * k
    if total <= m:  # K divides m, or the short last batch is dropped
        idx = order[:total]
    else:
        idx = jnp.concatenate([order, order[: total - m]])
    weights = (jnp.arange(total) < m).astype(dtype).reshape(b, k) if padded else None
    return idx.reshape(b, k), weights


def init_state(config: LoopConfig, params, opt_state) -> MemberState:
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    e = config.num_epochs
    history = {"train_loss": jnp.zeros((e,), dtype)}
    if config.has_validation:
        history["val_loss"] = jnp.zeros((e,), dtype)
        if config.accuracy is not None:
            history["val_accuracy"] = jnp.zeros((e,), dtype)
    if config.records_lr:
        history["learning_rate"] = jnp.zeros((e,), dtype)
    if config.record_grad_norms:
        history["grad_norms"] = jnp.zeros((e, config.net.num_layers), dtype)
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    false = jnp.asarray(False)
    return MemberState(
        params=params, opt_state=opt_state,
        best_params=params if config.has_validation else None,
        best_val=jnp.asarray(jnp.inf, dtype), best_epoch=i32(0), bad_epochs=i32(0),
        done=false, stopped_early=false, diverged=false, diverged_epoch=i32(0), diverged_step=i32(0),
        diverged_rows=jnp.zeros((config.batch_size,), jnp.int32),
        num_updates=i32(0), epochs_run=i32(0), replay_limit=i32(config.num_batches), history=history,
    )


def _select(pred: Array, on_true, on_false):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _value_and_grad(config: LoopConfig) -> Callable:
    net, loss = config.net, config.loss
    if config.method == "manual":
        def f(params, x, y, weights, masks):
            value, grads, _ = backprop.backward(net, loss, params, x, y, weights, masks)
            return value, grads
        return f
    return jax.value_and_grad(backprop.objective(net, loss))


def injected_learning_rate(opt_state) -> Array | None:
    """The ``learning_rate`` an ``optax.inject_hyperparams`` optimizer used last, if any."""
    states = jax.tree_util.tree_leaves(
        opt_state, is_leaf=lambda s: isinstance(s, (optax.InjectHyperparamsState,
                                                    optax.InjectStatefulHyperparamsState)))
    for s in states:
        if isinstance(s, (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)) \
                and "learning_rate" in s.hyperparams:
            return s.hyperparams["learning_rate"]
    return None


def _plain_learning_rate(config: LoopConfig, hyper: Hyper, num_updates: Array, epoch: Array, dtype) -> Array:
    if config.lr_kind == "constant":
        return hyper.learning_rate
    if config.lr_kind == "inverse_time":
        k = num_updates if config.schedule_per == "update" else epoch
        return InverseTimeDecay(hyper.c1, hyper.c2).at(k).astype(dtype)
    return jnp.asarray(config.schedule(num_updates), dtype)


def _replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


class EpochOut(NamedTuple):
    """What one pass over an epoch's batches leaves behind, for one member."""

    params: Any
    opt_state: Any
    num_updates: Array            # () updates applied so far (all epochs)
    step: Array                   # () steps run this epoch
    first_bad: Array              # () 0-based step of the first non-finite value; B = none
    loss_sum: Array               # () Σ_batches J_b · (real examples in b)
    count: Array                  # () real examples seen
    lr_first: Array               # () α of the epoch's first update
    grad_norm_sum: Array          # (L,) Σ_batches per-layer gradient norms


def epoch_data(config: LoopConfig, epoch: Array, data: Data, hyper: Hyper, dtype):
    """The epoch's example indices ``(B, K)``, batches ``(B, K, n_0)``, ``(B, K, n_L)`` and weights ``(B, K)``."""
    if config.shuffle:
        idx, weights = epoch_batches(hyper.key, epoch, config.num_examples, config.batch_size,
                                     config.num_batches, shuffle=True, padded=config.padded, dtype=dtype)
        xb, yb = data.x[idx], data.y[idx]
    else:  # full batch in the stored order: no gather, no copy
        idx = jnp.arange(config.num_examples)[None]
        xb, yb, weights = data.x[None], data.y[None], None
    if config.mesh is not None:  # the batch axis is split over "data"; XLA all-reduces ∇J
        batch_sharding = NamedSharding(config.mesh, PartitionSpec(None, "data"))
        xb = jax.lax.with_sharding_constraint(xb, batch_sharding)
        yb = jax.lax.with_sharding_constraint(yb, batch_sharding)
        if weights is not None:
            weights = jax.lax.with_sharding_constraint(weights, batch_sharding)
    return idx, xb, yb, weights


def update_step(config: LoopConfig, hyper: Hyper, params, opt_state, num_updates: Array, epoch: Array,
                xk: Array, yk: Array, wk: Array | None):
    """One update on one batch: ``(J, ∇J, new params, new optimizer state, α)``."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    masks = hyper.masks if config.use_masks else None
    value, grads = _value_and_grad(config)(params, xk, yk, wk, masks)
    if config.optimizer is not None:
        updates, new_opt = config.optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        lr = injected_learning_rate(new_opt) if config.records_lr else jnp.zeros((), dtype)
    else:  # the lecture's rule w ← w − α ∇J
        lr = _plain_learning_rate(config, hyper, num_updates, epoch, dtype)
        new_params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
        new_opt = opt_state
    if config.mesh is not None:
        new_params = jax.lax.with_sharding_constraint(new_params, _replicated(config.mesh))
    return value, grads, new_params, new_opt, jnp.asarray(lr, dtype)


def train_epoch(config: LoopConfig, state: MemberState, epoch: Array, data: Data, hyper: Hyper,
                limit: Array) -> tuple[EpochOut, Array]:
    """One member's pass over the first ``limit`` batches of epoch ``epoch``, and the next batch's rows ``(K,)``."""
    dtype = jax.tree_util.tree_leaves(state.params)[0].dtype
    idx, xb, yb, weights = epoch_data(config, epoch, data, hyper, dtype)
    zero = jnp.zeros((), dtype)
    carry0 = EpochOut(params=state.params, opt_state=state.opt_state, num_updates=state.num_updates,
                      step=jnp.asarray(0, jnp.int32), first_bad=jnp.asarray(config.num_batches, jnp.int32),
                      loss_sum=zero, count=zero, lr_first=zero,
                      grad_norm_sum=jnp.zeros((config.net.num_layers,), dtype))

    def body(c: EpochOut) -> EpochOut:
        wk = None if weights is None else weights[c.step]
        value, grads, new_params, new_opt, lr = update_step(config, hyper, c.params, c.opt_state, c.num_updates,
                                                            epoch, xb[c.step], yb[c.step], wk)
        # 0·x is 0 for finite x and NaN otherwise: one scalar says whether J, ∇J and w stayed finite.
        probe = value * 0 + sum(jnp.sum(leaf * 0) for leaf in jax.tree_util.tree_leaves((grads, new_params)))
        n_real = jnp.sum(wk) if wk is not None else jnp.asarray(config.batch_size, dtype)
        return EpochOut(
            params=new_params, opt_state=new_opt, num_updates=c.num_updates + 1, step=c.step + 1,
            first_bad=jnp.where((c.first_bad == config.num_batches) & ~jnp.isfinite(probe), c.step, c.first_bad),
            loss_sum=c.loss_sum + value * n_real, count=c.count + n_real,
            lr_first=jnp.where(c.step == 0, lr, c.lr_first),
            grad_norm_sum=(c.grad_norm_sum + gradient_norms(grads) if config.record_grad_norms
                           else c.grad_norm_sum),
        )

    out = jax.lax.while_loop(lambda c: c.step < limit, body, carry0)
    return out, idx[jnp.minimum(limit, config.num_batches - 1)].astype(jnp.int32)  # the next step's rows


def member_iteration(config: LoopConfig, state: MemberState, data: Data, hyper: Hyper, *,
                     batched: bool) -> MemberState:
    """One loop iteration for one member: an epoch, or the replay of an epoch that went non-finite.

    A member already ``done`` comes back unchanged (``batched``: in ``fit``
    the loop itself stops at ``done``).
    """
    b = config.num_batches
    epoch = state.epochs_run
    out, next_rows = train_epoch(config, state, epoch, data, hyper, state.replay_limit)
    replaying = state.replay_limit < b         # this pass stopped just before the bad step
    flagged = ~replaying & (out.first_bad < b)  # this pass met a bad step: replay the epoch
    completed = ~replaying & ~flagged

    new = finish_epoch(config, state, epoch, data, hyper, out, completed)
    keep_history = lambda pred, a, z: _select(pred, a._replace(history=None), z._replace(history=None))._replace(
        history=z.history)  # noqa: E731  (history writes are guarded by `completed` already)
    new = keep_history(flagged, state._replace(replay_limit=out.first_bad), new)
    diverged = state._replace(
        params=out.params, opt_state=out.opt_state, num_updates=out.num_updates, done=jnp.asarray(True),
        diverged=jnp.asarray(True), diverged_epoch=epoch + 1, diverged_step=state.replay_limit + 1,
        diverged_rows=next_rows)
    new = keep_history(replaying, diverged, new)
    new = new._replace(done=new.done | (new.epochs_run >= config.num_epochs))
    if not batched:  # fit's loop stops at done, so this member is never done here
        return new
    return keep_history(state.done, state, new)


def finish_epoch(config: LoopConfig, state: MemberState, epoch: Array, data: Data, hyper: Hyper,
                 out: EpochOut, completed: Array) -> MemberState:
    """Record a completed epoch, validate and apply early stopping (history written only if ``completed``)."""
    net = config.net
    masks = hyper.masks if config.use_masks else None
    params = out.params
    history = dict(state.history)
    writes = completed & ~state.done

    def record(name, value):  # one entry per epoch, never an O(num_epochs) copy
        history[name] = history[name].at[epoch].set(jnp.where(writes, value, history[name][epoch]))

    record("train_loss", out.loss_sum / jnp.maximum(out.count, 1))
    if config.records_lr:
        record("learning_rate", out.lr_first)
    if config.record_grad_norms:
        record("grad_norms", out.grad_norm_sum / config.num_batches)

    best_params, best_val, best_epoch, bad_epochs = state.best_params, state.best_val, state.best_epoch, \
        state.bad_epochs
    early = jnp.asarray(False)
    if config.has_validation:
        logits = net.logits(params, data.x_val, masks)
        val_loss = losses.loss_from_logits(config.loss, net.layer_activations[-1], logits, data.y_val)
        record("val_loss", val_loss)
        if config.accuracy is not None:
            record("val_accuracy", accuracy(config.accuracy, logits, data.y_val))
        # An improvement must beat the best by more than min_delta (NaN never improves).
        improved = val_loss < best_val - hyper.min_delta
        best_params = _select(improved, params, best_params)
        best_val = jnp.where(improved, val_loss, best_val)
        best_epoch = jnp.where(improved, epoch + 1, best_epoch)
        bad_epochs = jnp.where(improved, 0, bad_epochs + 1)
        if config.patience is not None:
            early = bad_epochs >= config.patience

    return state._replace(
        params=params, opt_state=out.opt_state, best_params=best_params, best_val=best_val,
        best_epoch=best_epoch.astype(jnp.int32), bad_epochs=bad_epochs.astype(jnp.int32),
        done=early, stopped_early=early, num_updates=out.num_updates, epochs_run=epoch + 1, history=history,
    )


def accuracy(kind: str, logits: Array, y: Array) -> Array:
    """Fraction correct: ``"threshold"`` (σ(o) >= 0.5, per output) or ``"argmax"`` (one-hot)."""
    if kind == "threshold":
        return jnp.mean(((logits >= 0) == (y >= 0.5)).astype(logits.dtype))
    return jnp.mean((jnp.argmax(logits, axis=-1) == jnp.argmax(y, axis=-1)).astype(logits.dtype))


def run_loop(config: LoopConfig, state: MemberState, data: Data, hyper: Hyper,
             progress_id: Array, *, batched: bool) -> MemberState:
    """Iterate until every member is done (one ``lax.while_loop``)."""
    iteration = lambda s, d, h: member_iteration(config, s, d, h, batched=batched)  # noqa: E731
    if batched:
        iteration = jax.vmap(iteration, in_axes=(0, None, 0))

    def body(s: MemberState) -> MemberState:
        s = iteration(s, data, hyper)
        if config.progress:  # traced only when asked for: a run without it has no callback
            last = jnp.maximum(s.epochs_run - 1, 0)
            val = s.history["val_loss"] if config.has_validation else s.history["train_loss"]
            pick = lambda h: jnp.take_along_axis(h, last[..., None], axis=-1)[..., 0]  # noqa: E731
            jax.debug.callback(_progress.report, progress_id, s.epochs_run, pick(s.history["train_loss"]),
                               pick(val), s.done)
        return s

    return jax.lax.while_loop(lambda s: ~jnp.all(s.done), body, state)


def diagnose_step(config: LoopConfig, params, opt_state, data: Data, hyper: Hyper, epoch: Array,
                  step: Array, rows: Array, num_updates: Array):
    """Redo the step that went non-finite: ``(J finite, per-leaf ∇J finite, per-leaf w_new finite)``.

    Run outside the training loop, only after a divergence, to name the leaf;
    ``rows`` ``(K,)`` are that step's examples (``MemberState.diverged_rows``).
    """
    config = config._replace(mesh=None)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    weights = None
    if config.padded:  # the same 0/1 weights as epoch_batches gives batch `step`
        weights = (step * config.batch_size + jnp.arange(config.batch_size) < config.num_examples).astype(dtype)
    value, grads, new_params, _, _ = update_step(config, hyper, params, opt_state, num_updates, epoch,
                                                 data.x[rows], data.y[rows], weights)
    finite = lambda tree: jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)])  # noqa
    return jnp.isfinite(value), finite(grads), finite(new_params)


def forward_fill(history: dict, epochs_run: Array) -> dict:
    """One member's history with entries at and after ``epochs_run`` repeating the last recorded value.

    A member that completed no epoch gets ``+inf`` losses and 0 for the other entries.
    """
    def fill(name, h):
        e = h.shape[0]
        last = jnp.where(epochs_run > 0, h[jnp.maximum(epochs_run - 1, 0)],
                         jnp.inf if name in ("train_loss", "val_loss") else 0)
        ran = (jnp.arange(e) < epochs_run).reshape((e,) + (1,) * (h.ndim - 1))
        return jnp.where(ran, h, last)
    return {name: fill(name, h) for name, h in history.items()}
