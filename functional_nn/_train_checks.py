"""Boundary checks shared by ``fit`` and ``fit_many``: every argument once, before compiling."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import backprop, losses, parallel
from functional_nn._train_loop import Data, LoopConfig, injected_learning_rate
from functional_nn.network import MLP
from functional_nn.schedules import InverseTimeDecay

Array = jax.Array


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_number(name: str, value, *, positive: bool) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be finite and {'> 0' if positive else '>= 0'}, got {value!r}")
    return value


def check_key(key, name: str = "key", *, batched: bool = False) -> Array:
    """A typed ``jax.random`` key: ``()``, or ``(members,)`` when ``batched`` allows it.

    Legacy ``uint32`` keys (``jax.random.PRNGKey``) are wrapped, not rejected.
    """
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        typed = key
    elif isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.ndim >= 1 \
            and key.shape[-1] == 2:
        typed = jax.random.wrap_key_data(jnp.asarray(key))
    else:
        raise TypeError(f"{name} must be a jax.random key such as jax.random.key(0), "
                        f"got {type(key).__name__}: {key!r}"[:300])
    if typed.ndim > (1 if batched else 0):
        expected = "() or (members,)" if batched else "() (one key)"
        raise ValueError(f"{name} must have shape {expected}, got {typed.shape}")
    return typed


def check_xy(net: MLP, loss: str, params_dtype, x, y, name_x: str = "x", name_y: str = "y"):
    """``(x, y)`` as device arrays in the params' dtype; finite, shaped, labels in range."""
    for name, arr in ((name_x, x), (name_y, y)):
        dtype = arr.dtype if isinstance(arr, (jax.Array, np.ndarray)) else np.asarray(arr).dtype
        real = jnp.issubdtype(dtype, jnp.bool_) or (jnp.issubdtype(dtype, jnp.number)
                                                    and not jnp.issubdtype(dtype, jnp.complexfloating))
        if not real:  # (bfloat16 and float16 are real; strings, objects and complex numbers are not)
            raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")
    x_host = np.asarray(x)
    if x_host.ndim != 2 or x_host.shape[1] != net.layer_sizes[0] or x_host.shape[0] < 1:
        raise ValueError(f"{name_x} must have shape (examples, {net.layer_sizes[0]}), got {x_host.shape}")
    if not np.all(np.isfinite(x_host)):
        raise ValueError(f"{name_x} holds NaN or inf values")
    y_host = np.asarray(y)
    n_out, m = net.layer_sizes[-1], x_host.shape[0]
    if loss == "categorical_cross_entropy" and y_host.ndim == 1 and y_host.dtype.kind in "iu":
        if y_host.shape[0] != m:
            raise ValueError(f"{name_y} has {y_host.shape[0]} labels for {m} examples in {name_x}")
        if y_host.min() < 0 or y_host.max() >= n_out:
            raise ValueError(f"integer labels {name_y} must lie in [0, {n_out}), got min {y_host.min()} "
                             f"and max {y_host.max()}")
    elif y_host.shape != (m, n_out):
        raise ValueError(f"{name_y} must have shape ({m}, {n_out}) to match {name_x} and the network's "
                         f"outputs, got {y_host.shape}")
    if not np.all(np.isfinite(y_host)):
        raise ValueError(f"{name_y} holds NaN or inf values")
    if loss != "mse" and y_host.ndim == 2 and (y_host.min() < 0 or y_host.max() > 1):
        raise ValueError(f"{loss} needs targets {name_y} in [0, 1], got values in "
                         f"[{y_host.min()}, {y_host.max()}]")
    x_dev = jnp.asarray(x_host, params_dtype)  # to the default device, once
    y_dev = losses.prepare_targets(loss, y_host, (m, n_out), params_dtype)
    return x_dev, y_dev


def check_data(net: MLP, loss: str, dtype, x, y, validation) -> Data:
    x, y = check_xy(net, loss, dtype, x, y)
    if validation is None:
        return Data(x, y, None, None)
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError(f"validation must be a tuple (x_val, y_val) or None, got {type(validation).__name__}")
    x_val, y_val = check_xy(net, loss, dtype, validation[0], validation[1], "validation[0] (x_val)",
                            "validation[1] (y_val)")
    return Data(x, y, x_val, y_val)


class BatchGeometry(NamedTuple):
    batch_size: int       # K, the padded batch size
    num_batches: int      # updates per epoch
    shuffle: bool
    padded: bool


