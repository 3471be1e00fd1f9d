r"""``fit``: the lecture's training algorithm as one compiled XLA computation.

The slide "Training a neural network":

    initialize the weights randomly
    while not trained:
        create a batch S_B ⊆ S, K ← |S_B|
        give x_1 … x_K to the network, compute J(w) and ∇_w J(w)
        w ← w − α ∇_w J(w)

Batch size ``K``: ``K = 1`` is stochastic gradient descent (``batch_size=1``),
``1 < K < m`` mini-batch, ``K = m`` batch gradient descent (``batch_size=None``
or ``m``). One epoch is one pass over all ``m`` examples, ``ceil(m / K)``
updates: the lecture's ``m = 1000`` gives 1000 updates for ``K = 1``, 20 for
``K = 50`` and 1 for ``K = m``. "Trained" is decided on validation data
(early stopping, ``patience``) or by ``num_epochs``.

The whole run — every epoch, batch, validation and the stopping rule — is one
jitted ``lax.while_loop``; a second call with the same shapes and settings
reuses the compiled program (the learning rate, data, params and key are
traced, so they may change freely).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from functional_nn import _progress
from functional_nn import _train_checks as checks
from functional_nn import _train_loop as loop
from functional_nn.network import MLP, Params
from functional_nn.parallel import replicate

Array = jax.Array


class ConvergenceWarning(UserWarning):
    """``fit`` ran out of epochs while early stopping still saw the validation loss improve.

    Raised once per run from the Python wrapper (never inside the compiled loop)
    when ``patience`` is given, the run did not diverge, and it reached
    ``num_epochs`` without ``patience`` epochs in a row without improvement:
    more epochs would likely still help. Silence it with ``warnings.filterwarnings``
    or pass a larger ``num_epochs``.
    """


class FitResult(NamedTuple):
    """What a run produced. In ``fit_many`` every field gets a leading ``(members,)`` axis.

    ``history`` maps names to per-epoch arrays, one entry per completed epoch
    (``len == stopped_epoch``); a key is absent where it does not apply:

    * ``"train_loss"`` ``(epochs,)``: mean of the epoch's batch losses ``J``, each
      taken before its update and weighted by the batch's example count;
    * ``"val_loss"`` ``(epochs,)``: ``J`` on the validation set after the epoch
      (only with ``validation``);
    * ``"val_accuracy"`` ``(epochs,)``: fraction correct on the validation set
      (binary cross-entropy: ``ŷ >= 0.5`` per output; categorical: argmax),
      absent for ``"mse"``;
    * ``"learning_rate"`` ``(epochs,)``: ``α`` of the epoch's first update (absent for
      an optax optimizer unless built with ``optax.inject_hyperparams``);
    * ``"grad_norms"`` ``(epochs, L)``: mean over the epoch's updates of the
      per-layer norms ``‖∂J/∂(w^l, b^l)‖`` (only with ``record_grad_norms``).
    """

    params: Params               # final params; the last finite ones if the run diverged
    best_params: Params          # params after best_epoch (the final ones without validation)
    best_epoch: int              # 1-based epoch of the lowest validation loss; 0 = initial params
    stopped_epoch: int           # epochs completed
    num_updates: int             # parameter updates applied
    history: dict                # per-epoch arrays, see above
    opt_state: Any               # final optax state; () for learning_rate=
    stopped_early: bool          # early stopping ended the run
    diverged: bool               # a non-finite loss, gradient or update ended the run
    diverged_epoch: int          # 1-based epoch of the divergence; 0 = none
    diverged_step: int           # 1-based step within that epoch; 0 = none
    diverged_leaf: str | None    # "loss", "grads[l].w", "params[l].b", ...; None = none
    message: str                 # one paragraph saying how the run ended (and the likely cause)


def fit(net: MLP, params: Params, x, y, *, loss: str = "mse", learning_rate=None,
        optimizer: optax.GradientTransformation | None = None, batch_size: int | None = None,
        num_epochs: int = 100, key: Array, method: str = "manual", validation=None,
        patience: int | None = None, min_delta: float = 0.0, progress: bool = False,
        record_grad_norms: bool = False, mesh=None, drop_last: bool = False, opt_state=None,
        initial_epoch: int = 0) -> FitResult:
    r"""Train ``net`` from ``params`` on ``(x, y)``: one compiled run of mini-batch gradient descent.

    Args:
        net: the network description.
        params: initial params, e.g. ``net.init(key)``; their dtype sets the run's precision.
        x: ``(m, n_0)`` training inputs.
        y: ``(m, n_L)`` targets (integer labels ``(m,)`` for categorical cross-entropy).
        loss: ``"mse"``, ``"binary_cross_entropy"`` or ``"categorical_cross_entropy"``.
        learning_rate: ``α`` of the lecture's ``w ← w − α ∇J``: a number, the lecture's
            schedule :func:`functional_nn.inverse_time_decay` (``c1/(k + c2)`` with ``k``
            in updates or epochs), or any optax schedule ``count -> α``.
        optimizer: instead of ``learning_rate``, any ``optax.GradientTransformation``
            (momentum, Adam, ...). Reuse one object to reuse the compiled program.
        batch_size: ``K``; ``1`` SGD, ``None`` or ``m`` full batch.
        num_epochs: the most epochs to run.
        key: ``jax.random`` key for the per-epoch shuffles (epoch ``e`` uses
            ``fold_in(key, e)``; see :func:`batch_indices`).
        method: gradient engine, ``"manual"`` (the δ recursion) or ``"autodiff"``.
        validation: ``(x_val, y_val)`` evaluated after every epoch.
        patience: stop after this many epochs without a validation-loss improvement
            larger than ``min_delta`` (needs ``validation``).
        min_delta: the smallest decrease of the validation loss that counts.
        progress: show a ``tqdm`` bar with live losses (needs the ``progress`` extra).
        record_grad_norms: add per-layer gradient norms to the history.
        mesh: a ``jax.sharding.Mesh`` with a ``"data"`` axis: each batch is split
            over its devices, params replicated (``batch_size`` must divide evenly).
        drop_last: when ``K`` does not divide ``m``, drop the short last batch of
            every epoch instead of keeping it. Kept (the default), it is padded to ``K``
            with weight-0 examples, so its loss is its own examples' mean.
        opt_state: resume with this optimizer state (``FitResult.opt_state`` of the
            interrupted run, e.g. from a checkpoint) instead of ``optimizer.init(params)``;
            it must have the structure, shapes and dtypes ``optimizer.init`` gives.
        initial_epoch: resume after this many completed epochs: epochs
            ``initial_epoch + 1 .. num_epochs`` run, with the shuffles (``fold_in(key, e)``)
            and the schedule's update count ``k`` continuing where they were, so
            ``params`` and ``opt_state`` saved after epoch ``initial_epoch`` and trained on
            give the bits of the uninterrupted run. ``history`` covers only the new
            epochs; ``stopped_epoch``, ``best_epoch`` and ``num_updates`` count from the
            start of the whole run. Early stopping's memory (best validation loss,
            epochs without improvement) starts afresh.
    Returns:
        A :class:`FitResult`. A run that diverges raises nothing: ``diverged`` is set,
        ``params`` are the last finite ones and ``message`` names the likely cause.
    Warns:
        ConvergenceWarning: once, when ``patience`` is given and the run reaches
            ``num_epochs`` while the validation loss was still improving.

    Example:
        >>> net = fnn.MLP((2, 2, 1))
        >>> result = fnn.fit(net, net.init(key), x, y, learning_rate=0.5, batch_size=1,
        ...                  num_epochs=2000, key=key)
        >>> result.history["train_loss"][-1]
    """
    prepared = _prepare(net, params, x, y, loss=loss, learning_rate=learning_rate, optimizer=optimizer,
                        batch_size=batch_size, num_epochs=num_epochs, key=key, method=method,
                        validation=validation, patience=patience, min_delta=min_delta, progress=progress,
                        record_grad_norms=record_grad_norms, mesh=mesh, drop_last=drop_last)
    config, rate, params, data, hyper = prepared
    opt_state, start = _check_resume(config, rate, params, opt_state, initial_epoch)
    with _progress.progress_bar(progress, num_epochs, "fit") as progress_id:
        state = _run_fit(config, params, data, hyper, progress_id, opt_state, start)
        state = jax.block_until_ready(state)
    host = jax.device_get(_host_fields(state))
    diagnosis = None
    if host["diverged"]:
        diagnosis = diagnose(config, state.params, state.opt_state, data, hyper, host, param_paths(params))
    result = member_result(config, checks.describe_rate(rate), host, state.params, state.best_params,
                           state.opt_state, diagnosis)
    if initial_epoch:  # the history arrays are indexed by absolute epoch; keep the epochs this call ran
        result = result._replace(history={name: h[int(start):] for name, h in result.history.items()})
    warn_if_unconverged(config, result)
    return result


def _check_resume(config: loop.LoopConfig, rate, params, opt_state, initial_epoch):
    """``(opt_state, initial_epoch as an int32 array)`` for :func:`_run_fit`, checked.

    A fresh run gets ``optimizer.init(params)`` here rather than inside the jit,
    so fresh and resumed runs share one compiled program.
    """
    start = checks.check_int("initial_epoch", initial_epoch, 0, config.num_epochs - 1)
    if opt_state is None:
        opt_state = rate.optimizer.init(params) if rate.optimizer is not None else ()
    expected = jax.eval_shape(rate.optimizer.init, params) if rate.optimizer is not None else ()
    got_leaves, got_tree = jax.tree_util.tree_flatten(opt_state)
    want_leaves, want_tree = jax.tree_util.tree_flatten(expected)
    if got_tree != want_tree:
        raise ValueError(f"opt_state must have the structure of optimizer.init(params) "
                         f"({want_tree}), got {got_tree}"[:600])
    for path, got, want in zip(param_paths(expected), got_leaves, want_leaves):
        if np.shape(got) != want.shape or np.asarray(got).dtype != want.dtype:
            raise ValueError(f"opt_state{path} must be {want.dtype}{list(want.shape)} as optimizer.init "
                             f"gives, got {np.asarray(got).dtype}{list(np.shape(got))}")
    opt_state = jax.tree_util.tree_map(jnp.asarray, opt_state)
    if config.mesh is not None:
        opt_state = replicate(opt_state, config.mesh)
    return opt_state, jnp.asarray(start, jnp.int32)


def warn_if_unconverged(config: loop.LoopConfig, result: FitResult) -> None:
    """One :class:`ConvergenceWarning` for a run with ``patience`` that hit ``num_epochs`` still improving."""
    if config.patience is None or result.stopped_early or result.diverged:
        return
    if result.stopped_epoch < config.num_epochs:
        return
    warnings.warn(f"fit reached num_epochs={config.num_epochs} before early stopping (patience="
                  f"{config.patience}) saw the validation loss stop improving (last improvement at epoch "
                  f"{result.best_epoch}); more epochs would likely help. best_params are the best so far.",
                  ConvergenceWarning, stacklevel=3)


def _prepare(net, params, x, y, *, loss, learning_rate, optimizer, batch_size, num_epochs, key, method,
             validation, patience, min_delta, progress, record_grad_norms, mesh, drop_last):
    """Check every argument and build ``(config, rate, params, data, hyper)`` for :func:`_run_fit`."""
    checks.check_setup(net, loss, method)
    net.check_params(params)
    dtype = checks.params_dtype(params)
    key = checks.check_key(key)
    num_epochs, patience, min_delta, progress, record_grad_norms, drop_last = checks.check_options(
        num_epochs=num_epochs, patience=patience, min_delta=min_delta, validation=validation,
        progress=progress, record_grad_norms=record_grad_norms, drop_last=drop_last)
    data = checks.check_data(net, loss, dtype, x, y, validation)
    geometry = checks.batch_geometry(int(data.x.shape[0]), batch_size, drop_last)
    mesh = checks.check_mesh_for(mesh, geometry)
    rate = checks.check_rate(learning_rate, optimizer, geometry.num_batches, members=False)
    params = jax.tree_util.tree_map(jnp.asarray, params)
    opt_shape = jax.eval_shape(rate.optimizer.init, params) if rate.optimizer is not None else ()
    config = checks.make_config(net, loss, method, int(data.x.shape[0]), geometry, rate, opt_shape,
                                num_epochs=num_epochs, patience=patience, has_validation=validation is not None,
                                progress=progress, record_grad_norms=record_grad_norms, mesh=mesh,
                                use_masks=False)
    hyper = loop.Hyper(key=key, learning_rate=jnp.asarray(rate.learning_rate, dtype),
                       c1=jnp.asarray(rate.c1, dtype), c2=jnp.asarray(rate.c2, dtype),
                       min_delta=jnp.asarray(min_delta, dtype), masks=None)
    if mesh is not None:  # the data set and params on every device; batches get split in the loop
        params, data, hyper = replicate((params, data, hyper), mesh)
    return config, rate, params, data, hyper


@functools.partial(jax.jit, static_argnames=("config",))
def _run_fit(config: loop.LoopConfig, params, data: loop.Data, hyper: loop.Hyper, progress_id, opt_state=None,
             initial_epoch=0) -> loop.MemberState:
    if opt_state is None:
        opt_state = config.optimizer.init(params) if config.optimizer is not None else ()
    state = loop.init_state(config, params, opt_state)
    # a resumed run continues the epoch counter (the shuffle keys) and the update count (the schedule's k)
    start = jnp.asarray(initial_epoch, jnp.int32)
    state = state._replace(epochs_run=start, num_updates=start * config.num_batches)
    return loop.run_loop(config, state, data, hyper, progress_id, batched=False)


def batch_indices(key: Array, epoch: int, num_examples: int, batch_size: int | None = None, *,
                  drop_last: bool = False) -> tuple[Array, Array]:
    """The example indices and weights ``fit`` uses in epoch ``epoch`` (0-based).

    Returns:
        ``(indices, weights)``, both ``(updates_per_epoch, K)``: batch ``i`` is
        ``x[indices[i]]``; ``weights`` is 1 for real examples and 0 for the
        padding of a short last batch. Full batch keeps the stored order.
    """
    key = checks.check_key(key)
    epoch = checks.check_int("epoch", epoch, 0)
    m = checks.check_int("num_examples", num_examples, 1)
    g = checks.batch_geometry(m, batch_size, checks.check_bool("drop_last", drop_last))
    idx, weights = loop.epoch_batches(key, jnp.asarray(epoch), m, g.batch_size, g.num_batches,
                                      shuffle=g.shuffle, padded=g.padded, dtype=jnp.float32)
    return idx, (weights if weights is not None else jnp.ones(idx.shape, jnp.float32))


# --- results -----------------------------------------------------------------------

_SCALARS = ("best_val", "best_epoch", "stopped_early", "diverged", "diverged_epoch", "diverged_step",
            "diverged_rows", "num_updates", "epochs_run")


def _host_fields(state: loop.MemberState) -> dict:
    fields = {name: getattr(state, name) for name in _SCALARS}
    fields["history"] = state.history
    return fields


def param_paths(params) -> list[str]:
    """``"[0].w"``-style paths of the params' leaves, in ``tree_leaves`` order."""
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


