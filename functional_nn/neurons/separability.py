r"""Linear separability: data with a known margin, and exact certificates either way.

A labelling ``t_k ∈ {0, 1}`` of points ``x_k`` is *linearly separable* when some
augmented ``w`` (``w[0]`` the bias, ``x̃ = (1, x)``) has ``s_k (w · x̃_k) > 0`` for
every ``k``, ``s_k = 2 t_k − 1``. On finitely many points this is the same as a
perceptron ``1[w · x̃ ≥ 0]`` classifying them all correctly (shift the bias by less
than the smallest positive ``|w · x̃_k|`` to make the ties strict).

Gordan's theorem of the alternative (a form of Farkas' lemma) says exactly one of
the following holds, with ``A`` the ``(m, n + 1)`` matrix of rows ``s_k x̃_k``:

* some ``w`` has ``A w > 0`` (scaled: ``A w ≥ 1``) — a :class:`SeparatingHyperplane`;
* some ``λ ≥ 0``, ``λ ≠ 0`` has ``Aᵀ λ = 0`` — an :class:`InseparabilityCertificate`:
  were there a separator, ``0 = w · Aᵀλ = Σ_k λ_k s_k (w · x̃_k) > 0``.

:func:`separability_certificate` finds one of the two with a linear program (SciPy's
HiGHS, imported lazily), makes it exact, and :func:`verify_certificate` checks it
in rational arithmetic (``fractions.Fraction``) on the values of ``x`` as stored,
independent of the solver.
"""

from __future__ import annotations

from fractions import Fraction
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn._validate import check_int, check_number
from functional_nn.neurons._checks import check_inputs, check_targets

__all__ = [
    "SeparableData",
    "SeparatingHyperplane",
    "InseparabilityCertificate",
    "separable_data",
    "separability_certificate",
    "linearly_separable",
    "certificate_combination",
    "verify_certificate",
]

Array = jax.Array


class SeparableData(NamedTuple):
    """Linearly separable data with a known separator and margin (:func:`separable_data`)."""

    x: Array  # (num_examples, n_in) inputs
    t: Array  # (num_examples,) int32 targets, 0 or 1
    w: Array  # (n_in + 1,) unit-norm augmented separator, w[0] the bias weight
    margin: Array  # () γ = min_k s_k (w · x̃_k), at least the requested margin
    radius: Array  # () R = max_k ‖x̃_k‖ over the augmented inputs


class SeparatingHyperplane(NamedTuple):
    """Proof of separability: ``s_k (w · x̃_k) > 0`` for every example (found with ``≥ 1``)."""

    w: tuple[Fraction, ...]  # (n_in + 1,), w[0] the bias weight


class InseparabilityCertificate(NamedTuple):
    """Proof of inseparability: ``λ_k ≥ 0``, not all 0, with ``Σ_k λ_k s_k x̃_k = 0``.

    Multiplying the strict inequalities ``s_k (w · x̃_k) > 0`` a separator would need
    by ``λ_k`` and adding them gives ``0 > 0``.
    """

    multipliers: tuple[Fraction, ...]  # (num_examples,) λ_k


def separable_data(
    key: Array, num_examples: int, n_in: int = 2, *, margin: float = 0.1
) -> SeparableData:
    r"""Points in ``[-1, 1]^n_in`` labelled by a random hyperplane, pushed off it to a known margin.

    A unit-norm augmented ``w = (w_0, v)`` is drawn (``|w_0| ≤ 0.3`` so the boundary
    crosses the box), points uniformly in the box, ``t = 1[w · x̃ ≥ 0]``; every point
    closer than ``margin`` to the boundary (in ``w · x̃``) is moved along ``v`` until
    ``s_k (w · x̃_k) = margin``. So ``w`` separates with margin ``γ ≥ margin`` (equal
    to it as soon as one point was moved), the data Novikoff's theorem needs.

    Args:
        key: a ``jax.random`` key.
        num_examples: ``m``.
        n_in: input dimension.
        margin: the margin ``γ > 0`` of ``w`` in the augmented space.
    """
    num_examples = check_int("num_examples", num_examples, 1)
    n_in = check_int("n_in", n_in, 1)
    margin = check_number("margin", margin, strict=True)
    return _separable_data(key, jnp.asarray(margin), num_examples=num_examples, n_in=n_in)


