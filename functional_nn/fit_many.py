r"""``fit_many``: many training runs as one compiled, vmapped computation.

The lecture chooses a network's topology "by trial and error": train several
candidates on the training data, compare them on validation data, report the
chosen one on test data. ``fit_many`` trains all candidates at once — over
seeds, learning rates, the schedule constants ``c1, c2``, init scales and
hidden widths — with ``vmap`` inside one ``jit``. Each member has its own early
stopping: the loop over epochs runs until every member is done, and a member
that is done keeps its state.

Widths are searched by masking: the network is built at the largest width and
member ``i`` multiplies hidden layer ``l``'s outputs by a 0/1 mask that keeps
its first ``hidden_widths[i][l]`` units. A masked unit outputs 0, so its
outgoing weights never matter and its gradients are 0: the member trains
exactly like the unmasked narrow network whose params are the kept slice.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _train_checks as checks
from functional_nn import _train_loop as loop
from functional_nn.network import MLP, Params
from functional_nn._progress import progress_bar
from functional_nn.train import FitResult, diagnose, member_result, param_paths

Array = jax.Array


class FitManyResult(NamedTuple):
    """Stacked results of ``fit_many`` and the member with the lowest validation loss.

    ``members`` is a :class:`FitResult` whose arrays have a leading
    ``(members,)`` axis (``diverged_leaf`` and ``message`` are tuples). Its
    history arrays are ``(members, num_epochs, ...)``: entries after a member's
    ``stopped_epoch`` repeat its last value (``+inf`` losses for a member that
    completed no epoch). :meth:`member` gives one member exactly as ``fit`` would.
    """

    members: FitResult
    best_index: int      # argmin of the best validation loss (final training loss without validation)

    def member(self, i: int) -> FitResult:
        """Member ``i`` as a plain :class:`FitResult` (history cut to its own epochs)."""
        m = self.members
        e = int(m.stopped_epoch[i])
        take = lambda tree: jax.tree_util.tree_map(lambda a: a[i], tree)  # noqa: E731
        return FitResult(
            params=take(m.params), best_params=take(m.best_params), best_epoch=int(m.best_epoch[i]),
            stopped_epoch=e, num_updates=int(m.num_updates[i]),
            history={name: h[i, :e] for name, h in m.history.items()}, opt_state=take(m.opt_state),
            stopped_early=bool(m.stopped_early[i]), diverged=bool(m.diverged[i]),
            diverged_epoch=int(m.diverged_epoch[i]), diverged_step=int(m.diverged_step[i]),
            diverged_leaf=m.diverged_leaf[i], message=m.message[i],
        )

    @property
    def best(self) -> FitResult:
        """The member with the lowest validation loss, ready to evaluate on the test set."""
        return self.member(self.best_index)


def fit_many(net: MLP, x, y, *, key: Array, params: Params | None = None, loss: str = "mse",
             learning_rate=None, optimizer=None, init_scale=None, hidden_widths=None,
             batch_size: int | None = None, num_epochs: int = 100, method: str = "manual", validation=None,
             patience: int | None = None, min_delta: float = 0.0, progress: bool = False,
             record_grad_norms: bool = False, drop_last: bool = False) -> FitManyResult:
    r"""Train ``members`` copies of ``net`` at once; each is exactly a ``fit`` run.

    Per-member arguments have a leading ``(members,)`` axis; the others are
    shared. At least one must have that axis, and all that do must agree:

    * ``key``: one key (every member shuffles, and initializes, the same way) or
      ``(members,)`` keys, e.g. ``jax.random.split(key, 8)`` for a seed sweep;
    * ``params``: ``None`` (member ``i`` initializes itself), one params tree
      (shared start) or a tree whose leaves have a leading ``(members,)`` axis;
    * ``learning_rate``: a number, a ``(members,)`` array, or
      ``inverse_time_decay(c1, c2)`` with ``c1``/``c2`` numbers or ``(members,)``
      arrays (``optimizer`` is shared and static instead);
    * ``init_scale``: ``(members,)`` multipliers on the initial weights (``params=None`` only);
    * ``hidden_widths``: ``(members, L − 1)`` ints, the active units per hidden
      layer (``(members,)`` for one hidden layer); at most ``net.layer_sizes[l]``.

    Member ``i`` equals ``fit(net, params_i, x, y, key=k, ...)`` with the same
    settings: with ``params`` given, ``k = key_i``; with ``params=None``,
    ``k_init, k = jax.random.split(key_i)`` and ``params_i = net.init(k_init,
    scale=init_scale_i)``. Masked members match the narrow network whose
    params are the kept slice.

    Args:
        net: the network (with the largest widths when ``hidden_widths`` is given).
        x, y, loss, batch_size, num_epochs, method, validation, patience, min_delta,
        progress, record_grad_norms, drop_last: as in :func:`functional_nn.fit`.
    Returns:
        :class:`FitManyResult`: stacked results and ``best_index``.

    Example:
        >>> many = fnn.fit_many(net, x, y, key=key, learning_rate=jnp.array([0.01, 0.1, 1.0]),
        ...                     validation=(x_val, y_val), num_epochs=50)
        >>> many.best.best_params     # evaluate these on the test set
    """
    checks.check_setup(net, loss, method)
    key = checks.check_key(key, batched=True)
    num_epochs, patience, min_delta, progress, record_grad_norms, drop_last = checks.check_options(
        num_epochs=num_epochs, patience=patience, min_delta=min_delta, validation=validation,
        progress=progress, record_grad_norms=record_grad_norms, drop_last=drop_last)
    sizes: dict[str, int] = {}
    if key.ndim == 1:
        sizes["key"] = key.shape[0]
    params, stacked = _check_params(net, params, sizes)
    dtype = checks.params_dtype(params) if params is not None else np.dtype(jnp.zeros(()).dtype)
    data = checks.check_data(net, loss, dtype, x, y, validation)
    m = int(data.x.shape[0])
    geometry = checks.batch_geometry(m, batch_size, drop_last)
    rate = checks.check_rate(learning_rate, optimizer, geometry.num_batches, members=True)
    for name, value in (("learning_rate", rate.learning_rate), ("c1", rate.c1), ("c2", rate.c2)):
        if np.ndim(value) == 1:
            sizes[name] = np.shape(value)[0]
    if init_scale is not None:
        if params is not None:
            raise ValueError("init_scale applies when fit_many initializes the params (params=None)")
        init_scale = _check_positive_vector("init_scale", init_scale)
        if init_scale.ndim == 1:
            sizes["init_scale"] = init_scale.shape[0]
    widths = _check_widths(net, hidden_widths)
    if widths is not None:
        sizes["hidden_widths"] = widths.shape[0]
    if not sizes:
        raise ValueError("fit_many needs at least one per-member argument with a leading (members,) axis: "
                         "key=jax.random.split(key, n), a learning_rate array, c1/c2 arrays, init_scale, "
                         "hidden_widths or stacked params")
    if len(set(sizes.values())) != 1:
        raise ValueError(f"per-member arguments disagree on the number of members: {sizes}")
    n = next(iter(sizes.values()))

    keys = jnp.broadcast_to(key, (n,)) if key.ndim == 0 else key
    if params is None:
        split = jax.vmap(jax.random.split)(keys)          # (n, 2): init key, shuffle key
        init_keys, train_keys = split[:, 0], split[:, 1]
        scales = jnp.broadcast_to(jnp.asarray(1.0 if init_scale is None else init_scale, dtype), (n,))
    else:
        init_keys, train_keys, scales = None, keys, None
    member = lambda v: jnp.broadcast_to(jnp.asarray(v, dtype), (n,))  # noqa: E731
    masks = None
    if widths is not None:
        masks = tuple((jnp.arange(size)[None, :] < widths[:, l, None]).astype(dtype)
                      for l, size in enumerate(net.layer_sizes[1:-1]))
    hyper = loop.Hyper(key=train_keys, learning_rate=member(rate.learning_rate), c1=member(rate.c1),
                       c2=member(rate.c2), min_delta=member(min_delta), masks=masks)
    one = jax.tree_util.tree_map(lambda a: a[0], params) if stacked else params
    if one is None:
        one = jax.eval_shape(lambda: net.init(jax.random.key(0), dtype=dtype))
    opt_shape = jax.eval_shape(rate.optimizer.init, one) if rate.optimizer is not None else ()
    config = checks.make_config(net, loss, method, m, geometry, rate, opt_shape, num_epochs=num_epochs,
                                patience=patience, has_validation=validation is not None, progress=progress,
                                record_grad_norms=record_grad_norms, mesh=None, use_masks=masks is not None)
    with progress_bar(progress, num_epochs, f"fit_many ({n} members)") as progress_id:
        state = _run_many(config, n, stacked, dtype, params, init_keys, scales, data, hyper, progress_id)
        state = jax.block_until_ready(state)
    return _results(config, rate, state, data, hyper, n)


@functools.partial(jax.jit, static_argnames=("config", "n", "stacked", "dtype"))
def _run_many(config: loop.LoopConfig, n: int, stacked: bool, dtype, params, init_keys, scales,
              data: loop.Data, hyper: loop.Hyper, progress_id) -> loop.MemberState:
    net = config.net
    if params is None:
        params = jax.vmap(lambda k, s: net.init(k, scale=s, dtype=dtype))(init_keys, scales)
    elif not stacked:
        params = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), params)
    opt_state = jax.vmap(config.optimizer.init)(params) if config.optimizer is not None else ()
    state = jax.vmap(lambda p, o: loop.init_state(config, p, o))(params, opt_state)
    state = loop.run_loop(config, state, data, hyper, progress_id, batched=True)
    return state._replace(history=jax.vmap(loop.forward_fill)(state.history, state.epochs_run))


def _results(config: loop.LoopConfig, rate, state: loop.MemberState, data: loop.Data, hyper: loop.Hyper,
             n: int) -> FitManyResult:
    host = jax.device_get({name: getattr(state, name) for name in
                           ("best_val", "best_epoch", "stopped_early", "diverged", "diverged_epoch",
                            "diverged_step", "diverged_rows", "num_updates", "epochs_run")})
    history = {name: np.asarray(h) for name, h in jax.device_get(state.history).items()}
    take = lambda tree, i: jax.tree_util.tree_map(lambda a: a[i], tree)  # noqa: E731
    paths = param_paths(take(state.params, 0))
    leaves, messages = [], []
    for i in range(n):
        host_i = {name: v[i] for name, v in host.items()}
        host_i["history"] = {name: h[i] for name, h in history.items()}
        diagnosis = None
        if host_i["diverged"]:
            diagnosis = diagnose(config, take(state.params, i), take(state.opt_state, i), data, take(hyper, i),
                                 host_i, paths)
        r = member_result(config, checks.describe_rate(rate, i), host_i, None, None, None, diagnosis)
        leaves.append(r.diverged_leaf)
        messages.append(r.message)
    epochs_run = np.asarray(host["epochs_run"])
    best_params = state.best_params if config.has_validation else state.params
    best_epoch = np.asarray(host["best_epoch"]) if config.has_validation else epochs_run
    members = FitResult(
        params=state.params, best_params=best_params, best_epoch=best_epoch, stopped_epoch=epochs_run,
        num_updates=np.asarray(host["num_updates"]), history=history, opt_state=state.opt_state,
        stopped_early=np.asarray(host["stopped_early"]), diverged=np.asarray(host["diverged"]),
        diverged_epoch=np.asarray(host["diverged_epoch"]), diverged_step=np.asarray(host["diverged_step"]),
        diverged_leaf=tuple(leaves), message=tuple(messages),
    )
    score = np.asarray(host["best_val"]) if config.has_validation else history["train_loss"][:, -1]
    return FitManyResult(members, int(np.argmin(np.where(np.isnan(score), np.inf, score))))


def _check_params(net: MLP, params, sizes: dict) -> tuple[Params | None, bool]:
    """``(params, stacked)``: one tree for every member, or leaves with a leading members axis."""
    if params is None:
        return None, False
    try:
        net.check_params(params)
        return jax.tree_util.tree_map(jnp.asarray, params), False
    except ValueError as shared_error:
        leaves = jax.tree_util.tree_leaves(params)
        lead = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
        if len(lead) != 1 or None in lead:
            raise shared_error
        first = jax.tree_util.tree_map(lambda a: a[0], params)
        try:
            net.check_params(first, "params[member]")
        except ValueError:
            raise shared_error from None
        sizes["params"] = lead.pop()
        return jax.tree_util.tree_map(jnp.asarray, params), True


def _check_positive_vector(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if isinstance(value, bool) or arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise TypeError(f"{name} must be a number or a 1-D array of them (one per member), got {value!r}")
    if arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return arr.astype(float)


def _check_widths(net: MLP, hidden_widths) -> np.ndarray | None:
    """``(members, L − 1)`` ints, ``1 <= width <= net.layer_sizes[l]``."""
    if hidden_widths is None:
        return None
    hidden = net.layer_sizes[1:-1]
    if not hidden:
        raise ValueError("hidden_widths needs a network with hidden layers")
    arr = np.asarray(hidden_widths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"hidden_widths must hold ints, got dtype {arr.dtype}")
    if arr.ndim == 1 and len(hidden) == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != len(hidden) or arr.shape[0] < 1:
        raise ValueError(f"hidden_widths must have shape (members, {len(hidden)}) for hidden layers {hidden}, "
                         f"got {np.shape(hidden_widths)}")
    if np.any(arr < 1) or np.any(arr > np.asarray(hidden)):
        raise ValueError(f"hidden_widths must lie in [1, {hidden}] per layer (the network's widths), got "
                         f"{arr.tolist()}"[:400])
    return jnp.asarray(arr)
