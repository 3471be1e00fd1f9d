r"""The Taylor-remainder test: a gradient check with no step size to tune.

For a direction ``d`` and the gradient under test ``g``,

    r(h) = |J(θ + h d) − J(θ) − h ⟨g, d⟩|

falls like ``h²`` when ``g`` is right (the remainder of the first-order Taylor
polynomial is ``½ h² dᵀ∇²J d + O(h³)``) and only like ``h`` when it is wrong
(``r = h |⟨∇J − g, d⟩| + O(h²)``). On log–log axes the slope is the *order*.

The sweep is geometric, ``h = h_max · 10^{−k/4}``, one compiled ``vmap`` over
every leaf and every ``h``. Each leaf gets its own random unit direction
(``d`` zero outside that leaf), so the order is read per leaf; the direction is half random, half along
``g`` (normalised), so an error along the gradient shows at full size. The usable part
of the sweep is found automatically:

* **rounding floor**: the gradient under test is computed in ``dtype`` at the
  params and arguments rounded to ``dtype``; the sweep evaluates ``J`` at those
  same rounded values in float64, so ``J``'s own rounding (``u₆₄ |J|``) is far
  below ``r``. What a narrow dtype leaves in ``r`` is the gradient's rounding
  error ``e = g − g₆₄`` (``g₆₄``: the same gradient code run in float64, so a
  wrong formula is wrong in both and is not absorbed), which adds ``h |⟨e, d⟩|``.
  A point counts only when
  ``r(h) > C (u₆₄ (|J(θ)| + |J(θ + h d)|) + h |⟨e, d⟩|)`` with ``C = 16``; below
  that line ``r`` is rounding, slope 0 or 1 whatever ``g``. (Evaluating ``J``
  in float32 put the floor at ``C u₃₂ |J|``, which pushed the fit of a nearly
  flat leaf up to ``h ~ 0.1..0.5``, where the ``h³`` term bends the slope to
  2.3 or, where ``r`` changes sign, below 1.)
* **kinks**: with ``kinks=`` (as for :func:`functional_nn.check_gradients`) a
  point whose step changed the sign pattern of a ReLU pre-activation is left
  out: across a kink ``r`` has a first-order jump whatever ``g``;
* **asymptotic end**: of the points left, the run of ``window`` consecutive
  points with the smallest ``h`` is fitted (least squares on ``log r`` vs
  ``log h``): the order is an ``h → 0`` statement, and large steps are where
  higher-order terms and saturation bend the curve.

Verdict per leaf: ``good`` when the order is ``≥ 1.8``, ``wrong`` when ``≤ 1.2``,
``unclear`` between, ``exact`` when ``r`` stays at the rounding floor over the
whole sweep (``J`` is linear along ``d`` and ``g`` exact), ``undetermined``
with fewer than 3 usable points.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate
from functional_nn._bound import Bound, bind
from functional_nn._x64 import float64_mode
from functional_nn.gradcheck import _check_same_tree, check_params_tree, check_scalar_function

__all__ = ["TaylorLeaf", "TaylorReport", "cast_floating", "taylor_test", "taylor_test_mlp"]

DTYPES = {
    "float64": jnp.float64,
    "float32": jnp.float32,
    "bfloat16": jnp.bfloat16,
    "float16": jnp.float16,
}
NOISE_FACTOR = 16.0
GOOD_ORDER, WRONG_ORDER = 1.8, 1.2


@dataclasses.dataclass(frozen=True)
class TaylorLeaf:
    """The sweep along one leaf's direction."""

    name: str
    h: np.ndarray  # (points,) descending
    remainder: np.ndarray  # (points,) r(h)
    floor: np.ndarray  # (points,) rounding floor at each h
    used: np.ndarray  # (points,) bool, the fitted window
    order: float  # fitted slope (nan when undetermined; inf when exact)

    @property
    def verdict(self) -> str:
        if math.isinf(self.order):
            return "exact"
        if math.isnan(self.order):
            return "undetermined"
        return (
            "good"
            if self.order >= GOOD_ORDER
            else "wrong"
            if self.order <= WRONG_ORDER
            else "unclear"
        )

    @property
    def h_range(self) -> tuple[float, float]:
        hs = self.h[self.used]
        return (float(hs.min()), float(hs.max())) if hs.size else (math.nan, math.nan)


