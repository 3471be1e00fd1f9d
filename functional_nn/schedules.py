r"""The lecture's update rule ``w ← w − α_k ∇J`` and its schedule ``α_k = c1 / (k + c2)``, in optax's terms.

:func:`sgd` is the rule as an ``optax.GradientTransformation``: the step size
``α`` — a number, :func:`inverse_time_decay` or any optax schedule — lives in
its state (``SGDState``), so ``jit`` traces it and ``vmap`` can give every
member of ``fit_many`` its own; ``fit(learning_rate=α)`` is ``fit(optimizer=sgd(α))``.

The lecture (slide "Training neuron with sigmoid activation", classification):
"If α is too high, the algorithm diverges. If α is too low, makes the algorithm
slow to converge. A common practice is to make α_k a decreasing function of the
iteration number k, e.g. α_k = c1 / (k + c2)". The first iterations make large
changes in ``w``, the later ones only fine-tune.

``k`` starts at 0, so the first update uses ``α_0 = c1 / c2``. It counts
updates (optax's ``count``) by default, or epochs: ``k = ⌊count / steps_per_epoch⌋``.

Examples:
    >>> schedule = inverse_time_decay(1.0, 10.0)
    >>> optimizer = optax.sgd(schedule)                 # plain optax
    >>> result = fnn.fit(net, params, x, y, learning_rate=schedule, key=key)
    >>> per_epoch = inverse_time_decay(1.0, 10.0, per="epoch")   # fit fills steps_per_epoch
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from functional_nn._validate import check_int, check_positive

__all__ = [
    "InverseTimeDecay",
    "inverse_time_decay",
    "steps_per_epoch",
    "SGDState",
    "sgd",
    "learning_rate_of",
]

Array = jax.Array
SCHEDULE_UNITS = ("update", "epoch")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class InverseTimeDecay:
    """``α_k = c1 / (k + c2)``; call it with optax's update count.

    A pytree whose leaves are ``c1`` and ``c2``, so ``vmap`` can sweep them
    (``fit_many`` does) and ``jit`` traces them instead of recompiling.

    Attributes:
        c1: numerator, ``()`` or ``(members,)``.
        c2: offset, ``()`` or ``(members,)``; ``α_0 = c1 / c2``.
        per: ``"update"`` (``k`` = number of updates so far) or ``"epoch"``.
        steps_per_epoch: updates per epoch, needed to call an ``"epoch"`` schedule
            directly (``fit`` supplies it from ``m`` and ``batch_size``).
    """

    c1: Array | float
    c2: Array | float
    per: str = dataclasses.field(default="update", metadata=dict(static=True))
    steps_per_epoch: int | None = dataclasses.field(default=None, metadata=dict(static=True))

    def __call__(self, count: Array | int) -> Array:
        """``α`` for optax's ``count`` (updates done so far): ``()`` -> ``()``."""
        if self.per == "epoch":
            if self.steps_per_epoch is None:
                raise ValueError(
                    "an epoch-counted inverse_time_decay needs steps_per_epoch to be called by optax "
                    "(steps_per_epoch = ceil(m / batch_size)); fnn.fit fills it in when you pass the "
                    "schedule as learning_rate"
                )
            return self.at(jnp.asarray(count) // self.steps_per_epoch)
        return self.at(count)

    def at(self, k: Array | int) -> Array:
        """``c1 / (k + c2)`` for the lecture's iteration number ``k`` (updates or epochs)."""
        c1 = jnp.asarray(self.c1)
        dtype = jnp.result_type(c1, jnp.asarray(self.c2), float)
        return c1.astype(dtype) / (jnp.asarray(k).astype(dtype) + jnp.asarray(self.c2, dtype))


def inverse_time_decay(
    c1: float | Array, c2: float | Array, *, per: str = "update", steps_per_epoch: int | None = None
) -> InverseTimeDecay:
    r"""The lecture's schedule ``α_k = c1 / (k + c2)``, usable with ``optax.sgd`` and ``fnn.fit``.

    Args:
        c1: positive numerator; a ``(members,)`` array sweeps it in ``fit_many``.
        c2: positive offset (``k + c2 > 0`` for every ``k >= 0``); same shapes as ``c1``.
        per: ``"update"`` counts every parameter update; ``"epoch"`` keeps ``α``
            fixed within an epoch.
        steps_per_epoch: for ``per="epoch"`` used outside ``fit``: ``ceil(m / batch_size)``
            (or ``m // batch_size`` when the last short batch is dropped).
    Returns:
        An :class:`InverseTimeDecay` (an optax ``Schedule``: ``count -> α``).

    Examples:
        >>> s = inverse_time_decay(2.0, 4.0)
        >>> float(s(0)), float(s(4))
        (0.5, 0.25)
    """
    if per not in SCHEDULE_UNITS:
        raise ValueError(f"per must be one of {SCHEDULE_UNITS}, got {per!r}")
    for name, value in (("c1", c1), ("c2", c2)):
        check_positive(name, value, expected="a real number or a 1-D array of them")
    if np.ndim(c1) == 1 and np.ndim(c2) == 1 and np.shape(c1) != np.shape(c2):
        raise ValueError(
            f"c1 and c2 must have the same length, got {np.shape(c1)} and {np.shape(c2)}"
        )
    if steps_per_epoch is not None:
        if per != "epoch":
            raise ValueError("steps_per_epoch only applies to per='epoch'")
        steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, 1)
    return InverseTimeDecay(_number_or_array(c1), _number_or_array(c2), per, steps_per_epoch)


