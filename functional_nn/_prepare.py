"""The boundary of ``fit`` and ``fit_many``: every argument checked once, the engine's inputs built once.

``prepare`` turns the public arguments into a :class:`Prepared` run — the
static ``Config``, the initial ``Member`` state (stacked over members for
``fit_many``), the data and the per-member traced values — so the compiled
engine (``functional_nn._engine``) trusts everything it gets.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _checkpointing, _validate, backprop, parallel
from functional_nn import _engine as engine
from functional_nn._batches import shuffle_seed
from functional_nn._validate import (
    check_bool,
    check_callable,
    check_int,
    check_key,
    check_number,
    check_positive,
)
from functional_nn.network import MLP
from functional_nn.schedules import InverseTimeDecay, SGDState, initial_state, learning_rate_of, sgd

Array = jax.Array
#: Bound on the shuffled indices drawn per segment (epochs × members × m int32s): 16 MiB.
ORDER_BUDGET = 2**22
#: Epochs per segment when every member runs under vmap with early stopping: a stopped
#: member's skipped epochs are still computed there (vmap turns the skip into a select).
VMAP_PATIENCE_SEGMENT = 8


class Prepared(NamedTuple):
    config: engine.Config
    params: object  # initial params, stacked over members for fit_many
    opt_state: object  # initial optimizer state, likewise
    data: engine.Data
    hyper: engine.Hyper
    start: int  # initial_epoch
    rate_texts: tuple[str, ...]  # each member's step size, as a divergence message names it
    stride: int | None  # epochs per host call (checkpoints, progress, on_segment); None: one call
    checkpoints: _checkpointing.Plan | None
    progress: bool
    on_segment: Callable[[Any], object] | None  # called with a train.SegmentState


def prepare(
    net,
    x,
    y,
    *,
    members: bool,
    params,
    key,
    loss,
    learning_rate,
    optimizer,
    batch_size,
    num_epochs,
    method,
    validation,
    patience,
    min_delta,
    progress,
    record_grad_norms,
    mesh,
    drop_last,
    opt_state,
    initial_epoch,
    init_scale=None,
    hidden_widths=None,
    checkpoint_dir=None,
    checkpoint_every=None,
    resume=False,
    keep=3,
    on_segment=None,
) -> Prepared:
    """Check every argument of ``fit`` (``members=False``) or ``fit_many`` and build the run."""
    backprop.check_setup(net, loss, method)
    key = check_key(key, batched=members)
    num_epochs = check_int("num_epochs", num_epochs, 1)
    start = check_int("initial_epoch", initial_epoch, 0, num_epochs - 1)
    if patience is not None:
        patience = check_int("patience", patience, 1)
        if validation is None:
            raise ValueError(
                "patience (early stopping) needs validation=(x_val, y_val): it stops on the "
                "validation loss"
            )
    min_delta = check_number("min_delta", min_delta)
    progress, record_grad_norms, drop_last = (
        check_bool(name, v)
        for name, v in (
            ("progress", progress),
            ("record_grad_norms", record_grad_norms),
            ("drop_last", drop_last),
        )
    )

    plan = _checkpointing.check_plan(checkpoint_dir, checkpoint_every, resume, keep)
    check_callable("on_segment", on_segment, "a function of one SegmentState", optional=True)

    sizes: dict[str, int] = {"key": key.shape[0]} if key.ndim == 1 else {}
    params, stacked = _check_params(net, params, members, sizes)
    dtype = _params_dtype(params) if params is not None else np.dtype(jnp.zeros(()).dtype)
    data = _check_data(net, loss, dtype, x, y, validation)
    m = int(data.x.shape[0])
    k, b, shuffle, padded = _batch_geometry(m, batch_size, drop_last)
    if mesh is not None:
        parallel.check_mesh(mesh, k, members=members)
    optimizer, rate, rate_texts = _check_rate(learning_rate, optimizer, b, members, sizes)
    if init_scale is not None:
        if not members or params is not None:
            raise ValueError(
                "init_scale applies when fit_many initializes the params (params=None)"
            )
        init_scale = _per_member(sizes, "init_scale", check_positive("init_scale", init_scale))
    widths = _check_widths(net, hidden_widths, sizes) if members else None
    n = _number_of_members(sizes) if members else None

    # the members' initial params, optimizer states and traced values
    keys = key  # one shared key's shuffle seed is broadcast on the host (below), not the key
    if members and params is None:
        split = jax.vmap(jax.random.split)(jnp.broadcast_to(key, (n,)))  # init, shuffle keys
        keys = split[:, 1]
        scales = jnp.broadcast_to(
            jnp.asarray(1.0 if init_scale is None else init_scale, dtype), (n,)
        )
        params = _init_members(net, dtype, split[:, 0], scales)
    elif members and not stacked:
        params = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), params)
    lead: tuple[int, ...] = () if n is None else (n,)
    if learning_rate is not None:  # fnn.sgd: the step size's traced values, one per member
        fresh = initial_state(() if rate is None else rate, dtype, lead)
    elif not members:
        fresh = optimizer.init(params)
    else:  # the caller's optimizer, reused across calls: compiled once
        fresh = _stacked_init(optimizer.init)(params)
    opt_state = _check_opt_state(opt_state, fresh, b * start)
    masks = None
    if widths is not None:
        masks = tuple(
            (jnp.arange(size)[None, :] < widths[:, l, None]).astype(dtype)
            for l, size in enumerate(net.layer_sizes[1:-1])
        )
    hyper = engine.Hyper(
        seed=np.broadcast_to(shuffle_seed(keys), lead + (2,)),
        min_delta=np.broadcast_to(np.asarray(min_delta, dtype), lead),
        masks=masks,
    )

    stride = None
    if plan is not None:
        stride = min(plan.every, num_epochs - start)
    elif progress or on_segment is not None:
        stride = math.ceil((num_epochs - start) / 100)  # the host reports about a hundred times
    epochs_per_segment = _segment_length(
        num_epochs - start,
        (n or 1) * (m if shuffle else 1),
        members and patience is not None,
        stride,
    )
    config = engine.Config(
        net=net,
        loss=loss,
        method=method,
        num_examples=m,
        batch_size=k,
        num_batches=b,
        shuffle=shuffle,
        padded=padded,
        num_epochs=num_epochs,
        epochs_per_segment=epochs_per_segment,
        patience=patience,
        has_validation=validation is not None,
        accuracy={"binary_cross_entropy": "threshold", "categorical_cross_entropy": "argmax"}.get(
            loss
        )
        if validation is not None
        else None,
        update=optimizer.update,
        probe_steps=not isinstance(fresh, SGDState),  # fnn.sgd's w − α·g marks a bad ∇J for good
        records_lr=learning_rate_of(opt_state) is not None,
        record_grad_norms=record_grad_norms,
        mesh=mesh,
        use_masks=masks is not None,
        members=n,
        first_epoch=start,
    )
    if mesh is not None:  # params, state replicated or split by member; data kept or replicated
        host_calls = f"epochs per host call {stride}, " + (
            "no checkpoints"
            if plan is None
            else f"checkpoint_every={plan.every}, resume={plan.resume}, keep={plan.keep}"
        )
        params, opt_state, data, hyper = parallel.place(
            config, params, opt_state, data, hyper, host_calls
        )
    if len(rate_texts) == 1 and n:
        rate_texts = rate_texts * n
    return Prepared(
        config,
        params,
        opt_state,
        data,
        hyper,
        start,
        rate_texts,
        stride,
        plan,
        progress,
        on_segment,
    )


def _segment_length(
    epochs: int, indices_per_epoch: int, vmapped_patience: bool, stride: int | None
) -> int:
    """``C``: the largest divisor of the epochs to run within the bounds below, so segments tile the run.

    Bounded by the shuffled indices a segment draws (``ORDER_BUDGET``); under vmap
    with early stopping by ``VMAP_PATIENCE_SEGMENT``; when the host works every
    ``stride`` epochs (checkpoints, progress), ``C`` divides ``stride`` too, so every
    host call ends on a segment boundary.
    """
    bound = max(1, ORDER_BUDGET // indices_per_epoch)
    if vmapped_patience:
        bound = min(bound, VMAP_PATIENCE_SEGMENT)
    tile = epochs if stride is None else math.gcd(epochs, stride)
    return next(c for c in range(min(bound, tile), 0, -1) if tile % c == 0)


# --- params and data ----------------------------------------------------------------


def _params_dtype(params):
    dtypes = {np.dtype(leaf.dtype) for leaf in jax.tree_util.tree_leaves(params)}
    if len(dtypes) != 1 or not jnp.issubdtype(next(iter(dtypes)), jnp.floating):
        raise TypeError(f"params must all share one floating dtype, got {sorted(map(str, dtypes))}")
    return next(iter(dtypes))


def _check_params(net: MLP, params, members: bool, sizes: dict):
    """``(params as arrays, stacked)``: fit's tree, or for fit_many None, one shared tree or stacked leaves."""
    if params is None:
        if not members:
            raise TypeError("params must be the network's params, e.g. net.init(key), got None")
        return None, False
    try:
        net.check_params(params)
        return jax.tree_util.tree_map(_validate.as_array, params), False
    except ValueError as shared_error:
        if not members:
            raise
        leaves = jax.tree_util.tree_leaves(params)
        lead = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
        if len(lead) != 1 or None in lead:
            raise shared_error
        try:  # one member's shapes and dtypes, without a device call per leaf to slice it
            one = jax.tree_util.tree_map(
                lambda a: np.empty(a.shape[1:], a.dtype) if hasattr(a, "dtype") else a[0], params
            )
            net.check_params(one, "params[member]")
        except ValueError:
            raise shared_error from None
        sizes["params"] = lead.pop()
        return jax.tree_util.tree_map(_validate.as_array, params), True


