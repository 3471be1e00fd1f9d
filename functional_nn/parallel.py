r"""Parallel training with JAX's own engine: meshes with a ``"data"`` and a ``"members"`` axis.

Each batch of ``K`` examples is split over the devices of the mesh's ``"data"``
axis (``K / n_devices`` rows each); params and optimizer state are replicated.
Because ``∂J/∂w^l = (a^{l−1})ᵀ δ^l`` sums over the batch, XLA's partitioner
computes each device's partial sum and inserts one all-reduce: the gradient,
and so the update, is the same as on one device up to summation order.
``fnn.fit(..., mesh=mesh)`` runs its whole compiled loop this way;
:func:`data_parallel_step` is the same step for a loop of your own.

``fnn.fit_many(..., mesh=members_mesh())`` shards the members instead: member
``i`` lives on one device of the ``"members"`` axis, and with a ``"data"`` axis as
well every member's batches are split over it.

Several processes (one per host, or ``python -m functional_nn.launch -n N`` on one
machine): call :func:`initialize` first, give each process only its own rows as
:func:`global_rows`, and call the same ``fit``. The batches are gathered from the
global array by the one compiled program, the shuffles are the single-process
ones (a pure function of the key and the epoch), and a configuration that differs
between processes is refused at the start, naming what differs.

Try it on one CPU by faking devices before JAX starts:
``XLA_FLAGS=--xla_force_host_platform_device_count=4 python examples/data_parallel.py``.
"""

from __future__ import annotations

import os
import sys
import traceback
import zlib
from collections.abc import Callable, Sequence

import jax
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from functional_nn import backprop, schedules
from functional_nn._validate import check_int, check_number, is_split
from functional_nn.network import MLP

__all__ = ["data_mesh", "check_mesh", "replicate", "shard_batch", "data_parallel_step"]

Array = jax.Array
DATA_AXIS = "data"
MEMBERS_AXIS = "members"
#: What the launcher (``functional_nn.launch``) tells each process it starts.
ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID = (
    "FNN_COORDINATOR_ADDRESS",
    "FNN_NUM_PROCESSES",
    "FNN_PROCESS_ID",
)
ENV_HEARTBEAT = "FNN_HEARTBEAT_TIMEOUT"
#: Seconds without a heartbeat after which JAX's coordinator declares a process dead and
#: ends the others (JAX's own default, 100 s, would take minutes to notice a crash).
HEARTBEAT_TIMEOUT_S = 10


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh named ``"data"`` over ``devices`` (default: all of ``jax.devices()``)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must hold at least one jax.Device")
    return Mesh(np.array(devices), (DATA_AXIS,))


def members_mesh(devices: Sequence[jax.Device] | None = None, *, data: int = 1) -> Mesh:
    """A mesh ``("members", "data")`` over ``devices`` (default all): ``fit_many`` shards members on it.

    ``data`` devices split each member's batches; the rest of the devices hold the
    members (``len(devices) / data`` of them along ``"members"``).
    """
    devices = list(jax.devices() if devices is None else devices)
    data = check_int("data", data, 1)
    if not devices or len(devices) % data:
        raise ValueError(
            f"devices ({len(devices)}) must be a non-zero multiple of data={data} to form a "
            f"({MEMBERS_AXIS!r}, {DATA_AXIS!r}) mesh"
        )
    return Mesh(np.array(devices).reshape(-1, data), (MEMBERS_AXIS, DATA_AXIS))


def check_mesh(mesh, batch_size: int | None = None, *, members: bool = False) -> int:
    """Validate ``mesh`` for data (and, for ``fit_many``, members) parallelism; return the data shards.

    ``fit`` needs a ``"data"`` axis; ``fit_many`` (``members=True``) a ``"data"`` or a
    ``"members"`` axis. Raises a ValueError when ``batch_size`` does not split evenly
    over the ``"data"`` axis (every device must get the same number of rows).
    """
    wanted = f"{DATA_AXIS!r} or {MEMBERS_AXIS!r}" if members else repr(DATA_AXIS)
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"mesh must be a jax.sharding.Mesh with an axis named {wanted}, "
            f"got {type(mesh).__name__}"
        )
    names = set(mesh.axis_names)
    if DATA_AXIS not in names and not (members and MEMBERS_AXIS in names):
        raise ValueError(f"mesh must have an axis named {wanted}, got axes {mesh.axis_names}")
    shards = int(mesh.shape[DATA_AXIS]) if DATA_AXIS in names else 1
    if batch_size is not None and batch_size % shards:
        raise ValueError(
            f"batch_size {batch_size} does not split evenly over the mesh's {shards} {DATA_AXIS!r} devices; "
            f"use a multiple of {shards}"
        )
    return shards


