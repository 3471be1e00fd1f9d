r"""Manual backprop vs ``jax.grad`` vs central finite differences, leaf by leaf.

Everything runs in float64 (JAX's x64 context), whatever dtype the caller uses.

Errors, per leaf (every parameter leaf and every layer delta ``δ^l``):

* absolute ``|m − r|`` and relative ``|m − r| / max(|m| + |r|, floor)``, where
  ``m`` is the manual value and ``r`` the reference (autodiff or finite
  differences). ``floor`` keeps coordinates whose true gradient is ~0 from
  producing huge ratios out of rounding noise: ``1e-6`` of the largest autodiff
  value over the tree's leaves (for finite differences, at least the
  quotient's own rounding noise divided by the good band). A coordinate below
  the floor is thus judged by its absolute error. No tolerance grows with the
  size of an array.
* verdict band of the worse relative error: ``good`` (≤ 1e-7), ``suspect``
  (≤ 1e-2), ``wrong`` (> 1e-2). ``report.ok`` means every leaf is good.

Finite differences use the five-point central quotient
``(−J(θ+2h) + 8J(θ+h) − 8J(θ−h) + J(θ−2h)) / 12h`` with
``h = ε^{1/5} max(|θ_i|, 1)`` (``ε`` float64's machine epsilon), exhaustively
for leaves with at most ``max_fd_coords`` entries and otherwise on a sample of
``max_fd_coords`` coordinates drawn with ``key`` plus the coordinate where manual
and autodiff differ most. A coordinate whose ``±2h`` perturbation moves a
ReLU / leaky-ReLU pre-activation across 0 has crossed a kink: its finite
difference is not a derivative, so it is counted and left out of the verdict.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate, backprop, losses
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP, Params

GOOD, SUSPECT = 1e-7, 1e-2
FLOOR = 1e-6


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """The comparison for one leaf."""

    name: str                  # e.g. "params[1].w" or "delta[0]"
    symbol: str                # the lecture's symbol, e.g. "w^2", "δ^1"
    shape: tuple[int, ...]
    abs_autodiff: float        # max |manual − autodiff|
    rel_autodiff: float        # max relative error vs autodiff
    index_autodiff: tuple      # where rel_autodiff is reached
    abs_fd: float              # max |manual − finite difference| over checked coordinates
    rel_fd: float
    index_fd: tuple
    fd_coords: int             # coordinates checked by finite differences
    kinks: int                 # of those, how many crossed a kink (excluded)

    @property
    def worst(self) -> float:
        return max(self.rel_autodiff, self.rel_fd)

    @property
    def verdict(self) -> str:
        return "good" if self.worst <= GOOD else "suspect" if self.worst <= SUSPECT else "wrong"


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """Per-leaf comparison of manual, autodiff and finite-difference gradients.

    ``print(report)`` shows a table; ``report.ok`` is True when every leaf is
    good; ``report.assert_ok()`` raises naming the first failing leaf and index.
    """

    title: str
    loss_value: float
    leaves: tuple[LeafCheck, ...]

    @property
    def ok(self) -> bool:
        return all(leaf.verdict == "good" for leaf in self.leaves)

    @property
    def max_rel_autodiff(self) -> float:
        return max(leaf.rel_autodiff for leaf in self.leaves)

    @property
    def max_rel_fd(self) -> float:
        return max(leaf.rel_fd for leaf in self.leaves)

    def failures(self) -> tuple[LeafCheck, ...]:
        return tuple(leaf for leaf in self.leaves if leaf.verdict != "good")

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` naming each leaf that is not good, and where."""
        bad = self.failures()
        if bad:
            lines = [
                f"{leaf.name} ({leaf.symbol}) is {leaf.verdict}: rel err vs autodiff {leaf.rel_autodiff:.2e} "
                f"at {leaf.index_autodiff}, vs finite differences {leaf.rel_fd:.2e} at {leaf.index_fd}"
                for leaf in bad
            ]
            raise AssertionError("gradient check failed:\n  " + "\n  ".join(lines))

    def __str__(self) -> str:
        head = ("leaf", "symbol", "shape", "|m-ad|", "rel m-ad", "at", "|m-fd|", "rel m-fd", "at", "fd n", "kinks",
                "verdict")
        rows = [head] + [
            (l.name, l.symbol, str(l.shape), f"{l.abs_autodiff:.1e}", f"{l.rel_autodiff:.1e}", str(l.index_autodiff),
             f"{l.abs_fd:.1e}", f"{l.rel_fd:.1e}", str(l.index_fd), str(l.fd_coords), str(l.kinks), l.verdict)
            for l in self.leaves
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
        verdict = "OK: manual backprop matches jax.grad and finite differences" if self.ok else (
            "MISMATCH: " + ", ".join(l.name for l in self.failures()))
        return "\n".join([self.title, f"J = {self.loss_value:.10g}", fmt(head), *map(fmt, rows[1:]), verdict])


def compare_gradients(net: MLP, loss: str, params: Params, x, y, *, max_fd_coords: int = 256,
                      key: jax.Array | None = None, backward_fn=None) -> GradientReport:
    """Compare the manual backward pass with ``jax.grad`` and finite differences.

    Args:
        net, loss, params, x, y: as for :func:`functional_nn.value_and_grad`;
            ``x`` is ``(batch, n_0)``, ``y`` matches the outputs (or integer labels).
        max_fd_coords: finite-difference coordinates per leaf (all when the leaf is smaller).
        key: picks the sampled coordinates of larger leaves (default ``jax.random.key(0)``).
        backward_fn: the manual pass under test, ``(net, loss, params, x, y) -> Backward``;
            default :func:`functional_nn.backprop.backward`.
    Returns:
        A :class:`GradientReport`.

    Example:
        >>> report = compare_gradients(net, "mse", params, x, y)
        >>> print(report); report.assert_ok()
    """
    backprop.check_setup(net, loss)
    if not isinstance(max_fd_coords, int) or max_fd_coords < 1:
        raise ValueError(f"max_fd_coords must be a positive int, got {max_fd_coords!r}")
    backward_fn = backward_fn or backprop.backward
    key = jax.random.key(0) if key is None else key
    _validate.real_dtype(x, "x")  # before the float64 cast below hides a string or complex x
    with float64_mode():
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x, y = backprop.check_batch(net, loss, params, jnp.asarray(np.asarray(x), jnp.float64), y)
        manual = backward_fn(net, loss, params, x, y)
        J_params = lambda p: backprop.objective(net, loss)(p, x, y)
        J_shifts = _loss_of_shifts(net, loss, params, x, y)
        shifts = tuple(jnp.zeros_like(d) for d in manual.deltas)
        auto_grads = jax.grad(J_params)(params)
        auto_deltas = jax.grad(J_shifts)(shifts)
        kink_params = _kink_pattern(net, lambda p: net.forward(p, x).pre_activations)
        kink_shifts = _kink_pattern(net, lambda s: _forward_shifted(net, params, x, s))
        k_params, k_deltas = jax.random.split(key)
        param_paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
        leaves = _check_tree([f"params{p}" for p in param_paths], [_param_symbol(p) for p in param_paths],
                             params, manual.grads, auto_grads, J_params, kink_params, max_fd_coords, k_params)
        leaves += _check_tree([f"delta[{l}]" for l in range(net.num_layers)],
                              [f"δ^{l + 1}" for l in range(net.num_layers)],
                              shifts, manual.deltas, auto_deltas, J_shifts, kink_shifts, max_fd_coords, k_deltas)
        title = (f"Gradient check: MLP {net.layer_sizes} {'/'.join(net.activation_names)}, loss {loss}, "
                 f"batch {x.shape[0]}, float64")
        return GradientReport(title, float(manual.value), tuple(leaves))


def assert_gradients_match(net: MLP, loss: str, params: Params, x, y, **kwargs) -> GradientReport:
    """:func:`compare_gradients` then ``assert_ok``; returns the report when it passes."""
    report = compare_gradients(net, loss, params, x, y, **kwargs)
    report.assert_ok()
    return report


# --- internals ------------------------------------------------------------------


def _forward_shifted(net, params, x, shifts):
    """Pre-activations with ``o^l + s^l``; ``∂J/∂s^l`` at ``s = 0`` is ``δ^l``."""
    a, pre = x, []
    for layer, act, s in zip(params, net.layer_activations, shifts):
        o = a @ layer.w + layer.b + s
        a = act.fn(o)
        pre.append(o)
    return tuple(pre)


def _loss_of_shifts(net, loss, params, x, y):
    output = net.layer_activations[-1]
    return lambda shifts: losses.loss_from_logits(loss, output, _forward_shifted(net, params, x, shifts)[-1], y)


def _kink_pattern(net, pre_activations_of):
    """``tree -> bool vector`` of which kinked units are positive; None if no layer has a kink."""
    kinked = [l for l, act in enumerate(net.layer_activations) if act.has_kink]
    if not kinked:
        return None
    return lambda tree: jnp.concatenate([(pre_activations_of(tree)[l] >= 0).ravel() for l in kinked])


def _param_symbol(path: str) -> str:
    layer = int(path[1:path.index("]")]) + 1
    return f"{path.rsplit('.', 1)[-1]}^{layer}"


def _rel(m, r, floor):
    return np.abs(m - r) / np.maximum(np.abs(m) + np.abs(r), floor)


def _check_tree(names, symbols, tree, manual, auto, J, kink_pattern, max_fd_coords, key) -> list[LeafCheck]:
    """Check every leaf of ``manual`` against ``auto`` and against finite differences of ``J`` at ``tree``."""
    manual, auto = [np.asarray(m) for m in jax.tree.leaves(manual)], [np.asarray(a) for a in jax.tree.leaves(auto)]
    tiny = np.finfo(np.float64).tiny
    scale = max(float(np.max(np.abs(a))) for a in auto)
    flat, unravel = jax.flatten_util.ravel_pytree(tree)
    offsets = np.cumsum([0] + [m.size for m in manual])
    rel_ad, coords = [], []
    for m, a, k, offset in zip(manual, auto, jax.random.split(key, len(manual)), offsets):
        rel = _rel(m, a, FLOOR * scale + tiny).ravel()
        rel_ad.append(rel)
        coords.append(_fd_coordinates(m.size, max_fd_coords, int(np.argmax(rel)), k) + offset)
    fd, crossed, noise = _finite_differences(lambda v: J(unravel(v)), flat,
                                             None if kink_pattern is None else lambda v: kink_pattern(unravel(v)),
                                             np.concatenate(coords))
    checks, start = [], 0
    for name, symbol, m, a, rel, c, offset in zip(names, symbols, manual, auto, rel_ad, coords, offsets):
        stop = start + len(c)
        picked, q, x, n = m.ravel()[c - offset], fd[start:stop], crossed[start:stop], noise[start:stop]
        start = stop
        # Never judge a coordinate on the quotient's own rounding noise alone.
        rel_fd = np.where(x, 0.0, _rel(picked, q, np.maximum(FLOOR * scale, n / GOOD) + tiny))
        abs_fd = np.where(x, 0.0, np.abs(picked - q))
        i, j = int(np.argmax(rel)), int(np.argmax(rel_fd))
        unravel_index = lambda flat_i: tuple(int(v) for v in np.unravel_index(flat_i, m.shape))
        checks.append(LeafCheck(
            name=name, symbol=symbol, shape=m.shape,
            abs_autodiff=float(np.max(np.abs(m - a))), rel_autodiff=float(rel[i]), index_autodiff=unravel_index(i),
            abs_fd=float(np.max(abs_fd)), rel_fd=float(rel_fd[j]), index_fd=unravel_index(int(c[j] - offset)),
            fd_coords=len(c), kinks=int(np.sum(x)),
        ))
    return checks


def _fd_coordinates(size, max_coords, must_include, key) -> np.ndarray:
    if size <= max_coords:
        return np.arange(size)
    sample = np.asarray(jax.random.choice(key, size, (max_coords - 1,), replace=False))
    return np.unique(np.append(sample, must_include))


def _finite_differences(J, flat, kink_pattern, coords):
    """Five-point central differences of ``J`` along coordinates of the flat vector.

    ``(−J(θ+2h) + 8J(θ+h) − 8J(θ−h) + J(θ−2h)) / 12h`` has truncation error
    O(h⁴), so ``h = ε^{1/5} max(|θ_i|, 1)`` balances it against rounding,
    whose size ``ε |J| / h`` is returned as ``noise``.
    """
    eps = np.finfo(np.float64).eps

    def one(i):
        h = eps ** 0.2 * jnp.maximum(jnp.abs(flat[i]), 1.0)
        at = lambda t: flat.at[i].add(t * h)
        values = [J(at(t)) for t in (2.0, 1.0, -1.0, -2.0)]
        quotient = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
        noise = 3 * eps * jnp.max(jnp.abs(jnp.stack(values))) / h
        crossed = False if kink_pattern is None else jnp.any(kink_pattern(at(2.0)) != kink_pattern(at(-2.0)))
        return quotient, crossed, noise

    quotient, crossed, noise = jax.jit(jax.vmap(one))(jnp.asarray(coords))
    return np.asarray(quotient), np.asarray(crossed, bool), np.asarray(noise)
