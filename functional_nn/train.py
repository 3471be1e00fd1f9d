r"""``fit`` and ``fit_many``: the lecture's training algorithm as one compiled XLA computation.

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

``fit`` and ``fit_many`` are the same three steps: *prepare* (every argument
checked once, ``functional_nn._prepare``), *run* (one jitted call of the engine,
``functional_nn._engine``; ``fit_many`` vmaps it over members) and *collect*
(one result builder). A second call with the same shapes and settings reuses the
compiled program: the learning rate, data, params and key are traced.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from functional_nn import _checkpointing, _diagnosis, _progress, parallel
from functional_nn import _engine as engine
from functional_nn import checkpoint_dir as ckpt_dir
from functional_nn._prepare import Prepared, _batch_geometry, prepare
from functional_nn._validate import check_bool, check_int, check_key
from functional_nn.network import MLP, Params

__all__ = ["ConvergenceWarning", "FitResult", "FitManyResult", "fit", "fit_many", "batch_indices"]

Array = jax.Array


class ConvergenceWarning(UserWarning):
    """A run ran out of epochs while early stopping still saw the validation loss improve.

    Raised once per ``fit`` or ``fit_many`` call from the Python wrapper (never
    inside the compiled loop) when ``patience`` is given and a run that did not
    diverge reached ``num_epochs`` without ``patience`` epochs in a row without
    improvement: more epochs would likely still help. Silence it with
    ``warnings.filterwarnings`` or pass a larger ``num_epochs``.
    """


class FitResult(NamedTuple):
    """What a run produced. In ``fit_many`` every field gets a leading ``(members,)`` axis.

    ``history`` maps names to per-epoch arrays, one entry per epoch this call
    completed (``len == stopped_epoch − initial_epoch``); a key is absent where it
    does not apply:

    * ``"train_loss"`` ``(epochs,)``: mean of the epoch's batch losses ``J``, each
      taken before its update and weighted by the batch's example count;
    * ``"val_loss"`` ``(epochs,)``: ``J`` on the validation set after the epoch
      (only with ``validation``);
    * ``"val_accuracy"`` ``(epochs,)``: fraction correct on the validation set
      (binary cross-entropy: ``ŷ >= 0.5`` per output; categorical: argmax),
      absent for ``"mse"``;
    * ``"learning_rate"`` ``(epochs,)``: ``α`` of the epoch's first update (with
      ``learning_rate=``, :func:`functional_nn.sgd`, or an optimizer built with
      ``optax.inject_hyperparams``);
    * ``"grad_norms"`` ``(epochs, L)``: mean over the epoch's updates of the
      per-layer norms ``‖∂J/∂(w^l, b^l)‖`` (only with ``record_grad_norms``).
    """

    params: Params  # final params; the last finite ones if the run diverged
    best_params: Params  # params after best_epoch (the final ones without validation)
    best_epoch: int  # 1-based epoch of the lowest validation loss; 0 = initial params
    stopped_epoch: int  # epochs completed, counted from the start of the whole run
    num_updates: int  # parameter updates applied, from the start of the whole run
    history: dict  # per-epoch arrays, see above
    opt_state: Any  # final optax state (fnn.sgd's SGDState for learning_rate=)
    stopped_early: bool  # early stopping ended the run
    diverged: bool  # a non-finite loss, gradient or update ended the run
    diverged_epoch: int  # 1-based epoch of the divergence; 0 = none
    diverged_step: int  # 1-based step within that epoch; 0 = none
    diverged_leaf: str | None  # "loss", "grads[l].w", "params[l].b", ...; None = none
    message: str  # one paragraph saying how the run ended (and the likely cause)


def _one(members: Any, i: int, take, initial_epoch: int) -> FitResult:
    """Member ``i`` of stacked results (a FitResult whose fields have a leading (members,) axis);
    ``take`` picks it from the device trees."""
    e = int(members.stopped_epoch[i])
    return FitResult(
        params=take(members.params),
        best_params=take(members.best_params),
        best_epoch=int(members.best_epoch[i]),
        stopped_epoch=e,
        num_updates=int(members.num_updates[i]),
        history={name: h[i, : e - initial_epoch] for name, h in members.history.items()},
        opt_state=take(members.opt_state),
        stopped_early=bool(members.stopped_early[i]),
        diverged=bool(members.diverged[i]),
        diverged_epoch=int(members.diverged_epoch[i]),
        diverged_step=int(members.diverged_step[i]),
        diverged_leaf=members.diverged_leaf[i],
        message=members.message[i],
    )


class FitManyResult(NamedTuple):
    """Stacked results of ``fit_many`` and the member with the lowest validation loss.

    ``members`` is a :class:`FitResult` whose arrays have a leading
    ``(members,)`` axis (``diverged_leaf`` and ``message`` are tuples). Its
    history arrays are ``(members, num_epochs − initial_epoch, ...)``: entries
    after a member's ``stopped_epoch`` repeat its last value (``+inf`` losses for
    a member that completed no epoch). :meth:`member` gives one member exactly as
    ``fit`` would.
    """

    members: FitResult
    best_index: int  # argmin of the best validation loss (final training loss without validation)
    initial_epoch: int = 0

    def member(self, i: int) -> FitResult:
        """Member ``i`` as a plain :class:`FitResult` (history cut to its own epochs)."""
        return _one(
            self.members,
            i,
            lambda tree: jax.tree_util.tree_map(lambda a: a[i], tree),
            self.initial_epoch,
        )

    @property
    def best(self) -> FitResult:
        """The member with the lowest validation loss, ready to evaluate on the test set."""
        return self.member(self.best_index)


def fit(
    net: MLP,
    params: Params,
    x,
    y,
    *,
    loss: str = "mse",
    learning_rate=None,
    optimizer: optax.GradientTransformation | None = None,
    batch_size: int | None = None,
    num_epochs: int = 100,
    key: Array,
    method: str = "manual",
    validation=None,
    patience: int | None = None,
    min_delta: float = 0.0,
    progress: bool = False,
    record_grad_norms: bool = False,
    mesh=None,
    drop_last: bool = False,
    opt_state=None,
    initial_epoch: int = 0,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    keep: int | None = 3,
    on_segment=None,
) -> FitResult:
    r"""Train ``net`` from ``params`` on ``(x, y)``: one compiled run of mini-batch gradient descent.

    Args:
        net: the network description.
        params: initial params, e.g. ``net.init(key)``; their dtype sets the run's precision.
        x: ``(m, n_0)`` training inputs.
        y: ``(m, n_L)`` targets (integer labels ``(m,)`` for categorical cross-entropy).
        loss: ``"mse"``, ``"binary_cross_entropy"`` or ``"categorical_cross_entropy"``.
        learning_rate: ``α`` of the lecture's ``w ← w − α ∇J``: a number, the lecture's
            schedule :func:`functional_nn.inverse_time_decay` (``c1/(k + c2)`` with ``k``
            in updates or epochs), or any optax schedule ``count -> α``. It means
            ``optimizer=fnn.sgd(learning_rate)``.
        optimizer: instead of ``learning_rate``, any ``optax.GradientTransformation``
            (momentum, Adam, ...). Reuse one object to reuse the compiled program.
        batch_size: ``K``; ``1`` SGD, ``None`` or ``m`` full batch.
        num_epochs: the most epochs to run (counted from the start of the whole run).
        key: ``jax.random`` key for the per-epoch shuffles, a pure function of the key
            and the epoch (see :func:`batch_indices`).
        method: gradient engine, ``"manual"`` (the δ recursion) or ``"autodiff"``.
        validation: ``(x_val, y_val)`` evaluated after every epoch.
        patience: stop after this many epochs without a validation-loss improvement
            larger than ``min_delta`` (needs ``validation``); a tie is no improvement.
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
            ``initial_epoch + 1 .. num_epochs`` run, with the shuffles continuing where
            they were, so ``params`` and ``opt_state`` saved after epoch ``initial_epoch``
            and trained on give the bits of the uninterrupted run (with ``learning_rate=``
            and no ``opt_state`` the schedule's update count continues too). ``history``
            covers only the new epochs. Early stopping's memory starts afresh (from the
            given params: ``best_epoch = initial_epoch`` until an epoch beats them).
        checkpoint_dir: a directory (created if missing) for checkpoints inside the run;
            needs ``checkpoint_every``. The run is then called segment by segment (one
            compiled program, no retrace) and after every ``checkpoint_every`` epochs, and
            at the end, an atomic, checksummed ``ckpt_<epoch>.npz`` holds everything the
            rest of the run depends on: params, optimizer state, the epoch (so the shuffles
            continue), early-stopping and divergence state and the history so far. A
            directory that cannot be written fails before training
            (:class:`functional_nn.checkpoint.CheckpointWriteError`); a directory that
            already holds checkpoints needs ``resume=True``.
        checkpoint_every: epochs between checkpoints.
        resume: continue from the newest loadable checkpoint in ``checkpoint_dir``
            (start from the beginning if there is none yet): the run ends with the bits
            of the uninterrupted one. A checkpoint of another network, data, loss or
            configuration is refused (``CheckpointError`` naming what differs).
        keep: how many checkpoints to keep (the newest); ``None`` keeps all.
        on_segment: called on the host after every segment (every ``checkpoint_every``
            epochs, or about every 1% of the run) with a :class:`SegmentState`, e.g. to
            log metrics; an exception it raises stops the run (the checkpoint stays).
    Returns:
        A :class:`FitResult`. A run that diverges raises nothing: ``diverged`` is set,
        ``params`` are the last finite ones and ``message`` names the likely cause.
    Warns:
        ConvergenceWarning: once, when ``patience`` is given and the run reaches
            ``num_epochs`` while the validation loss was still improving.

    Examples:
        >>> net = fnn.MLP((2, 2, 1))
        >>> result = fnn.fit(net, net.init(key), x, y, learning_rate=0.5, batch_size=1,
        ...                  num_epochs=2000, key=key)
        >>> result.history["train_loss"][-1]
    """
    run = prepare(
        net,
        x,
        y,
        members=False,
        params=params,
        key=key,
        loss=loss,
        learning_rate=learning_rate,
        optimizer=optimizer,
        batch_size=batch_size,
        num_epochs=num_epochs,
        method=method,
        validation=validation,
        patience=patience,
        min_delta=min_delta,
        progress=progress,
        record_grad_norms=record_grad_norms,
        mesh=mesh,
        drop_last=drop_last,
        opt_state=opt_state,
        initial_epoch=initial_epoch,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=resume,
        keep=keep,
        on_segment=on_segment,
    )
    result = _train(run, "fit")  # one member whose device trees carry no members axis
    return _one(result.members, 0, lambda tree: tree, result.initial_epoch)


def fit_many(
    net: MLP,
    x,
    y,
    *,
    key: Array,
    params: Params | None = None,
    loss: str = "mse",
    learning_rate=None,
    optimizer=None,
    init_scale=None,
    hidden_widths=None,
    batch_size: int | None = None,
    num_epochs: int = 100,
    method: str = "manual",
    validation=None,
    patience: int | None = None,
    min_delta: float = 0.0,
    progress: bool = False,
    record_grad_norms: bool = False,
    mesh=None,
    drop_last: bool = False,
    opt_state=None,
    initial_epoch: int = 0,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    keep: int | None = 3,
    on_segment=None,
) -> FitManyResult:
    r"""Train ``members`` copies of ``net`` at once, vmapped in one compiled call; each is exactly a ``fit`` run.

    The lecture chooses a topology "by trial and error": train candidates on the
    training data, compare them on validation data. ``fit_many`` trains them all at
    once — over seeds, learning rates, the schedule constants ``c1, c2``, init scales
    and hidden widths. Per-member arguments have a leading ``(members,)`` axis; the
    others are shared. At least one must have that axis, and all that do must agree:

    * ``key``: one key (every member shuffles, and initializes, the same way) or
      ``(members,)`` keys, e.g. ``jax.random.split(key, 8)`` for a seed sweep;
    * ``params``: ``None`` (member ``i`` initializes itself), one params tree
      (shared start) or a tree whose leaves have a leading ``(members,)`` axis;
    * ``learning_rate``: a number, a ``(members,)`` array, or
      ``inverse_time_decay(c1, c2)`` with ``c1``/``c2`` numbers or ``(members,)``
      arrays (``optimizer`` is shared instead);
    * ``init_scale``: ``(members,)`` multipliers on the initial weights (``params=None`` only);
    * ``hidden_widths``: ``(members, L − 1)`` ints, the active units per hidden
      layer (``(members,)`` for one hidden layer); at most ``net.layer_sizes[l]``.
      The network is built at the largest widths and member ``i`` multiplies hidden
      layer ``l``'s outputs by a 0/1 mask keeping its first ``hidden_widths[i][l]``
      units: a masked unit outputs 0 and gets zero gradients, so the member trains
      exactly like the narrow network whose params are the kept slice.

    Member ``i`` equals ``fit(net, params_i, x, y, key=k, ...)`` with the same
    settings: with ``params`` given, ``k = key_i``; with ``params=None``,
    ``k_init, k = jax.random.split(key_i)`` and ``params_i = net.init(k_init,
    scale=init_scale_i)``. Each member has its own early stopping; the run ends
    when every member stopped.

    Args:
        net: the network (with the largest widths when ``hidden_widths`` is given).
        x, y, loss, batch_size, num_epochs, method, validation, patience, min_delta,
        progress, record_grad_norms, mesh, drop_last, initial_epoch, checkpoint_dir,
        checkpoint_every, resume, keep, on_segment: as in :func:`functional_nn.fit`
            (``mesh`` splits the members over its ``"members"`` axis,
            :func:`functional_nn.members_mesh`, and every member's batches over ``"data"``;
            one checkpoint holds all members).
        opt_state: resume with the stacked ``FitManyResult.members.opt_state``.
    Returns:
        :class:`FitManyResult`: stacked results and ``best_index``.
    Warns:
        ConvergenceWarning: once, naming how many members reached ``num_epochs`` still improving.

    Examples:
        >>> many = fnn.fit_many(net, x, y, key=key, learning_rate=jnp.array([0.01, 0.1, 1.0]),
        ...                     validation=(x_val, y_val), num_epochs=50)
        >>> many.best.best_params     # evaluate these on the test set
    """
    run = prepare(
        net,
        x,
        y,
        members=True,
        params=params,
        key=key,
        loss=loss,
        learning_rate=learning_rate,
        optimizer=optimizer,
        batch_size=batch_size,
        num_epochs=num_epochs,
        method=method,
        validation=validation,
        patience=patience,
        min_delta=min_delta,
        progress=progress,
        record_grad_norms=record_grad_norms,
        mesh=mesh,
        drop_last=drop_last,
        opt_state=opt_state,
        initial_epoch=initial_epoch,
        init_scale=init_scale,
        hidden_widths=hidden_widths,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=resume,
        keep=keep,
        on_segment=on_segment,
    )
    return _train(run, f"fit_many ({run.config.members} members)")


class SegmentState(NamedTuple):
    """What ``on_segment`` gets after each segment (host values; ``fit_many``: a leading members axis).

    ``history`` holds the epochs run so far (``epoch − initial_epoch`` entries;
    ``fit_many``: entries after a member stopped are zeros until the run collects).
    """

    epoch: int  # epochs the run has reached, from the start of the whole run
    num_epochs: int
    epochs_done: Any  # int (fit) or (members,) ints: epochs each member completed (a diverged
    # one's count stops at the segment that met the bad step; the result names the exact epoch)
    running: Any  # bool or (members,) bools: still training
    best_epoch: Any  # int or (members,) ints
    history: dict  # per-epoch host arrays so far
    params: Any  # the current params (device arrays)
    checkpoint: Path | None  # the checkpoint written after this segment (on disk), if any


def _train(run: Prepared, description: str) -> FitManyResult:
    """Run a prepared training and collect its results."""
    if run.stride is None:  # the whole run is one compiled call
        member, history = jax.block_until_ready(
            _run(run.config, run.params, run.opt_state, run.data, run.hyper)
        )
    else:
        member, history = _run_by_segments(run, description)
    member, history = parallel.to_local((member, history))  # members split across processes
    result = _collect(run, member, history)
    _warn_if_unconverged(run.config, result)
    return result


_run = jax.jit(engine.run, static_argnames=("config",))
_start = jax.jit(engine.start, static_argnames=("config",))
_run_from = jax.jit(engine.run_from, static_argnames=("config",))
_replay = jax.jit(engine.replay, static_argnames=("config",))


def _run_by_segments(run: Prepared, description: str):
    """Call the one compiled segment runner again and again; the host works between calls.

    Between calls the host writes the checkpoint, moves the progress bar and calls
    ``on_segment``. The host never keeps the device waiting: the next segment is
    dispatched before the host reads the last one's state (a segment after every member
    stopped is a no-op of the compiled loop), and a checkpoint is written by a
    background thread while the next segments run. A write is awaited before the next
    one starts, before ``on_segment`` sees its path and before the run returns, so its
    error (a full or read-only disk) stops the run and a returned run's checkpoints are
    all on disk.
    """
    config, plan = run.config, run.checkpoints
    args = (run.config, run.params, run.opt_state, run.data, run.hyper)
    epoch, resumed, described = run.start, None, None
    if plan is not None:
        kind = "fit" if config.members is None else "fit_many"
        described = _checkpointing.describe(run, kind)  # once: it hashes the data
        if plan.resume:
            resumed = _checkpointing.restore(
                plan,
                run,
                described,
                jax.eval_shape(functools.partial(engine.start, config), *args[1:]),
            )
        else:
            _checkpointing.check_fresh(plan, described)
    if resumed is None:
        member, history = _start(*args)
    else:
        member, history, epoch, _ = resumed
    assert run.stride is not None  # this loop runs only when segments are asked for
    with (
        _progress.progress_bar(run.progress, config.num_epochs, description, epoch) as report,
        _checkpointing.Writer() as writer,
    ):
        fresh = True  # the state in hand is the start (or the resumed checkpoint), not a segment's
        while True:
            more = epoch < config.num_epochs
            if more:  # dispatched first: the device runs it while the host works below
                stop = min(epoch + run.stride, config.num_epochs)
                following = _run_from(config, member, history, run.data, run.hyper, epoch, stop)
            status = np.asarray(parallel.to_local(member.status))  # waits for this segment
            if not fresh:
                _after_segment(run, described, member, history, epoch, report, writer)
            if not (more and np.any(status == engine.RUNNING)):
                writer.wait()  # the last checkpoint is on disk before the run returns,
                if plan is not None:  # in every process
                    parallel.wait_for_every_process("functional_nn: the last checkpoint")
                return member, history
            (member, history), epoch, fresh = following, stop, False


def _after_segment(run: Prepared, described, member, history, epoch: int, report, writer) -> None:
    """The host's work after a segment that ended at ``epoch``: checkpoint, progress, hook."""
    config, plan, single = run.config, run.checkpoints, run.config.members is None
    path, hook = None, report is not None or run.on_segment is not None
    if plan is None and not hook:
        return
    small = member._replace(params=None, opt_state=None, best_params=None)
    # members split across processes are gathered: a collective, every process in step
    local_member, history = parallel.to_local((small if plan is None else member, history))
    if plan is not None:
        path = ckpt_dir.checkpoint_path(plan.directory, epoch)
        if jax.process_index() == 0:  # process 0 writes; its writer copies to the host
            writer.submit(plan, run, described, local_member, history, epoch)
    if not hook:
        return
    host_member, host_history = jax.device_get(
        (local_member._replace(params=None, opt_state=None, best_params=None), history)
    )
    ran = epoch - run.start
    cut = {
        name: np.asarray(h)[:ran] if single else np.asarray(h)[:, :ran]
        for name, h in host_history.items()
    }
    done = np.asarray(host_member.epochs_done)
    running = np.asarray(host_member.status) == engine.RUNNING
    if report is not None:
        last = np.maximum(done - 1 - run.start, 0)
        pick = lambda h: (  # noqa: E731
            h[last] if single else np.take_along_axis(h, last[:, None], axis=1)[:, 0]
        )
        losses = cut.get("val_loss", cut["train_loss"])
        report(done, pick(cut["train_loss"]), pick(losses), ~running)
    if run.on_segment is not None:
        if plan is not None:  # the hook is told of a checkpoint that is on disk, in every process
            writer.wait()
            parallel.wait_for_every_process("functional_nn: a checkpoint before on_segment")
        scalar = (lambda v: v.item()) if single else np.asarray  # noqa: E731
        run.on_segment(
            SegmentState(
                epoch=epoch,
                num_epochs=config.num_epochs,
                epochs_done=scalar(done),
                running=scalar(running),
                best_epoch=scalar(np.asarray(host_member.best_epoch)),
                history=cut,
                params=member.params,
                checkpoint=path,
            )
        )