def _check_data(net: MLP, loss: str, dtype, x, y, validation) -> engine.Data:
    x, y = backprop.check_xy(net, loss, dtype, x, y)
    if validation is None:
        return engine.Data(x, y, None, None)
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError(
            f"validation must be a tuple (x_val, y_val) or None, got {type(validation).__name__}"
        )
    x_val, y_val = validation
    x_val, y_val = backprop.check_xy(
        net, loss, dtype, x_val, y_val, ("validation[0] (x_val)", "validation[1] (y_val)")
    )
    return engine.Data(x, y, x_val, y_val)


def _batch_geometry(m: int, batch_size, drop_last: bool) -> tuple[int, int, bool, bool]:
    """``(K, updates per epoch, shuffle, padded)`` for ``m`` examples."""
    if batch_size is None:
        return m, 1, False, False
    k = check_int("batch_size", batch_size, 1, m)
    if m % k == 0:
        return k, m // k, k < m, False
    return (k, m // k, True, False) if drop_last else (k, math.ceil(m / k), True, True)


@functools.lru_cache(maxsize=64)
def _stacked_init(init: Callable) -> Callable:
    """``init`` vmapped over members and jitted (one program, not a vmap trace per call)."""
    return jax.jit(jax.vmap(init))


@functools.partial(jax.jit, static_argnames=("net", "dtype"))
def _init_members(net: MLP, dtype, keys: Array, scales: Array):
    return jax.vmap(lambda k, s: net.init(k, scale=s, dtype=dtype))(keys, scales)


# --- the update rule ------------------------------------------------------------------


def _check_rate(learning_rate, optimizer, num_batches: int, members: bool, sizes: dict):
    """``(optimizer, the step size's traced values or None, how each member's step size reads)``.

    ``learning_rate`` becomes :func:`functional_nn.sgd`; its numbers (``α``, or ``c1``
    and ``c2``) go into the optimizer state, one per member, so they are traced.
    """
    if (learning_rate is None) == (optimizer is None):
        raise ValueError(
            "give exactly one of learning_rate (the lecture's w ← w − α∇J, a number or a "
            "schedule) or optimizer (an optax.GradientTransformation), got "
            f"learning_rate={learning_rate!r} and optimizer={optimizer!r}"[:400]
        )
    if optimizer is not None:
        if not (
            callable(getattr(optimizer, "init", None))
            and callable(getattr(optimizer, "update", None))
        ):
            raise TypeError(
                f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
            )
        return optimizer, None, ("the optimizer's step size (learning rate)",)
    if isinstance(learning_rate, InverseTimeDecay):
        if learning_rate.per == "epoch":
            if learning_rate.steps_per_epoch not in (None, num_batches):
                raise ValueError(
                    f"learning_rate counts epochs of steps_per_epoch={learning_rate.steps_per_epoch} "
                    f"updates, but this run makes {num_batches} updates per epoch"
                )
            learning_rate = InverseTimeDecay(
                learning_rate.c1, learning_rate.c2, "epoch", num_batches
            )
        c1, c2 = (np.asarray(v, float) for v in (learning_rate.c1, learning_rate.c2))
        if not members and (c1.ndim or c2.ndim):
            raise ValueError(
                f"fit takes scalar c1 and c2; arrays of them are for fit_many, got shapes "
                f"{c1.shape} and {c2.shape}"
            )
        for name, v in (("c1", c1), ("c2", c2)):
            _per_member(sizes, name, v)
        n = max(c1.size, c2.size)
        c1, c2 = np.broadcast_to(c1, (n,)), np.broadcast_to(c2, (n,))
        texts = tuple(
            f"the learning-rate schedule α_k = c1/(k + c2) with c1={a:g}, c2={c:g} (α_0 = {a / c:g})"
            for a, c in zip(c1, c2)
        )
        return sgd(learning_rate), (learning_rate.c1, learning_rate.c2), texts
    if callable(learning_rate):
        first = np.asarray(learning_rate(0))
        if first.shape != () or not np.isfinite(first) or first < 0:
            raise ValueError(
                f"learning_rate schedule must map a step count to a finite number >= 0, "
                f"got {first!r} at step 0"
            )
        return sgd(learning_rate), None, ("the learning-rate schedule",)
    allowed = "a number, a 1-D array of them (one per member)" if members else "a number"
    arr = check_positive(
        "learning_rate",
        learning_rate,
        per_member=members,
        expected=f"{allowed}, an fnn.inverse_time_decay schedule or an optax schedule",
    )
    _per_member(sizes, "learning_rate", arr)
    return sgd(0.0), arr, tuple(f"learning_rate={a:g}" for a in np.atleast_1d(arr))


def _check_opt_state(opt_state, fresh, count: int):
    """The optimizer state to start from: ``fresh`` (``optimizer.init``), or a resumed one of its structure.

    A fresh :func:`sgd` state of a resumed run continues the schedule's update count.
    """
    if opt_state is None:
        if isinstance(fresh, SGDState):
            counts: Any = np.full(np.shape(fresh.count), count, np.int32)  # a host array, for jit
            fresh = fresh._replace(count=counts)
        return fresh
    got_leaves, got_tree = jax.tree_util.tree_flatten(opt_state)
    want_leaves, want_tree = jax.tree_util.tree_flatten(fresh)
    if got_tree != want_tree:  # type: ignore[operator]  # PyTreeDef compares; its stub says not
        raise ValueError(
            f"opt_state must have the structure of optimizer.init(params) "
            f"({want_tree}), got {got_tree}"[:600]
        )
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(fresh)[0]]
    for path, got, want in zip(paths, got_leaves, want_leaves):
        if np.shape(got) != want.shape or np.asarray(got).dtype != want.dtype:
            raise ValueError(
                f"opt_state{path} must be {want.dtype}{list(want.shape)} as optimizer.init "
                f"gives, got {np.asarray(got).dtype}{list(np.shape(got))}"
            )
    return jax.tree_util.tree_map(jnp.asarray, opt_state)