_diagnose_step = jax.jit(loop.diagnose_step, static_argnames=("config",))


def diagnose(config: loop.LoopConfig, params, opt_state, data: loop.Data, hyper: loop.Hyper, host: dict,
             paths: list[str]) -> tuple[str, str | None]:
    """``(what went non-finite, leaf name)`` for a diverged run, by redoing its bad step once.

    The loop already stopped before that step; redoing it from the last finite
    params and optimizer state (outside the loop, so a healthy run never
    compiles this) names the first non-finite leaf.
    """
    loss_ok, grad_ok, param_ok = jax.device_get(_diagnose_step(
        config, params, opt_state, data, hyper, jnp.asarray(int(host["diverged_epoch"]) - 1),
        jnp.asarray(int(host["diverged_step"]) - 1), jnp.asarray(host["diverged_rows"]),
        jnp.asarray(int(host["num_updates"]))))
    grads_bad, params_bad = np.flatnonzero(~np.asarray(grad_ok)), np.flatnonzero(~np.asarray(param_ok))
    if not loss_ok:
        if grads_bad.size:
            leaf = "grads" + paths[grads_bad[0]]
            return f"the loss J became non-finite (first non-finite gradient: {leaf})", leaf
        return "the loss J became non-finite", "loss"
    if grads_bad.size:
        leaf = "grads" + paths[grads_bad[0]]
        return f"the gradient {leaf} became non-finite", leaf
    if params_bad.size:
        leaf = "params" + paths[params_bad[0]]
        return f"the update made {leaf} non-finite", leaf
    return "a value became non-finite inside the compiled loop (it did not recur when the step was redone)", None