def batch_spec(mesh: Mesh | None) -> PartitionSpec:
    """How a batch ``(K, ...)`` lies on ``mesh``: split over ``"data"`` if it has that axis."""
    return (
        PartitionSpec(DATA_AXIS)
        if mesh is not None and DATA_AXIS in mesh.axis_names
        else PartitionSpec()
    )


def members_axis(mesh: Mesh | None) -> str | None:
    """The mesh axis ``fit_many``'s vmap over members is sharded along (``spmd_axis_name``), or None."""
    return MEMBERS_AXIS if mesh is not None and MEMBERS_AXIS in mesh.axis_names else None


def replicate(tree, mesh: Mesh):
    """Put every leaf of ``tree`` on every device of ``mesh`` (params, optimizer state, data)."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(x: Array, mesh: Mesh) -> Array:
    """Split ``x``'s leading (batch) axis over the ``"data"`` devices: ``(K, ...)``, ``K / n`` rows each."""
    check_mesh(mesh, int(np.shape(x)[0]))
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec(DATA_AXIS)))


def data_parallel_step(
    net: MLP,
    loss: str,
    mesh: Mesh,
    *,
    learning_rate: float | None = None,
    optimizer: optax.GradientTransformation | None = None,
    method: str = "manual",
) -> Callable:
    r"""One jitted, data-parallel update ``(params, opt_state, x, y) -> (params, opt_state, J)``.

    ``x`` ``(K, n_0)`` and ``y`` ``(K, n_L)`` are sharded over ``"data"``
    (:func:`shard_batch`), params and state replicated (:func:`replicate`).
    With ``learning_rate`` the update is the lecture's ``w ← w − α ∇J``
    (:func:`functional_nn.sgd`), otherwise ``optimizer``'s; the state comes from
    ``init`` of that rule (``fnn.sgd(α).init(params)``).

    Examples:
        >>> mesh = data_mesh()
        >>> step = data_parallel_step(net, "mse", mesh, learning_rate=0.1)
        >>> params, state, J = step(replicate(params, mesh), fnn.sgd(0.1).init(params), shard_batch(x, mesh),
        ...                        shard_batch(y, mesh))
    """
    backprop.check_setup(net, loss, method)
    check_mesh(mesh)
    if (learning_rate is None) == (optimizer is None):
        raise ValueError("give exactly one of learning_rate or optimizer")
    if optimizer is None:  # the lecture's w ← w − α ∇J, exactly as fit's learning_rate=
        optimizer = schedules.sgd(check_number("learning_rate", learning_rate, strict=True))
    value_and_grad = backprop.value_and_grad(net, loss, method)
    replicated = NamedSharding(mesh, PartitionSpec())
    batch = NamedSharding(mesh, PartitionSpec(DATA_AXIS))

    @jax.jit
    def step(params, opt_state, x, y):
        x = jax.lax.with_sharding_constraint(x, batch)
        y = jax.lax.with_sharding_constraint(y, batch)
        value, grads = value_and_grad(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return jax.lax.with_sharding_constraint(params, replicated), opt_state, value

    return step


# --- several processes: JAX's distributed runtime ----------------------------------------


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    heartbeat_timeout_seconds: int | None = None,
    initialization_timeout: int = 120,
) -> None:
    """Join this process to a multi-process run: ``jax.distributed.initialize`` with fault handling.

    Call it first, before any other JAX call. The arguments default to what
    ``python -m functional_nn.launch`` puts in the environment
    (``FNN_COORDINATOR_ADDRESS``, ``FNN_NUM_PROCESSES``, ``FNN_PROCESS_ID``); without
    them JAX detects a cluster itself (SLURM, Open MPI, Cloud TPU, ...) or reads
    ``JAX_COORDINATOR_ADDRESS``. On CPU the collectives run over gloo.

    Faults end the run instead of hanging it: a process that dies (killed, or an
    uncaught exception, which here ends the process at once rather than waiting in
    JAX's shutdown barrier) stops sending heartbeats, and after
    ``heartbeat_timeout_seconds`` (default ``FNN_HEARTBEAT_TIMEOUT`` or
    :data:`HEARTBEAT_TIMEOUT_S`) JAX's coordinator ends every other process with an
    error naming the dead one.
    """
    env = os.environ
    coordinator_address = coordinator_address or env.get(ENV_COORDINATOR)
    if num_processes is None and ENV_NUM_PROCESSES in env:
        num_processes = int(env[ENV_NUM_PROCESSES])
    if process_id is None and ENV_PROCESS_ID in env:
        process_id = int(env[ENV_PROCESS_ID])
    if heartbeat_timeout_seconds is None:
        heartbeat_timeout_seconds = int(env.get(ENV_HEARTBEAT, HEARTBEAT_TIMEOUT_S))
    heartbeat_timeout_seconds = check_int("heartbeat_timeout_seconds", heartbeat_timeout_seconds, 1)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address,
        num_processes,
        process_id,
        initialization_timeout=check_int("initialization_timeout", initialization_timeout, 1),
        heartbeat_timeout_seconds=heartbeat_timeout_seconds,
        shutdown_timeout_seconds=max(2 * heartbeat_timeout_seconds, 5),
    )
    sys.excepthook = _exit_at_once