def batch_geometry(m: int, batch_size, drop_last: bool) -> BatchGeometry:
    """``K``, updates per epoch and the short-last-batch policy for ``m`` examples."""
    if batch_size is None:
        return BatchGeometry(m, 1, False, False)
    k = check_int("batch_size", batch_size, 1, m)
    if m % k == 0:
        return BatchGeometry(k, m // k, k < m, False)
    if drop_last:
        return BatchGeometry(k, m // k, True, False)
    return BatchGeometry(k, math.ceil(m / k), True, True)


class RateSpec(NamedTuple):
    kind: str                     # "constant" | "inverse_time" | "schedule" | "optimizer"
    per: str
    schedule: Any
    optimizer: Any
    learning_rate: Any            # () or (members,) float array
    c1: Any
    c2: Any


def check_rate(learning_rate, optimizer, num_batches: int, *, members: bool) -> RateSpec:
    """Exactly one of ``learning_rate`` (number, array in fit_many, schedule) or ``optimizer``."""
    if (learning_rate is None) == (optimizer is None):
        raise ValueError("give exactly one of learning_rate (the lecture's w ← w − α∇J, a number or a "
                         "schedule) or optimizer (an optax.GradientTransformation), got "
                         f"learning_rate={learning_rate!r} and optimizer={optimizer!r}"[:400])
    if optimizer is not None:
        if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
            raise TypeError(f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}")
        return RateSpec("optimizer", "update", None, optimizer, 0.0, 1.0, 1.0)
    if isinstance(learning_rate, InverseTimeDecay):
        per = learning_rate.per
        if per == "epoch" and learning_rate.steps_per_epoch not in (None, num_batches):
            raise ValueError(f"learning_rate counts epochs of steps_per_epoch={learning_rate.steps_per_epoch} "
                             f"updates, but this run makes {num_batches} updates per epoch")
        c1, c2 = np.asarray(learning_rate.c1, float), np.asarray(learning_rate.c2, float)
        if not members and (c1.ndim or c2.ndim):
            raise ValueError(f"fit takes scalar c1 and c2; arrays of them are for fit_many, got shapes "
                             f"{c1.shape} and {c2.shape}")
        return RateSpec("inverse_time", per, None, None, 0.0, c1, c2)
    if callable(learning_rate):
        first = np.asarray(learning_rate(0))
        if first.shape != () or not np.isfinite(first) or first < 0:
            raise ValueError(f"learning_rate schedule must map a step count to a finite number >= 0, "
                             f"got {first!r} at step 0")
        return RateSpec("schedule", "update", learning_rate, None, 0.0, 1.0, 1.0)
    arr = np.asarray(learning_rate)
    if isinstance(learning_rate, (bool, np.bool_)) or arr.dtype.kind not in "iuf" \
            or arr.ndim > (1 if members else 0):
        allowed = "a number, a 1-D array of them (one per member)" if members else "a number"
        raise TypeError(f"learning_rate must be {allowed}, an fnn.inverse_time_decay schedule or an optax "
                        f"schedule, got {learning_rate!r}"[:400])
    if arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"learning_rate must be finite and > 0, got {learning_rate!r}")
    return RateSpec("constant", "update", None, None, arr.astype(float), 1.0, 1.0)


def describe_rate(rate: RateSpec, member: int | None = None) -> str:
    """How a divergence message names the step size (of one member in fit_many)."""
    pick = lambda a: float(np.asarray(a) if member is None or np.ndim(a) == 0 else np.asarray(a)[member])  # noqa
    if rate.kind == "constant":
        return f"learning_rate={pick(rate.learning_rate):g}"
    if rate.kind == "inverse_time":
        c1, c2 = pick(rate.c1), pick(rate.c2)
        return f"the learning-rate schedule α_k = c1/(k + c2) with c1={c1:g}, c2={c2:g} (α_0 = {c1 / c2:g})"
    if rate.kind == "schedule":
        return "the learning-rate schedule"
    return "the optimizer's step size (learning rate)"


def accuracy_kind(loss: str) -> str | None:
    return {"binary_cross_entropy": "threshold", "categorical_cross_entropy": "argmax"}.get(loss)


def check_options(*, num_epochs, patience, min_delta, validation, progress, record_grad_norms,
                  drop_last) -> tuple[int, int | None, float, bool, bool, bool]:
    num_epochs = check_int("num_epochs", num_epochs, 1)
    if patience is not None:
        patience = check_int("patience", patience, 1)
        if validation is None:
            raise ValueError("patience (early stopping) needs validation=(x_val, y_val): it stops on the "
                             "validation loss")
    min_delta = check_number("min_delta", min_delta, positive=False)
    return (num_epochs, patience, min_delta, check_bool("progress", progress),
            check_bool("record_grad_norms", record_grad_norms), check_bool("drop_last", drop_last))


def params_dtype(params):
    dtypes = {np.dtype(leaf.dtype) for leaf in jax.tree_util.tree_leaves(params)}
    if len(dtypes) != 1 or not jnp.issubdtype(next(iter(dtypes)), jnp.floating):
        raise TypeError(f"params must all share one floating dtype, got {sorted(map(str, dtypes))}")
    return next(iter(dtypes))


def make_config(net: MLP, loss: str, method: str, m: int, geometry: BatchGeometry, rate: RateSpec,
                opt_state_shape, *, num_epochs: int, patience, has_validation: bool, progress: bool,
                record_grad_norms: bool, mesh, use_masks: bool) -> LoopConfig:
    records_lr = rate.kind != "optimizer" or injected_learning_rate(opt_state_shape) is not None
    return LoopConfig(
        net=net, loss=loss, method=method, num_examples=m, batch_size=geometry.batch_size,
        num_batches=geometry.num_batches, shuffle=geometry.shuffle, padded=geometry.padded,
        num_epochs=num_epochs, patience=patience, has_validation=has_validation,
        accuracy=accuracy_kind(loss) if has_validation else None,
        lr_kind=rate.kind, schedule_per=rate.per, schedule=rate.schedule, optimizer=rate.optimizer,
        records_lr=records_lr, record_grad_norms=record_grad_norms, progress=progress, mesh=mesh,
        use_masks=use_masks,
    )


def check_mesh_for(mesh, geometry: BatchGeometry):
    if mesh is None:
        return None
    parallel.check_mesh(mesh, geometry.batch_size)
    return mesh


def check_setup(net, loss, method):
    backprop.check_setup(net, loss, method)
