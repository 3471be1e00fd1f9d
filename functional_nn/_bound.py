"""A user's ``f(params, *args)`` seen as a function of one flat float vector, compiled once.

The checks perturb a flat copy of ``params``. To compile each check once per
*configuration* rather than once per call, the function, the params' tree
structure and shapes, and the non-array parts of ``args`` form a hashable
static key (:class:`Bound`); the arrays travel as ordinary jit arguments. A
second call with the same ``f``, structure and shapes reuses the compiled code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Bound(NamedTuple):
    f: Callable
    treedef: Any  # params' tree structure
    shapes: tuple[tuple[int, ...], ...]  # params' leaf shapes
    args_treedef: Any
    static_args: tuple  # (position, value) of arg leaves that are not arrays

    def unflatten(self, flat):
        sizes = [math.prod(s) for s in self.shapes]
        parts = jnp.split(flat, np.cumsum(sizes)[:-1]) if len(sizes) > 1 else [flat]
        return jax.tree.unflatten(self.treedef, [p.reshape(s) for p, s in zip(parts, self.shapes)])

    def args(self, dynamic):
        leaves, it, static = [], iter(dynamic), dict(self.static_args)
        for i in range(self.args_treedef.num_leaves):
            leaves.append(static[i] if i in static else next(it))
        return jax.tree.unflatten(self.args_treedef, leaves)

    def __call__(self, flat, dynamic):
        """``f(params(flat), *args)``."""
        return self.f(self.unflatten(flat), *self.args(dynamic))

    def on_leaves(self, leaves, dynamic):
        """``f(params, *args)`` from the list of ``params``' leaves (no flat copy)."""
        return self.f(jax.tree.unflatten(self.treedef, list(leaves)), *self.args(dynamic))


def _is_array(leaf) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic))


def bind(f: Callable, params, args: tuple) -> tuple[Bound, jax.Array, tuple]:
    """``(bound, flat params, dynamic arg arrays)``; non-array arg leaves must be hashable or are closed over."""
    leaves, treedef = jax.tree.flatten(params)
    shapes = tuple(tuple(np.shape(l)) for l in leaves)
    flat = jnp.concatenate([jnp.ravel(l) for l in leaves]) if leaves else jnp.zeros((0,))
    arg_leaves, args_treedef = jax.tree.flatten(args)
    static = tuple((i, l) for i, l in enumerate(arg_leaves) if not _is_array(l))
    dynamic = tuple(l for l in arg_leaves if _is_array(l))
    try:
        hash(static)
    except TypeError:  # an unhashable extra argument: close over it (compiles per call)
        g = lambda p, *_: f(p, *args)
        return Bound(g, treedef, shapes, jax.tree.structure(()), ()), flat, ()
    return Bound(f, treedef, shapes, args_treedef, static), flat, dynamic