def _exit_at_once(kind, value, tb) -> None:
    """An uncaught exception in one process of a run: print it and leave now.

    Python's normal exit would wait in ``jax.distributed``'s shutdown barrier for
    processes that are themselves waiting in a collective for this one; leaving at
    once stops the heartbeats, so the coordinator ends the others promptly.
    """
    traceback.print_exception(kind, value, tb)
    print(
        f"functional_nn.parallel: process {jax.process_index()} of {jax.process_count()} failed "
        f"with {kind.__name__}; ending it so the other processes stop too",
        file=sys.stderr,
    )
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(1)


def global_rows(local, mesh: Mesh, name: str = "x") -> Array:
    """One global ``jax.Array`` of ``(m, ...)`` rows from each process's own rows ``(m_p, ...)``.

    Process ``p`` passes only its rows; the global array is their concatenation in
    process order, split over the mesh's ``"data"`` devices (each process's devices
    hold its rows). Every process must hold the same number of rows, a multiple of
    its ``"data"`` devices; a mismatch is refused in every process, naming the shapes.
    In one process this is ``jax.device_put`` onto the ``"data"`` sharding.
    """
    check_mesh(mesh)
    local = np.asarray(local)
    if local.ndim < 1:
        raise ValueError(f"{name} must have a leading axis of rows, got shape {local.shape}")
    sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    if jax.process_count() > 1:
        shapes = allgather(np.array([local.ndim, *local.shape[:8]] + [0] * (8 - local.ndim)))
        first = shapes[0]
        differ = [p for p in range(len(shapes)) if not np.array_equal(shapes[p], first)]
        if differ:
            described = ", ".join(
                f"process {p}: {tuple(int(v) for v in row[1 : 1 + row[0]])}"
                for p, row in enumerate(shapes)
            )
            raise ValueError(
                f"{name}: every process must hold rows of the same shape, got {described}"
            )
        # jax.make_array_from_process_local_data orders the rows by process (mesh devices
        # process by process), so the global array does not depend on the process count
        devices = [d.process_index for d in mesh.devices.flat]
        if devices != sorted(devices):
            raise ValueError("the mesh's devices must be ordered by process (as in jax.devices())")
        local_devices = sum(d.process_index == jax.process_index() for d in mesh.devices.flat)
        if local.shape[0] % local_devices:
            raise ValueError(
                f"{name}: each process's {local.shape[0]} rows must split evenly over its "
                f"{local_devices} {DATA_AXIS!r} devices"
            )
        return jax.make_array_from_process_local_data(sharding, local)
    check_mesh(mesh, local.shape[0])
    return jax.device_put(local, sharding)


def allgather(values: np.ndarray) -> np.ndarray:
    """``(processes, ...)``: every process's ``values`` (a small collective, same shape everywhere)."""
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(values))


def place(config, params, opt_state, data, hyper, host_calls: str = ""):
    """Put a prepared run on ``config.mesh``: ``(params, opt_state, data, hyper)``.

    Params, optimizer state and the per-member values are placed by
    :func:`place_state`; data the caller built with :func:`global_rows` stays where
    it is (each process's rows on its devices), other data is replicated. With
    several processes, their configurations are compared first
    (:func:`check_same_run`; ``host_calls`` describes the run's segments and
    checkpoints, which every process must call alike).
    """
    mesh = config.mesh
    axis = members_axis(mesh) if config.members is not None else None
    if axis is not None and config.members % mesh.shape[axis]:
        raise ValueError(
            f"fit_many's {config.members} members do not split evenly over the mesh's "
            f"{mesh.shape[axis]} {axis!r} devices; use a multiple of {mesh.shape[axis]}"
        )
    if jax.process_count() > 1:
        check_same_run(config, params, opt_state, data, hyper, host_calls)
    replicated = NamedSharding(mesh, PartitionSpec())
    devices = set(mesh.devices.flat)
    for name, a in zip(("x", "y", "x_val", "y_val"), data):
        if _is_global(a) and a.sharding.device_set != devices:
            raise ValueError(
                f"{name} is a global array over other devices than mesh's; build it with "
                f"parallel.global_rows({name}_of_this_process, mesh)"
            )
    data = jax.tree_util.tree_map(
        lambda a: a if _is_global(a) else jax.device_put(a, replicated), data
    )
    params, opt_state, hyper = place_state(config, (params, opt_state, hyper))
    return params, opt_state, data, hyper