def steps_per_epoch(num_examples: int, batch_size: int | None, *, drop_last: bool = False) -> int:
    """Updates per epoch: ``ceil(m / K)``, or ``m // K`` when the short last batch is dropped.

    The lecture's example: ``m = 1000`` gives 1000 updates for ``K = 1``, 20 for
    ``K = 50`` and 1 for ``K = m`` (``batch_size=None``).
    """
    if batch_size is None:
        return 1
    return num_examples // batch_size if drop_last else math.ceil(num_examples / batch_size)


def _number_or_array(value: ArrayLike) -> float | Array:
    # Python numbers stay numbers (hashable, printable); arrays become jax arrays.
    if np.ndim(value) == 0 and not isinstance(value, jax.Array):
        return float(np.asarray(value))
    return jnp.asarray(value)


# --- the update rule --------------------------------------------------------------


class SGDState(NamedTuple):
    """State of :func:`sgd`: the step size's traced values and the update count."""

    count: Array  # type: ignore[assignment]  # () int32: updates applied so far, the schedule's k
    rate: Any  # () α, or (c1 (), c2 ()) of α_k = c1/(k + c2); () for an opaque optax schedule
    learning_rate: Array  # () α of the last update (0 before the first)


def sgd(
    learning_rate: float | ArrayLike | InverseTimeDecay | Callable[[Array], ArrayLike],
) -> optax.GradientTransformation:
    r"""The lecture's rule ``w ← w − α_k ∇J`` as an optax ``GradientTransformation``.

    ``updates = −α_k g`` with ``k`` the number of updates applied so far. The
    numbers that define ``α`` (the constant, or ``c1`` and ``c2``) are kept in the
    state, not in the transformation, so a new rate reuses the compiled program
    and ``fit_many`` maps over one rate per member. ``optax.sgd(α)`` computes the
    same updates; this one also records ``α`` (``fit``'s ``history["learning_rate"]``).

    Args:
        learning_rate: a number ``α > 0``, an :class:`InverseTimeDecay` (its ``c1``,
            ``c2`` may carry a ``(members,)`` axis under ``vmap``), or any optax
            schedule ``count -> α`` (then part of the program: reuse one object).
    Returns:
        ``optax.GradientTransformation`` whose ``init(params)`` gives an :class:`SGDState`
        in the params' dtype.

    Examples:
        >>> opt = fnn.sgd(fnn.inverse_time_decay(1.0, 10.0))
        >>> state = opt.init(params)
        >>> updates, state = opt.update(grads, state)   # −α_0 ∇J, α_0 = 0.1
    """
    rate: Any
    if isinstance(learning_rate, InverseTimeDecay):
        rate = (learning_rate.c1, learning_rate.c2)
        update = _schedule_update(
            ("inverse_time", learning_rate.per, learning_rate.steps_per_epoch)
        )
    elif callable(learning_rate):
        rate, update = (), _schedule_update(learning_rate)
    else:
        rate, update = learning_rate, _schedule_update(None)

    def init(params: Any) -> SGDState:
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        return initial_state(rate, dtype, xp=jnp)

    return optax.GradientTransformation(init, update)


def initial_state(rate: Any, dtype: Any, shape: tuple[int, ...] = (), xp: Any = np) -> SGDState:
    """:func:`sgd`'s state before its first update, each field with a leading ``shape``.

    ``init`` makes it of ``jax.numpy`` arrays; ``fit`` of host (``numpy``) arrays, which
    its compiled run takes as they are, without a device call per field.
    """
    fields: tuple[Any, ...] = (
        xp.zeros(shape, np.int32),
        jax.tree_util.tree_map(lambda v: xp.broadcast_to(xp.asarray(v, dtype), shape), rate),
        xp.zeros(shape, dtype),
    )
    return SGDState(*fields)


def _step(grads: Any, state: SGDState, alpha: ArrayLike) -> tuple[Any, SGDState]:
    alpha = jnp.asarray(alpha, state.learning_rate.dtype)
    updates = jax.tree_util.tree_map(lambda g: -(alpha.astype(g.dtype) * g), grads)
    return updates, SGDState(state.count + 1, state.rate, alpha)


@functools.lru_cache(maxsize=64)
def _schedule_update(schedule: Any) -> Callable[..., tuple[Any, SGDState]]:
    """The update for ``α``: constant (``None``: the state's ``α``), the lecture's schedule
    (``("inverse_time", per, steps_per_epoch)``: of the state's ``(c1, c2)``) or an opaque
    optax schedule. One function per schedule, so reusing it reuses the compiled program."""

    def update(grads: Any, state: SGDState, params: Any = None) -> tuple[Any, SGDState]:
        del params
        if schedule is None:
            alpha = state.rate
        elif isinstance(schedule, tuple):
            c1, c2 = state.rate
            alpha = InverseTimeDecay(c1, c2, per=schedule[1], steps_per_epoch=schedule[2])(
                state.count
            )
        else:
            alpha = schedule(state.count)
        return _step(grads, state, alpha)

    return update


def learning_rate_of(opt_state: Any) -> Array | None:
    """The ``α`` of the last update, where the state shows it: :func:`sgd`, or ``optax.inject_hyperparams``."""
    injected = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
    for s in jax.tree_util.tree_leaves(
        opt_state, is_leaf=lambda s: isinstance(s, (SGDState, *injected))
    ):
        if isinstance(s, SGDState):
            return s.learning_rate
        if isinstance(s, injected) and "learning_rate" in s.hyperparams:
            return s.hyperparams["learning_rate"]
    return None
