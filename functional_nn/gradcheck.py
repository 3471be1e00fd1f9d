r"""Manual backprop vs ``jax.grad`` vs central finite differences, leaf by leaf.

Everything runs in float64 (JAX's x64 context), whatever dtype the caller uses.

Errors, per leaf (every parameter leaf and every layer delta ``δ^l``):

* absolute ``|m − r|`` and relative ``|m − r| / max(|m| + |r|, floor)``, where
  ``m`` is the manual value and ``r`` the reference (autodiff or finite
  differences). ``floor`` keeps coordinates whose true gradient is ~0 from
  producing huge ratios out of rounding noise; it is relative to the largest
  autodiff gradient over all leaves (``1e-12`` of it for autodiff, ``1e-6`` for
  finite differences, whose own noise is larger), so no tolerance grows with
  the size of an array.
* verdict band of the worse relative error: ``good`` (≤ 1e-7), ``suspect``
  (≤ 1e-2), ``wrong`` (> 1e-2). ``report.ok`` means every leaf is good.

Finite differences use the central quotient ``(J(θ + h e_i) − J(θ − h e_i)) / 2h``
with ``h = ε^{1/3} max(|θ_i|, 1)`` (``ε`` float64's machine epsilon), exhaustively
for leaves with at most ``max_fd_coords`` entries and otherwise on a sample of
``max_fd_coords`` coordinates drawn with ``key`` plus the coordinate where manual
and autodiff differ most. A coordinate whose ``±h`` perturbation moves a
ReLU / leaky-ReLU pre-activation across 0 has crossed a kink: its finite
difference is not a derivative, so it is counted and left out of the verdict.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import backprop, losses
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP, Params

GOOD, SUSPECT = 1e-7, 1e-2
FLOOR_AUTODIFF, FLOOR_FD = 1e-12, 1e-6


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
        scale_g = _max_abs(auto_grads)
        scale_d = _max_abs(auto_deltas)
        leaves = []
        k_params, k_deltas = jax.random.split(key)
        for path, m, r, k in _named_leaves(manual.grads, auto_grads, k_params):
            leaves.append(_check_leaf(f"params{path}", _param_symbol(path), path, params, m, r, J_params,
                                      kink_params, scale_g, max_fd_coords, k))
        for path, m, r, k in _named_leaves(manual.deltas, auto_deltas, k_deltas):
            l = int(path.strip("[]")) + 1
            leaves.append(_check_leaf(f"delta{path}", f"δ^{l}", path, shifts, m, r, J_shifts, kink_shifts,
                                      scale_d, max_fd_coords, k))
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


def _named_leaves(manual_tree, auto_tree, key):
    paths = jax.tree_util.tree_flatten_with_path(manual_tree)[0]
    auto = jax.tree.leaves(auto_tree)
    keys = jax.random.split(key, len(paths))
    for (path, m), r, k in zip(paths, auto, keys):
        yield jax.tree_util.keystr(path), m, r, k


def _param_symbol(path: str) -> str:
    layer = int(path[1:path.index("]")]) + 1
    return f"{path.rsplit('.', 1)[-1]}^{layer}"


def _max_abs(tree) -> float:
    return max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree.leaves(tree))


def _rel(m, r, floor):
    return np.abs(m - r) / np.maximum(np.abs(m) + np.abs(r), floor)


def _check_leaf(name, symbol, path, tree, manual, auto, J, kink_pattern, scale, max_fd_coords, key) -> LeafCheck:
    manual, auto = np.asarray(manual), np.asarray(auto)
    tiny = np.finfo(np.float64).tiny
    rel_ad = _rel(manual, auto, FLOOR_AUTODIFF * scale + tiny)
    i_ad = int(np.argmax(rel_ad))
    coords = _fd_coordinates(manual.size, max_fd_coords, i_ad, key)
    fd, crossed = _finite_differences(J, tree, path, coords, kink_pattern)
    picked = manual.ravel()[coords]
    rel_fd = np.where(crossed, 0.0, _rel(picked, fd, FLOOR_FD * scale + tiny))
    abs_fd = np.where(crossed, 0.0, np.abs(picked - fd))
    j = int(np.argmax(rel_fd))
    unravel = lambda i: tuple(int(v) for v in np.unravel_index(i, manual.shape))
    return LeafCheck(
        name=name, symbol=symbol, shape=manual.shape,
        abs_autodiff=float(np.max(np.abs(manual - auto))), rel_autodiff=float(rel_ad.ravel()[i_ad]),
        index_autodiff=unravel(i_ad), abs_fd=float(np.max(abs_fd)), rel_fd=float(rel_fd[j]),
        index_fd=unravel(int(coords[j])), fd_coords=len(coords), kinks=int(np.sum(crossed)),
    )


def _fd_coordinates(size, max_coords, must_include, key) -> np.ndarray:
    if size <= max_coords:
        return np.arange(size)
    sample = np.asarray(jax.random.choice(key, size, (max_coords - 1,), replace=False))
    return np.unique(np.append(sample, must_include))


def _finite_differences(J, tree, path, coords, kink_pattern):
    """Central differences of ``J`` along each coordinate of the leaf at ``path``."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    index = [jax.tree_util.keystr(p) for p, _ in leaves].index(path)
    flat = [leaf for _, leaf in leaves]
    leaf = flat[index]
    eps = np.finfo(np.float64).eps

    def perturbed(i, sign):
        theta = leaf.ravel()[i]
        h = eps ** (1 / 3) * jnp.maximum(jnp.abs(theta), 1.0)
        new = leaf.ravel().at[i].add(sign * h).reshape(leaf.shape)
        return jax.tree_util.tree_unflatten(treedef, flat[:index] + [new] + flat[index + 1:]), h

    def one(i):
        plus, h = perturbed(i, 1.0)
        minus, _ = perturbed(i, -1.0)
        quotient = (J(plus) - J(minus)) / (2 * h)
        crossed = False if kink_pattern is None else jnp.any(kink_pattern(plus) != kink_pattern(minus))
        return quotient, crossed

    quotient, crossed = jax.jit(jax.vmap(one))(jnp.asarray(coords))
    return np.asarray(quotient), np.asarray(crossed, bool)
