r""" "Error function contains many local minima and there is no guarantee of convergence" — decided for XOR.

Lecture section **Backpropagation algorithm → A simple demo** (the summary).
The general claim is about every MLP and cannot be settled by one problem; this
proof decides what it becomes for the lecture's own example, XOR, on the 2-2-1
sigmoid network with the squared error. The full study (2-2-1, 2-3-1, the
2-1-1 network with skip connections; MSE and cross-entropy; float32 and
float64; 10⁵ steps and more) is ``examples/local_minima.py``.

## What is checked

1. *No guarantee of convergence* — **holds**: from glorot-uniform starts,
   full-batch gradient descent (α = 2) leaves some runs unsolved (an output on
   the wrong side of ½) after $10^4$ steps.
2. *Local minima* — **false for XOR**. A stuck run is at a local minimum only
   if it ends near a point with $\nabla J = 0$ whose Hessian is positive
   definite. From every stuck endpoint a Levenberg–Marquardt search for
   $\nabla J = 0$ in float64
   (:func:`functional_nn.critical_points.find_critical_point`) finds one of two
   things:
   * no critical point at finite weights: $\lVert\nabla J\rVert$ falls only
     as $\lVert w\rVert$ grows past its start plus 10, and the long run shows
     the same drift ($\lVert w\rVert$ up, $\lVert\nabla J\rVert$ down between
     $10^3$ and $10^4$ steps): the run approaches an infimum at infinity with
     saturated hidden units;
   * or, for a run whose weights stayed small, a true critical point
     ($\lVert\nabla J\rVert \le 10^{-10}$) that is a **saddle** (a negative
     Hessian eigenvalue), which gradient descent has not yet left.

   With the 16 starts used here both occur, and no stuck run ends at a minimum.

This agrees with the analyses of the 2-2-1 XOR network by Hamey (1998, "XOR
has no local minima") and Sprinkhuizen-Kuyper & Boers (1998: its finite
stationary points are saddles; local minima only at infinity).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from functional_nn import critical_points as cp
from functional_nn import neurons
from functional_nn._x64 import float64_mode
from functional_nn.backprop import objective
from functional_nn.network import MLP
from proofs._errata import Erratum, assert_decided

NET = MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid")
NUM_SEEDS, SHORT, LONG, ALPHA, SEED = 16, 1_000, 10_000, 2.0, 0


def _xor():
    x, t = neurons.xor_data()
    return jnp.asarray(x, jnp.float64), jnp.asarray(t, jnp.float64)[:, None]


def _flat_objective():
    x, y = _xor()
    shapes = jax.eval_shape(NET.init, jax.random.key(0))  # the params' layout, nothing computed
    _, unravel = ravel_pytree(jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), shapes))
    J = objective(NET, "mse")
    return lambda theta: J(unravel(theta), x, y), unravel


def glorot_uniform_starts(rng: np.random.Generator, num: int) -> np.ndarray:
    """``(num, 9)`` flat 2-2-1 params, laid out as ``ravel_pytree`` lays out ``NET.init``'s (w1, b1, w2, b2):

    weights uniform on ±√(6 / (n_in + n_out)) (glorot-uniform, ``NET``'s initializer), biases 0.
    """
    layers = []
    for n_in, n_out in zip(NET.layer_sizes[:-1], NET.layer_sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        layers += [rng.uniform(-limit, limit, (num, n_in * n_out)), np.zeros((num, n_out))]
    return np.concatenate(layers, axis=1)


@functools.lru_cache(maxsize=1)
def xor_runs() -> dict:
    """Gradient descent on NUM_SEEDS starts: θ, ‖∇J‖ and ‖θ‖ after SHORT and LONG steps, and the outputs (float64)."""
    with float64_mode():
        J, unravel = _flat_objective()
        x, _ = _xor()
        starts = jnp.asarray(glorot_uniform_starts(np.random.default_rng(SEED), NUM_SEEDS))
        grad = jax.vmap(jax.grad(J))

        @jax.jit
        def run(theta):
            descend = lambda n, t: jax.lax.fori_loop(0, n, lambda _, v: v - ALPHA * grad(v), t)
            short = descend(SHORT, theta)
            long = descend(LONG - SHORT, short)
            norms = lambda t: (jnp.linalg.norm(grad(t), axis=1), jnp.linalg.norm(t, axis=1))
            outputs = jax.vmap(lambda t: NET.apply(unravel(t), x)[:, 0])(long)
            return long, norms(short), norms(long), outputs

        theta, (g_short, w_short), (g_long, w_long), outputs = jax.tree.map(np.asarray, run(starts))
    t = np.asarray(neurons.xor_data()[1])
    stuck = ~np.all((outputs >= 0.5) == (t == 1), axis=1)
    return dict(
        theta=theta, g_short=g_short, w_short=w_short, g_long=g_long, w_long=w_long, stuck=stuck
    )


@functools.lru_cache(maxsize=1)
def stuck_searches() -> tuple:
    """The Levenberg–Marquardt search from every stuck endpoint (float64)."""
    runs = xor_runs()
    with float64_mode():
        J, _ = _flat_objective()
        return tuple(
            cp.find_critical_point(J, jnp.asarray(runs["theta"][i]), max_iter=2000)
            for i in np.flatnonzero(runs["stuck"])
        )


def stuck_runs_are(claimed: frozenset[str]) -> bool:
    """Does every stuck XOR run end at one of the kinds in ``claimed`` (verdicts of ``find_critical_point``)?

    A "none at finite weights" verdict counts only if the long run shows the same
    drift (‖w‖ up, ‖∇J‖ down between SHORT and LONG steps).
    """
    runs = xor_runs()
    searches = stuck_searches()
    assert searches, "no stuck run: nothing to decide"
    for i, search in zip(np.flatnonzero(runs["stuck"]), searches):
        if search.kind not in claimed:
            return False
        if search.kind == "none at finite weights" and not (
            runs["w_long"][i] > runs["w_short"][i] and runs["g_long"][i] < runs["g_short"][i]
        ):
            return False
    return True


ERRATA = (
    Erratum(
        "many-local-minima",
        stuck_runs_are,
        as_written=frozenset({"minimum"}),
        corrected=frozenset({"none at finite weights", "saddle"}),
    ),
)
(MANY_LOCAL_MINIMA,) = ERRATA


def test_gradient_descent_on_xor_has_no_guarantee_of_convergence():
    """Holds: some of the 16 starts are still unsolved after 10 000 full-batch steps."""
    runs = xor_runs()
    assert 0 < runs["stuck"].sum() < NUM_SEEDS


def test_stuck_xor_runs_are_not_at_local_minima():
    """Erratum for XOR: no stuck run ends at a minimum: it drifts to infinity, or lingers at a saddle."""
    assert_decided(MANY_LOCAL_MINIMA)
    kinds = set()
    for search in stuck_searches():
        kinds.add(search.kind)
        if search.converged:  # a true critical point: a saddle, with a clearly negative curvature
            assert search.gradient_norm <= 1e-10 and float(search.eigenvalues[0]) < -1e-6
        else:  # ‖∇J‖ fell by orders of magnitude only as ‖w‖ grew by 10
            assert search.norm > search.start_norm + 10
            assert search.gradient_norm < 0.1 * search.start_gradient_norm
    assert kinds == {"none at finite weights", "saddle"}  # with these 16 starts, both kinds occur
