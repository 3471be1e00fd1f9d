r"""Data-parallel training with JAX's own engine: a ``Mesh`` with a ``"data"`` axis.

Each batch of ``K`` examples is split over the devices of the mesh's ``"data"``
axis (``K / n_devices`` rows each); params and optimizer state are replicated.
Because ``∂J/∂w^l = (a^{l−1})ᵀ δ^l`` sums over the batch, XLA's partitioner
computes each device's partial sum and inserts one all-reduce: the gradient,
and so the update, is the same as on one device up to summation order.

``fnn.fit(..., mesh=mesh)`` runs its whole compiled loop this way;
:func:`data_parallel_step` is the same step for a loop of your own.

Multi-host: call ``jax.distributed.initialize()`` in every process first, then
build the mesh over ``jax.devices()`` (all hosts' devices); every process runs
the same program with the same data (the loop replicates the dataset).

Try it on one CPU by faking devices before JAX starts:
``XLA_FLAGS=--xla_force_host_platform_device_count=4 python examples/data_parallel.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from functional_nn import backprop, schedules
from functional_nn._validate import check_number
from functional_nn.network import MLP

__all__ = ["data_mesh", "check_mesh", "replicate", "shard_batch", "data_parallel_step"]

Array = jax.Array
DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh named ``"data"`` over ``devices`` (default: all of ``jax.devices()``)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must hold at least one jax.Device")
    return Mesh(np.array(devices), (DATA_AXIS,))


def check_mesh(mesh, batch_size: int | None = None) -> int:
    """Validate ``mesh`` for data parallelism; return the number of data shards.

    Raises a ValueError when ``batch_size`` does not split evenly over the
    ``"data"`` axis (every device must get the same number of rows).
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"mesh must be a jax.sharding.Mesh with an axis named {DATA_AXIS!r}, "
            f"got {type(mesh).__name__}"
        )
    if DATA_AXIS not in mesh.axis_names:
        raise ValueError(f"mesh must have an axis named {DATA_AXIS!r}, got axes {mesh.axis_names}")
    shards = int(mesh.shape[DATA_AXIS])
    if batch_size is not None and batch_size % shards:
        raise ValueError(
            f"batch_size {batch_size} does not split evenly over the mesh's {shards} {DATA_AXIS!r} devices; "
            f"use a multiple of {shards}"
        )
    return shards


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