@partial(jax.jit, static_argnames=("num_examples", "n_in"))
def _separable_data(key, margin, *, num_examples: int, n_in: int) -> SeparableData:
    k_dir, k_bias, k_x = jax.random.split(key, 3)
    v = jax.random.normal(k_dir, (n_in,))
    v = v / jnp.linalg.norm(v)
    w0 = jax.random.uniform(k_bias, (), minval=-0.3, maxval=0.3)
    v = jnp.sqrt(1 - w0**2) * v  # ‖(w0, v)‖ = 1
    x = jax.random.uniform(k_x, (num_examples, n_in), minval=-1.0, maxval=1.0)
    d = w0 + x @ v
    s = jnp.where(d >= 0, 1.0, -1.0)
    # Moving x by c·v/‖v‖² changes w·x̃ by exactly c; c = s·max(γ − s d, 0) lifts s d to max(s d, γ).
    lift = s * jnp.maximum(margin - s * d, 0.0)
    x = x + lift[:, None] * (v / jnp.dot(v, v))[None, :]
    w = jnp.concatenate([w0[None], v])
    xa = jnp.concatenate([jnp.ones((num_examples, 1)), x], axis=1)
    gamma = jnp.min(s * (xa @ w))
    radius = jnp.max(jnp.linalg.norm(xa, axis=1))
    return SeparableData(x, (s > 0).astype(jnp.int32), w, gamma, radius)


def separability_certificate(x, t) -> SeparatingHyperplane | InseparabilityCertificate:
    """Decide linear separability and return an exactly verified proof (module doc).

    Solves ``min ‖w‖₁ s.t. s_k (w · x̃_k) ≥ 1`` with SciPy's HiGHS (imported lazily;
    SciPy comes with scikit-learn). If that is feasible its ``w`` (margin about 1,
    far above the solver's tolerance) is the certificate. Otherwise the vertex
    ``λ`` of ``{λ ≥ 0, Σλ = 1, Σ_k λ_k s_k x̃_k = 0}`` found by the dual simplex is
    recomputed exactly: its non-zero entries are the unique solution of that linear
    system restricted to its support, solved in rational arithmetic. Either answer
    is re-checked with :func:`verify_certificate` before it is returned, so a
    returned certificate is a proof regardless of floating-point error.

    Args:
        x: ``(batch, n_in)`` inputs; their stored (binary floating-point) values are used exactly.
        t: ``(batch,)`` targets, 0 or 1.
    Raises:
        RuntimeError: in the (numerically extreme) case that the solver's answer cannot be certified.
    """
    rows = _signed_rows(x, t)
    from scipy.optimize import linprog  # optional dependency (scikit-learn brings it): lazy

    a = np.array([[float(v) for v in row] for row in rows])  # (m, d) rows s_k x̃_k
    m, d = a.shape
    # w = u − v with u, v ≥ 0, so the objective Σ(u + v) is ‖w‖₁ and the LP stays bounded.
    primal = linprog(
        np.ones(2 * d), A_ub=-np.hstack([a, -a]), b_ub=-np.ones(m), bounds=(0, None), method="highs"
    )
    if primal.status == 0:
        w = primal.x[:d] - primal.x[d:]
        cert = _simplest(SeparatingHyperplane, w, x, t)
    else:
        a_eq = np.vstack([a.T, np.ones((1, m))])
        b_eq = np.concatenate([np.zeros(d), [1.0]])
        dual = linprog(np.zeros(m), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs-ds")
        if dual.status != 0:
            raise RuntimeError(
                f"neither LP could be solved (separator: {primal.message}; multipliers: {dual.message})"
            )
        cert = _exact_multipliers(rows, dual.x)
    if cert is None or not verify_certificate(cert, x, t):
        raise RuntimeError(
            f"the LP solution could not be turned into a certificate that verifies exactly: {cert!r}"
        )
    return cert


def linearly_separable(x, t) -> bool:
    """Whether some hyperplane separates the 0s from the 1s (exact; :func:`separability_certificate`)."""
    return isinstance(separability_certificate(x, t), SeparatingHyperplane)


def certificate_combination(multipliers, x, t) -> tuple[Fraction, ...]:
    """``Σ_k λ_k s_k x̃_k`` in exact arithmetic: ``(n_in + 1,)``; all zeros for a valid certificate.

    Entry ``j`` is the coefficient of ``w_j`` in ``Σ_k λ_k · s_k (w · x̃_k)``.
    """
    rows = _signed_rows(x, t)
    lam = _as_fractions(multipliers, "multipliers", len(rows))
    return tuple(
        sum((l * row[j] for l, row in zip(lam, rows)), Fraction(0)) for j in range(len(rows[0]))
    )


def verify_certificate(certificate: SeparatingHyperplane | InseparabilityCertificate, x, t) -> bool:
    """Check a certificate in exact rational arithmetic on the stored values of ``x``.

    A :class:`SeparatingHyperplane` verifies when ``s_k (w · x̃_k) > 0`` for all ``k``;
    an :class:`InseparabilityCertificate` when ``λ ≥ 0``, ``λ ≠ 0`` and
    ``Σ_k λ_k s_k x̃_k = 0`` exactly.
    """
    rows = _signed_rows(x, t)
    if isinstance(certificate, SeparatingHyperplane):
        w = _as_fractions(certificate.w, "certificate.w", len(rows[0]))
        return all(sum((wj * rj for wj, rj in zip(w, row)), Fraction(0)) > 0 for row in rows)
    if isinstance(certificate, InseparabilityCertificate):
        lam = _as_fractions(certificate.multipliers, "certificate.multipliers", len(rows))
        if any(l < 0 for l in lam) or not any(l > 0 for l in lam):
            return False
        return all(c == 0 for c in certificate_combination(lam, x, t))
    raise TypeError(
        f"certificate must be a SeparatingHyperplane or an InseparabilityCertificate, got {type(certificate).__name__}"
    )


def _signed_rows(x, t) -> list[tuple[Fraction, ...]]:
    """Rows ``s_k x̃_k`` as exact fractions of the stored values."""
    check_inputs(x, "x")
    x = np.asarray(x)
    check_targets(t, x.shape[0], "t", binary=True)
    signs = [1 if v == 1 else -1 for v in np.asarray(t).tolist()]
    return [
        tuple(Fraction(s) * Fraction(v) for v in [1, *row])
        for s, row in zip(
            signs, x.astype(np.float64).tolist() if x.dtype.kind == "f" else x.tolist()
        )
    ]


def _as_fractions(values, name: str, length: int) -> tuple[Fraction, ...]:
    values = tuple(values)
    if len(values) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(values)}")
    try:
        return tuple(Fraction(v) for v in values)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must hold exact numbers (int, Fraction or finite float), got {values!r}"
        ) from err