def member_result(config: loop.LoopConfig, rate_text: str, host: dict, params, best_params, opt_state,
                  diagnosis: tuple[str, str | None] | None) -> FitResult:
    """One member's :class:`FitResult` from its host scalars, (device) params and divergence diagnosis."""
    e = int(host["epochs_run"])
    history = {name: np.asarray(h)[:e] for name, h in host["history"].items()}
    if config.has_validation:
        best_epoch = int(host["best_epoch"])
    else:
        best_params, best_epoch = params, e
    what, leaf = diagnosis if diagnosis is not None else (None, None)
    result = FitResult(
        params=params, best_params=best_params, best_epoch=best_epoch, stopped_epoch=e,
        num_updates=int(host["num_updates"]), history=history, opt_state=opt_state,
        stopped_early=bool(host["stopped_early"]), diverged=bool(host["diverged"]),
        diverged_epoch=int(host["diverged_epoch"]), diverged_step=int(host["diverged_step"]),
        diverged_leaf=leaf, message="",
    )
    return result._replace(message=describe(config, rate_text, result, float(host["best_val"]), what))


def describe(config: loop.LoopConfig, rate_text: str, r: FitResult, best_val: float, what: str | None) -> str:
    """How a run ended, in one paragraph; a divergence names the learning rate as the likely cause."""
    if r.diverged:
        return (f"diverged in epoch {r.diverged_epoch}, step {r.diverged_step} (update {r.num_updates + 1}): "
                f"{what}. params are the last finite ones, after {r.num_updates} updates and "
                f"{r.stopped_epoch} complete epochs. The likely cause is {rate_text}: the steps overshoot "
                "(lecture: 'if α is too high, the algorithm diverges'); try a rate about 10× smaller, "
                "or standardized inputs.")
    ran = f"{r.stopped_epoch} epochs ({r.num_updates} updates)"
    best = f"best validation loss {best_val:.6g} at epoch {r.best_epoch}" if config.has_validation else \
        f"final training loss {float(r.history['train_loss'][-1]):.6g}"
    if r.stopped_early:
        return (f"stopped early after {ran}: the validation loss did not improve for {config.patience} "
                f"epochs; {best} (best_params).")
    return f"ran all {ran}; {best}."
