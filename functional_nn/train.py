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
``functional_nn._engine``, ``fit_many`` vmapping it over members; or, with
checkpoints, progress or ``on_segment``, one segment at a time,
``functional_nn._segments``) and *collect* (one result builder,
``functional_nn._results``). A second call with the same shapes and settings reuses the
compiled program: the learning rate, data, params and key are traced.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from functional_nn import _engine as engine
from functional_nn import _results, _segments, parallel
from functional_nn._batches import batch_rows, batch_weights, epoch_orders, shuffle_seed
from functional_nn._prepare import Prepared, _batch_geometry, prepare
from functional_nn._results import ConvergenceWarning, FitManyResult, FitResult
from functional_nn._segments import SegmentState
from functional_nn._validate import check_bool, check_int, check_key
from functional_nn.network import MLP, Params

__all__ = [
    "ConvergenceWarning",
    "FitResult",
    "FitManyResult",
    "SegmentState",
    "fit",
    "fit_many",
    "batch_indices",
]

Array = jax.Array


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
    run = prepare(**locals(), members=False)  # every argument, checked once there
    result = _train(run, "fit")  # one member whose device trees carry no members axis
    return _results.one_member(result.members, 0, lambda tree: tree, result.initial_epoch)


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
    run = prepare(**locals(), members=True)  # every argument, checked once there
    return _train(run, f"fit_many ({run.config.members} members)")


def _train(run: Prepared, description: str) -> FitManyResult:
    """Run a prepared training and collect its results."""
    if run.stride is None:  # the whole run is one compiled call
        member, history = jax.block_until_ready(
            _run(run.config, run.params, run.opt_state, run.data, run.hyper)
        )
    else:
        member, history = _segments.run_by_segments(run, description)
    member, history = parallel.to_local((member, history))  # members split across processes
    result = _results.collect(run, member, history)
    _results.warn_if_unconverged(run.config, result)
    return result


_run = jax.jit(engine.run, static_argnames=("config",))


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
    order = epoch_orders(shuffle_seed(key), np.asarray([epoch]), m)[0] if shuffle else jnp.arange(m)
    weights = batch_weights(m, b, k, padded)
    return (
        batch_rows(order, b, k),
        jnp.asarray(weights if weights is not None else np.ones((b, k)), jnp.float32),
    )