def place_state(config, tree):
    """``tree`` (params, optimizer or training state) on ``config.mesh``: replicated, or for
    ``fit_many`` on a ``"members"`` axis split member by member (leading axis)."""
    axis = members_axis(config.mesh) if config.members is not None else None
    spec = PartitionSpec(axis) if axis else PartitionSpec()
    return jax.device_put(tree, NamedSharding(config.mesh, spec))


def _is_global(a) -> bool:
    return isinstance(a, jax.Array) and not a.is_fully_addressable


def check_same_run(config, params, opt_state, data, hyper, host_calls: str = "") -> None:
    """Refuse, in every process, a run whose configuration differs between processes.

    Each process hashes what must agree (the network, the loss and settings, the data
    shapes, the key, the initial params and optimizer state); one small all-gather
    compares the hashes, and the error names each part that differs and the
    processes that differ from process 0.
    """
    parts = _fingerprint(config, params, opt_state, data, hyper)
    parts["segments and checkpoints"] = host_calls
    names = list(parts)
    hashes = np.array([zlib.crc32(parts[n].encode()) for n in names], np.int64)
    every = allgather(hashes)
    differ = [
        f"{name} (processes {[p for p in range(len(every)) if every[p, i] != every[0, i]]} "
        f"differ from process 0; here, in process {jax.process_index()}: {parts[name][:120]})"
        for i, name in enumerate(names)
        if np.any(every[:, i] != every[0, i])
    ]
    if differ:
        raise ValueError(
            "the processes of this run were called with different configurations: "
            + "; ".join(differ)
        )


def _fingerprint(config, params, opt_state, data, hyper) -> dict[str, str]:
    def values(tree) -> str:
        leaves = [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]
        crc = 0
        for leaf in leaves:
            crc = zlib.crc32(np.ascontiguousarray(leaf).tobytes(), crc)
        return f"{[f'{a.dtype}{list(a.shape)}' for a in leaves]} crc32 {crc:08x}"

    def shapes(tree) -> str:
        return str([f"{a.dtype}{list(a.shape)}" for a in jax.tree_util.tree_leaves(tree)])

    update = config.update
    return {
        "network": repr(config.net),
        "loss and method": f"{config.loss}, {config.method}",
        "batches": f"K={config.batch_size}, {config.num_batches} per epoch, "
        f"shuffle={config.shuffle}, padded={config.padded}",
        "epochs": f"num_epochs={config.num_epochs}, initial_epoch={config.first_epoch}, "
        f"patience={config.patience}",
        "optimizer": f"{getattr(update, '__module__', '')}.{getattr(update, '__qualname__', '')}",
        "members": str(config.members),
        "mesh": f"{dict(config.mesh.shape)} devices {[d.id for d in config.mesh.devices.flat]}",
        "data shapes": shapes(data),
        "key": values(hyper.seed),
        "early stopping and masks": values((hyper.min_delta, hyper.masks)),
        "params": values(params),
        "optimizer state (learning rate)": values(opt_state),
    }


def wait_for_every_process(name: str) -> None:
    """Return once every process of the run got here (at once with one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def to_local(tree):
    """``tree`` with every leaf split across processes gathered here: one all-gather, local arrays.

    ``fit_many``'s results when its ``"members"`` axis spans several processes' devices:
    each process gets every member's result, as in one process. Leaves that are
    replicated, or held by this process alone, are returned as they are.
    """
    if jax.process_count() == 1:
        return tree
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    split = [i for i, a in enumerate(leaves) if is_split(a)]
    if not split:
        return tree
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather([leaves[i] for i in split], tiled=True)
    for i, value in zip(split, gathered):
        leaves[i] = jax.numpy.asarray(value)
    return jax.tree_util.tree_unflatten(treedef, leaves)
