"""The finite differences ``gradcheck`` holds a gradient against, all in one compiled program.

Five-point central differences along each sampled coordinate, and where ``J`` has kinks
(ReLU) one-sided ones and whether the step crossed a kink; every leaf's coordinates are
perturbed in one program, small leaves together, large ones in place.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._bound import Bound


def sample_coordinates(size, max_coords, must_include, key) -> np.ndarray:
    """Every flat index of a leaf of ``size``, or ``max_coords`` of them: a sample and ``must_include``."""
    if size <= max_coords:
        return np.arange(size)
    sample = np.asarray(jax.random.choice(key, size, (max_coords - 1,), replace=False))
    return np.unique(np.append(sample, must_include))


# leaves at most this large are perturbed together, each coordinate in its own copy of their
# concatenation, vmapped over chunks of coordinates (one compiled body for all of them); a
# larger leaf is perturbed in place, one coordinate after another (a copy per coordinate
# would cost more than the evaluations of J it serves)
_COPY_ELEMENTS = 2**16


@functools.partial(jax.jit, static_argnames=("bound", "kinks"))
def finite_differences(bound: Bound, kinks: Bound | None, leaves, coords, dynamic):
    """Differences along ``coords[l]`` (flat indices into leaf ``l``) for every leaf, one program.

    Returns a dict of arrays, the leaves' coordinates one after the other.
    """
    small = [l for l, leaf in enumerate(leaves) if jnp.size(leaf) <= _COPY_ELEMENTS]
    offsets = np.cumsum([0] + [int(jnp.size(leaves[l])) for l in small])
    groups = {}
    if small:
        local = jnp.concatenate([coords[l] + offsets[k] for k, l in enumerate(small)])
        groups[tuple(small)] = _group_differences(
            bound, kinks, leaves, tuple(small), local, dynamic
        )
    for l in range(len(leaves)):
        if l not in small:
            groups[(l,)] = _group_differences(bound, kinks, leaves, (l,), coords[l], dynamic)
    # back into leaf order
    parts, starts = [], {}
    for group, result in groups.items():
        start = 0
        for l in group:
            starts[l] = (result, start, start + coords[l].shape[0])
            start += coords[l].shape[0]
    for l in range(len(leaves)):
        result, a, b = starts[l]
        parts.append({k: v[a:b] for k, v in result.items()})
    return {k: jnp.concatenate([p[k] for p in parts]) for k in parts[0]}


def _group_differences(bound: Bound, kinks: Bound | None, leaves, group, coords, dynamic):
    """Five-point central and one-sided differences of ``bound`` along coordinates of a group
    of leaves (``coords`` index their concatenation); the other leaves enter ``J`` as they are.

    The central quotient has truncation error O(h⁴), so ``h = ε^{1/5} max(|θ_i|, 1)``
    balances it against rounding, whose size ``ε |J| / h`` is returned as ``noise``. The
    one-sided ones are O(h²): ``h = ε^{1/3} max(|θ_i|, 1)``.
    """
    base = jnp.concatenate([jnp.ravel(leaves[l]) for l in group])
    eps = jnp.finfo(base.dtype).eps
    sizes = [int(jnp.size(leaves[l])) for l in group]

    def with_group(v, fn):
        parts = jnp.split(v, np.cumsum(sizes)[:-1]) if len(sizes) > 1 else [v]
        replaced = dict(zip(group, parts))
        return fn(
            [replaced[k].reshape(l.shape) if k in replaced else l for k, l in enumerate(leaves)]
        )

    J = lambda v: with_group(v, lambda ls: bound.on_leaves(ls, dynamic))
    pattern = (
        None
        if kinks is None
        else (
            lambda v: with_group(
                v,
                lambda ls: jnp.concatenate(
                    [jnp.ravel(o >= 0) for o in jax.tree.leaves(kinks.on_leaves(ls, dynamic))]
                ),
            )
        )
    )

    def one(v, i):
        """The differences at coordinate ``i``; ``v`` is the leaf, returned as it came."""
        x_i = v[i]
        size = jnp.maximum(jnp.abs(x_i), 1.0)
        h, h1 = eps**0.2 * size, eps ** (1 / 3) * size

        def at(t):
            # v[i] is set from x_i, not added to and subtracted from (that would not restore θ_i
            # bit for bit); in the in-place loop XLA updates the carried buffer
            nonlocal v
            v = v.at[i].set(x_i + t)
            return v

        vals = [J(at(t)) for t in (2 * h, h, -h, -2 * h)]
        quotient = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * h)
        out = {"quotient": quotient, "noise": 3 * eps * jnp.max(jnp.abs(jnp.stack(vals))) / h}
        if pattern is None:
            zero = jnp.zeros_like(quotient)
            out.update(crossed=jnp.zeros((), bool), left=zero, right=zero, noise_one_sided=zero)
        else:
            w = [J(at(t)) for t in (-2 * h1, -h1, 0.0, h1, 2 * h1)]
            out["left"] = (3 * w[2] - 4 * w[1] + w[0]) / (2 * h1)
            out["right"] = (-3 * w[2] + 4 * w[3] - w[4]) / (2 * h1)
            out["noise_one_sided"] = 8 * eps * jnp.max(jnp.abs(jnp.stack(w))) / h1
            p_plus, p_minus, p0 = (pattern(at(t)) for t in (2 * h, -2 * h, 0.0))
            out["crossed"] = (
                jnp.any(p_plus != p_minus) | jnp.any(p_plus != p0) | jnp.any(p_minus != p0)
            )
        return v.at[i].set(x_i), out

    if len(group) > 1 or base.size <= _COPY_ELEMENTS:
        chunk = int(max(1, min(coords.shape[0], 2**22 // max(base.size, 1))))
        return jax.lax.map(lambda i: one(base, i)[1], coords, batch_size=chunk)
    return jax.lax.scan(one, base, coords)[1]