@dataclasses.dataclass(frozen=True)
class TaylorReport:
    """Per-leaf observed orders; ``ok`` when every leaf is good or exact."""

    title: str
    dtype: str
    leaves: tuple[TaylorLeaf, ...]

    @property
    def ok(self) -> bool:
        return all(l.verdict in ("good", "exact") for l in self.leaves)

    def failures(self) -> tuple[TaylorLeaf, ...]:
        return tuple(l for l in self.leaves if l.verdict not in ("good", "exact"))

    def leaf(self, name: str) -> TaylorLeaf:
        for l in self.leaves:
            if l.name == name:
                return l
        raise KeyError(f"no leaf named {name!r}; leaves: {', '.join(l.name for l in self.leaves)}")

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "dtype": self.dtype,
            "ok": self.ok,
            "leaves": [
                {
                    "name": l.name,
                    "order": None if not math.isfinite(l.order) else l.order,
                    "verdict": l.verdict,
                    "h_range": list(l.h_range),
                    "h": l.h.tolist(),
                    "remainder": l.remainder.tolist(),
                    "used": l.used.tolist(),
                }
                for l in self.leaves
            ],
        }

    def __str__(self) -> str:
        rows = [("leaf", "order", "h used", "points", "verdict")] + [
            (
                l.name,
                "inf" if math.isinf(l.order) else f"{l.order:.2f}",
                "-" if not l.used.any() else f"{l.h_range[0]:.1e}..{l.h_range[1]:.1e}",
                str(int(l.used.sum())),
                l.verdict,
            )
            for l in self.leaves
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        verdict = (
            "OK: the remainder falls like h² on every leaf"
            if self.ok
            else "MISMATCH: "
            + ", ".join(f"{l.name} (order {l.order:.2f})" for l in self.failures())
        )
        return "\n".join([self.title, *lines, verdict])


def cast_floating(tree, dtype):
    """Floating leaves of ``tree`` cast to ``dtype``; others unchanged."""

    def cast(a):
        if isinstance(a, (jax.Array, np.ndarray, np.generic, float)) and jnp.issubdtype(
            jnp.result_type(a), jnp.floating
        ):
            return jnp.asarray(a).astype(dtype)
        return a

    return jax.tree.map(cast, tree)


def taylor_test(
    f: Callable,
    params,
    *args,
    grad: Callable | None = None,
    kinks: Callable | None = None,
    dtype="float64",
    key: jax.Array | None = None,
    h_max: float = 1.0,
    num_points: int = 41,
    window: int = 5,
    names: list[str] | None = None,
    title: str | None = None,
) -> TaylorReport:
    """Observed order of the Taylor remainder of ``f`` with the gradient ``grad``, per leaf.

    Args:
        f: ``f(params, *args) -> ()``.
        params: any pytree of float arrays.
        *args: further arguments of ``f``.
        grad: the gradient under test, ``grad(params, *args)`` (default ``jax.grad(f)``).
        kinks: ``kinks(params, *args)`` -> arrays whose sign crosses a kink; such steps are left out.
        dtype: ``"float64"`` (default) or ``"float32"`` etc.: params and float args are rounded
            to it and ``grad`` runs in it; ``J`` along the sweep is evaluated in float64 at the
            rounded values (``f`` must follow its inputs' dtype), and ``grad`` once more in
            float64 to measure its rounding.
        key: draws the directions (default ``jax.random.key(0)``).
        h_max, num_points: the sweep ``h_max · 10^{−k/4}``, ``k = 0..num_points−1``.
        window: points fitted at the small-``h`` end.
    Returns:
        :class:`TaylorReport`.
    """
    dtype = _validate.check_dtype("dtype", dtype, DTYPES)
    num_points = _validate.check_int("num_points", num_points, 3)
    window = _validate.check_int("window", window, 3, num_points)
    h_max = _validate.check_number("h_max", h_max, strict=True)
    for arg_name, fn in (("grad", grad), ("kinks", kinks)):
        _validate.check_callable(arg_name, fn, optional=True)
    paths = check_params_tree(params)
    key = _validate.check_key(key, default_seed=0)
    with float64_mode():
        jdtype = DTYPES[dtype]
        params, args = cast_floating(params, jdtype), cast_floating(args, jdtype)
        check_scalar_function(f, params, args)
        g = jax.grad(f)(params, *args) if grad is None else grad(params, *args)
        _check_same_tree(g, params, "grad")
        # The sweep runs in float64 at the dtype-rounded params and args: J's own rounding then
        # sits ~1e-16 |J| below r, instead of the dtype's u |J| that forced a narrow dtype's fit
        # up to large h, where the h³ term bends the slope. The gradient under test stays the
        # one computed in dtype; its rounding error e = g − g₆₄ (the same code run in float64,
        # so a wrong formula is wrong in both and does not cancel) adds h ⟨e, d⟩ to r, which is
        # the h-proportional part of the floor below.
        params, args = cast_floating(params, jnp.float64), cast_floating(args, jnp.float64)
        if dtype == "float64":
            g_reference = g
        else:
            g_reference = jax.grad(f)(params, *args) if grad is None else grad(params, *args)
        bound, flat, dynamic = bind(f, params, args)
        kink_bound = None if kinks is None else bind(kinks, params, args)[0]
        sizes = [int(np.prod(s)) for s in bound.shapes]
        offsets = np.cumsum([0] + sizes)
        directions = np.zeros((len(sizes), flat.size))
        for i, k in enumerate(jax.random.split(key, len(sizes))):
            # half random, half along g: a random direction alone sees an error e only as ‖e‖/√n
            d = np.asarray(jax.random.normal(k, (sizes[i],), jnp.float64))
            d = d / max(np.linalg.norm(d), 1e-300)
            g_leaf = np.ravel(np.asarray(jax.tree.leaves(g)[i], np.float64))
            if np.linalg.norm(g_leaf) > 0:
                d = d + g_leaf / np.linalg.norm(g_leaf)
            directions[i, offsets[i] : offsets[i + 1]] = d / max(np.linalg.norm(d), 1e-300)
        hs = h_max * 10.0 ** (-np.arange(num_points) / 4)
        values, j0, crossed = _sweep(
            bound, kink_bound, flat, jnp.asarray(directions), jnp.asarray(hs), dynamic
        )
        values, j0 = np.asarray(values, np.float64), float(np.asarray(j0, np.float64))
        crossed = np.asarray(crossed)
        as_flat = lambda tree: np.concatenate(
            [np.ravel(np.asarray(l, np.float64)) for l in jax.tree.leaves(tree)]
        )
        g_flat = as_flat(g)
        slopes = directions @ g_flat
        rounding_slopes = np.abs(directions @ (g_flat - as_flat(g_reference)))
        u = float(jnp.finfo(jnp.float64).eps) / 2
    leaves = []
    for i, name in enumerate(names or [f"params{p}" for p in paths]):
        r = np.abs(values[i] - j0 - hs * slopes[i])
        floor = NOISE_FACTOR * (u * (abs(j0) + np.abs(values[i])) + hs * rounding_slopes[i])
        leaves.append(_fit(name, hs, r, floor, ~crossed[i], window))
    return TaylorReport(
        title or f"Taylor remainder test: {len(paths)} leaves, {dtype}", dtype, tuple(leaves)
    )


def _fit(name, h, r, floor, smooth, window) -> TaylorLeaf:
    usable = (r > floor) & smooth & np.isfinite(r)
    used = np.zeros_like(usable)
    if not usable.any():
        return TaylorLeaf(
            name, h, r, floor, used, math.inf if smooth.all() and np.isfinite(r).all() else math.nan
        )
    # runs of consecutive usable points; take the one reaching the smallest h
    run_end = None
    count = 0
    for i in range(len(h) - 1, -1, -1):  # from the smallest h up
        count = count + 1 if usable[i] else 0
        if count >= window:
            run_end = i
            break
    if run_end is None:  # no run of `window`: the longest run if it has 3 points
        best, start, best_len = None, None, 0
        for i in range(len(h)):
            if usable[i]:
                start = i if start is None else start
                if i - start + 1 > best_len:
                    best, best_len = (start, i), i - start + 1
            else:
                start = None
        if best_len < 3:
            return TaylorLeaf(name, h, r, floor, used, math.nan)
        assert best is not None  # best_len >= 3 found a run
        used[best[0] : best[1] + 1] = True
    else:
        used[run_end : run_end + window] = True
    slope = np.polyfit(np.log(h[used]), np.log(r[used]), 1)[0]
    return TaylorLeaf(name, h, r, floor, used, float(slope))


@functools.partial(jax.jit, static_argnames=("bound", "kinks"))
def _sweep(bound: Bound, kinks: Bound | None, flat, directions, hs, dynamic):
    """``J(θ + h d_leaf)`` for every leaf and ``h``; ``J(θ)``; whether each step changed the kink pattern."""
    J = lambda v: bound(v, dynamic)
    j_at = lambda d, h: J(flat + h * d)
    values = jax.vmap(lambda d: jax.vmap(lambda h: j_at(d, h))(hs))(directions)
    if kinks is None:
        crossed = jnp.zeros(values.shape, bool)
    else:
        pattern = lambda v: jnp.concatenate(
            [jnp.ravel(o >= 0) for o in jax.tree.leaves(kinks(v, dynamic))]
        )
        p0 = pattern(flat)
        crossed = jax.vmap(lambda d: jax.vmap(lambda h: jnp.any(pattern(flat + h * d) != p0))(hs))(
            directions
        )
    return values, J(flat), crossed


def taylor_test_mlp(
    net, loss: str, params, x, y, *, backward_fn=None, dtype="float64", key=None, **kwargs
) -> TaylorReport:
    """:func:`taylor_test` of an MLP's ``J`` with the manual backward pass (or ``backward_fn``) as ``g``."""
    from functional_nn import backprop
    from functional_nn.gradcheck import mlp_functions, param_symbol  # noqa: F401

    backprop.check_setup(net, loss)
    dtype = _validate.check_dtype("dtype", dtype, DTYPES)
    _validate.real_dtype(x, "x")
    backward_fn = backward_fn or backprop.backward
    with float64_mode():
        jdtype = DTYPES[dtype]
        params = cast_floating(params, jdtype)
        x, y = backprop.check_batch(
            net, loss, params, jnp.asarray(np.asarray(x, np.float64)).astype(jdtype), y
        )
    J, _, kinks, _ = mlp_functions(net, loss)
    grad = lambda p, x_, y_: backward_fn(net, loss, p, x_, y_).grads
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    title = (
        f"Taylor remainder test: MLP {net.layer_sizes} {'/'.join(net.activation_names)}, loss {loss}, "
        f"batch {x.shape[0]}, {dtype}"
    )
    return taylor_test(
        J,
        params,
        x,
        y,
        grad=grad,
        kinks=kinks,
        dtype=dtype,
        key=key,
        names=[f"params{p}" for p in paths],
        title=title,
        **kwargs,
    )