def _collect(run: Prepared, member: engine.Member, history: dict) -> FitManyResult:
    """The one result builder: host scalars, histories cut to the epochs run, messages and diagnoses.

    ``fit``'s single member has no members axis on the device; its host values get one here.
    """
    config, start, single = run.config, run.start, run.config.members is None
    scalars = {
        name: getattr(member, name) for name in ("status", "epochs_done", "best_epoch", "best_val")
    }
    scalars, history = jax.device_get((scalars, history))  # one transfer
    host = {name: np.array(np.atleast_1d(v)) for name, v in scalars.items()}
    stopped = host["epochs_done"]
    diverged = host["status"] == engine.DIVERGED
    bad_step = np.zeros_like(stopped)
    history = {
        name: np.asarray(h)[None] if single else np.asarray(h) for name, h in history.items()
    }
    paths = [
        jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(member.params)[0]
    ]
    take = (
        (lambda tree, i: tree)
        if single
        else (lambda tree, i: jax.tree_util.tree_map(lambda a: a[i], tree))
    )
    leaves: list[str | None] = [None] * len(stopped)
    whats: list[tuple[str, tuple[str, str]] | None] = [None] * len(stopped)
    messages: list[str] = []
    # a diverged member was handed back in the state before its bad span: find the step, advance to it
    for i in map(int, np.flatnonzero(diverged)):
        last, step_losses, index = _replay(config, take(member, i), run.data, take(run.hyper, i))
        index = int(index)
        if index == len(step_losses):
            raise RuntimeError(
                f"internal error: the run met a non-finite step in epochs {stopped[i] + 1}.. but "
                "replaying them found none (the compiled run is not deterministic here)"
            )
        epochs, bad_step[i] = divmod(index, config.num_batches)
        stopped[i] += epochs
        member = (
            last if single else jax.tree_util.tree_map(lambda a, v: a.at[i].set(v), member, last)  # noqa: B023
        )
        before = np.asarray(step_losses)[:index]  # J of the finite steps before the bad one
        if before.size < 3:  # too few steps in the replayed span: the epochs before count too
            before = np.concatenate([history["train_loss"][i, : stopped[i] - start], before])
        whats[i], leaves[i] = _diagnosis.diagnose(
            config,
            last.params,
            last.opt_state,
            run.data,
            take(run.hyper, i),
            int(stopped[i]),
            int(bad_step[i]),
            paths,
            before,
        )
        host["best_epoch"][i], host["best_val"][i] = int(last.best_epoch), float(last.best_val)
    history = {name: _forward_fill(h, stopped - start, name) for name, h in history.items()}
    for i in range(len(stopped)):
        messages.append(
            _diagnosis.describe(
                config,
                run.rate_texts[i],
                whats[i],
                int(stopped[i]),
                bool(diverged[i]),
                int(bad_step[i]),
                host["status"][i] == engine.STOPPED_EARLY,
                int(host["best_epoch"][i]),
                float(host["best_val"][i]),
                {name: h[i, : stopped[i] - start] for name, h in history.items()},
            )
        )
    validated = config.has_validation
    stacked: dict[str, Any] = dict(  # every field with a leading (members,) axis
        params=member.params,
        best_params=member.best_params if validated else member.params,
        best_epoch=host["best_epoch"] if validated else stopped,
        stopped_epoch=stopped,
        num_updates=stopped * config.num_batches + bad_step,
        history=history,
        opt_state=member.opt_state,
        stopped_early=host["status"] == engine.STOPPED_EARLY,
        diverged=diverged,
        diverged_epoch=np.where(diverged, stopped + 1, 0),
        diverged_step=np.where(diverged, bad_step + 1, 0),
        diverged_leaf=tuple(leaves),
        message=tuple(messages),
    )
    members = FitResult(**stacked)
    score = host["best_val"] if validated else history["train_loss"][:, -1]
    return FitManyResult(members, int(np.argmin(np.where(np.isnan(score), np.inf, score))), start)


