r"""Check any gradient against ``jax.grad`` and finite differences, leaf by leaf.

:func:`check_gradients` takes any JAX function ``f(params, *args) -> scalar``
over any pytree and the gradient under test: a function ``grad(params, *args)``
returning a params-shaped pytree, or nothing when ``f`` carries its own rule
(``jax.custom_vjp``), in which case the gradient under test is ``jax.grad(f)``
going through that rule. The oracles are

* **autodiff**: ``jax.grad(reference)`` when an undecorated ``reference``
  function is given, else ``jax.grad(f)`` when ``grad`` is given; with neither
  (a custom rule and nothing to hold it against) there is no independent
  autodiff oracle and the column reads ``n/a``;
* **finite differences** of ``f`` itself, always independent of any rule.

:func:`compare_gradients` (the manual backward pass of an :class:`MLP`) is one
use of it: the params with ``f = J`` and the deltas ``δ^l = ∂J/∂o^l`` with
``f = J`` of shifted pre-activations.

Everything runs in float64 (JAX's x64 context), whatever dtype the caller uses.

Errors, per leaf: absolute ``|m − r|`` and relative ``|m − r| / max(|m| + |r|, floor)``,
``m`` the value under test and ``r`` the oracle. ``floor`` keeps coordinates
whose true gradient is ~0 from producing huge ratios out of rounding noise:
``1e-6`` of the largest gradient entry over the tree (for finite differences,
at least the quotient's own rounding noise divided by the good band). No
tolerance grows with the size of an array. Verdict bands: ``good`` (≤ 1e-7),
``suspect`` (≤ 1e-2), ``wrong`` (> 1e-2); ``report.ok`` means every leaf is good.

Finite differences use the five-point central quotient
``(−J(θ+2h) + 8J(θ+h) − 8J(θ−h) + J(θ−2h)) / 12h``, ``h = ε^{1/5} max(|θ_i|, 1)``
(``ε`` float64's machine epsilon), exhaustively for leaves with at most
``max_fd_coords`` entries and otherwise on a sample of ``max_fd_coords``
coordinates drawn with ``key`` plus the coordinate where the gradient and
autodiff differ most. All coordinates run in one compiled program. Leaves of
at most 2¹⁶ entries are perturbed together: ``vmap`` over chunks of coordinates,
each in its own copy of their concatenation (one compiled body for all of them).
A larger leaf is perturbed in place in a ``lax.scan`` over its sampled
coordinates, ``θ_i`` set and then restored bit for bit, so its cost is the
evaluations of ``J``, not a copy of the leaf (or of all of ``θ``) per coordinate.

**Kinks.** ``kinks(params, *args)`` returns the arrays whose sign switches a
kink (for ReLU / leaky ReLU, their pre-activations). A coordinate whose ``±2h``
stencil changes that sign pattern (or sits exactly on a kink) has crossed one:
its central quotient is not a derivative. It is judged instead by the
one-sided second-order quotients ``(3J(θ) − 4J(θ − h e_i) + J(θ − 2h e_i)) / 2h``
and ``(−3J(θ) + 4J(θ + h e_i) − J(θ + 2h e_i)) / 2h``, ``h = ε^{1/3} max(|θ_i|, 1)``:
a one-dimensional piecewise-smooth function's subdifferential at the kink is
the interval between its one-sided derivatives, so the derivative under test
must lie between them (``relu'(0) = 0`` and ``leaky_relu'(0) = 1`` both do);
outside, the leaf is ``wrong``. Inside, the coordinate is also excused from the
autodiff comparison (autodiff's value at a kink is one convention, not the truth).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate, backprop, losses
from functional_nn._bound import bind
from functional_nn._finite_differences import finite_differences, sample_coordinates
from functional_nn._gradcheck_report import GOOD, SUSPECT, GradientReport, KinkCheck, LeafCheck  # noqa: F401
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP, Params

__all__ = [
    "GradientReport",
    "to_float64",
    "check_params_tree",
    "check_scalar_function",
    "check_gradients",
    "compare_gradients",
    "assert_gradients_match",
    "mlp_functions",
    "param_symbol",
    "check_tree",
]

FLOOR = 1e-6
_KINKS_SHOWN = 3


def to_float64(tree):
    """Every floating leaf of ``tree`` as float64 (call inside ``float64_mode()``); other leaves unchanged."""

    def cast(a):
        if isinstance(a, (jax.Array, np.ndarray, np.generic, float)) and jnp.issubdtype(
            jnp.result_type(a), jnp.floating
        ):
            return jnp.asarray(
                np.asarray(a, np.float64) if not isinstance(a, jax.Array) else a, jnp.float64
            )
        return a

    return jax.tree.map(cast, tree)


def check_params_tree(params, name: str = "params") -> list[str]:
    """Leaf paths of a differentiable pytree; refuses an empty tree and non-float leaves."""
    paths = jax.tree_util.tree_flatten_with_path(params)[0]
    if not paths:
        raise ValueError(
            f"{name} must hold at least one array, got {type(params).__name__} with no leaves"
        )
    for path, leaf in paths:
        where = f"{name}{jax.tree_util.keystr(path)}"
        dtype = _validate.real_dtype(leaf, where)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{where} must be a floating-point array to differentiate, got dtype {dtype}"
            )
        _validate.check_finite(leaf, where)
    return [jax.tree_util.keystr(p) for p, _ in paths]


def _check_same_tree(got, params, name: str) -> None:
    want_tree, got_tree = jax.tree.structure(params), jax.tree.structure(got)
    if want_tree != got_tree:  # type: ignore[operator]  # PyTreeDef compares; its stub says not
        raise ValueError(
            f"{name} must return a pytree shaped like params ({want_tree}), got {got_tree}"
        )
    for i, (g, p) in enumerate(zip(jax.tree.leaves(got), jax.tree.leaves(params))):
        if tuple(np.shape(g)) != tuple(np.shape(p)):
            raise ValueError(
                f"{name} leaf {i} has shape {tuple(np.shape(g))}, expected {tuple(np.shape(p))}"
            )


def check_scalar_function(f: Callable, params, args, name: str = "f") -> None:
    _validate.check_callable(name, f, "callable f(params, *args) -> scalar")
    out = jax.eval_shape(f, params, *args)
    if getattr(out, "shape", None) != ():
        raise ValueError(f"{name} must return a scalar, got {out}")


def check_gradients(
    f: Callable,
    params,
    *args,
    grad: Callable | None = None,
    reference: Callable | None = None,
    kinks: Callable | None = None,
    max_fd_coords: int = 256,
    key: jax.Array | None = None,
    names: list[str] | None = None,
    symbols: list[str] | None = None,
    title: str | None = None,
    subject: str = "the gradient",
) -> GradientReport:
    """Check a gradient of ``f`` at ``params`` against ``jax.grad`` and finite differences, per leaf.

    Args:
        f: ``f(params, *args) -> ()``, any JAX function; may carry ``jax.custom_vjp``.
        params: any pytree of float arrays (dicts, tuples, NamedTuples ...).
        *args: further arguments of ``f`` (arrays are cast to float64, other values passed as they are).
        grad: the gradient under test, ``grad(params, *args) -> pytree like params``;
            default ``jax.grad(f)`` (the rule ``f`` carries).
        reference: an undecorated function with ``f``'s values, for the autodiff oracle
            ``jax.grad(reference)``; default ``f`` itself when ``grad`` is given, none otherwise.
        kinks: ``kinks(params, *args)`` -> arrays whose sign crosses a kink (see the module docstring).
        max_fd_coords: finite-difference coordinates per leaf (all when the leaf is smaller).
        key: picks the sampled coordinates of larger leaves (default ``jax.random.key(0)``).
        names, symbols, title, subject: labels of the report.
    Returns:
        A :class:`GradientReport` (``print`` it; ``.ok``; ``.assert_ok()``).

    Examples:
        >>> f = lambda p, x: jnp.sum(jax.nn.softplus(x @ p["w"]))
        >>> g = lambda p, x: {"w": x.T @ jax.nn.sigmoid(x @ p["w"])}
        >>> check_gradients(f, {"w": w}, x, grad=g).assert_ok()
    """
    max_fd_coords = _validate.check_int("max_fd_coords", max_fd_coords, 1)
    for arg_name, fn in (("grad", grad), ("reference", reference), ("kinks", kinks)):
        _validate.check_callable(arg_name, fn, optional=True)
    paths = check_params_tree(params)
    key = _validate.check_key(key, default_seed=0)
    with float64_mode():
        params, args = to_float64(params), to_float64(args)
        check_scalar_function(f, params, args)
        value, under_test = (
            jax.value_and_grad(f)(params, *args)
            if grad is None
            else (f(params, *args), grad(params, *args))
        )
        _check_same_tree(under_test, params, "grad")
        oracle_fn = reference if reference is not None else (f if grad is not None else None)
        oracle = None if oracle_fn is None else _grad_of(oracle_fn)(params, *args)
        leaves = check_tree(
            f,
            params,
            args,
            under_test,
            oracle,
            kinks,
            max_fd_coords,
            key,
            names or [f"params{p}" for p in paths],
            symbols or [""] * len(paths),
        )
        title = title or (
            f"Gradient check: {getattr(f, '__name__', type(f).__name__)}, "
            f"{len(paths)} leaves, float64"
        )
        return GradientReport(title, float(value), tuple(leaves), subject)


@functools.lru_cache(maxsize=64)
def _grad_of(f):
    return jax.jit(jax.grad(f))


def compare_gradients(
    net: MLP,
    loss: str,
    params: Params,
    x,
    y,
    *,
    max_fd_coords: int = 256,
    key: jax.Array | None = None,
    backward_fn=None,
) -> GradientReport:
    """Compare the manual backward pass with ``jax.grad`` and finite differences (:func:`check_gradients`).

    Args:
        net, loss, params, x, y: as for :func:`functional_nn.value_and_grad`;
            ``x`` is ``(batch, n_0)``, ``y`` matches the outputs (or integer labels).
        max_fd_coords: finite-difference coordinates per leaf (all when the leaf is smaller).
        key: picks the sampled coordinates of larger leaves (default ``jax.random.key(0)``).
        backward_fn: the manual pass under test, ``(net, loss, params, x, y) -> Backward``;
            default :func:`functional_nn.backprop.backward`.
    Returns:
        A :class:`GradientReport` with every parameter leaf and every ``δ^l``.

    Examples:
        >>> report = compare_gradients(net, "mse", params, x, y)
        >>> print(report); report.assert_ok()
    """
    backprop.check_setup(net, loss)
    max_fd_coords = _validate.check_int("max_fd_coords", max_fd_coords, 1)
    backward_fn = backward_fn or backprop.backward
    key = _validate.check_key(key, default_seed=0)
    _validate.real_dtype(x, "x")  # before the float64 cast below hides a string or complex x
    with float64_mode():
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x, y = backprop.check_batch(net, loss, params, jnp.asarray(np.asarray(x), jnp.float64), y)
        manual = backward_fn(net, loss, params, x, y)
        J, J_shifts, kinks_params, kinks_shifts = mlp_functions(net, loss)
        paths = [
            jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]
        ]
        k_params, k_deltas = jax.random.split(key)
        leaves = check_tree(
            J,
            params,
            (x, y),
            manual.grads,
            _grad_of(J)(params, x, y),
            kinks_params,
            max_fd_coords,
            k_params,
            [f"params{p}" for p in paths],
            [param_symbol(p) for p in paths],
        )
        shifts = tuple(jnp.zeros_like(d) for d in manual.deltas)
        leaves += check_tree(
            J_shifts,
            shifts,
            (params, x, y),
            manual.deltas,
            _grad_of(J_shifts)(shifts, params, x, y),
            kinks_shifts,
            max_fd_coords,
            k_deltas,
            [f"delta[{l}]" for l in range(net.num_layers)],
            [f"δ^{l + 1}" for l in range(net.num_layers)],
        )
        title = (
            f"Gradient check: MLP {net.layer_sizes} {'/'.join(net.activation_names)}, loss {loss}, "
            f"batch {x.shape[0]}, float64"
        )
        return GradientReport(title, float(manual.value), tuple(leaves))


def assert_gradients_match(net: MLP, loss: str, params: Params, x, y, **kwargs) -> GradientReport:
    """:func:`compare_gradients` then ``assert_ok``; returns the report when it passes."""
    report = compare_gradients(net, loss, params, x, y, **kwargs)
    report.assert_ok()
    return report


# --- the MLP as functions of params and of shifts ----------------------------------------


@functools.lru_cache(maxsize=64)
def mlp_functions(net: MLP, loss: str):
    """``(J(params, x, y), J_shifts(shifts, params, x, y), kinks of params, kinks of shifts)``, one object each.

    ``J_shifts`` adds ``s^l`` to every ``o^l``; its gradient at ``s = 0`` is ``δ^l``.
    Cached so repeated checks of one configuration reuse their compiled code.
    """
    J = backprop.objective(net, loss)
    output = net.layer_activations[-1]
    J_shifts = lambda shifts, params, x, y: losses.loss_from_logits(
        loss, output, _forward_shifted(net, params, x, shifts)[-1], y
    )
    kinked = [l for l, act in enumerate(net.layer_activations) if act.has_kink]
    if not kinked:
        return J, J_shifts, None, None
    kinks_params = lambda params, x, y: [net.forward(params, x).pre_activations[l] for l in kinked]
    kinks_shifts = lambda shifts, params, x, y: [
        _forward_shifted(net, params, x, shifts)[l] for l in kinked
    ]
    return J, J_shifts, kinks_params, kinks_shifts


def _forward_shifted(net, params, x, shifts):
    """Pre-activations with ``o^l + s^l``."""
    a, pre = x, []
    for layer, act, s in zip(params, net.layer_activations, shifts):
        o = a @ layer.w + layer.b + s
        a = act.fn(o)
        pre.append(o)
    return tuple(pre)


def param_symbol(path: str) -> str:
    """``"[1].w"`` -> ``"w^2"``."""
    layer = int(path[1 : path.index("]")]) + 1
    leaf = path.rsplit(".", 1)[-1].strip("[]'\"")
    return f"{leaf}^{layer}"


# --- the comparison --------------------------------------------------------------------


def _rel(m, r, floor):
    return np.abs(m - r) / np.maximum(np.abs(m) + np.abs(r), floor)


def check_tree(
    f, params, args, under_test, oracle, kinks, max_fd_coords, key, names, symbols
) -> list[LeafCheck]:
    """Every leaf of ``under_test`` against ``oracle`` (or None) and finite differences of ``f`` at ``params``."""
    manual = [np.asarray(m) for m in jax.tree.leaves(under_test)]
    auto = None if oracle is None else [np.asarray(a) for a in jax.tree.leaves(oracle)]
    tiny = np.finfo(np.float64).tiny
    scale = max(float(np.max(np.abs(a), initial=0.0)) for a in (auto or manual))
    bound, flat, dynamic = bind(f, params, args)
    if kinks is not None:
        kinks, _, _ = bind(kinks, params, args)
    offsets = np.cumsum([0] + [m.size for m in manual])
    rel_ad, coords = [], []
    for m, k, offset, i in zip(
        manual, jax.random.split(key, len(manual)), offsets, range(len(manual))
    ):
        rel = None if auto is None else _rel(m, auto[i], FLOOR * scale + tiny).ravel()
        rel_ad.append(rel)
        focus = 0 if m.size == 0 else int(np.argmax(rel if rel is not None else np.abs(m.ravel())))
        coords.append(sample_coordinates(m.size, max_fd_coords, focus, k) + offset)
    leaves = jax.tree.leaves(params)
    local = tuple(jnp.asarray(c - offset, jnp.int32) for c, offset in zip(coords, offsets))
    fd = {
        k: np.asarray(v)
        for k, v in finite_differences(bound, kinks, leaves, local, dynamic).items()
    }
    checks, start = [], 0
    for i, (name, symbol, m, rel, c, offset) in enumerate(
        zip(names, symbols, manual, rel_ad, coords, offsets)
    ):
        stop = start + len(c)
        sl = slice(start, stop)
        start = stop
        picked, q, crossed, noise = (
            m.ravel()[c - offset],
            fd["quotient"][sl],
            fd["crossed"][sl],
            fd["noise"][sl],
        )
        rel_fd = np.where(
            crossed, 0.0, _rel(picked, q, np.maximum(FLOOR * scale, noise / GOOD) + tiny)
        )
        abs_fd = np.where(crossed, 0.0, np.abs(picked - q))
        unravel_index = lambda flat_i: tuple(int(v) for v in np.unravel_index(flat_i, m.shape))  # noqa: B023 (used in this iteration)
        kink_checks = _kink_checks(
            picked,
            fd["left"][sl],
            fd["right"][sl],
            fd["noise_one_sided"][sl],
            crossed,
            FLOOR * scale + tiny,
        )
        outside = [k for k in kink_checks if not k.inside]
        shown = sorted(zip(kink_checks, c[crossed] - offset), key=lambda kc: kc[0].inside)[
            :_KINKS_SHOWN
        ]
        if m.size == 0:
            checks.append(
                LeafCheck(
                    name, symbol, m.shape, 0.0, 0.0 if auto else np.nan, (), 0.0, 0.0, (), 0, 0
                )
            )
            continue
        j = int(np.argmax(rel_fd))
        if rel is not None and kink_checks:
            # on a kink any subgradient is a right answer: autodiff's convention is not the oracle there
            excused = np.array(
                [ci for k, ci in zip(kink_checks, c[crossed] - offset) if k.inside], int
            )
            rel = rel.copy()
            rel[excused] = 0.0
        index_ad: tuple[int, ...]
        abs_diff = (
            None
            if rel is None or auto is None
            else np.where(rel == 0.0, 0.0, np.abs(m - auto[i]).ravel())
        )
        if rel is None:
            abs_ad = rel_max = np.nan
            index_ad = ()
        else:
            assert auto is not None and abs_diff is not None  # rel exists only with an oracle
            a_i = int(np.argmax(rel))
            abs_ad, rel_max, index_ad = float(np.max(abs_diff)), float(rel[a_i]), unravel_index(a_i)
        checks.append(
            LeafCheck(
                name=name,
                symbol=symbol,
                shape=m.shape,
                abs_autodiff=abs_ad,
                rel_autodiff=rel_max,
                index_autodiff=index_ad,
                abs_fd=float(np.max(abs_fd)),
                rel_fd=float(rel_fd[j]),
                index_fd=unravel_index(int(c[j] - offset)),
                fd_coords=len(c),
                kinks=int(np.sum(crossed)),
                kink_checks=tuple(
                    dataclasses.replace(k, index=unravel_index(int(ci))) for k, ci in shown
                ),
                kinks_outside=len(outside),
            )
        )
    return checks


def _kink_checks(value, left, right, noise, crossed, floor) -> list[KinkCheck]:
    """Is each crossed coordinate's derivative between its one-sided quotients (up to their accuracy)?"""
    out = []
    for v, l, r, n in zip(value[crossed], left[crossed], right[crossed], noise[crossed]):
        lo, hi = min(l, r), max(l, r)
        slack = GOOD * max(abs(lo), abs(hi)) + n + floor
        out.append(KinkCheck((), float(l), float(r), float(v), bool(lo - slack <= v <= hi + slack)))
    return out