# --- fit_many's per-member arguments ---------------------------------------------------


def _per_member(sizes: dict, name: str, arr: np.ndarray) -> np.ndarray:
    """``arr``; a leading axis is counted as the members' (``sizes[name]``)."""
    if arr.ndim:
        sizes[name] = arr.shape[0]
    return arr


def _check_widths(net: MLP, hidden_widths, sizes: dict) -> Array | None:
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
        raise ValueError(
            f"hidden_widths must have shape (members, {len(hidden)}) for hidden layers {hidden}, "
            f"got {np.shape(hidden_widths)}"
        )
    if np.any(arr < 1) or np.any(arr > np.asarray(hidden)):
        raise ValueError(
            f"hidden_widths must lie in [1, {hidden}] per layer (the network's widths), got "
            f"{arr.tolist()}"[:400]
        )
    sizes["hidden_widths"] = arr.shape[0]
    return jnp.asarray(arr)


def _number_of_members(sizes: dict) -> int:
    if not sizes:
        raise ValueError(
            "fit_many needs at least one per-member argument with a leading (members,) axis: "
            "key=jax.random.split(key, n), a learning_rate array, c1/c2 arrays, init_scale, "
            "hidden_widths or stacked params"
        )
    if len(set(sizes.values())) != 1:
        raise ValueError(f"per-member arguments disagree on the number of members: {sizes}")
    return next(iter(sizes.values()))