def _forward_fill(h: np.ndarray, ran: np.ndarray, name: str) -> np.ndarray:
    """Entries after each member's last epoch repeat its last value (``+inf`` losses where none ran)."""
    if np.all(ran == h.shape[1]):
        return h  # every member ran every epoch: nothing to fill
    cols = np.arange(h.shape[1]).reshape((1, -1) + (1,) * (h.ndim - 2))
    last = np.take_along_axis(
        h, np.maximum(ran - 1, 0).reshape((-1, 1) + (1,) * (h.ndim - 2)), axis=1
    )
    empty = np.inf if name in ("train_loss", "val_loss") else 0
    last = np.where(ran.reshape((-1, 1) + (1,) * (h.ndim - 2)) > 0, last, empty)
    return np.where(cols < ran.reshape((-1, 1) + (1,) * (h.ndim - 2)), h, last).astype(h.dtype)


def _warn_if_unconverged(config: engine.Config, result: FitManyResult) -> None:
    """One :class:`ConvergenceWarning` for runs with ``patience`` that hit ``num_epochs`` still improving."""
    if config.patience is None:
        return
    m = result.members
    still = (
        ~np.asarray(m.stopped_early)
        & ~np.asarray(m.diverged)
        & (np.asarray(m.stopped_epoch) >= config.num_epochs)
    )
    if not still.any():
        return
    who = (
        "fit"
        if config.members is None
        else f"fit_many: {int(still.sum())} of {config.members} members"
    )
    last = int(np.max(np.asarray(m.best_epoch)[still]))
    warnings.warn(
        f"{who} reached num_epochs={config.num_epochs} before early stopping (patience="
        f"{config.patience}) saw the validation loss stop improving (last improvement at epoch "
        f"{last}); more epochs would likely help. best_params are the best so far.",
        ConvergenceWarning,
        stacklevel=4,
    )


def batch_indices(
    key: Array,
    epoch: int,
    num_examples: int,
    batch_size: int | None = None,
    *,
    drop_last: bool = False,
) -> tuple[Array, Array]:
    """The example indices and weights ``fit`` uses in epoch ``epoch`` (0-based).

    Returns:
        ``(indices, weights)``, both ``(updates_per_epoch, K)``: batch ``i`` is
        ``x[indices[i]]``; ``weights`` is 1 for real examples and 0 for the
        padding of a short last batch. Full batch keeps the stored order.
    """
    key = check_key(key)
    epoch = check_int("epoch", epoch, 0)
    m = check_int("num_examples", num_examples, 1)
    k, b, shuffle, padded = _batch_geometry(m, batch_size, check_bool("drop_last", drop_last))
    order = (
        engine.epoch_orders(engine.shuffle_seed(key), np.asarray([epoch]), m)[0]
        if shuffle
        else jnp.arange(m)
    )
    weights = engine.batch_weights(m, b, k, padded)
    return (
        engine.batch_rows(order, b, k),
        jnp.asarray(weights if weights is not None else np.ones((b, k)), jnp.float32),
    )