def _simplest(kind, values: np.ndarray, x, t):
    """The certificate with the smallest denominators (≤ 1000) that still verifies, else the exact floats."""
    for limit in (10, 1000):
        cert = kind(tuple(Fraction(float(v)).limit_denominator(limit) for v in values))
        if verify_certificate(cert, x, t):
            return cert
    return kind(tuple(Fraction(float(v)) for v in values))


def _exact_multipliers(
    rows: list[tuple[Fraction, ...]], lam: np.ndarray
) -> InseparabilityCertificate | None:
    """Solve ``Σ_{k∈S} λ_k s_k x̃_k = 0, Σ_{k∈S} λ_k = 1`` exactly on the support ``S`` of a float vertex ``λ``."""
    support = [k for k in range(len(rows)) if lam[k] > 1e-9 * max(1.0, float(np.max(lam)))]
    d = len(rows[0])
    # Augmented matrix [Aᵀ_S | 0 ; 1ᵀ | 1], eliminated in exact arithmetic.
    system = [[rows[k][j] for k in support] + [Fraction(0)] for j in range(d)]
    system.append([Fraction(1)] * len(support) + [Fraction(1)])
    solution = _solve(system, [lam[k] for k in support])
    if solution is None or any(v < 0 for v in solution):
        return None
    exact = [Fraction(0)] * len(rows)
    for k, v in zip(support, solution):
        exact[k] = v
    return InseparabilityCertificate(tuple(exact))


def _solve(system: list[list[Fraction]], guess: list[float]) -> list[Fraction] | None:
    """A solution of the consistent linear system ``[M | b]`` by exact Gauss–Jordan elimination.

    At a vertex the solution is unique; should columns be dependent, free unknowns
    take the rounded values of ``guess``.
    """
    rows = [r[:] for r in system]
    n = len(rows[0]) - 1
    pivots: list[int] = []
    r = 0
    for c in range(n):
        p = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if p is None:
            continue
        rows[r], rows[p] = rows[p], rows[r]
        pivot = rows[r][c]
        rows[r] = [v / pivot for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                f = rows[i][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r])]
        pivots.append(c)
        r += 1
    if any(all(v == 0 for v in row[:n]) and row[n] != 0 for row in rows):
        return None  # inconsistent
    free = [c for c in range(n) if c not in pivots]
    solution = [Fraction(0)] * n
    for c in free:
        solution[c] = Fraction(float(guess[c])).limit_denominator(10**6)
    for i, c in enumerate(pivots):
        solution[c] = rows[i][n] - sum((rows[i][f] * solution[f] for f in free), Fraction(0))
    return solution
